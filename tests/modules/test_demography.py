import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greatleap.core.world import N_CLASSES
from greatleap.modules.demography import (
    NOT_PREGNANT,
    Demography,
    baseline_hazard,
    conceive_compiled,
    conceive_reference,
    count_by_group_reference,
    deaths_before_starvation_compiled,
    deaths_before_starvation_reference,
    fertility_rates,
    pregnancies_compiled,
    pregnancies_reference,
)
from tests.conftest import run, small_scenario
from tests.modules.helpers import module, tiny_engine


def test_life_table_and_fertility_schedule_are_loaded_whole():
    hazard = baseline_hazard()
    assert hazard.shape == (111, 2) and (hazard > 0).all()
    assert hazard[0, 0] * 12 == pytest.approx(0.14296)  # West model, male infants: mx = 0.14296
    assert hazard[30, 1] < hazard[0, 1] and hazard[80, 1] > hazard[30, 1]
    assert 5 * fertility_rates()[15:50:5].sum() == pytest.approx(6.41, abs=0.01)  # TFR 1957 = 6.41


def test_starvation_hazard_is_zero_above_onset_steep_below_and_half_at_lethal():
    demography = Demography()
    p = demography.params
    hazard = demography.starvation_hazard(np.array([1.0, p.starvation_onset, 0.74, 0.70, p.lethal_reserve]))
    assert hazard[0] == hazard[1] == 0.0
    assert 0 < hazard[2] < hazard[3] < hazard[4]
    assert hazard[4] == pytest.approx(math.log(2.0))  # monthly death probability 1/2 at the lethal reserve
    assert hazard[3] > 10 * hazard[2]  # steep: five points of reserve multiply the hazard tenfold


def test_births_come_from_living_mothers_into_their_household_with_their_reserve():
    engine = tiny_engine("demography.mortality_scale=0.1")
    shard = engine.shards[0]
    persons = shard.persons
    women = np.flatnonzero(persons.pregnancy_due_month == 0)
    assert women.size > 30  # ~ ASFR x 9/12 of women are pregnant at the start, a ninth of them due now
    persons.energy_reserve[women] = 0.6
    count = persons.count
    engine.step()
    newborns = np.arange(count, persons.count)
    survivors = women[persons.alive[women]]
    assert newborns.size == survivors.size
    np.testing.assert_array_equal(persons.household[newborns], persons.household[survivors])
    assert (persons.birth_month[newborns] == 0).all()
    # Delivered: no mother is still due this month (one fed back above the fertility floor by her household
    # may conceive again at once: the model has no postpartum infecund period, docs/model.md).
    assert (persons.pregnancy_due_month[survivors] != 0).all()
    again = persons.pregnancy_due_month[survivors] != NOT_PREGNANT
    assert (persons.energy_reserve[survivors[again]] > module(engine, "demography").params.fertility_hunger_floor).all()
    # A newborn starts at its mother's reserve after the month's meals: born of hungry mothers, small.
    np.testing.assert_array_equal(persons.energy_reserve[newborns], persons.energy_reserve[survivors])
    assert persons.energy_reserve[newborns].mean() < 0.9


def test_hunger_suppresses_conception():
    fed = tiny_engine()
    starved = tiny_engine("nutrition.intake_scale=0.3")
    floor = module(starved, "demography").params.fertility_hunger_floor
    starved.shards[0].persons.energy_reserve[:] = floor - 0.02  # and no food to climb back above the floor
    fed.step()
    starved.step()
    conceived = [int((e.shards[0].persons.pregnancy_due_month == 9).sum()) for e in (fed, starved)]
    assert conceived[0] > 50 and conceived[1] == 0


def test_the_1957_baseline_reproduces_banisters_rates_and_registers_the_official_ones(baseline_1957):
    value = baseline_1957.value
    assert 17.0 <= value("cdr", 1957) <= 19.5  # Banister's adjusted 18.1 per mille (national_series.csv)
    assert 41.5 <= value("cbr", 1957) <= 45.0  # Banister's adjusted 43.3 (national_series_added.csv)
    assert 10.0 <= value("cdr_registered", 1957) <= 12.0  # official 10.8
    assert 32.0 <= value("cbr_registered", 1957) <= 37.0  # official 34.03
    assert value("cdr_registered", 1957) == pytest.approx(0.62 * value("cdr", 1957))
    assert baseline_1957.value("deaths_starvation", 1957) < 0.05 * baseline_1957.value("deaths", 1957)
    assert baseline_1957.value("population", 1957) / 1e6 == pytest.approx(646.53, rel=0.01)  # official year-end


