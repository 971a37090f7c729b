"""Famine flight under the passport regimes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greatleap.compare import excess_deaths
from greatleap.core import kernels
from greatleap.modules import migration
from greatleap.scenario import Scenario
from tests.conftest import run, small_scenario
from tests.modules.helpers import module, run_module_step, tiny_engine


@pytest.fixture(scope="module")
def famine_runs():
    """A hungry year (every household eats 15% less) under strict and free passports, checks on; the
    free run also with every migrant fleeing alone."""
    hungry = ("nutrition.intake_scale=0.85", 'run.end="1957-12"')
    runs = {regime: run(small_scenario(*hungry, f'migration.passports="{regime}"')) for regime in ("strict", "free")}
    runs["free_alone"] = run(small_scenario(*hungry, 'migration.passports="free"', "migration.family_share=0"))
    return runs


def test_hunger_drives_flight_and_the_regime_decides_who_gets_away(famine_runs):
    strict, free, alone = famine_runs["strict"], famine_runs["free"], famine_runs["free_alone"]
    assert strict.value("migration_attempts", 1957) > 1e5
    assert free.value("migrants", 1957) > 5 * strict.value("migrants", 1957) > 0
    # Under free passports every attempt succeeds: when everyone flees alone, arrivals equal attempts in
    # real persons, up to the draws that turn a migrant into copies where the destination's communes are
    # sampled more thinly.
    assert alone.value("migrants", 1957) == pytest.approx(alone.value("migration_attempts", 1957), rel=0.05)
    # Families: the one who tries brings the household along (households average 4.6 persons, and 5.3
    # counted by their members of working age, who are the ones who try; seed 1 gives 5.6).
    assert 3 < free.value("migrants", 1957) / free.value("migration_attempts", 1957) < 7
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


def test_families_flee_together_into_one_household():
    engine = tiny_engine(
        'migration.passports="free"',
        "migration.flight_rate_max=1.0",
        "migration.cross_province_share=0",
        persons=60_000,
    )
    shard = engine.shards[0]
    persons = shard.persons
    rural = ~shard.communes.is_urban[shard.person_commune()]
    persons.energy_reserve[:] = np.where(rural, 0.75, 1.0)  # two in three adults try
    old_household = persons.household.copy()
    count = persons.count
    age = (0 - persons.birth_month.astype(np.int64)) // 12
    run_module_step(engine, "migration")
    moved = np.flatnonzero(persons.unregistered[:count] & persons.alive[:count])
    assert moved.size > 0.5 * count
    assert (age[moved] < 15).mean() > 0.2  # children go with their parents, though only adults decide
    # The members of a household who arrive in place arrive together: one new household per old one.
    pairs = np.unique(np.c_[old_household[moved], persons.household[moved]], axis=0)
    assert np.unique(pairs[:, 0]).size == pairs.shape[0]
    # Nobody from a household that fled stays behind.
    fled = np.isin(old_household, old_household[moved])
    assert persons.unregistered[:count][fled & persons.alive[:count]].all()


def test_free_migration_lets_the_hungry_leave_their_communes_and_provinces(historical_run):
    free = run(Scenario.load("free_migration"), check=False)
    assert free.value("migrants", 1960) > 5 * historical_run.value("migrants", 1960)
    assert free.value("migrants_interprovincial", 1960) > 0.2 * free.value("migrants", 1960)
    # Real persons are conserved by moves: the national net migration is zero up to sampling.
    net = sum(free.value("migration_net", y) for y in range(1957, 1963))
    assert abs(net) < 0.02 * sum(free.value("migrants", y) for y in range(1957, 1963))
    assert free.value("unregistered_persons", 1960) > 5 * historical_run.value("unregistered_persons", 1960)
    # Families that flee hunger for better-fed communes save lives (seed 1: 24.0 M excess deaths against
    # 27.4 M; seeds 2-4: -3.1, -2.2 and -1.8 M).
    assert excess_deaths(free) < excess_deaths(historical_run) - 0.5e6


def generator(seed: int, buffered: bool) -> np.random.Generator:
    """A PCG64 generator as the streams make them; `buffered`: one 32-bit draw made, so that half of a 64-bit
    output waits in the state (numpy's next 32-bit draw takes it)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    if buffered:
        rng.integers(0, 2**31, dtype=np.uint32)
    return rng


@settings(max_examples=60, deadline=None)  # the first example may compile
@given(
    st.integers(0, 2**32 - 1),
    st.integers(9_990, 60_000),
    st.floats(0.0, 1.0),
    st.booleans(),
)
def test_sorted_sample_gives_numpys_choice_and_leaves_the_same_state(seed, n, share, buffered):
    """Around numpy's switch from Floyd's algorithm to the tail shuffle (n = 10,000, k = n // 50) and up to
    k = n: the same rows and the same generator state as `np.sort(rng.choice(n, k, replace=False))`."""
    k = int(share**3 * n)  # mostly small samples, where the switch lies
    expected_rng, rng = generator(seed, buffered), generator(seed, buffered)
    expected = np.sort(expected_rng.choice(n, size=k, replace=False))
    with kernels.use("numba"):
        got = migration.sorted_sample(rng, n, k)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert rng.bit_generator.state == expected_rng.bit_generator.state
    assert rng.random() == expected_rng.random()


@pytest.mark.parametrize(("n", "k"), [(10_000, 5_000), (10_001, 200), (10_001, 201), (20_000, 400), (20_000, 401)])
def test_sorted_sample_at_numpys_switch_of_algorithm(n, k):
    expected_rng, rng = generator(3, False), generator(3, False)
    expected = np.sort(expected_rng.choice(n, size=k, replace=False))
    with kernels.use("numba"):
        assert np.array_equal(migration.sorted_sample(rng, n, k), expected)
    assert rng.bit_generator.state == expected_rng.bit_generator.state


@pytest.mark.parametrize("buffered", [False, True])
def test_the_sample_kernel_rejects_draws_as_numpy_does(buffered):
    """Rows near 2**31 make numpy reject a quarter of its 32-bit draws (Lemire's method): the kernel replays
    the tail shuffle with them, as a shuffle with `Generator.integers` (the same bounded draw) does."""
    n, k = 3 * 2**29 + 12_345, 3_000
    expected_rng, rng = generator(7, buffered), generator(7, buffered)
    value = {}  # the positions of arange(n) the shuffle moved
    for i in range(n - 1, n - k - 1, -1):
        j = int(expected_rng.integers(0, i + 1))
        value[i], value[j] = value.get(j, j), value.get(i, i)
    expected = np.sort([value.get(i, i) for i in range(n - k, n)])
    got = migration._sorted_sample_compiled(rng, n, k)
    assert np.array_equal(got, expected)
    assert rng.bit_generator.state == expected_rng.bit_generator.state


@pytest.fixture(scope="module")
def flight_engine():
    return tiny_engine(persons=30_000)


def random_persons(shard, rng: np.random.Generator) -> None:
    """Reserves around the flight thresholds (some exactly on them), the dead, the unregistered."""
    persons = shard.persons
    n = persons.count
    reserve = rng.uniform(0.6, 0.95, n)
    reserve[rng.random(n) < 0.1] = 0.85
    reserve[rng.random(n) < 0.1] = 0.7
    persons.energy_reserve[:] = reserve
    persons.alive[:] = rng.random(n) < 0.9
    persons.unregistered[:] = rng.random(n) < rng.choice([0.0, 0.01, 0.5])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 600))
