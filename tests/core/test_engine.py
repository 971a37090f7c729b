import numpy as np
import pytest

from greatleap.core.calendar import Calendar
from greatleap.core.engine import Engine
from greatleap.core.results import NATION, Results
from greatleap.core.streams import make_generator
from greatleap.core.world import build_world
from greatleap.output import parquet_bytes
from greatleap.plan import PHASE_PLAN, build_phases, module_classes
from greatleap.sim import Sim
from tests.conftest import run, small_scenario


def engine_for(scenario, shards, check=False) -> Engine:
    sections = {cls.name: scenario.section(cls.name) for cls in module_classes()}
    calendar = Calendar.parse(scenario.run.start, scenario.run.end)
    phases, modules = build_phases(sections)
    return Engine(phases, calendar, shards, check=check, seed=scenario.run.seed, modules=modules)


def test_same_seed_gives_identical_parquet_bytes_and_another_seed_differs(small_results):
    again = run(small_scenario())
    assert parquet_bytes(again.monthly) == parquet_bytes(small_results.monthly)
    assert parquet_bytes(again.annual) == parquet_bytes(small_results.annual)
    other = run(small_scenario("run.seed=2"))
    assert parquet_bytes(other.monthly) != parquet_bytes(small_results.monthly)


def test_any_grouping_of_provinces_gives_the_same_results(small_results):
    """Results never depend on the order or grouping in which provinces are processed: a shuffled order
    (as if the provinces were spread over workers in another way) gives identical bytes."""
    scenario = small_scenario()
    engine = engine_for(scenario, build_world(scenario.world, scenario.run.scale, scenario.run.seed))
    order = make_generator(5, "test", "shuffle").permutation(len(engine.shards))
    engine.shards = [engine.shards[i] for i in order]
    shuffled = Results.from_recorder(engine.run(), engine.calendar)
    assert parquet_bytes(shuffled.monthly) == parquet_bytes(small_results.monthly)


def test_reversed_province_order_gives_the_same_results():
    scenario = small_scenario('run.end="1957-06"')
    shards = build_world(scenario.world, scenario.run.scale, scenario.run.seed)
    forward = engine_for(scenario, shards)
    backward = engine_for(scenario, build_world(scenario.world, scenario.run.scale, scenario.run.seed)[::-1])
    backward.shards = backward.shards[::-1]  # defeat the engine's own sorting: process Z..A
    a = Results.from_recorder(forward.run(), forward.calendar)
    b = Results.from_recorder(backward.run(), backward.calendar)
    assert parquet_bytes(a.monthly) == parquet_bytes(b.monthly)


def test_population_identity_holds_every_month_per_province_and_nationally(small_results):
    monthly = small_results.monthly.to_pandas()
    for province in ["CN", "SC", "SH", "XZ"]:
        rows = monthly[monthly["province"] == province].pivot(index="date", columns="variable", values="value")
        change = np.diff(rows["population"].to_numpy())
        # Population is recorded at demography's phase; the month's moves come after it.
        moves = (rows["migration_net"] + rows["recruitment_net"]).to_numpy()[:-1]
        flows = (rows["births"] - rows["deaths"]).to_numpy()[1:] + moves
        np.testing.assert_allclose(change, flows, rtol=0, atol=1e-6 * rows["population"].max())


def test_check_mode_catches_a_broken_population_identity():
    scenario = small_scenario('run.end="1957-03"')
    engine = engine_for(scenario, build_world(scenario.world, 1, 1), check=True)
    engine.step()
    shard = engine.shards[0]
    shard.persons.alive[:5] = False  # persons vanish without being counted as deaths
    with pytest.raises(AssertionError, match="population stock differs"):
        engine.step()


def test_phase_plan_is_one_table_with_timings():
    scenario = small_scenario('run.end="1957-02"')
    sim = Sim(scenario)
    sim.run()
    phases = [row[0] for row in sim.info.phase_seconds]
    assert phases == [entry[0] for entry in PHASE_PLAN] + ["checks", "compaction"]
    assert all(seconds >= 0 for _, _, seconds in sim.info.phase_seconds)
    assert sim.info.phase_seconds[0][2] > 0


def test_state_per_person_is_thirteen_and_three_eighths_bytes():
    """household int32, birth month int16, alive, pregnancy due (a step: int8 in a 72-month run), energy
    reserve float32, injured until (a step), and three bits (sex, unregistered, recruited): 13.375 bytes; a
    household 23 bytes (its commune and planning need are held only in a stretch)."""
    sim = Sim(small_scenario('run.end="1957-01"'))
    sim.run()
    assert sim.info.state_bytes_per_person == 13.375
    assert sim.build().shards[0].households.nbytes_per_row == 23


def test_a_province_holds_transient_states_and_caches_only_inside_a_stretch():
    """Between stretches of province phases no province holds the per-person caches or the transient
    household columns (the mess halls' portions, the food eaten, the planning need, the households'
    communes), and the month's results do not change."""
    scenario = small_scenario('run.end="1957-02"')
    engine = engine_for(scenario, build_world(scenario.world, scenario.run.scale, scenario.run.seed))
    seen = []
    for index, (scope, _stretch) in enumerate(engine.stretches):
        engine.run_stretch(index)
        for shard in engine.shards:
            assert not shard.households.attached("messhall_food_kg")
            assert not shard.households.attached("commune")  # spelled out from the communes' first rows
            assert shard.households.food_kcal_per_day.size == 0
            assert not {"person_class", "household_members"} & set(shard.extra)
        seen.append(scope)
    assert seen.count("province") >= 3
    transient = {s.name for m in engine.modules() for s in m.states if s.transient}
    assert transient == {"messhall_food_kg", "food_kcal_per_day", "need_kcal_per_day"}


def test_national_value_is_the_sum_of_provinces(small_results):
    annual = small_results.annual.to_pandas()
    deaths = annual[annual["variable"] == "deaths"]
    by_year = deaths[deaths["province"] != NATION].groupby("year")["value"].sum()
    national = deaths[deaths["province"] == NATION].set_index("year")["value"]
    np.testing.assert_allclose(by_year.to_numpy(), national.to_numpy(), rtol=1e-12)
