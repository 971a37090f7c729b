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

from greatleap.core import kernels
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


def grain_need_reference(
    need_kcal: np.ndarray, members: np.ndarray, other_kcal: float, kcal_per_kg: float
) -> np.ndarray:
    """Grain (kg a day) each household needs beyond its members' non-grain food (numpy reference of the
    compiled kernel), as float32."""
    grain_kcal = np.maximum(need_kcal - other_kcal * members, 0.0)
    return (grain_kcal / kcal_per_kg).astype(np.float32)


def grain_need_compiled(need_kcal, members, other_kcal, kcal_per_kg) -> np.ndarray:
    """`grain_need_reference` in one pass, without its three household-sized float64 temporaries (compiled,
    into `kernels.scratch`)."""
    return _grain_need_kernel(need_kcal, members, other_kcal, kcal_per_kg, kernels.scratch(need_kcal.size, np.float32))


@kernels.jit
def _grain_need_kernel(need_kcal, members, other_kcal, kcal_per_kg, out):  # pragma: no cover - compiled
    for h in range(need_kcal.size):
        out[h] = max(np.float64(need_kcal[h]) - other_kcal * members[h], 0.0) / kcal_per_kg
    return out


def urban_need_reference(
    bounds: np.ndarray, commune: np.ndarray, commune_urban: np.ndarray, grain_need: np.ndarray, days: float
) -> np.ndarray:
    """Per commune, the grain its urban households need this month, kg (0 in rural communes): the basis on
    which the province's urban ration is shared (numpy reference of the compiled kernel)."""
    urban_need = grain_need.astype(np.float64) * days * commune_urban[commune]
    return np.bincount(commune, weights=urban_need, minlength=bounds.size - 1)


@kernels.jit
def urban_need_compiled(bounds, commune, commune_urban, grain_need, days):  # pragma: no cover - compiled
    """`urban_need_reference` visiting only the urban communes' households (households are stored commune
    by commune, so a rural commune's sum is the reference's sum of zeros)."""
    out = np.zeros(bounds.size - 1)
    for c in range(bounds.size - 1):
        if commune_urban[c]:
            total = 0.0
            for h in range(bounds[c], bounds[c + 1]):
                total += np.float64(grain_need[h]) * days
            out[c] = total
    return out


