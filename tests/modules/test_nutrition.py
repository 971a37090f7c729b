import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greatleap.modules import nutrition as nutrition_module
from greatleap.modules.nutrition import (
    BALANCE_TABLES,
    energy_balance_compiled,
    energy_balance_reference,
    energy_tables,
)
from tests.modules.helpers import module, run_module_step, tiny_engine


def test_reference_masses_and_schofield_bmr_match_the_data_file():
    weight, slope, intercept = energy_tables()
    assert weight[40, 0] == pytest.approx(53.8 - (53.8 - 51.0) * (40.5 - 25) / 40, rel=1e-6)  # male, interpolated
    assert 46 <= weight[30, 1] <= 47  # female adult ~46.7 kg
    assert 7.0 <= weight[0, 0] <= 8.0  # 7.0 kg over the first year, interpolated towards 11 kg at 1-4
    assert (slope[40, 0], intercept[40, 0]) == (11.472, 873.1)  # Schofield 1985, men 30-59
    assert (slope[20, 1], intercept[20, 1]) == (14.818, 486.6)  # women 18-29


def test_need_is_schofield_bmr_times_activity_and_falls_with_hunger():
    engine = tiny_engine()
    nutrition = module(engine, "nutrition")
    p = nutrition.params
    shard = engine.shards[0]
    persons = shard.persons
    weight, slope, intercept = energy_tables()
    age = -persons.birth_month.astype(int) // 12
    man = np.flatnonzero((age == 40) & ~persons.sex.unpack())[0]
    need, need_well_fed, _mass = nutrition.need_per_day(shard, 0)
    expected = (slope[40, 0] * weight[40, 0] + intercept[40, 0]) * p.pal_rural_adult
    assert need[man] == pytest.approx(expected, rel=1e-5)  # ~2,580 kcal/day for a 40-year-old farmer
    assert need_well_fed[man] == pytest.approx(expected, rel=1e-5)
    persons.energy_reserve[man] = 0.75  # a quarter of his mass gone: less basal need, activity at the floor
    hungry_need, _, _ = nutrition.need_per_day(shard, 0)
    basal = (slope[40, 0] * weight[40, 0] * 0.75 + intercept[40, 0]) * (1 - p.metabolic_adaptation)
    assert hungry_need[man] == pytest.approx(basal * p.hunger_pal, rel=1e-5)
    assert hungry_need[man] < 0.6 * need[man]


def test_extra_work_raises_the_needs_of_rural_adults_only():
    engine = tiny_engine()
    nutrition = module(engine, "nutrition")
    shard = engine.shards[0]
    age = -shard.persons.birth_month.astype(int) // 12
    before, _, _ = nutrition.need_per_day(shard, 0)
    shard.communes.work_intensity[:] = 1.5  # half as many days again as a normal month
    after, _, _ = nutrition.need_per_day(shard, 0)
    rural = ~shard.communes.is_urban[shard.person_commune()]
    adult, child = (age >= 20) & (age < 50) & rural, age < 10
    ratio = 1 + 0.5 * nutrition.params.work_pal_elasticity
    np.testing.assert_allclose(after[adult] / before[adult], ratio, rtol=1e-5)
    np.testing.assert_allclose(after[child], before[child])


def feed(engine, share_of_need: float) -> None:
    """Give every household `share_of_need` of its members' current energy need."""
    shard = engine.shards[0]
    need, _, _ = module(engine, "nutrition").need_per_day(shard, 0)
    per_household = np.bincount(
        shard.persons.household, weights=need * shard.persons.alive, minlength=shard.households.count
    )
    shard.households.food_kcal_per_day[:] = per_household * share_of_need


def test_energy_is_conserved_in_every_household_under_a_deficit():
    """Sum over members of (mass change x kcal per kg) = (food - need) x days, household by household."""
    engine = tiny_engine()
    nutrition = module(engine, "nutrition")
    shard = engine.shards[0]
    persons = shard.persons
    feed(engine, 0.7)
    before = persons.energy_reserve.astype(np.float64).copy()
    need, _, mass = nutrition.need_per_day(shard, 0)
    run_module_step(engine, "nutrition")  # January: 31 days
    gained = np.bincount(persons.household, weights=(persons.energy_reserve - before) * mass)
    food = shard.households.food_kcal_per_day.astype(np.float64)
    expected = (food - np.bincount(persons.household, weights=need)) * 31 / nutrition.params.kcal_per_kg_tissue
    np.testing.assert_allclose(gained, expected, rtol=2e-4, atol=0.02)
    assert (gained[food > 0] < 0).all()


def test_sharing_rules_spread_a_shortfall_differently_between_children_and_adults():
    spread, gap = {}, {}
    for rule in ("equal_loss", "by_need"):
        engine = tiny_engine(f'nutrition.sharing="{rule}"')
        persons = engine.shards[0].persons
        age = -persons.birth_month.astype(int) // 12
        feed(engine, 0.7)
        run_module_step(engine, "nutrition")
        reserve = persons.energy_reserve.astype(np.float64)
        households = engine.shards[0].households.count
        high = np.full(households, -np.inf)
        low = np.full(households, np.inf)
        np.maximum.at(high, persons.household, reserve)
        np.minimum.at(low, persons.household, reserve)
        spread[rule] = np.max(high - low)  # the largest gap between two members of one household
        gap[rule] = reserve[(age >= 30) & (age < 50)].mean() - reserve[(age >= 5) & (age < 10)].mean()
    assert spread["equal_loss"] < 1e-6  # every member loses the same share of reference mass
    assert spread["by_need"] > 0.02
    assert gap["by_need"] > gap["equal_loss"] + 0.01  # children's need per kg is highest: they lose most


