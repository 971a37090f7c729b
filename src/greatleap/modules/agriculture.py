"""Agriculture: sowing, cultivation and two harvests a year per rural commune, into the commune's granary.

Crop calendar: the summer crop (winter wheat, early rice) is sown in October and harvested in June; the
autumn crop (rice, maize, millet, tubers) is sown in April and harvested in October. At sowing, seed is
taken from the granary (`seed_kg_per_ha`); a granary short of seed sows less. The area sown each year is
the commune's cultivated land times the multiple-cropping index, cut by the planners when the reports of
last year promised a surplus (`sown_area_cut_elasticity`, the 'three-three system' of 1959).

Field work: each month the fields need `field_demand` x (the days the commune's 1957 labour force could
give in the peak month) x the share of the area sown; the labour module grants what it can. A harvest is

    potential = sown ha x base yield x crop factor x commune productivity x weather x tools^tool_elasticity
                x techniques x (mean share of field needs met while the crop grew)^cultivation_elasticity
    harvested = potential x min(1, effective field days / days needed in the harvest month)^harvest_labour_elasticity

the rest is left in the field. The base yield per ha is the province's 1957 output over its sown area;
a commune's productivity is its stratum's lognormal multiplier (`productivity_dispersion`). Weather is a
national multiplier per year times a lognormal province-year shock. Close planting and deep ploughing,
adopted in proportion to the campaign's intensity at sowing, change yields by their declared effects;
deep ploughing also claims labour in the winter. Post-harvest losses and feed leave the granary at once.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Literal

import numpy as np
from pydantic import Field

from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.schedule import by_year
from greatleap.core.state import StateSpec
from greatleap.core.world import Nation, ProvinceShard
from greatleap.modules.crops import AUTUMN_HARVEST, SUMMER_HARVEST

SUMMER, AUTUMN = "summer", "autumn"
HARVEST_MONTH = {SUMMER: SUMMER_HARVEST, AUTUMN: AUTUMN_HARVEST}
GROWING_MONTHS = {SUMMER: (11, 12, 1, 2, 3, 4, 5, 6), AUTUMN: (4, 5, 6, 7, 8, 9, 10)}
SOWING_MONTH = {SUMMER: 10, AUTUMN: 4}
DEEP_PLOUGHING = "deep_ploughing"
MONTHLY_FIELD_DEMAND = {
    1: 0.25,
    2: 0.3,
    3: 0.6,
    4: 0.8,
    5: 0.9,
    6: 1.0,
    7: 0.85,
    8: 0.7,
    9: 0.85,
    10: 1.0,
    11: 0.6,
    12: 0.3,
}


class AgricultureParams(ParamSection):
    cropping_index: float = param(
        1.195,
        ge=0.8,
        le=2.0,
        description="grain sown area per ha of cultivated land",
        source="derived: 1957 grain sown area 133.63 Mha (national_series.csv) / cultivated land 111.83 Mha "
        "(provinces_1957.csv national sum)",
        status="derived",
    )
    summer_area_share: float = param(
        0.3,
        ge=0.05,
        le=0.6,
        description="share of the grain sown area under the summer crop",
        source="food_system.csv summer crop rows",
        status="estimated",
    )
    summer_output_share: float = param(
        0.25,
        ge=0.05,
        le=0.6,
        description="share of annual grain output from the summer harvest",
        source="food_system.csv summer grain (夏粮) share",
        status="estimated",
    )
    field_demand: dict[int, float] = param(
        MONTHLY_FIELD_DEMAND,
        description="field labour needed by month (1-12), as a share of the peak month's",
        source="assumption: peaks at the summer harvest and transplanting (June) and the autumn harvest "
        "(October), winter slack",
        status="assumption",
    )
    field_peak_share: float = param(
        0.95,
        ge=0.3,
        le=1.5,
        description="share of the 1957 able-bodied days needed in the peak month",
        source="assumption: in 1957 the peak months used nearly all the labour there was",
        status="assumption",
    )
    harvest_labour_elasticity: float = param(
        0.4,
        ge=0.0,
        le=1.0,
        description="elasticity of the share of the crop brought in to the share of harvest labour needs met",
        source="assumption: a short-handed harvest is late and loses part of the crop, not all of the shortfall; "
        "food_system.csv estimates ~10% left unharvested in autumn 1958",
        status="assumption",
    )
    cultivation_elasticity: float = param(
        0.5,
        ge=0.0,
        le=2.0,
        description="yield elasticity to the share of field needs met while the crop grew",
        source="assumption",
        status="assumption",
    )
    productivity_dispersion: float = param(
        0.25,
        ge=0.0,
        le=1.0,
        description="standard deviation of log yield across communes of a province",
        source="assumption",
        status="assumption",
    )
    seed_kg_per_ha: float = param(
        77.0,
        ge=0.0,
        le=300.0,
        unit="kg/ha",
        description="seed grain per sown ha",
        source="derived: food_system.csv seed_rate_per_mu_pre1958 'a little over 10 jin per mu' (verified) = "
        "10.3 jin x 0.5 kg x 15 mu/ha",
        status="derived",
    )
    loss_share: float = param(
        0.11,
        ge=0.0,
        le=0.3,
        description="share of the harvest lost or fed to animals after the harvest",
        source="food_system.csv: post_harvest_loss_share 5% (estimated) plus feed ~5.9% of output (derived there "
        "from the 1955 feed standards)",
        status="estimated",
    )
    tool_elasticity: float = param(
        0.3,
        ge=0.0,
        le=1.0,
        description="yield elasticity to the commune's stock of farm tools",
        source="assumption",
        status="assumption",
    )
    weather_by_year: dict[int, float] = param(
        {1957: 1.0, 1958: 1.04, 1959: 0.969, 1960: 0.938, 1961: 0.939, 1962: 0.98},
        description="national weather multiplier of yields by year",
        source="derived from food_system.csv crop_area_affected: 29.1 Mha in 1957, 44.6 in 1959, 37.2 in 1962 "
        "(over ~157, ~142 and ~140 Mha of crops sown: 18.6%, 31%, 26.5%) and the shares of 43.5% (1960) and "
        "43.1% (1961) as 1 - 0.25 x (share - 1957 share), 0.25 being an assumed mean loss on affected land "
        "(affected = at least 10% loss); 1958, for which no figure was found, an assumed favourable year",
        status="derived",
    )
    weather: Literal["historical", "normal"] = Field(
        "historical",
        description="the nation's weather: as recorded (`weather_by_year`) or normal (1957's) every year",
        json_schema_extra={"source": "lever: 'historical' = history", "unit": ""},
    )
    weather_dispersion: float = param(
        0.06,
        ge=0.0,
        le=0.5,
        description="standard deviation of the log province-year weather shock",
        source="assumption",
        status="assumption",
    )
    close_planting_effect: float = param(
        0.95,
        ge=0.5,
        le=1.5,
        description="yield multiplier of close planting where fully adopted",
        source="food_system.csv close_planting_yield_effect: -5% (estimated; range -50% to 0)",
        status="estimated",
    )
    deep_ploughing_effect: float = param(
        1.0,
        ge=0.5,
        le=1.5,
        description="yield multiplier of deep ploughing where fully adopted",
        source="food_system.csv deep_ploughing_yield_effect: 0% (estimated: no gain; its cost is labour)",
        status="estimated",
    )
    deep_ploughing_labour_share: float = param(
        0.1,
        ge=0.0,
        le=1.0,
        description="share of able-bodied days deep ploughing claims in Nov-Jan at full adoption",
        source="assumption: deep ploughing followed the autumn harvest (food_system.csv: 274 M mu "
        "deep-ploughed by July 1958)",
        status="assumption",
    )
    sown_area_cut_elasticity: float = param(
        0.15,
        ge=0.0,
        le=1.0,
        description="cut of the planned sown area per unit of surplus believed from last "
        "year's reports (reported / 1957 output - 1)",
        source="assumption: national grain sown area fell 13% from 1958 to 1959 (national_series.csv grain_sown_area)",
        status="assumption",
    )
    sown_area_max_cut: float = param(
        0.3, ge=0.0, le=0.9, description="largest cut of the planned sown area", source="assumption"
    )


class Agriculture(Module):
    """Sowing, field needs, harvests and the commune granary."""

    name = "agriculture"
    Params = AgricultureParams
    params: AgricultureParams
    states = (
        StateSpec("granary_t", "commune", "float64", 0.0, "grain in the collective granary, tonnes (unhusked)"),
        StateSpec("base_yield_t_per_ha", "commune", "float64", 0.0, "1957 yield of the province, t/ha sown"),
        StateSpec("productivity", "commune", "float64", 1.0, "the commune's yield multiplier (its stratum)"),
        StateSpec("tools_index", "commune", "float32", 1.0, "farm tools relative to 1957"),
        StateSpec("planned_sown_ha", "commune", "float64", 0.0, "grain area planned for the year, ha"),
        StateSpec("sown_summer_ha", "commune", "float64", 0.0, "area under the summer crop, ha"),
        StateSpec("sown_autumn_ha", "commune", "float64", 0.0, "area under the autumn crop, ha"),
        StateSpec("technique_summer", "commune", "float64", 1.0, "yield multiplier of techniques, summer crop"),
        StateSpec("technique_autumn", "commune", "float64", 1.0, "yield multiplier of techniques, autumn crop"),
        StateSpec(
            "cultivation_summer",
            "commune",
            "float64",
            0.0,
            "sum of monthly shares of field needs met while the summer crop grows (November-June)",
        ),
        StateSpec(
            "cultivation_autumn", "commune", "float64", 0.0, "the same while the autumn crop grows (April-October)"
        ),
        StateSpec("annual_seed_t", "commune", "float64", 0.0, "seed for a year's planned sowings, tonnes"),
        StateSpec("normal_field_days", "commune", "float64", 0.0, "field days needed in an average 1957 month"),
        StateSpec("peak_field_days", "commune", "float64", 0.0, "field days needed in the peak month (1957)"),
        StateSpec("field_labour_demand", "commune", "float64", 0.0, "field days needed this month"),
        StateSpec("output_1957_t", "commune", "float64", 0.0, "expected output in a 1957 year, tonnes"),
        StateSpec("harvest_t", "commune", "float64", 0.0, "grain harvested this month, tonnes"),
        StateSpec("sown_this_month_ha", "commune", "float64", 0.0, "grain area sown this month, ha"),
        StateSpec("seed_reserve_t", "commune", "float64", 0.0, "seed the next sowing will need, tonnes"),
        StateSpec("flow_losses_t", "commune", "float64", 0.0, "this month: losses and feed out of the granary"),
        StateSpec("flow_seed_t", "commune", "float64", 0.0, "this month: seed out of the granary"),
        StateSpec("weather", "province", "float64", 1.0, "this year's weather multiplier of the province"),
    )
    results = (
        ResultSpec("grain_harvested_mt", "flow", "Mt", "grain harvested by the collectives (unhusked)"),
        ResultSpec("grain_left_in_field_mt", "flow", "Mt", "grain left unharvested for want of labour"),
        ResultSpec("seed_used_mt", "flow", "Mt", "seed taken from the granaries"),
        ResultSpec("grain_losses_mt", "flow", "Mt", "post-harvest losses and feed"),
        ResultSpec("sown_area_mha", "flow", "Mha", "grain area sown (a year: both crops), million ha"),
        ResultSpec(
            "grain_output_mt",
            "sum",
            "Mt",
            "grain output: collective harvests and private plots",
            terms=("grain_harvested_mt", "grain_output_plots_mt"),
        ),
        ResultSpec("planned_sown_area_mha", "stock", "Mha", "grain area planned for the year, million ha"),
    )
    streams = ("weather",)

    # --- set-up ------------------------------------------------------------------------------------
    def init_nation(self, nation: Nation, ctx: StepContext) -> None:
        nation.provinces.weather[:] = 1.0

    def init(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        communes = shard.communes
        rural = ~communes.is_urban
        province = shard.province
        sown_total = province.cultivated_land_ha * p.cropping_index
        communes.base_yield_t_per_ha[:] = np.where(rural, province.grain_output_t / max(sown_total, 1.0), 0.0)
        normal = NormalDist()
        z = np.array([normal.inv_cdf(float(q)) for q in communes.quality])
        sd = p.productivity_dispersion
        communes.productivity[:] = np.exp(sd * z - sd * sd / 2.0)
        planned = communes.land_ha * p.cropping_index
        communes.planned_sown_ha[:] = planned
        communes.sown_summer_ha[:] = planned * p.summer_area_share  # sown in the autumn of 1956
        communes.output_1957_t[:] = planned * communes.base_yield_t_per_ha * communes.productivity
        offer_1957 = communes.labour_days_available  # the labour module's init ran before this one
        communes.peak_field_days[:] = p.field_peak_share * offer_1957 * rural
        communes.normal_field_days[:] = communes.peak_field_days * np.mean(list(p.field_demand.values()))
        self._set_field_demand(shard, ctx.month)
        self._set_seed_reserve(shard, ctx.month)
        # Granaries at the start hold the seed kept from the 1956 autumn harvest for the spring sowing.
        communes.granary_t[:] = communes.seed_reserve_t
        self._draw_weather(shard, ctx)

    def _set_seed_reserve(self, shard: ProvinceShard, month: int) -> None:
        """Seed kept, once `month`'s sowing is done, for the next one: October's (the summer crop) from April to
        September, April's (the autumn crop) from October to March."""
        p = self.params
        communes = shard.communes
        share = p.summer_area_share if 4 <= month <= 9 else 1.0 - p.summer_area_share
        communes.annual_seed_t[:] = communes.planned_sown_ha * p.seed_kg_per_ha / 1000.0
        communes.seed_reserve_t[:] = communes.annual_seed_t * share

    # --- next month's plan: field needs and the deep-ploughing claim ------------------------------------
    def _plan_next_month(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """At the end of a month: the next month's field needs and its campaign claim for deep ploughing
        (posted now so that the labour module sees them before it allocates)."""
        p = self.params
        month = ctx.month % 12 + 1
        self._set_field_demand(shard, month)
        adoption = float(ctx.nation.state.campaign_intensity[0]) if ctx.nation is not None else 0.0
        if month in (11, 12, 1) and adoption > 0 and p.deep_ploughing_labour_share > 0:
            offer = shard.communes.labour_days_available
            claim = adoption * p.deep_ploughing_labour_share * offer * ~shard.communes.is_urban
            shard.labour_claims[DEEP_PLOUGHING] = shard.labour_claims.get(DEEP_PLOUGHING, 0.0) + claim

    def _set_field_demand(self, shard: ProvinceShard, month: int) -> None:
        communes = shard.communes
        sown = communes.sown_summer_ha + communes.sown_autumn_ha
        with np.errstate(divide="ignore", invalid="ignore"):
            area_share = np.where(communes.planned_sown_ha > 0, sown / communes.planned_sown_ha, 0.0)
        # Before the autumn crop is sown, spring field work prepares the land for it: count the plan.
        if month in (3, 4):
            area_share = np.maximum(area_share, 1.0 - self.params.summer_area_share)
        communes.field_labour_demand[:] = communes.peak_field_days * self.params.field_demand[month] * area_share

    def _draw_weather(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        shock = ctx.rng("weather").standard_normal()
        sd = p.weather_dispersion
        national = by_year(p.weather_by_year, ctx.year) if p.weather == "historical" else 1.0
        assert ctx.nation is not None
        ctx.nation.provinces.weather[shard.index] = national * float(np.exp(sd * shock - sd * sd / 2.0))

    # --- the month in the fields -----------------------------------------------------------------------
    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        communes = shard.communes
        assert ctx.nation is not None
        if ctx.month == 1 and ctx.t > 0:
            self._draw_weather(shard, ctx)
        demand = communes.field_labour_demand
        effective = communes.labour_effective_fields
        with np.errstate(divide="ignore", invalid="ignore"):
            met = np.where(demand > 0, np.minimum(effective / demand, 1.0), 1.0)
        if ctx.month in GROWING_MONTHS[SUMMER]:
            communes.cultivation_summer[:] += met
        if ctx.month in GROWING_MONTHS[AUTUMN]:
            communes.cultivation_autumn[:] += met

        harvested = np.zeros(communes.count)
        left = np.zeros(communes.count)
        for crop, month in HARVEST_MONTH.items():
            if ctx.month == month:
                h, lft = self._harvest(shard, ctx, crop, met)
                harvested += h
                left += lft
        losses = harvested * p.loss_share
        communes.granary_t[:] += harvested - losses

        seed = np.zeros(communes.count)
        communes.sown_this_month_ha[:] = 0.0
        for crop, month in SOWING_MONTH.items():
            if ctx.month == month:
                seed += self._sow(shard, ctx, crop)

        communes.harvest_t[:] = harvested
        communes.flow_losses_t[:] = losses
        communes.flow_seed_t[:] = seed
        self._set_seed_reserve(shard, ctx.month)
        self._plan_next_month(shard, ctx)
        ctx.record("grain_harvested_mt", harvested / 1e6)
        ctx.record("grain_left_in_field_mt", left / 1e6)
        ctx.record("seed_used_mt", seed / 1e6)
        ctx.record("grain_losses_mt", losses / 1e6)
        ctx.record("sown_area_mha", communes.sown_this_month_ha / 1e6)
        ctx.record("planned_sown_area_mha", communes.planned_sown_ha / 1e6)

    def _harvest(self, shard: ProvinceShard, ctx: StepContext, crop: str, met_now: np.ndarray):
        p = self.params
        communes = shard.communes
        assert ctx.nation is not None
        if crop == SUMMER:
            area, technique = communes.sown_summer_ha, communes.technique_summer
            per_ha = p.summer_output_share / p.summer_area_share
            cultivation = communes.cultivation_summer
        else:
            area, technique = communes.sown_autumn_ha, communes.technique_autumn
            per_ha = (1.0 - p.summer_output_share) / (1.0 - p.summer_area_share)
            cultivation = communes.cultivation_autumn
        grown = cultivation / len(GROWING_MONTHS[crop])
        weather = ctx.nation.provinces.weather[shard.index]
        potential = (
            area
            * communes.base_yield_t_per_ha
            * per_ha
            * communes.productivity
            * weather
            * communes.tools_index.astype(np.float64) ** p.tool_elasticity
            * self._livestock_factor(shard, "manure_factor")
            * technique
            * grown**p.cultivation_elasticity
        )
        harvested = potential * met_now**p.harvest_labour_elasticity
        area[:] = 0.0
        cultivation[:] = 0.0
        return harvested, potential - harvested

    def _sow(self, shard: ProvinceShard, ctx: StepContext, crop: str) -> np.ndarray:
        """Sow a crop: the planned area, as far as the granary holds seed; returns the seed used (t)."""
        p = self.params
        communes = shard.communes
        assert ctx.nation is not None
        if crop == AUTUMN:  # the year's plan is made before spring sowing
            communes.planned_sown_ha[:] = communes.land_ha * p.cropping_index * self._planning_factor(shard)
        share = p.summer_area_share if crop == SUMMER else 1.0 - p.summer_area_share
        planned = communes.planned_sown_ha * share
        seed_needed = planned * p.seed_kg_per_ha / 1000.0
        with np.errstate(divide="ignore", invalid="ignore"):
            feasible = np.where(seed_needed > 0, np.minimum(1.0, communes.granary_t / seed_needed), 1.0)
        sown = planned * feasible * self._livestock_factor(shard, "draught_factor")
        seed = seed_needed * feasible
        communes.granary_t[:] -= seed
        adoption = float(ctx.nation.state.campaign_intensity[0])
        close_planting = 1.0 + adoption * (p.close_planting_effect - 1.0)
        technique = close_planting * (1.0 + adoption * (p.deep_ploughing_effect - 1.0))
        communes.sown_this_month_ha[:] += sown
        if crop == SUMMER:
            communes.sown_summer_ha[:] = sown
            communes.technique_summer[:] = technique
        else:
            communes.sown_autumn_ha[:] = sown
            communes.technique_autumn[:] = technique
        return seed

    @staticmethod
    def _livestock_factor(shard: ProvinceShard, factor: str) -> np.ndarray:
        """The herds' effect on the fields, as module `livestock` states it (1 without that module)."""
        return shard.communes.column_or(factor, 1.0).astype(np.float64)

    def _planning_factor(self, shard: ProvinceShard) -> np.ndarray:
        """1 minus the cut of the sown area that last year's reported surplus persuades the planners to make."""
        p = self.params
        communes = shard.communes
        reported = communes.reported_last_year_t if "reported_last_year_t" in communes.names else None
        if reported is None:
            return np.ones(communes.count)
        with np.errstate(divide="ignore", invalid="ignore"):
            surplus = np.where(communes.output_1957_t > 0, reported / communes.output_1957_t - 1.0, 0.0)
        return 1.0 - np.minimum(p.sown_area_max_cut, p.sown_area_cut_elasticity * np.maximum(surplus, 0.0))
