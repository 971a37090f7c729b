"""Recruitment into the state's enterprises (1958-60) and the return to the villages after the recall."""

import numpy as np
import pytest

from greatleap.core.data import read_rows
from tests.conftest import run, small_scenario
from tests.modules.helpers import module, tiny_engine


def official(variable: str) -> dict[int, float]:
    rows = read_rows("national_series.csv")
    return {int(r["year"]): float(r["value"]) * 1e4 for r in rows if r["variable"] == variable}


def test_the_cities_grow_with_the_recruits_and_shrink_when_they_are_sent_back(historical_run):
    value = historical_run.value
    urban = {y: value("urban_population", y) for y in range(1957, 1963)}
    recorded = official("population_urban_yearend")
    assert urban[1957] < urban[1958] < urban[1959] < urban[1960]  # the Leap's recruitment
    assert urban[1962] < urban[1960] - 10e6  # the sending-down after the recall
    # Within 5% of the recorded urban population while the recruits come (annual means against year-ends).
    for year in (1958, 1959, 1960):
        assert urban[year] == pytest.approx(recorded[year], rel=0.05)
    recruited = sum(value("recruits", y) for y in (1958, 1959, 1960))
    # The schedule: 5.4 + 14.2 million, and 4.6 million a year for the ten months before the recall.
    assert recruited == pytest.approx(5.4e6 + 14.2e6 + 4.6e6 * 10 / 12, rel=0.05)
    assert value("recruits", 1961) == 0.0  # recruitment stops at the recall (November 1960)
    assert value("workers_sent_back", 1959) == 0.0
    sent_back = sum(value("workers_sent_back", y) for y in (1960, 1961, 1962))
    assert 0.6 * recruited < sent_back <= recruited


def test_recruits_leave_rural_communes_for_urban_districts_registered_there():
    engine = tiny_engine('run.end="1958-03"', persons=40_000)
    shard = engine.shards[0]
    urban_districts = np.flatnonzero(shard.communes.is_urban)
    assert urban_districts.size >= 1
    recruitment = module(engine, "recruitment")
    # Testland has all the urban population of its nation, and recruits 50,000 persons a year.
    engine.nation.provinces.urban_population_share[shard.index] = 1.0
    recruitment.params = recruitment.params.model_copy(update={"recruits_by_year_m": {1957: 0.05}})
    engine.step()  # checks on: population stocks and the grain accounts must hold
    recruited = np.flatnonzero(shard.persons.recruited & shard.persons.alive)
    assert recruited.size > 50
    assert shard.communes.is_urban[shard.person_commune()[recruited]].all()
    assert not shard.persons.unregistered[recruited].any()


def test_no_recruitment_without_a_schedule():
    results = run(small_scenario("recruitment.recruits_by_year_m={1957=0.0}"))
    assert results.value("recruits", 1958) == 0.0
    assert results.value("urban_population", 1958) < run(small_scenario()).value("urban_population", 1958)


def test_workers_sent_back_are_no_longer_recruits_whatever_rows_they_arrive_as(historical_run):
    # By the end of 1962 the schedule has sent back 77% of the recruits; the rest stay in the cities.
    left = historical_run.value("recruits_in_cities", 1962)
    recruited = sum(historical_run.value("recruits", y) for y in (1958, 1959, 1960))
    assert left < 0.3 * recruited