@pytest.fixture(scope="module")
def ration_cut():
    return run(small_scenario("nutrition.intake_scale=0.7", 'run.end="1958-12"'))


def test_a_ration_cut_produces_a_famine_that_kills_the_young_and_old_first(ration_cut, small_results):
    starved = ration_cut.value("deaths_starvation", 1958)
    assert starved > 10 * small_results.value("deaths_starvation", 1957) and starved > 1e6
    rates = {g: ration_cut.value(f"starvation_death_rate_{g}", 1958) for g in ("0_4", "5_14", "15_59", "60_plus")}
    assert rates["0_4"] > 1.1 * rates["15_59"] and rates["5_14"] > 1.1 * rates["15_59"]
    assert rates["60_plus"] > 1.5 * rates["15_59"]
    assert ration_cut.value("cdr", 1958) > 1.15 * small_results.value("cdr", 1957)


def test_a_famine_depresses_births(ration_cut, small_results):
    assert ration_cut.value("cbr", 1958) < small_results.value("cbr", 1957) - 2.0


@pytest.fixture(scope="module")
def small_engine():
    return tiny_engine(persons=6_000)


STEEPNESS = st.one_of(st.floats(1.0, 8.0), st.integers(1, 8).map(float))  # the parameter's range


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), by_commune=st.booleans(), steepness=STEEPNESS)
def test_compiled_deaths_and_counts_give_the_reference_bytes(small_engine, seed, by_commune, steepness):
    rng = np.random.default_rng(seed)
    engine = small_engine
    shard, demography = engine.shards[0], module(engine, "demography")
    tables = demography.class_tables()
    n, n_communes = shard.persons.count, shard.communes.count
    person_class, household = shard.person_class(0), shard.persons.household
    commune, household_commune = shard.person_commune(), shard.households.commune
    alive = rng.random(n) < 0.9
    reserve = rng.uniform(0.5, 1.0, n).astype(np.float32)  # down to a shortfall of 1.7: both powers of the screen
    u = rng.random(n)
    hazard = rng.random(n_communes * N_CLASSES) * 0.3 if by_commune else tables["hazard"] * 50
    table = -np.expm1(-hazard)
    onset, span, vulnerability = np.float32(0.8), np.float32(0.8 - 0.62), tables["vulnerability"]
    screen = (hazard, vulnerability, span, steepness)
    arguments = (person_class, household, household_commune, alive, reserve, u, table, by_commune, onset, *screen)
    compiled = deaths_before_starvation_compiled(*arguments)
    reference = deaths_before_starvation_reference(*arguments)
    # The same rows (the compiled lists are int32, numpy's flatnonzero gives int64).
    assert all(np.array_equal(a, b) and a.dtype == np.int32 for a, b in zip(compiled, reference, strict=True))
    assert compiled[0].size > 0 and compiled[1].size > 0  # some die, some may starve
    # The screen keeps every row below the onset that dies with starvation added, and few others.
    below = alive & (reserve < onset)
    cell = commune * N_CLASSES + person_class if by_commune else person_class
    shortfall = np.maximum((onset - reserve) / span, np.float32(0.0))
    starvation = np.float32(math.log(2.0)) * shortfall ** np.float32(steepness) * vulnerability[person_class]
    dies_starving = np.flatnonzero(below & (u < -np.expm1(-(hazard[cell] + starvation))))
    kept = compiled[1]
    assert dies_starving.size > 0 and np.isin(dies_starving, kept).all() and below[kept].all()
    assert kept.size < 0.8 * below.sum()
    groups = tables["age_group"]
    counted = count_by_group_reference(household, household_commune, person_class, alive, groups, n_communes, 4)
    assert (counted.sum(axis=1) == np.bincount(commune, weights=alive, minlength=n_communes)).all()
    assert counted.sum() == alive.sum()
    # The same values as counting per (commune, class) cell and summing the cells with a one-hot matrix.
    one_hot = np.eye(4)[groups]
    for weights in (alive, None):
        cell = commune * N_CLASSES + person_class
        cells = np.bincount(cell, weights=weights, minlength=n_communes * N_CLASSES).reshape(n_communes, N_CLASSES)
        direct = count_by_group_reference(household, household_commune, person_class, weights, groups, n_communes, 4)
        assert direct.dtype == np.float64 and np.array_equal(direct, cells @ one_hot)


