"""State-owned industry: the steel plan, four sectors under it, rushed output, defects, subsidies, injuries
and the enterprises' welfare.

The national steel target of each year (`steel_target_by_year`: doubling 1957's 5.35 Mt in 1958) is split
among the provinces in proportion to their modern capacity. Capacity starts at 1957 output (split by urban
population) and grows by `capacity_growth_by_year` (the investment drive of 1958-60, the retrenchment after).
The plan's pressure (target / capacity - 1) falls on the other sectors by their `sector_emphasis`: machinery
(farm equipment among it) and construction nearly as hard as steel, consumer goods hardly; their capacity
grows with the same schedule times the same emphasis. Enterprises keep their workers and wages whatever they
produce (the iron rice bowl); their effort does not answer to performance unless `incentives` is on. Under
pressure they rush: output rises with it (`rush_elasticity`, at most `rush_cap` times capacity), hours
lengthen and the defect rate climbs (`defect_per_pressure`). Gross output is valued at fixed 1957 prices
(`sector_value_1957_byuan`); `industrial_output_index` is its national total over 1957's. Losses are covered
by the state (a soft budget constraint): the subsidy is what materials (`material_share` of the value of
everything produced, defective or not) and wages (`wage_share` of the value of capacity) cost beyond the
value of the good output.

The enterprises' workers (`employment_share` of the urban persons aged 16-59) work `hours`; their injury
rate (`factory_injury_rate`: `injury_rate` x hours^2 x (1 + defect rate / 0.1)) is applied by `injuries`.
Defective machinery reaches the communes as farm equipment (`equipment_defect_rate`, read by `injuries`).
Their families have housing, medical care and schooling: the baseline mortality of an urban district falls
by `welfare_mortality_cut` times the share of its people in enterprise families (`dependants_per_worker`
per worker), applied by `demography`. Reported steel adds the campaign's inflation.
"""

from __future__ import annotations

import numpy as np

from greatleap.core.data import urban_population_shares
from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.schedule import by_year
from greatleap.core.state import StateSpec
from greatleap.core.world import Nation, ProvinceShard, class_attributes

_STEEL_SOURCE = "national_series.csv steel_output_official_usable 1957 = 5.35 Mt (verified)"


class IndustryParams(ParamSection):
    steel_1957_mt: float = param(
        5.35,
        ge=0.0,
        le=100.0,
        unit="Mt",
        description="modern steel output of 1957",
        source=_STEEL_SOURCE,
        status="verified",
    )
    steel_target_by_year: dict[int, float] = param(
        {1957: 5.35, 1958: 10.7, 1959: 18.0, 1960: 18.4, 1961: 8.5, 1962: 7.0},
        unit="Mt",
        description="the national steel target by year",
        source="national_series.csv steel_target 1958 = 10.7 Mt (doubling 5.35; verified); later years are "
        "assumptions (the 1959 target was cut from ~30 to 18 Mt at Lushan; retrenchment from 1961)",
        status="partly_verified",
    )
    steel_target_scale: float = param(
        1.0,
        ge=0.25,
        le=3.0,
        description="the plan's ambition: every target from 1958 on times this (1 = the historical targets)",
        source="lever",
    )
    capacity_growth_by_year: dict[int, float] = param(
        {1957: 0.0, 1958: 0.35, 1959: 0.35, 1960: 0.3, 1961: -0.25, 1962: -0.15},
        description="yearly growth of modern steel capacity (investment, then retrenchment)",
        source="assumption: set so that output follows the official 8.0, 13.87, 18.66, 8.7, 6.67 Mt "
        "(national_series.csv, unverified) in shape",
        status="assumption",
    )
    rush_elasticity: float = param(
        0.5,
        ge=0.0,
        le=2.0,
        description="output gained per unit of target pressure (target / capacity - 1)",
        source="assumption",
        status="assumption",
    )
    rush_cap: float = param(
        1.6,
        ge=1.0,
        le=3.0,
        description="most output can be pushed above capacity",
        source="assumption",
        status="assumption",
    )
    defect_rate_normal: float = param(
        0.05,
        ge=0.0,
        le=1.0,
        description="share of output defective at normal pace",
        source="assumption",
        status="assumption",
    )
    defect_per_pressure: float = param(
        0.25,
        ge=0.0,
        le=2.0,
        description="extra defect rate per unit of target pressure",
        source="assumption: 'shoddy equipment' under impossible quotas",
        status="assumption",
    )
    hours_per_pressure: float = param(
        0.3,
        ge=0.0,
        le=2.0,
        description="extra hours (relative) per unit of target pressure",
        source="assumption",
        status="assumption",
    )
    incentives: bool = param(
        False,
        description="effort answers to performance (bonuses, dismissals)",
        source="policy lever; false = history (the iron rice bowl)",
    )
    incentive_effort: float = param(
        1.15,
        ge=1.0,
        le=2.0,
        description="output and care gained with incentives",
        source="assumption",
        status="assumption",
    )
    employment_share: float = param(
        0.45,
        ge=0.0,
        le=1.0,
        description="share of urban persons aged 16-59 employed by the state",
        source="derived: 24.5 million state employees in 1957 (national_series.csv, derived from verified) over "
        "~55 million urban persons aged 16-59",
        status="derived",
    )
    injury_rate: float = param(
        6e-4,
        ge=0.0,
        le=0.1,
        description="monthly injury rate of a factory worker at a normal pace",
        source="assumption: with injuries.fatal_share 0.03, a death hazard of 2e-5 a month (0.24 per mille a year)",
        status="assumption",
    )
    sector_value_1957_byuan: dict[str, float] = param(
        {"steel": 3.2, "machinery": 12.0, "construction": 16.5, "consumer": 38.7},
        unit="bn yuan",
        description="gross output value of each sector in 1957, at 1957 prices",
        source="assumption: about 70 bn yuan of gross industrial output in 1957, 55% of it light industry "
        "(NBS figures, recalled, not in shared/data); steel = 5.35 Mt at 600 yuan/t; the heavy split assumed",
        status="assumption",
    )
    sector_emphasis: dict[str, float] = param(
        {"steel": 1.0, "machinery": 0.8, "construction": 0.6, "consumer": 0.1},
        description="how much of the steel plan's pressure and capacity growth falls on each sector",
        source="assumption: 'take steel as the key link'; heavy industry first, light industry starved",
        status="assumption",
    )
    material_share: float = param(
        0.6,
        ge=0.0,
        le=1.0,
        description="cost of materials over the value of the output (defective output included)",
        source="assumption",
        status="assumption",
    )
    wage_share: float = param(
        0.3,
        ge=0.0,
        le=1.0,
        description="wage bill over the value of the output at capacity (paid whatever is produced)",
        source="assumption: in 1957 enterprises made a small profit",
        status="assumption",
    )
    dependants_per_worker: float = param(
        1.5,
        ge=0.0,
        le=5.0,
        unit="persons",
        description="family members covered by an enterprise worker's welfare (housing, medical care, school)",
        source="assumption",
        status="assumption",
    )
    welfare_mortality_cut: float = param(
        0.3,
        ge=0.0,
        le=0.9,
        description="cut in the baseline death rate of persons in enterprise families",
        source="assumption: the urban death rate of the 1950s was well below the rural (NBS city and county "
        "rates, recalled, not in shared/data)",
        status="assumption",
    )


