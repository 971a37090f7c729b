"""State-owned industry: the steel plan, modern steel, rushed output, defects, subsidies and injuries.

The national steel target of each year (`steel_target_by_year`: doubling 1957's 5.35 Mt in 1958) is split
among the provinces in proportion to their modern capacity. Capacity starts at 1957 output (split by urban
population) and grows by `capacity_growth_by_year` (the investment drive of 1958-60, the retrenchment after).
Enterprises keep their workers and wages whatever they produce (the iron rice bowl); their effort does not
answer to performance unless `incentives` is on. When the target exceeds capacity they rush: output rises
with the pressure of the target (`rush_elasticity`, at most `rush_cap` times capacity), hours lengthen and
the defect rate climbs (`defect_per_pressure`). Losses are covered by the state (a soft budget constraint):
the subsidy is the wage bill less the value of the good output at fixed prices.

Long hours and defective equipment injure workers: the monthly injury death hazard of an urban worker is
`injury_death_rate` x hours^2 x (1 + defect rate / 0.1), posted to demography (cause `injury`) per urban
district in proportion to its share of workers; `injuries_per_death` non-fatal injuries come with each
death. Reported steel adds the campaign's inflation.
"""

from __future__ import annotations

import numpy as np

from greatleap.core.data import provinces
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
    injury_death_rate: float = param(
        2e-5,
        ge=0.0,
        le=0.01,
        description="monthly death hazard from injury of a worker at normal pace",
        source="assumption",
        status="assumption",
    )
    injuries_per_death: float = param(
        30.0, ge=0.0, le=1000.0, description="non-fatal injuries per death", source="assumption", status="assumption"
    )
    wage_yuan_per_month: float = param(
        50.0, ge=0.0, le=1000.0, unit="yuan", description="monthly wage", source="assumption", status="assumption"
    )
    steel_price_yuan_per_t: float = param(
        600.0,
        ge=0.0,
        le=10000.0,
        unit="yuan/t",
        description="fixed price of good steel",
        source="assumption",
        status="assumption",
    )
    steel_wage_share: float = param(
        0.1, ge=0.0, le=1.0, description="share of state workers in steel", source="assumption", status="assumption"
    )


class Industry(Module):
    """Modern steel under the plan, and the state enterprises' workers."""

    name = "industry"
    Params = IndustryParams
    params: IndustryParams
    states = (
        StateSpec("steel_capacity_t", "province", "float64", 0.0, "modern steel capacity a year, t"),
        StateSpec("urban_share_weight", "province", "float64", 0.0, "the province's share of urban residents"),
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
        ResultSpec("soe_defective_mt", "flow", "Mt", "defective modern steel", public=False),
        ResultSpec(
            "soe_defect_rate",
            "ratio",
            "share",
            "share of modern output that is defective",
            numerator="soe_defective_mt",
            denominator="steel_modern_mt",
        ),
        ResultSpec("soe_workers", "stock", "persons", "state enterprise workers"),
        ResultSpec("soe_subsidy_myuan", "flow", "million yuan", "steel enterprises' losses covered by the state"),
        ResultSpec("injuries", "flow", "persons", "non-fatal injuries at work (expected)"),
    )

    def init_nation(self, nation: Nation, ctx: StepContext) -> None:
        """Capacity in January 1957: 1957 output, split among the provinces by urban population."""
        urban = {p.code: p.urban_share * p.population for p in provinces()}
        total = sum(urban.values())
        nation.provinces.steel_capacity_t[:] = [
            self.params.steel_1957_mt * 1e6 * urban.get(code, 0.0) / total for code in nation.codes
        ]

    def step_nation(self, nation: Nation, ctx: StepContext) -> None:
        """Each January: every province's capacity grows (or shrinks) by the year's rate."""
        if ctx.month == 1 and ctx.t > 0:
            nation.provinces.steel_capacity_t[:] *= 1.0 + by_year(self.params.capacity_growth_by_year, ctx.year)

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        communes = shard.communes
        assert ctx.nation is not None
        provinces, row = ctx.nation.provinces, shard.index
        urban = communes.is_urban
        age, _, urban_class = class_attributes()
        working = ((age >= 16) & (age <= 59) & (urban_class == 1)).astype(np.float64)
        workers_per_commune = shard.sum_by_commune(np.take(working, shard.person_class(ctx.t)) * shard.persons.alive)
        workers_per_commune *= p.employment_share * urban
        workers = float(workers_per_commune @ shard.commune_weight)
        capacity = provinces.steel_capacity_t[row] / 12.0  # a month's
        national_capacity = float(provinces.steel_capacity_t.sum()) / 12.0
        # The province's quota: the national target split in proportion to capacity.
        target = by_year(p.steel_target_by_year, ctx.year) * 1e6 / 12.0 * (capacity / national_capacity)
        pressure = max(0.0, target / capacity - 1.0) if capacity > 0 else 0.0
        effort = p.incentive_effort if p.incentives else 1.0
        output = capacity * min(1.0 + p.rush_elasticity * pressure, p.rush_cap) * effort
        defect = min(1.0, (p.defect_rate_normal + p.defect_per_pressure * pressure) / effort)
        hours = 1.0 + p.hours_per_pressure * pressure
        good = output * (1.0 - defect)
        campaign = float(provinces.pressure[row])

        injury_hazard = p.injury_death_rate * hours**2 * (1.0 + defect / 0.1) / effort
        with np.errstate(divide="ignore", invalid="ignore"):
            worker_share = np.where(communes.population > 0, workers_per_commune / communes.population, 0.0)
        hazard = injury_hazard * worker_share
        if (hazard > 0).any():
            shard.post_hazard("injury", hazard)
        deaths_expected = injury_hazard * workers_per_commune

        wages = workers * p.steel_wage_share * p.wage_yuan_per_month
        subsidy = max(0.0, wages - good * p.steel_price_yuan_per_t)
        ctx.record_total("steel_modern_mt", output / 1e6)
        ctx.record_total("steel_modern_good_mt", good / 1e6)
        ctx.record_total("steel_modern_reported_mt", output * (1.0 + 0.5 * campaign) / 1e6)
        ctx.record_total("soe_defective_mt", (output - good) / 1e6)
        ctx.record("soe_workers", workers_per_commune)
        ctx.record_total("soe_subsidy_myuan", subsidy / 1e6)
        ctx.record("injuries", deaths_expected * p.injuries_per_death)
