import itertools
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
    fertility_rates,
    hazard_line_compiled,
    hazard_line_reference,
    pregnancies_compiled,
    pregnancies_reference,
    starvation_bound_reference,
    unit_poisson_points,
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


def shortfall_hazard(demography, reserve, person_class, hazard):
    """The exact total hazard of every row, as the death draw computes it for the rows a point falls on."""
    tables = demography.class_tables()
    starvation = demography.starvation_hazard(reserve) * tables["vulnerability"][person_class]
    below = reserve < np.float32(demography.params.starvation_onset)
    return np.where(below, hazard + starvation, hazard)


def line_arguments(demography, shard, alive, reserve, hazard, by_commune, steepness):
    p, tables = demography.params, demography.class_tables()
    onset, span = np.float32(p.starvation_onset), np.float32(p.starvation_onset - p.lethal_reserve)
    return (
        shard.person_class(0),
        shard.persons.household,
        shard.households.commune,
        alive,
        reserve,
        hazard,
        by_commune,
        onset,
        tables["vulnerability"],
        span,
        steepness,
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), by_commune=st.booleans(), steepness=STEEPNESS)
def test_compiled_line_of_hazards_and_counts_give_the_reference_bytes(small_engine, seed, by_commune, steepness):
    """The running sum of every row's bound on its hazard: the same bytes compiled and with numpy, row after row
    a sum in row order (Python's own loop gives them too), 0 added for the dead, the cell's hazard at or above
    the onset, and below it a bound never under the exact hazard."""
    rng = np.random.default_rng(seed)
    shard, demography = small_engine.shards[0], module(small_engine, "demography")
    tables = demography.class_tables()
    n, n_communes = shard.persons.count, shard.communes.count
    person_class, household = shard.person_class(0), shard.persons.household
    commune, household_commune = shard.person_commune(), shard.households.commune
    alive = rng.random(n) < 0.9
    reserve = rng.uniform(0.5, 1.0, n).astype(np.float32)  # down to a shortfall of 1.7: both powers of the bound
    hazard = rng.random(n_communes * N_CLASSES) * 0.3 if by_commune else tables["hazard"] * 50
    arguments = line_arguments(demography, shard, alive, reserve, hazard, by_commune, steepness)
    compiled = hazard_line_compiled(*arguments)
    reference = hazard_line_reference(*arguments)
    assert compiled.tobytes() == reference.tobytes()
    cell = commune * N_CLASSES + person_class if by_commune else person_class
    onset = np.float32(demography.params.starvation_onset)
    below = reserve < onset
    span = np.float32(demography.params.starvation_onset - demography.params.lethal_reserve)
    shortfall = np.maximum((onset - reserve) / span, np.float32(0.0))
    bound = starvation_bound_reference(shortfall, hazard[cell], tables["vulnerability"][person_class], steepness)
    own = np.where(alive, np.where(below, bound, hazard[cell]), 0.0)
    assert reference.tobytes() == np.array(list(itertools.accumulate(own.tolist()))).tobytes()  # in row order
    params = demography.params
    demography.params = params.model_copy(update={"starvation_steepness": steepness})
    try:
        exact = shortfall_hazard(demography, reserve, person_class, hazard[cell])
    finally:
        demography.params = params
    assert (bound[below] >= exact[below]).all()
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
def test_the_bound_on_the_hazard_is_never_below_the_exact_hazard(small_engine, steepness):
    """At the edge: no baseline hazard (the starvation hazard alone), shortfalls from 0 to 10 and where numpy's
    float32 power rounds a tiny or subnormal value up, which the bound's margin and slack are there to cover.
    Not one row's bound may fall below its exact hazard (the thinning would then miss deaths), in either
    implementation."""
    shard, demography = small_engine.shards[0], module(small_engine, "demography")
    p = demography.params
    onset, span = np.float32(p.starvation_onset), np.float32(p.starvation_onset - p.lethal_reserve)
    n = shard.persons.count
    person_class = shard.person_class(0)
    edges = np.array([0, 1e-30, 1e-12, 1e-9, 3e-8, 1e-6, 1e-3, 0.3, 0.999999, 1.0, 1.000001, 1.5, 3.0, 10.0])
    shortfall = np.concatenate([edges, np.geomspace(1e-12, 1.0, 400), np.random.default_rng(1).random(n)])[:n]
    reserve = (onset - span * shortfall.astype(np.float32)).astype(np.float32)
    alive = np.ones(n, dtype=bool)
    hazard = np.zeros(N_CLASSES)  # no baseline: the starvation hazard's own rounding decides
    demography.params = p.model_copy(update={"starvation_steepness": steepness})
    try:
        exact = shortfall_hazard(demography, reserve, person_class, hazard[person_class])
    finally:
        demography.params = p
    assert (exact[reserve < onset] > 0).mean() > 0.9
    vulnerability = demography.class_tables()["vulnerability"][person_class]
    exact_shortfall = np.maximum((onset - reserve) / span, np.float32(0.0))
    bound = starvation_bound_reference(exact_shortfall, hazard[person_class], vulnerability, steepness)
    assert (bound >= exact).all()
    # Each row alone on its line: the line is its bound below the onset, the same in both implementations.
    arguments = line_arguments(demography, shard, alive, reserve, hazard, False, steepness)
    own = np.where(reserve < onset, bound, hazard[person_class])
    for row in range(0, 500):
        alone = tuple(a[row : row + 1] if isinstance(a, np.ndarray) and a.size == n else a for a in arguments)
        assert hazard_line_compiled(*alone)[0] == hazard_line_reference(*alone)[0] == own[row]


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    by_commune=st.booleans(),
    slice_rows=st.sampled_from([97, 1000, 1 << 18]),
    steepness=STEEPNESS,
)
def test_compiled_death_draw_decides_the_reference_deaths_in_any_slices(
    small_engine, seed, by_commune, slice_rows, steepness
):
    """Who dies and where their death falls within their probability (which splits them by cause) are the same
    bytes with the compiled line and the numpy reference, whatever the slices the rows are drawn in; only the
    living die, each row's death falls in [0, 1), and both the starving and the others die."""
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
    arguments = (person_class, household, household_commune, alive, reserve, hazard, by_commune)
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
    finally:
        demography.params = params
    (dying, position), (reference_dying, reference_position) = decided["numba"], decided["numpy"]
    assert dying.tobytes() == reference_dying.tobytes()
    assert position.tobytes() == reference_position.tobytes()
    starving = alive & (reserve < np.float32(params.starvation_onset))
    assert np.all(np.diff(dying) > 0) and alive[dying].all() and ((position >= 0) & (position < 1)).all()
    assert starving[dying].any() and (~starving[dying]).any()  # the starving and the others both die