@pytest.mark.parametrize("steepness", [1.0, 2.5, 4.0, 5.231, 8.0])
def test_the_screen_keeps_every_row_whose_uniform_falls_just_below_its_probability(small_engine, steepness):
    """At the edge: every uniform one step below the row's exact probability of dying, no baseline hazard
    (the starvation hazard alone), shortfalls from 0 to 10 and where numpy's float32 power rounds a tiny or
    subnormal value up, which the screen's margin and slack are there to cover. Not one such row may be
    screened out, in either implementation."""
    shard, demography = small_engine.shards[0], module(small_engine, "demography")
    p, tables = demography.params, demography.class_tables()
    onset, span = np.float32(p.starvation_onset), np.float32(p.starvation_onset - p.lethal_reserve)
    n = shard.persons.count
    person_class, household, household_commune = (
        shard.person_class(0),
        shard.persons.household,
        shard.households.commune,
    )
    edges = np.array([0, 1e-30, 1e-12, 1e-9, 3e-8, 1e-6, 1e-3, 0.3, 0.999999, 1.0, 1.000001, 1.5, 3.0, 10.0])
    shortfall = np.concatenate([edges, np.geomspace(1e-12, 1.0, 400), np.random.default_rng(1).random(n)])[:n]
    reserve = (onset - span * shortfall.astype(np.float32)).astype(np.float32)
    alive = np.ones(n, dtype=bool)
    hazard = np.zeros(N_CLASSES)  # no baseline: the starvation hazard's own rounding decides
    vulnerability = tables["vulnerability"]
    # The exact path's arithmetic (Demography.starvation_hazard on float32 reserves).
    exact_shortfall = np.maximum((onset - reserve) / span, np.float32(0.0))
    powered = np.power(exact_shortfall, steepness)
    total = (
        hazard[person_class] + (np.float32(math.log(2.0)) * powered).astype(np.float64) * vulnerability[person_class]
    )
    probability = -np.expm1(-total)
    below = reserve < onset
    dies = below & (probability > 0)
    u = np.where(dies, np.nextafter(probability, 0.0), 0.5)
    assert (u[dies] < probability[dies]).all() and dies.sum() > 0.9 * below.sum()
    arguments = (person_class, household, household_commune, alive, reserve, u, -np.expm1(-hazard), False, onset)
    screen = (hazard, vulnerability, span, steepness)
    for decide in (deaths_before_starvation_compiled, deaths_before_starvation_reference):
        kept = decide(*arguments, *screen)[1]
        assert np.isin(np.flatnonzero(dies), kept).all()


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    by_commune=st.booleans(),
    slice_rows=st.sampled_from([97, 1000, 1 << 18]),
    steepness=STEEPNESS,
)
def test_compiled_starving_path_decides_the_reference_deaths_in_any_slices(
    small_engine, seed, by_commune, slice_rows, steepness
):
    """Who dies and where their uniform falls (which splits them by cause) are the same bytes with the
    compiled starving path and the numpy reference, whatever the slices the rows are drawn in, and the same
    as deciding every row directly, without the screen that leaves out the starving who cannot die."""
    from greatleap.core import kernels
    from greatleap.modules import demography as demography_module

    rng = np.random.default_rng(seed)
    shard, demography = small_engine.shards[0], module(small_engine, "demography")
    n, n_communes = shard.persons.count, shard.communes.count
    person_class, household, household_commune = (
        shard.person_class(0),
        shard.persons.household,
        shard.households.commune,
    )
    alive = rng.random(n) < 0.9
    reserve = rng.uniform(0.3, 1.0, n).astype(np.float32)  # about half below the onset of starvation
    hazard = rng.random(n_communes * N_CLASSES) * 0.05 if by_commune else demography.class_tables()["hazard"] * 20
    arguments = (person_class, household, household_commune, alive, reserve, hazard, -np.expm1(-hazard), by_commune)
    decided = {}
    params = demography.params
    demography.params = params.model_copy(update={"starvation_steepness": steepness})
    try:
        for backend in ("numba", "numpy"):
            with kernels.use(backend):
                previous, demography_module.DEATH_SLICE_ROWS = demography_module.DEATH_SLICE_ROWS, slice_rows
                try:
                    decided[backend] = demography.decide_deaths(np.random.default_rng(seed), *arguments)
                finally:
                    demography_module.DEATH_SLICE_ROWS = previous
        starvation = demography.starvation_hazard(reserve) * demography.class_tables()["vulnerability"][person_class]
    finally:
        demography.params = params
    (dying, position), (reference_dying, reference_position) = decided["numba"], decided["numpy"]
    assert dying.tobytes() == reference_dying.tobytes()
    assert position.tobytes() == reference_position.tobytes()
    starving = alive & (reserve < np.float32(params.starvation_onset))
    # Every row decided directly: its cell's probability, or with starvation added below the onset.
    cell = shard.person_commune() * N_CLASSES + person_class if by_commune else person_class
    probability = np.where(starving, -np.expm1(-(hazard[cell] + starvation)), -np.expm1(-hazard)[cell])
    u = np.random.default_rng(seed).random(n)
    direct = np.flatnonzero(alive & (u < probability))
    assert dying.tobytes() == direct.tobytes()
    assert position.tobytes() == (u[direct] / probability[direct]).tobytes()
    assert starving[dying].any() and (~starving[dying]).any()  # the starving and the others both die
    assert alive[dying].all() and ((position >= 0) & (position < 1)).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), t=st.integers(0, 11))