def test_surplus_refills_the_reserve_up_to_its_ceiling():
    engine = tiny_engine()
    persons = engine.shards[0].persons
    persons.energy_reserve[:] = 0.8
    for month in range(6):
        feed(engine, 1.3)
        run_module_step(engine, "nutrition", t=month)
    assert persons.energy_reserve.min() > 0.95
    assert persons.energy_reserve.max() <= 1.0


@pytest.fixture(scope="module")
def balance_engine():
    return tiny_engine(persons=8_000)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    by_need=st.booleans(),
    with_intensity=st.booleans(),
    food_scale=st.floats(0.0, 2.5),
    shuffled=st.booleans(),
)
def test_compiled_energy_balance_gives_the_reference_bytes(
    balance_engine, seed, by_need, with_intensity, food_scale, shuffled
):
    """Hungry and full households, the dead, both sharing rules, with and without work intensity, persons in
    household order or shuffled (as births and movers leave them between compactions, where the kernel
    prefetches): the kernel's reserves and household sums equal the numpy reference's, byte for byte."""
    compare_energy_balances(balance_engine, seed, by_need, with_intensity, food_scale, shuffled)


@pytest.mark.parametrize(
    ("by_need", "food_scale", "deferred"),
    [(False, 0.3, "none"), (False, 0.8, "listed"), (False, 2.0, "scanned"), (True, 1.0, "scanned")],
)
def test_the_energy_balance_defers_the_rows_of_households_with_an_overflow_to_share(
    balance_engine, by_need, food_scale, deferred
):
    """The kernel settles at once the rows of households where no member can rise above the ceiling while
    another stays below it, and defers the others' rows: to a list while it has room (an eighth of the rows
    and 1,024), else found again by a scan. Each way gives the reference's bytes."""
    n = balance_engine.shards[0].persons.count
    before = nutrition_module.deferred_rows
    compare_energy_balances(balance_engine, 7, by_need, True, food_scale, True)
    rows = nutrition_module.deferred_rows - before
    room = n // 8 + 1024
    assert {"none": rows == 0, "listed": 0 < rows <= room, "scanned": rows > room}[deferred], rows
    if by_need:
        assert rows == n  # every household is flagged: its members' gains differ


def compare_energy_balances(balance_engine, seed, by_need, with_intensity, food_scale, shuffled):
    """Run the compiled and the reference energy balance on the same random reserves, food and deaths, and
    assert the same bytes."""
    rng = np.random.default_rng(seed)
    shard = balance_engine.shards[0]
    nutrition = module(balance_engine, "nutrition")
    tables = nutrition.class_tables()
    persons, households = shard.persons, shard.households
    n = persons.count
    order = rng.permutation(n) if shuffled else np.arange(n)
    person_class, household = shard.person_class(0)[order], persons.household[order]
    reserve = np.where(rng.random(n) < 0.5, 1.0, rng.uniform(0.5, 1.0, n)).astype(np.float32)
    alive = rng.random(n) < 0.95
    # Food around the members' need when well fed (the need column is not set in a tiny engine before its step).
    well_fed_need = shard.class_sum_by_household(tables["need_well_fed"], 0)
    food = well_fed_need * rng.uniform(0.0, food_scale, households.count)
    intensity = rng.uniform(0.5, 2.0, shard.communes.count).astype(np.float32) if with_intensity else np.zeros(0)

    def balance(function):
        kept = reserve.copy()
        sums = function(
            person_class,
            household,
            alive,
            kept,
            households.commune,
            intensity.astype(np.float32),
            food,
            *(tables[name] for name in BALANCE_TABLES),
            *nutrition._constants(),
            by_need,
            31 / 7000.0,
            1.0,
            np.float32(0.85),
            shard.household_bounds(),
            well_fed := np.full(households.count, np.nan, dtype=np.float32),
        )
        return kept, (*sums, well_fed)

    compiled_reserve, compiled_sums = balance(energy_balance_compiled)
    reference_reserve, reference_sums = balance(energy_balance_reference)
    assert compiled_reserve.tobytes() == reference_reserve.tobytes()
    assert all(a.tobytes() == b.tobytes() for a, b in zip(compiled_sums, reference_sums, strict=True))
    assert not np.array_equal(compiled_reserve, reserve)  # the balance moved the reserves
    need, reserve_total, undernourished, well_fed = compiled_sums
    assert [a.shape for a in compiled_sums] == [(shard.communes.count,)] * 3 + [(households.count,)]
    living = alive.astype(bool)
    assert undernourished.sum() == np.count_nonzero(living & (compiled_reserve < np.float32(0.85)))
    assert reserve_total.sum() == pytest.approx(compiled_reserve[living].sum(dtype=np.float64), rel=1e-9)
    assert not np.isnan(well_fed).any() and need.sum() > 0