def test_unit_poisson_points_are_a_poisson_process_on_the_line():
    """Ascending points in [0, length), as many as a Poisson variable of mean `length` (over 400 draws, its mean
    and variance), spread evenly, the same points from the same generator, none on an empty line; a line of
    infinite length is refused rather than drawn for ever."""
    counts = []
    points = []
    for seed in range(400):
        drawn = unit_poisson_points(np.random.default_rng(seed), 37.5)
        assert np.all(np.diff(drawn) > 0) and (drawn >= 0).all() and (drawn < 37.5).all()
        counts.append(drawn.size)
        points.append(drawn)
    assert abs(np.mean(counts) - 37.5) < 4 * math.sqrt(37.5 / 400)
    assert 0.8 < np.var(counts) / 37.5 < 1.2
    assert np.histogram(np.concatenate(points), bins=5, range=(0, 37.5))[0].min() > 0.18 * sum(counts)
    assert unit_poisson_points(np.random.default_rng(3), 37.5).tobytes() == points[3].tobytes()
    assert unit_poisson_points(np.random.default_rng(3), 0.0).size == 0
    with pytest.raises(ValueError, match="hazards sum to inf"):
        unit_poisson_points(np.random.default_rng(3), math.inf)


def test_the_death_draw_kills_each_row_with_its_probability_and_splits_causes_by_hazard():
    """The draw's statistics against the rule it stands for (one uniform per person, death below p = 1 -
    exp(-hazard)): 40 draws over 20,000 rows in three groups (no hunger and a baseline hazard of 0.01; below the
    onset with a weak hazard; deep in hunger), each group's deaths within four standard errors of the
    expected, positions uniform given death, and starvation's share of the deaths as its share of the
    hazard."""
    demography = Demography()
    # A steepness between whole powers: the bound on the line is then far above the exact hazard of the
    # slightly hungry (2.8 times at a shortfall of 1/8), and only the thinning brings their deaths down.
    demography.params = demography.params.model_copy(update={"starvation_steepness": 4.5})
    p = demography.params
    n = 20_000
    group = np.arange(n) % 3
    person_class = np.full(n, 200, dtype=np.int16)  # a man of 50, rural
    reserve = np.array([0.95, p.starvation_onset - 0.02, p.lethal_reserve + 0.01], dtype=np.float32)[group]
    alive = np.arange(n) % 7 != 0
    hazard = np.full(N_CLASSES, 0.01)
    exact = shortfall_hazard(demography, reserve, person_class, hazard[person_class])
    probability = np.where(alive, -np.expm1(-exact), 0.0)
    deaths, hunger, positions = np.zeros(3), np.zeros(3), []
    draws = 40
    for seed in range(draws):
        dying, position = demography.decide_deaths(
            np.random.default_rng(seed),
            person_class,
            np.arange(n, dtype=np.int32),
            np.zeros(n, np.int32),
            alive,
            reserve,
            hazard,
            False,
        )
        assert alive[dying].all()
        deaths += np.bincount(group[dying], minlength=3)
        starvation_share = 1.0 - hazard[person_class[dying]] / exact[dying]
        hunger += np.bincount(group[dying], weights=position >= 1.0 - starvation_share, minlength=3)
        positions.append(position)
    expected = draws * np.bincount(group, weights=probability, minlength=3)
    error = np.sqrt(draws * np.bincount(group, weights=probability * (1 - probability), minlength=3))
    assert (np.abs(deaths - expected) < 4 * error).all(), (deaths, expected, error)
    assert deaths[0] > 1000 and deaths[2] > 3 * deaths[1]
    position = np.concatenate(positions)
    assert np.histogram(position, bins=4, range=(0, 1))[0].min() > 0.23 * position.size
    # Starvation's share of each group's deaths, against its share of the hazard (none above the onset).
    share = 1.0 - hazard[200] / exact[group == 2][0]
    assert hunger[0] == 0 and abs(hunger[2] / deaths[2] - share) < 4 * math.sqrt(share * (1 - share) / deaths[2])


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
