"""Procurement: the state's grain quota, its extraction after the harvests, and resales to deficit communes.

Quotas take a share of the surplus above the peasants' retention standard (the 1955 'three fixes': the
state bought the grain above rations of 417 jin a person, seed and feed), which makes them progressive in
output per head, as Meng, Qian & Yared 2015 describe. They are fixed in advance (`flexible = false`): in
January the quota for the year is `rate` times the surplus the commune *reported* last year, so an inflated
report raises it, and a poor harvest does not lower it; nor does it fall below `quota_ratchet` times last
year's quota; it grows with what the state needs (its requirement
relative to 1957: more city mouths, more exports). With `flexible = true` the quota is instead the commune's
1957 share of output (its 1957 quota over its 1957 output) times the *actual* harvest, set after it, times the
same needs index. The quota falls due in proportion to the two
harvests and is collected month by month from the granary, down to a protected floor: the food grain for
the rural population until the next harvest (`floor_kg_per_capita_year`) and the seed for the next sowing.
During the anti-hiding campaigns (`anti_hiding_schedule`, from February 1959) the cadres' searches take part
of the floor too (`anti_hiding` x the campaign's intensity x the province's pressure).
Unpaid quota is forgiven at the end of the year.

The state's own needs put a floor under the quotas (`meet_state_needs`): at each harvest, if the quotas
falling due fall short of the harvest's share of what the state needs in a year (urban rations first,
see `state_grain`), every commune's due is raised in proportion.

When the state's pool cannot pay the cities' next rations, it calls the shortfall from the granaries
(`state_grain.emergency_calls`): delivered with the quota, beyond it and beyond the floor.

Communes whose food (granary and households' private stocks) falls short of the floor until the next harvest
ask the state for resales; the state grants what its pool allows (see `state_grain`), and a commune
receives only `resale_speed` of its shortfall a month: limited and slow.
"""

from __future__ import annotations

import numpy as np

from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.schedule import interpolate_schedule
from greatleap.core.state import StateSpec
from greatleap.core.world import ProvinceShard
from greatleap.modules.crops import HARVEST_MONTHS, SUMMER_HARVEST, months_to_next_harvest


