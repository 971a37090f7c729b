"""Household food: private stocks, private plots, urban rations, and what each household eats in a month.

A rural household eats from its private stock (grain the collective distributed, and its plot's produce),
spreading it over the months until the next harvest and eating at most `satiation` times its need; a household
in a mess hall eats what the mess hall serves and cooks only a little of its own. Private plots
(`plot_share_of_land` of the commune's land, `plot_productivity` times as productive as collective fields)
produce grain-equivalent food every month while they are allowed (`plots_allowed`): taken into the communes in
1958, restored in May 1959, taken again after Lushan, and restored in the retreat. Urban households eat the
ration the state supplies to their province, shared in proportion to need.

Grain is converted to food energy at `kcal_per_kg_grain` (unhusked); every person also eats
`other_food_kcal_per_day` of non-grain food. Households differ in their `food_access` (lognormal: hidden
stocks, relatives, foraging), which weights what the collective hands out. The result is the household's food
energy per day, which `nutrition` shares among its members."""

from __future__ import annotations

import numpy as np

from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.schedule import step_schedule
from greatleap.core.state import StateSpec
from greatleap.core.world import ProvinceShard
from greatleap.modules.crops import months_to_next_harvest


class HouseholdFoodParams(ParamSection):
    kcal_per_kg_grain: float = param(
        2930.0,
        ge=2000.0,
        le=4000.0,
        unit="kcal/kg unhusked",
        description="food energy of a kilogram of unhusked grain",
        source="nutrition.csv energy_unhusked_grain_mix (0.85 x 3,450 kcal/kg trade grain, estimated)",
        status="estimated",
    )
    other_food_kcal_per_day: float = param(
        290.0,
        ge=0.0,
        le=1000.0,
        unit="kcal/person/day",
        description="energy from non-grain food (vegetables, oil, meat, sugar)",
        source="derived: the 1959 national nutrition survey's 2,060 kcal/person/day (nutrition.csv, verified) "
        "minus 1959 grain consumption 187 kg x 3,450 kcal/kg / 365 = 1,768 kcal",
        status="derived",
    )
    satiation: float = param(
        1.05, ge=1.0, le=2.0, description="most a household eats, per unit of need", source="assumption"
    )
    initial_stock_months: float = param(
        5.0,
        ge=0.0,
        le=12.0,
        unit="months",
        description="months of need in private stocks on 1 January 1957 "
        "(what is left of the 1956 autumn distribution until the June harvest)",
        source="assumption",
        status="assumption",
    )
    plot_share_of_land: float = param(
        0.05,
        ge=0.0,
        le=0.3,
        description="share of a commune's land in private plots when they are allowed",
        source="food_system.csv private plot rows (~5% of cultivated land)",
        status="estimated",
    )
    plot_productivity: float = param(
        1.5,
        ge=0.0,
        le=5.0,
        description="plot output per ha relative to the collective fields",
        source="assumption: plots were tended more intensively than collective fields",
        status="assumption",
    )
    plots_allowed: dict[str, float] = param(
        {"1957-01": 1.0, "1958-09": 0.0, "1959-05": 1.0, "1959-09": 0.0, "1960-11": 1.0},
        description="share of the private plots in use, by month (a step schedule)",
        source="food_system.csv: plots taken into the collective in autumn 1958, restored from May 1959 (CC "
        "directives), and under the Twelve Articles of 3 Nov 1960 (verified); their second abolition in the "
        "anti-right-deviation campaign after Lushan (Sept 1959) is an assumption",
        status="partly_verified",
    )
    cooking_without_pots: float = param(
        0.85,
        ge=0.0,
        le=1.0,
        description="share of its usual private consumption a household can cook once its pots are taken",
        source="assumption: borrowed or makeshift utensils",
        status="assumption",
    )
    access_dispersion: float = param(
        0.15,
        ge=0.0,
        le=1.0,
        description="standard deviation of the log food access of households",
        source="assumption: hidden stocks, relatives, foraging",
        status="assumption",
    )