def test_compiled_deliveries_and_conceptions_give_the_reference_bytes(small_engine, seed, t):
    rng = np.random.default_rng(seed)
    shard, demography = small_engine.shards[0], module(small_engine, "demography")
    tables, p = demography.class_tables(), demography.params
    n = shard.persons.count
    person_class = shard.person_class(0)
    survivors = rng.random(n) < 0.95
    due = np.where(rng.random(n) < 0.3, rng.integers(0, 12, n), NOT_PREGNANT).astype(np.int16)
    reserve = rng.uniform(0.5, 1.0, n).astype(np.float32)
    groups = tables["age_group"]
    outcome = {}
    for name, scan, conceive in (
        ("compiled", pregnancies_compiled, conceive_compiled),
        ("reference", pregnancies_reference, conceive_reference),
    ):
        due_after = due.copy()
        by_group = np.full((shard.communes.count, 4), np.nan)
        household, household_commune = shard.persons.household, shard.households.commune
        delivering, women = scan(
            survivors, due_after, t, tables["fertile"], person_class, household, household_commune, groups, by_group
        )
        u = np.random.default_rng(seed).random(women.size)
        floor, span = (
            np.float32(p.fertility_hunger_floor),
            np.float32(p.fertility_hunger_onset - p.fertility_hunger_floor),
        )
        conceive(women, u, person_class, reserve, tables["conception"] * 20, floor, span, due_after, t + 9)
        outcome[name] = (delivering, women, due_after, by_group)
    for compiled, reference in zip(outcome["compiled"][:2], outcome["reference"][:2], strict=True):
        np.testing.assert_array_equal(compiled, reference)  # the same rows (int32 lists from the kernel)
    for compiled, reference in zip(outcome["compiled"][2:], outcome["reference"][2:], strict=True):
        assert compiled.tobytes() == reference.tobytes()
    delivering, women, due_after, by_group = outcome["compiled"]
    commune = shard.person_commune()
    assert (by_group.sum(axis=1) == np.bincount(commune, weights=survivors, minlength=by_group.shape[0])).all()
    assert by_group[:, 0].sum() > 0  # children counted too
    assert delivering.size and survivors[delivering].all() and (due[delivering] == t).all()
    assert (due_after[due == t] != t).all()  # the due are delivered (a few conceive again at once)
    assert (due_after[women] == t + 9).any() and (due_after[women] == NOT_PREGNANT).any()