SECTORS = ("steel", "machinery", "construction", "consumer")


class Industry(Module):
    """The state's enterprises under the steel plan."""

    name = "industry"
    Params = IndustryParams
    params: IndustryParams
    states = (
        StateSpec("steel_capacity_t", "province", "float64", 0.0, "modern steel capacity a year, t"),
        StateSpec("capacity_index", "province", "float64", 1.0, "the steel plan's capacity over 1957's"),
        StateSpec("equipment_defect_rate", "province", "float64", 0.0, "share of new farm equipment defective"),
        StateSpec("steel_good_t", "province", "float64", 0.0, "good modern steel made this month (real t)"),
        StateSpec("steel_target_t", "province", "float64", 0.0, "the month's steel target (real t)"),
        StateSpec("factory_workers", "commune", "float64", 0.0, "state enterprise workers (simulated persons)"),
        StateSpec("factory_injury_rate", "commune", "float64", 0.0, "injuries per factory worker this month"),
        StateSpec("baseline_mortality_factor", "commune", "float64", 1.0, "baseline mortality after welfare"),
    )
    results = (
        ResultSpec("steel_modern_mt", "flow", "Mt", "modern steel (state enterprises)"),
        ResultSpec("steel_modern_good_mt", "flow", "Mt", "modern steel that is not defective"),
        ResultSpec("steel_modern_reported_mt", "flow", "Mt", "modern steel as reported"),
        ResultSpec(
            "steel_total_mt",
            "sum",
            "Mt",
            "modern and backyard iron and steel",
            terms=("steel_modern_mt", "steel_backyard_mt"),
        ),
        ResultSpec(
            "steel_usable_mt",
            "sum",
            "Mt",
            "usable steel: good modern and usable backyard",
            terms=("steel_modern_good_mt", "steel_backyard_usable_mt"),
        ),
        ResultSpec("soe_output_byuan", "flow", "bn yuan", "gross output of state industry, 1957 prices"),
        ResultSpec("soe_defective_byuan", "flow", "bn yuan", "defective output, 1957 prices", public=False),
        ResultSpec("soe_output_1957_byuan", "flow", "bn yuan", "the same at 1957 capacity", public=False),
        ResultSpec(
            "industrial_output_index",
            "ratio",
            "1957 = 1",
            "gross output of state industry over 1957's",
            numerator="soe_output_byuan",
            denominator="soe_output_1957_byuan",
        ),
        ResultSpec(
            "soe_defect_rate",
            "ratio",
            "share",
            "share of state industry's output that is defective (by value)",
            numerator="soe_defective_byuan",
            denominator="soe_output_byuan",
        ),
        ResultSpec("soe_workers", "stock", "persons", "state enterprise workers"),
        ResultSpec("soe_subsidy_byuan", "flow", "bn yuan", "enterprises' losses covered by the state"),
    )

    def init_nation(self, nation: Nation, ctx: StepContext) -> None:
        """Capacity in January 1957: 1957 output, split among the provinces by urban population."""
        shares = np.asarray(urban_population_shares(nation.codes))
        nation.provinces.steel_capacity_t[:] = self.params.steel_1957_mt * 1e6 * shares

    def step_nation(self, nation: Nation, ctx: StepContext) -> None:
        """Each January: every province's capacity grows (or shrinks) by the year's rate."""
        if ctx.month == 1 and ctx.t > 0:
            growth = 1.0 + by_year(self.params.capacity_growth_by_year, ctx.year)
            nation.provinces.steel_capacity_t[:] *= growth
            nation.provinces.capacity_index[:] *= growth

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        communes = shard.communes
        assert ctx.nation is not None
        provinces, row = ctx.nation.provinces, shard.index
        urban = communes.is_urban
        age, _, urban_class = class_attributes()
        working = ((age >= 16) & (age <= 59) & (urban_class == 1)).astype(np.float64)
        workers_per_commune = shard.per_commune(shard.class_sum_by_household(working, ctx.t))
        workers_per_commune *= p.employment_share * urban
        capacity = provinces.steel_capacity_t[row] / 12.0  # a month's
        national_capacity = float(provinces.steel_capacity_t.sum()) / 12.0
        # The province's quota: the national target split in proportion to capacity.
        ambition = p.steel_target_scale if ctx.year >= 1958 else 1.0
        target = by_year(p.steel_target_by_year, ctx.year) * ambition * 1e6 / 12.0 * (capacity / national_capacity)
        pressure = max(0.0, target / capacity - 1.0) if capacity > 0 else 0.0
        effort = p.incentive_effort if p.incentives else 1.0
        growth = float(provinces.capacity_index[row]) - 1.0
        # The province's share of the nation's 1957 industry: its share of 1957 steel capacity.
        share = float(provinces.steel_capacity_t[row] / max(float(provinces.capacity_index[row]), 1e-9))
        share /= p.steel_1957_mt * 1e6

        value = defective = value_1957 = subsidy = capacity_total = hours_weighted = 0.0
        defects: dict[str, float] = {}
        for sector in SECTORS:
            emphasis = p.sector_emphasis.get(sector, 0.0)
            sector_pressure = pressure * emphasis
            capacity_value = p.sector_value_1957_byuan.get(sector, 0.0) * 1e9 / 12.0 * share
            capacity_value *= 1.0 + growth * emphasis
            rush = min(1.0 + p.rush_elasticity * sector_pressure, p.rush_cap) * effort
            defect = min(1.0, (p.defect_rate_normal + p.defect_per_pressure * sector_pressure) / effort)
            output = capacity_value * rush
            costs = p.material_share * output + p.wage_share * capacity_value
            subsidy += max(0.0, costs - output * (1.0 - defect))
            value += output
            defective += output * defect
            value_1957 += p.sector_value_1957_byuan.get(sector, 0.0) * 1e9 / 12.0 * share
            defects[sector] = defect
            hours_weighted += capacity_value * (1.0 + p.hours_per_pressure * sector_pressure)
            capacity_total += capacity_value
        hours = hours_weighted / capacity_total if capacity_total > 0 else 1.0  # the workers' mean hours

        steel = capacity * min(1.0 + p.rush_elasticity * pressure, p.rush_cap) * effort
        good_steel = steel * (1.0 - defects["steel"])
        campaign = float(provinces.pressure[row])
        provinces.equipment_defect_rate[row] = defects["machinery"]
        provinces.steel_good_t[row] = good_steel  # what the leadership judges the plan by (see campaign)
        provinces.steel_target_t[row] = target

        communes.factory_workers[:] = workers_per_commune
        communes.factory_injury_rate[:] = p.injury_rate * hours**2 * (1.0 + defects["steel"] / 0.1) / effort
        with np.errstate(divide="ignore", invalid="ignore"):
            covered = np.where(
                communes.population > 0, workers_per_commune * (1.0 + p.dependants_per_worker) / communes.population, 0
            )
        communes.baseline_mortality_factor[:] = 1.0 - p.welfare_mortality_cut * np.minimum(covered, 1.0)

        ctx.record_total("steel_modern_mt", steel / 1e6)
        ctx.record_total("steel_modern_good_mt", good_steel / 1e6)
        ctx.record_total("steel_modern_reported_mt", steel * (1.0 + 0.5 * campaign) / 1e6)
        ctx.record_total("soe_output_byuan", value / 1e9)
        ctx.record_total("soe_defective_byuan", defective / 1e9)
        ctx.record_total("soe_output_1957_byuan", value_1957 / 1e9)
        ctx.record("soe_workers", workers_per_commune)
        ctx.record_total("soe_subsidy_byuan", subsidy / 1e9)
