"""Famine flight under the passport regimes."""

import numpy as np
import pytest

from greatleap.scenario import Scenario
from tests.conftest import run, small_scenario
from tests.modules.helpers import tiny_engine


@pytest.fixture(scope="module")
def famine_runs():
    """A hungry year (every household eats 15% less) under strict and free passports, checks on."""
    return {
        regime: run(
            small_scenario("nutrition.intake_scale=0.85", 'run.end="1957-12"', f'migration.passports="{regime}"')
        )
        for regime in ("strict", "free")
    }


def test_hunger_drives_flight_and_the_regime_decides_who_gets_away(famine_runs):
    strict, free = famine_runs["strict"], famine_runs["free"]
    assert strict.value("migration_attempts", 1957) > 1e5
    assert free.value("migrants", 1957) > 5 * strict.value("migrants", 1957) > 0
    # Under free passports every attempt succeeds: arrivals equal attempts in real persons, up to the
    # draws that turn a migrant into copies where the destination's communes are sampled more thinly.
    assert free.value("migrants", 1957) == pytest.approx(free.value("migration_attempts", 1957), rel=0.05)
    assert 0.2 < free.value("migrants_interprovincial", 1957) / free.value("migrants", 1957) < 0.4
    assert free.value("unregistered_persons", 1957) == pytest.approx(free.value("migrants", 1957), rel=0.05)


def test_no_hunger_no_flight(small_results):
    # A few households in the tail of food access run short even in 1957: at most 1 person in 20,000 tries.
    assert small_results.value("migration_attempts", 1957) < 5e-5 * small_results.value("population", 1957)


def test_migrants_land_in_households_of_another_commune_and_the_population_identity_holds():
    engine = tiny_engine('migration.passports="free"', "migration.flight_rate_max=1.0", persons=60_000)
    shard = engine.shards[0]
    assert shard.communes.count >= 2
    shard.persons.energy_reserve[:] = 0.75
    rural = ~shard.communes.is_urban[shard.person_commune()]
    shard.persons.energy_reserve[rural & (np.arange(shard.persons.count) % 2 == 0)] = 0.98
    before = shard.person_commune().copy()
    engine.step()  # checks on: the commune populations must still match the persons counted afresh
    moved = np.flatnonzero(shard.persons.unregistered[: before.size])
    assert moved.size > 0
    assert (shard.person_commune()[moved] != before[moved]).all()


def test_free_migration_lets_the_hungry_leave_their_communes_and_provinces(historical_run):
    free = run(Scenario.load("free_migration"), check=False)
    assert free.value("migrants", 1960) > 5 * historical_run.value("migrants", 1960)
    assert free.value("migrants_interprovincial", 1960) > 0.2 * free.value("migrants", 1960)
    # Real persons are conserved by moves: the national net migration is zero up to sampling.
    net = sum(free.value("migration_net", y) for y in range(1957, 1963))
    assert abs(net) < 0.02 * sum(free.value("migrants", y) for y in range(1957, 1963))
    assert free.value("unregistered_persons", 1960) > 5 * historical_run.value("unregistered_persons", 1960)