def meals_reference(
    bounds: np.ndarray,
    commune: np.ndarray,
    commune_urban: np.ndarray,
    members: np.ndarray,
    grain_need: np.ndarray,
    days: float,
    plot_kg_per_commune: np.ndarray,
    stock: np.ndarray,
    months_to_harvest: float,
    satiation: float,
    in_messhall: np.ndarray,
    cooking_share: np.ndarray,
    has_pots: np.ndarray,
    cooking_without_pots: float,
    messhall_food: np.ndarray,
    urban_kg_per_need: float,
    kcal_per_kg: float,
    other_kcal: float,
    food_kcal: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A month of household meals (numpy reference of the compiled kernel). Each rural household receives
    its share (by members) of its commune's plot output (`plot_kg_per_commune`, empty when no plot is in
    use), then eats from its stock (`stock` is updated in place); every household's food energy per day
    goes into `food_kcal`: what it ate from its stock, what the mess hall served and its urban ration
    (`urban_kg_per_need` kg per kg of need), plus its members' non-grain food. Returns the per-commune
    sums (kg) of plot output, grain eaten from stocks and urban rations."""
    n_communes = bounds.size - 1
    urban_household = commune_urban[commune]
    need_kg = grain_need.astype(np.float64) * days
    plot_kg = np.zeros(commune.size)
    if plot_kg_per_commune.size:
        rural_members = members * ~urban_household
        total_members = np.bincount(commune, weights=rural_members, minlength=n_communes)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_member = np.where(total_members > 0, plot_kg_per_commune / total_members, 0.0)
        plot_kg = per_member[commune] * rural_members
    stock += plot_kg

    planned = np.minimum(stock / months_to_harvest, satiation * need_kg)
    planned = np.where(in_messhall, planned * cooking_share[commune], planned)
    planned = np.where(has_pots, planned, planned * cooking_without_pots)
    eaten = np.where(urban_household, 0.0, np.minimum(planned, stock))
    stock -= eaten

    urban_kg = need_kg * urban_household * urban_kg_per_need
    grain_kg = eaten + messhall_food + urban_kg
    with np.errstate(divide="ignore", invalid="ignore"):
        food = grain_kg * kcal_per_kg / days + other_kcal * members
    food_kcal[:] = np.where(members > 0, food, 0.0)
    return (
        np.bincount(commune, weights=plot_kg, minlength=n_communes),
        np.bincount(commune, weights=eaten, minlength=n_communes),
        np.bincount(commune, weights=urban_kg, minlength=n_communes),
    )


@kernels.jit
def meals_compiled(
    bounds,
    commune,
    commune_urban,
    members,
    grain_need,
    days,
    plot_kg_per_commune,
    stock,
    months_to_harvest,
    satiation,
    in_messhall,
    cooking_share,
    has_pots,
    cooking_without_pots,
    messhall_food,
    urban_kg_per_need,
    kcal_per_kg,
    other_kcal,
    food_kcal,
):  # pragma: no cover - compiled
    """`meals_reference` commune by commune, in one pass over each commune's households (two with plots:
    their members first), with the same float64 operations and sums in the same order, so the same bytes.
    The reference's dozen household-sized temporaries become registers."""
    n_communes = bounds.size - 1
    plot_sums = np.zeros(n_communes)
    eaten_sums = np.zeros(n_communes)
    urban_sums = np.zeros(n_communes)
    plots = plot_kg_per_commune.size > 0
    for c in range(n_communes):
        urban = np.float64(commune_urban[c])
        rural = np.float64(not commune_urban[c])
        cooking = np.float64(cooking_share[c])
        per_member = 0.0
        if plots:
            total_members = 0.0
            for h in range(bounds[c], bounds[c + 1]):
                total_members += members[h] * rural
            if total_members > 0:
                per_member = plot_kg_per_commune[c] / total_members
        plot_sum = eaten_sum = urban_sum = 0.0
        for h in range(bounds[c], bounds[c + 1]):
            need_kg = np.float64(grain_need[h]) * days
            plot_kg = per_member * (members[h] * rural) if plots else 0.0
            held = stock[h] + plot_kg
            planned = min(held / months_to_harvest, satiation * need_kg)
            if in_messhall[h]:
                planned = planned * cooking
            if not has_pots[h]:
                planned = planned * cooking_without_pots
            eaten = 0.0 if commune_urban[c] else min(planned, held)
            stock[h] = held - eaten
            urban_kg = need_kg * urban * urban_kg_per_need
            grain_kg = eaten + np.float64(messhall_food[h]) + urban_kg
            food = grain_kg * kcal_per_kg / days + other_kcal * members[h]
            food_kcal[h] = food if members[h] > 0 else 0.0
            plot_sum += plot_kg
            eaten_sum += eaten
            urban_sum += urban_kg
        plot_sums[c] = plot_sum
        eaten_sums[c] = eaten_sum
        urban_sums[c] = urban_sum
    return plot_sums, eaten_sums, urban_sums


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
        StateSpec(
            "food_kcal_per_day",
            "household",
            "float32",
            0.0,
            "food energy the household eats per day this month (read by nutrition in the same stretch)",
            transient=True,
        ),
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
        grain_need = grain_need_compiled if kernels.compiled() else grain_need_reference
        households.grain_need_kg_per_day[:] = grain_need(
            households.need_kcal_per_day, shard.household_members(), p.other_food_kcal_per_day, p.kcal_per_kg_grain
        )

    def plots_in_use(self, year: int, month: int) -> float:
        return step_schedule(self.params.plots_allowed, year, month)

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        households, communes = shard.households, shard.communes
        assert ctx.nation is not None
        bounds, commune = shard.household_bounds(), households.commune

        # Private plots: monthly produce per commune, shared over its rural households by size.
        plot_kg_per_commune = np.zeros(0)
        in_use = self.plots_in_use(ctx.year, ctx.month)
        if ctx.nation.state.months_since_recall[0] >= 0:  # the recall restores the private plots
            in_use = 1.0
        if in_use > 0:
            weather = float(ctx.nation.provinces.weather[shard.index])
            plot_kg_per_commune = (
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

        # Urban households: the province's state ration, shared by need.
        compiled = kernels.compiled()
        granted_kg = float(ctx.nation.provinces.urban_ration_granted_t[shard.index]) * 1000.0
        urban_need = (urban_need_compiled if compiled else urban_need_reference)(
            bounds, commune, communes.is_urban, households.grain_need_kg_per_day, ctx.days
        )
        weighted_need = float(urban_need @ shard.commune_weight)
        urban_kg_per_need = granted_kg / weighted_need if weighted_need > 0 else 0.0

        # Eating from private stores: spread until the next harvest, at most `satiation` x need.
        plot_kg, eaten_kg, urban_kg = (meals_compiled if compiled else meals_reference)(
            bounds,
            commune,
            communes.is_urban,
            shard.household_members(),
            households.grain_need_kg_per_day,
            ctx.days,
            plot_kg_per_commune,
            households.private_stock_kg,
            months_to_next_harvest(ctx.month),
            p.satiation,
            households.in_messhall,
            communes.private_cooking_share,
            households.has_pots,
            p.cooking_without_pots,
            households.messhall_food_kg,
            urban_kg_per_need,
            p.kcal_per_kg_grain,
            p.other_food_kcal_per_day,
            households.food_kcal_per_day,
        )
        communes.flow_plots_t[:] = plot_kg / 1000.0
        communes.flow_eaten_private_t[:] = eaten_kg / 1000.0

        ctx.record("grain_output_plots_mt", communes.flow_plots_t / 1e6)
        ctx.record("private_consumption_mt", communes.flow_eaten_private_t / 1e6)
        ctx.record("urban_consumption_mt", urban_kg / 1e9)

    def after_nutrition(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """After nutrition has updated needs: next month's grain needs."""
        self._set_need(shard)