class ProcurementParams(ParamSection):
    rate: float = param(
        0.6,
        ge=0.0,
        le=1.0,
        description="quota as a share of the surplus above retention and seed",
        source="derived: 1957 net procurement ~41.9 Mt unhusked (gross 48.04 Mt trade grain x the 1958 ratio of "
        "net to gross 41.73 / 56.27, / 0.85; national_series.csv, unverified) over the 1957 surplus (195 Mt "
        "output - 208 kg x 540 million rural persons - seed) of ~72 Mt. The model's communes grow grain only, "
        "so the resales of normal years to cash-crop and pastoral areas are netted out",
        status="derived",
    )
    retention_kg_per_capita_year: float = param(
        208.5,
        ge=0.0,
        le=500.0,
        unit="kg unhusked/person/year",
        description="grain per rural person the quota leaves out of the surplus (the retention standard)",
        source="food_system.csv: 1955 retention standard of 417 jin of rations a person (verified)",
        status="verified",
    )
    flexible: bool = param(
        False,
        description="quotas set on the actual harvest, after it (the counterfactual of MQY 2015)",
        source="policy lever; false = history",
    )
    summer_quota_share: float = param(
        0.25,
        ge=0.0,
        le=1.0,
        description="share of the annual quota due at the summer harvest",
        source="equal to the summer harvest's share of output (agriculture.summer_output_share)",
    )
    quota_ratchet: float = param(
        0.8,
        ge=0.0,
        le=1.0,
        description="least a rigid quota can be, as a share of last year's quota (quotas are cut reluctantly)",
        source="assumption: quotas were fixed from reported output and the previous quota (food_system.csv: "
        "Anhui's 1958 quota fixed for three years)",
        status="assumption",
    )
    recall_quota_cut: float = param(
        0.2,
        ge=0.0,
        le=1.0,
        description="cut of the quotas once the policies are recalled",
        source="derived: gross procurement fell from 51.05 Mt (1960) to 40.47 Mt (1961) (national_series.csv, "
        "unverified): -21%",
        status="derived",
    )
    meet_state_needs: bool = param(
        True,
        description="raise the quotas, if need be, to what the state needs (the cities are fed first)",
        source="policy lever; true = history (the plan began from the state's needs: food_system.csv 1959 "
        "'three fixes' of 110 bn jin a year)",
    )
    floor_kg_per_capita_year: float = param(
        190.0,
        ge=0.0,
        le=400.0,
        unit="kg unhusked/person/year",
        description="food grain per rural person protected from extraction (the 'subsistence floor')",
        source="assumption: below the 1955 retention standard of 417 jin (208.5 kg, food_system.csv, verified); the "
        "food a commune keeps against extraction",
        status="assumption",
    )
    anti_hiding: float = param(
        0.5,
        ge=0.0,
        le=1.0,
        description="share of the protected floor that anti-hiding searches take at full intensity",
        source="assumption: the searches for 'hidden' grain took food grain and seed (Yang 2008)",
        status="assumption",
    )
    anti_hiding_schedule: dict[str, float] = param(
        {
            "1959-01": 0.0,
            "1959-02": 1.0,
            "1959-05": 0.5,
            "1959-08": 0.5,
            "1959-10": 1.0,
            "1960-06": 0.5,
            "1960-11": 0.0,
        },
        description="intensity of the anti-hiding campaigns (0-1) by month, linear in between",
        source="food_system.csv: the anti-hiding drive began 22 Feb 1959 (verified); renewed after Lushan "
        "(organisation.csv); levels are assumptions",
        status="partly_verified",
    )
    resale_speed: float = param(
        0.25,
        ge=0.0,
        le=1.0,
        description="share of a commune's food shortfall the state can refill in a month",
        source="assumption: resales were limited and slow",
        status="assumption",
    )
    emergency_floor_breach: float = param(
        0.6,
        ge=0.0,
        le=1.0,
        description="share of the food the floor protects that the state's emergency calls for the cities may "
        "take (see state_grain.emergency_calls)",
        source="assumption: the cities were fed first in 1960, and the villages' food went with it",
        status="assumption",
    )


