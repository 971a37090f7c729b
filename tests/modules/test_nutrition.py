import numpy as np
import pytest

from greatleap.modules.nutrition import energy_tables
from tests.modules.helpers import module, tiny_engine


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
    shard = engine.shards[0]
    persons = shard.persons
    weight, slope, intercept = energy_tables()
    age = -persons.birth_month.astype(int) // 12
    man = np.flatnonzero((age == 40) & (persons.sex == 0))[0]
    need, need_well_fed, _mass = nutrition.need_per_day(shard, 0)
    expected = (slope[40, 0] * weight[40, 0] + intercept[40, 0]) * nutrition.params.pal_rural_adult
    assert need[man] == pytest.approx(expected, rel=1e-5)  # ~2,580 kcal/day for a 40-year-old farmer
    assert need_well_fed[man] == pytest.approx(expected, rel=1e-5)
    persons.energy_reserve[man] = 0.75  # a quarter of his mass gone: less basal need, activity at the floor
    hungry_need, _, _ = nutrition.need_per_day(shard, 0)
    expected_hungry = (slope[40, 0] * weight[40, 0] * 0.75 + intercept[40, 0]) * nutrition.params.hunger_pal
    assert hungry_need[man] == pytest.approx(expected_hungry, rel=1e-5)
    assert hungry_need[man] < 0.75 * need[man]


def test_energy_is_conserved_in_every_household_under_a_deficit():
    """Sum over members of (mass change x kcal per kg) = (food - need) x days, household by household."""
    engine = tiny_engine("nutrition.ration_scale=0.6", "nutrition.ration_dispersion=0.3")
    nutrition = module(engine, "nutrition")
    shard = engine.shards[0]
    persons, households = shard.persons, shard.households
    before = persons.energy_reserve.astype(np.float64).copy()
    need, need_well_fed, mass = nutrition.need_per_day(shard, 0)
    ration = nutrition.ration_kcal_per_day(1957, urban=False)
    entitlement = np.bincount(persons.household, weights=need_well_fed) * households.food_access
    food = ration * persons.count * entitlement / entitlement.sum()
    engine.step()  # January 1957: 31 days; deaths this month keep their pre-death reserve change
    after = persons.energy_reserve[: before.size].astype(np.float64)
    gained = np.bincount(persons.household[: before.size], weights=(after - before) * mass)
    expected = (food - np.bincount(persons.household[: before.size], weights=need)) * 31 / 7000.0
    deficit = expected < 0  # households in surplus stop at the reserve's ceiling: the rest is not stored
    assert deficit.mean() > 0.9
    np.testing.assert_allclose(gained[deficit], expected[deficit], rtol=2e-4, atol=0.02)


def test_sharing_rules_spread_a_shortfall_differently_between_children_and_adults():
    outcomes = {}
    for rule in ("equal_loss", "by_need"):
        engine = tiny_engine(
            "nutrition.ration_scale=0.7", "nutrition.ration_dispersion=0", f'nutrition.sharing="{rule}"'
        )
        persons = engine.shards[0].persons
        age = -persons.birth_month.astype(int) // 12
        engine.step()
        reserve = persons.energy_reserve[: age.size]
        alive = persons.alive[: age.size]
        outcomes[rule] = (
            reserve[alive & (age >= 5) & (age < 10)].mean(),
            reserve[alive & (age >= 30) & (age < 50)].mean(),
        )
    children, adults = outcomes["equal_loss"]
    assert children == pytest.approx(adults, abs=0.004)  # everyone loses the same share of mass
    children, adults = outcomes["by_need"]
    assert children < adults - 0.01  # children's need per kg is highest: they lose mass fastest


def test_surplus_refills_the_reserve_up_to_its_ceiling():
    engine = tiny_engine("nutrition.ration_scale=1.5")
    persons = engine.shards[0].persons
    persons.energy_reserve[:] = 0.8
    for _ in range(12):
        engine.step()
    reserve = persons.energy_reserve[persons.alive]
    assert np.mean(reserve > 0.95) > 0.99 and reserve.mean() > 0.99  # all but households of very low access
    assert reserve.max() <= 1.0