def test_compiled_attempts_give_the_reference_rows(flight_engine, seed, t):
    rng = np.random.default_rng(seed)
    shard = flight_engine.shards[0]
    random_persons(shard, rng)
    shard.communes.is_urban[:] = rng.random(shard.communes.count) < 0.3
    sampled = np.sort(rng.choice(shard.persons.count, size=int(rng.integers(0, 5_000)), replace=False))
    u = rng.random(sampled.size)
    flight = module(flight_engine, "migration")
    with kernels.use("numpy"):
        expected = flight._attempts(shard, t, sampled, u)
    with kernels.use("numba"):
        got = flight._attempts(shard, t, sampled, u)
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_compiled_families_and_counts_give_the_reference_rows(flight_engine, seed, share_going):
    rng = np.random.default_rng(seed)
    shard = flight_engine.shards[0]
    random_persons(shard, rng)
    persons = shard.persons
    successful = np.flatnonzero(rng.random(persons.count) < 0.05 * share_going)
    with_family = rng.random(successful.size) < 0.8
    results = {}
    for backend in ("numpy", "numba"):
        with kernels.use(backend):
            movers, family = migration.Migration._families(shard, successful, with_family)
            results[backend] = (movers, family, shard.living_by_commune(persons.unregistered))
    for a, b in zip(results["numba"], results["numpy"], strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