class Procurement(Module):
    """Quotas, extraction and resales per commune."""

    name = "procurement"
    Params = ProcurementParams
    params: ProcurementParams
    states = (
        StateSpec("quota_t", "commune", "float64", 0.0, "this year's quota, tonnes"),
        StateSpec("quota_due_t", "commune", "float64", 0.0, "quota fallen due and not yet delivered, tonnes"),
        StateSpec("resale_request_t", "commune", "float64", 0.0, "food shortfall the commune asks the state for"),
        StateSpec("quota_fallen_t", "commune", "float64", 0.0, "quota fallen due this month, before the floor"),
        StateSpec("flexible_share", "commune", "float64", 0.0, "the 1957 quota over the 1957 output"),
        StateSpec("quota_fallen_total_t", "province", "float64", 0.0, "quota fallen due this month (real t)"),
        StateSpec("quota_factor", "nation", "float64", 1.0, "this harvest's quotas raised to the state's needs"),
        StateSpec("flow_procured_t", "commune", "float64", 0.0, "this month: grain delivered to the state"),
        StateSpec("flow_resales_t", "commune", "float64", 0.0, "this month: resales received from the state"),
        StateSpec("procured_t", "province", "float64", 0.0, "grain delivered to the state this month (real t)"),
        StateSpec("resale_requested_t", "province", "float64", 0.0, "resales asked for this month (real t)"),
        StateSpec("resale_granted_t", "province", "float64", 0.0, "resales the state grants this month (real t)"),
    )
    results = (
        ResultSpec("procurement_mt", "flow", "Mt", "grain delivered to the state (unhusked)"),
        ResultSpec("quota_mt", "flow", "Mt", "quota fallen due (unhusked)"),
        ResultSpec("resales_mt", "flow", "Mt", "grain sold back by the state to deficit communes"),
        ResultSpec(
            "procurement_ratio",
            "ratio",
            "share",
            "procurement as a share of grain output",
            numerator="procurement_mt",
            denominator="grain_output_mt",
        ),
        ResultSpec(
            "grain_retained_mt",
            "sum",
            "Mt",
            "grain output less procurement plus resales",
            terms=("grain_output_mt", "-procurement_mt", "resales_mt"),
        ),
        ResultSpec(
            "grain_retained_per_capita_kg",
            "ratio",
            "kg/person/year",
            "grain retained in the countryside per rural person a year",
            numerator="grain_retained_mt",
            denominator="rural_persons",
            scale=1e9,
        ),
    )

    def init(self, shard: ProvinceShard, ctx: StepContext) -> None:
        communes = shard.communes
        base = self.params.rate * self.surplus(shard, communes.output_1957_t)
        with np.errstate(divide="ignore", invalid="ignore"):
            communes.flexible_share[:] = np.where(communes.output_1957_t > 0, base / communes.output_1957_t, 0.0)
        self._set_quota(shard)

    def surplus(self, shard: ProvinceShard, output_t: np.ndarray, year_share: float = 1.0) -> np.ndarray:
        """Output above the retention standard and the seed, for `year_share` of a year's output."""
        communes = shard.communes
        retained = self.params.retention_kg_per_capita_year * communes.population / 1000.0
        seed = communes.annual_seed_t  # a year's sowings
        return np.maximum(output_t - (retained + seed) * year_share, 0.0) * ~communes.is_urban

    def _set_quota(self, shard: ProvinceShard, needs: float = 1.0) -> None:
        """January: the year's quota on last year's reported surplus, scaled by the state's needs."""
        p = self.params
        communes = shard.communes
        if p.flexible:
            communes.quota_t[:] = 0.0  # set after each harvest from the actual output
            return
        new_quota = p.rate * needs * self.surplus(shard, communes.reported_last_year_t)
        # Quotas ratchet: a year's quota falls at most to `quota_ratchet` times last year's.
        communes.quota_t[:] = np.maximum(new_quota, p.quota_ratchet * communes.quota_t)

    @staticmethod
    def state_needs(ctx: StepContext) -> float:
        """The state's requirement relative to 1957's: quotas grow with the cities and the exports."""
        assert ctx.nation is not None
        return float(ctx.nation.state.state_needs_index[0])

    def protected_floor(self, shard: ProvinceShard, ctx: StepContext, pressure: float) -> np.ndarray:
        """Grain (t) a commune keeps against extraction: food until the next harvest, plus seed; anti-hiding
        searches, where the campaign and the province's pressure push them, take part of the food."""
        p = self.params
        communes = shard.communes
        months = months_to_next_harvest(ctx.month)
        food = p.floor_kg_per_capita_year * communes.population * months / 12.0 / 1000.0
        drive = interpolate_schedule(p.anti_hiding_schedule, ctx.year, ctx.month)
        searched = p.anti_hiding * min(drive * pressure, 1.0)
        return (food * (1.0 - searched) + communes.seed_reserve_t) * ~communes.is_urban

    @staticmethod
    def _emergency(shard: ProvinceShard, ctx: StepContext, spare: np.ndarray) -> np.ndarray:
        """The state's emergency call for its cities (see `state_grain`): taken from every rural commune in
        proportion to its `spare` grain (after the quota; part of the floor's food included)."""
        assert ctx.nation is not None
        provinces = ctx.nation.provinces
        if "emergency_call_t" not in provinces.names or provinces.emergency_call_t[shard.index] <= 0:
            return np.zeros(shard.communes.count)
        communes = shard.communes
        spare = np.maximum(spare, 0.0) * ~communes.is_urban
        total = float(spare @ shard.commune_weight)
        call = float(provinces.emergency_call_t[shard.index])
        return spare * min(1.0, call / total) if total > 0 else np.zeros(communes.count)

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        communes = shard.communes
        assert ctx.nation is not None
        if ctx.month == 1 and ctx.t > 0:
            communes.quota_due_t[:] = 0.0  # unpaid quota is forgiven at the end of the year
            self._set_quota(shard, self.state_needs(ctx))
        harvest = communes.harvest_t
        fallen_due = np.zeros(communes.count)
        if ctx.month in HARVEST_MONTHS:
            share = p.summer_quota_share if ctx.month == SUMMER_HARVEST else 1.0 - p.summer_quota_share
            if ctx.nation.state.months_since_recall[0] >= 0:
                share *= 1.0 - p.recall_quota_cut
            if p.flexible:
                fallen_due = communes.flexible_share * harvest * self.state_needs(ctx)
            else:
                fallen_due = communes.quota_t * share
        communes.quota_due_t[:] += fallen_due
        communes.quota_fallen_t[:] = fallen_due
        ctx.nation.provinces.quota_fallen_total_t[shard.index] = float(fallen_due @ shard.commune_weight)

        pressure = float(ctx.nation.provinces.pressure[shard.index])
        floor = self.protected_floor(shard, ctx, pressure)
        available = np.maximum(communes.granary_t - floor, 0.0)
        delivered = np.minimum(communes.quota_due_t, available)
        communes.quota_due_t[:] -= delivered
        # The cities' emergency call may also take `emergency_floor_breach` of the food the floor protects
        # in the granary (the households' own stores are beyond its reach).
        food_floor = floor - communes.seed_reserve_t * ~communes.is_urban
        spare = communes.granary_t - delivered - (floor - p.emergency_floor_breach * food_floor)
        delivered = delivered + self._emergency(shard, ctx, spare)
        communes.granary_t[:] -= delivered
        communes.flow_procured_t[:] = delivered

        # Resale requests: food short of the floor until the next harvest.
        months = months_to_next_harvest(ctx.month)
        need = p.floor_kg_per_capita_year * communes.population * months / 12.0 / 1000.0
        private = shard.per_commune(shard.households.private_stock_kg) / 1000.0
        food = np.maximum(communes.granary_t - communes.seed_reserve_t, 0.0) + private
        request = np.maximum(need - food, 0.0) * p.resale_speed * ~communes.is_urban
        communes.resale_request_t[:] = request

        weight = shard.commune_weight
        ctx.nation.provinces.procured_t[shard.index] = float(delivered @ weight)
        ctx.nation.provinces.resale_requested_t[shard.index] = float(request @ weight)
        ctx.record("procurement_mt", delivered / 1e6)

    def step_nation(self, nation, ctx: StepContext) -> None:
        """At a harvest: raise this harvest's quotas to the state's needs, if they fall short."""
        p = self.params
        state = nation.state
        state.quota_factor[0] = 1.0
        if ctx.month not in HARVEST_MONTHS or not p.meet_state_needs:
            return
        share = p.summer_quota_share if ctx.month == SUMMER_HARVEST else 1.0 - p.summer_quota_share
        needed = float(state.state_requirement_t[0]) * share
        fallen = float(nation.provinces.quota_fallen_total_t.sum())
        if fallen > 0:
            state.quota_factor[0] = max(1.0, needed / fallen)

    def receive(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """After the state's decisions: quotas raised to its needs; each commune's share of the resales."""
        communes = shard.communes
        assert ctx.nation is not None
        raised = communes.quota_fallen_t * (float(ctx.nation.state.quota_factor[0]) - 1.0)
        communes.quota_due_t[:] += raised
        ctx.record("quota_mt", (communes.quota_fallen_t + raised) / 1e6)
        communes.quota_fallen_t[:] = 0.0
        granted = float(ctx.nation.provinces.resale_granted_t[shard.index])
        asked = float(communes.resale_request_t @ shard.commune_weight)
        share = granted / asked if asked > 0 else 0.0
        received = communes.resale_request_t * share
        communes.granary_t[:] += received
        communes.flow_resales_t[:] = received
        ctx.record("resales_mt", received / 1e6)