class HouseholdFood(Module):
    """Private stocks, plots, urban rations and each household's food energy per day."""

    name = "household_food"
    Params = HouseholdFoodParams
    params: HouseholdFoodParams
    states = (
        StateSpec(
            "private_stock_kg", "household", "float64", 0.0, "grain in the household's own store, kg", carried=True
        ),
        StateSpec("food_access", "household", "float32", 1.0, "the household's relative access to food"),
        StateSpec(
            "grain_need_kg_per_day", "household", "float32", 0.0, "grain the household needs a day, kg", carried=True
        ),
        StateSpec("food_kcal_per_day", "household", "float32", 0.0, "food energy the household eats per day"),
        StateSpec("flow_plots_t", "commune", "float64", 0.0, "this month: private plot output into private stores"),
        StateSpec("flow_eaten_private_t", "commune", "float64", 0.0, "this month: grain eaten from private stores"),
    )
    results = (
        ResultSpec("grain_output_plots_mt", "flow", "Mt", "grain-equivalent output of private plots"),
        ResultSpec("private_consumption_mt", "flow", "Mt", "grain households ate from their own stores"),
        ResultSpec("urban_consumption_mt", "flow", "Mt", "grain urban households ate"),
    )
    streams = ("food_access",)

    def init(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        households = shard.households
        sd = p.access_dispersion
        z = ctx.rng("food_access").standard_normal(households.count)
        households.food_access[:] = np.exp(sd * z - sd * sd / 2.0)
        self._set_need(shard)
        rural = ~shard.communes.is_urban[households.commune]
        households.private_stock_kg[:] = households.grain_need_kg_per_day * 30.4 * p.initial_stock_months * rural

    def _set_need(self, shard: ProvinceShard) -> None:
        """Grain a day each household needs beyond its non-grain food (from nutrition's need estimate)."""
        p = self.params
        households = shard.households
        members = shard.household_members()
        grain_kcal = np.maximum(households.need_kcal_per_day - p.other_food_kcal_per_day * members, 0.0)
        households.grain_need_kg_per_day[:] = grain_kcal / p.kcal_per_kg_grain

    def plots_in_use(self, year: int, month: int) -> float:
        return step_schedule(self.params.plots_allowed, year, month)

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        households, communes = shard.households, shard.communes
        assert ctx.nation is not None
        commune = households.commune
        urban_household = communes.is_urban[commune]
        members = shard.household_members()
        need_kg = households.grain_need_kg_per_day.astype(np.float64) * ctx.days

        # Private plots: monthly produce, shared over the commune's households by size.
        plot_kg = np.zeros(households.count)
        in_use = self.plots_in_use(ctx.year, ctx.month)
        if ctx.nation.state.months_since_recall[0] >= 0:  # the recall restores the private plots
            in_use = 1.0
        if in_use > 0:
            weather = float(ctx.nation.provinces.weather[shard.index])
            per_commune = (
                communes.land_ha
                * p.plot_share_of_land
                * communes.base_yield_t_per_ha
                * communes.productivity
                * p.plot_productivity
                * weather
                * in_use
                * 1000.0
                / 12.0
            )
            rural_members = members * ~urban_household
            total_members = shard.per_commune(rural_members)
            with np.errstate(divide="ignore", invalid="ignore"):
                per_member = np.where(total_members > 0, per_commune / total_members, 0.0)
            plot_kg = per_member[commune] * rural_members
        households.private_stock_kg[:] += plot_kg

        # Eating from private stores: spread until the next harvest, at most `satiation` x need.
        planned = np.minimum(households.private_stock_kg / months_to_next_harvest(ctx.month), p.satiation * need_kg)
        cooking = communes.private_cooking_share[commune]
        planned = np.where(households.in_messhall, planned * cooking, planned)
        planned = np.where(households.has_pots, planned, planned * p.cooking_without_pots)
        eaten = np.where(urban_household, 0.0, np.minimum(planned, households.private_stock_kg))
        households.private_stock_kg[:] -= eaten

        # Urban households: the province's state ration, shared by need.
        granted_kg = float(ctx.nation.provinces.urban_ration_granted_t[shard.index]) * 1000.0
        urban_need = need_kg * urban_household
        weighted_need = float(shard.per_commune(urban_need) @ shard.commune_weight)
        urban_kg = urban_need * (granted_kg / weighted_need if weighted_need > 0 else 0.0)

        communes.flow_plots_t[:] = shard.per_commune(plot_kg) / 1000.0
        communes.flow_eaten_private_t[:] = shard.per_commune(eaten) / 1000.0
        grain_kg = eaten + households.messhall_food_kg + urban_kg
        with np.errstate(divide="ignore", invalid="ignore"):
            food = grain_kg * p.kcal_per_kg_grain / ctx.days + p.other_food_kcal_per_day * members
        households.food_kcal_per_day[:] = np.where(members > 0, food, 0.0)

        ctx.record("grain_output_plots_mt", communes.flow_plots_t / 1e6)
        ctx.record("private_consumption_mt", communes.flow_eaten_private_t / 1e6)
        ctx.record("urban_consumption_mt", shard.per_commune(urban_kg) / 1e9)

    def after_nutrition(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """After nutrition has updated needs: next month's grain needs."""
        self._set_need(shard)
