"""The state grain pool: procurement and imports in; urban rations, exports, other state uses, resales out.

Once a month, after every province has delivered its procurement, the state:

1. adds the month's procurement and imports (`imports_by_year`, spread evenly over the months; from
   `recall_import_lag_months` after the recall at least `recall_imports_mt_per_year`) to its stock;
2. feeds the urban population first: `urban_ration_kg_per_month` per registered urban resident, cut by up to
   `urban_cut_max` as the stock falls below `stock_target_mt` (the city rations cut of 1960), and never more
   than the stock holds;
3. exports (`exports_by_year`, as far as the stock allows), then covers its other uses (the army, industry,
   the non-agricultural rural population; `other_uses_mt_per_year`);
4. loses `storage_loss_per_year` of its stock;
5. grants the resales the communes asked for, up to `resale_share_of_stock` of what is left above
   `reserve_floor_mt`;
6. when what is left cannot pay the urban rations in full until the next harvest (`emergency_calls`), calls
   the shortfall from the provinces: in proportion to what their rural granaries hold above the seed when
   that covers it, else (before a harvest) in proportion to their rural population; procurement delivers
   it next month as far as it can, beyond the quotas and part of the protected floor
   (`procurement.emergency_floor_breach`): the cities were fed first.

It also states what it needs from procurement in a year (urban rations, other uses, net exports, and
its stock back to the target), as an index over 1957's (`requirement_1957_mt`): `procurement` multiplies the
January quotas by it, and raises a harvest's quotas to the harvest's share of it when they fall short.

Every tonne is accounted for: stock after = stock before + procurement + imports - urban rations - exports -
other uses - losses - resales. Historical exports and imports are in trade grain (national_series.csv) and
are converted to unhusked grain by `trade_to_unhusked`.
"""

from __future__ import annotations

import numpy as np

from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.schedule import by_year
from greatleap.core.state import StateSpec
from greatleap.core.world import Nation, ProvinceShard
from greatleap.modules.crops import months_to_next_harvest

_TRADE_SOURCE = "national_series.csv grain_{kind} 1957-1962 (Mt, trade grain; status per row)"


class StateGrainParams(ParamSection):
    initial_stock_mt: float = param(
        35.0,
        ge=0.0,
        le=200.0,
        unit="Mt unhusked",
        description="state grain stock on 1 January 1957",
        source="estimated from food_system.csv: state stocks on 30 June 1954-58 were 30.7-42.7 bn jin (15-21 Mt, "
        "verified) of trade grain, 18-25 Mt unhusked; adding six months of urban rations, exports and other uses "
        "(~3 Mt a month) gives the "
        "January stock",
        status="estimated",
    )
    urban_ration_kg_per_month: float = param(
        19.2,
        ge=0.0,
        le=60.0,
        unit="kg unhusked/person/month",
        description="grain supplied per registered urban resident a month when stocks are ample",
        source="derived: urban grain consumption 1957 196 kg trade grain/person/year (national_series.csv) / 12 / 0.85",
        status="derived",
    )
    emergency_calls: bool = param(
        True,
        description="when its pool cannot pay next month's urban rations, the state calls the shortfall from "
        "the provinces' granaries, beyond the quotas and the protected floor (only the seed is spared)",
        source="history: in September 1960 the grain stocks of 82 large and medium cities were below a third "
        "of normal (national_series.csv city_grain_stocks_sept1960, verified) and the cities were supplied "
        "first, by emergency transfers from the provinces; false = a state that lets its pool run dry",
    )
    urban_cut_max: float = param(
        0.07,
        ge=0.0,
        le=0.9,
        description="largest cut of urban rations when the stock runs low",
        source="derived: food_system.csv urban_ration_35cities_average, 28.45 -> 26.83 jin a month in the 1960 cut "
        "(verified): -5.7%; rounded up for cuts in smaller cities",
        status="estimated",
    )
    stock_target_mt: float = param(
        15.0,
        ge=0.0,
        le=200.0,
        unit="Mt",
        description="stock below which the state starts cutting urban rations",
        source="assumption",
        status="assumption",
    )
    exports_by_year: dict[int, float] = param(
        {1957: 2.09, 1958: 2.88, 1959: 4.16, 1960: 2.72, 1961: 1.35, 1962: 1.03},
        unit="Mt trade grain",
        description="grain exports by year",
        source=_TRADE_SOURCE.format(kind="exports"),
        status="unverified",
    )
    exports_scale: float = param(
        1.0,
        ge=0.0,
        le=2.0,
        description="grain exports relative to the record (0 = none, 1 = as recorded)",
        source="lever",
    )
    recall_imports_mt_per_year: float = param(
        5.0,
        ge=0.0,
        le=30.0,
        unit="Mt/year",
        description="grain bought abroad once the policies are recalled (at least; the yearly record when larger)",
        source="national_series.csv wheat_imports_range 1961: 4-5 Mt a year from 1961 (verified)",
        status="verified",
    )
    recall_import_lag_months: int = param(
        2,
        ge=0,
        le=24,
        unit="months",
        description="months from the recall to the first imported grain",
        source="assumption: the recall of November 1960 and the first wheat cargoes early in 1961 "
        "(national_series.csv grain_imports 1961 = 5.81 Mt, unverified)",
        status="assumption",
    )
    imports_by_year: dict[int, float] = param(
        {1957: 0.17, 1958: 0.22, 1959: 0.0, 1960: 0.07, 1961: 5.81, 1962: 4.92},
        unit="Mt trade grain",
        description="grain imports by year",
        source=_TRADE_SOURCE.format(kind="imports"),
        status="unverified",
    )
    trade_to_unhusked: float = param(
        1.0 / 0.85,
        ge=1.0,
        le=1.5,
        description="unhusked grain per unit of trade grain",
        source="nutrition.csv unhusked_to_trade_grain 0.85",
        status="estimated",
    )
    other_uses_mt_per_year: float = param(
        12.0,
        ge=0.0,
        le=100.0,
        unit="Mt unhusked",
        description="state grain for the army, industry and the non-agricultural rural population",
        source="estimated: what closes the 1957 balance of procurement against urban rations, exports and "
        "resales (food_system.csv)",
        status="estimated",
    )
    requirement_1957_mt: float = param(
        36.6,
        ge=1.0,
        le=500.0,
        unit="Mt unhusked",
        description="the state's requirement in 1957, the reference of its needs index",
        source="derived: the 96.7 million urban residents the model starts with x 19.2 kg x 12 (22.3 Mt) + other "
        "uses 12 Mt + 1957 net exports (2.09 - 0.17) / 0.85 (2.3 Mt), all from this section's defaults",
        status="derived",
    )
    storage_loss_per_year: float = param(
        0.02,
        ge=0.0,
        le=0.3,
        description="share of the state stock lost a year",
        source="assumption",
        status="assumption",
    )
    reserve_floor_mt: float = param(
        5.0,
        ge=0.0,
        le=100.0,
        unit="Mt",
        description="stock the state keeps back from resales",
        source="assumption",
        status="assumption",
    )
    resale_share_of_stock: float = param(
        0.3,
        ge=0.0,
        le=1.0,
        description="share of the stock above the floor the state will resell in a month",
        source="assumption",
        status="assumption",
    )


class StateGrain(Module):
    """The state's grain pool (a nation phase) and the registration of urban residents (a province phase)."""

    name = "state_grain"
    Params = StateGrainParams
    params: StateGrainParams
    states = (
        StateSpec("state_stock_t", "nation", "float64", 0.0, "grain in the state's pool, tonnes"),
        StateSpec(
            "state_requirement_t",
            "nation",
            "float64",
            0.0,
            "grain the state needs from procurement in a year: urban rations, other uses, net exports, "
            "and the stock back to its target",
        ),
        StateSpec("state_needs_index", "nation", "float64", 1.0, "the state's requirement over its 1957 level"),
        StateSpec("urban_supply_ratio", "nation", "float64", 1.0, "urban rations paid over the standard's"),
        StateSpec("urban_persons", "province", "float64", 0.0, "registered urban residents (real persons)"),
        StateSpec("urban_ration_granted_t", "province", "float64", 0.0, "urban grain the state supplies this month"),
        StateSpec("granary_spare_t", "province", "float64", 0.0, "grain in rural granaries above the seed (real)"),
        StateSpec("rural_residents", "province", "float64", 0.0, "persons living in rural communes (real)"),
        StateSpec("emergency_call_t", "province", "float64", 0.0, "grain the state calls for its cities next month"),
    )
    results = (
        ResultSpec("state_stock_mt", "stock", "Mt", "grain in the state's pool", scope="nation"),
        ResultSpec("grain_exports_mt", "flow", "Mt", "grain exported (unhusked)", scope="nation"),
        ResultSpec("grain_imports_mt", "flow", "Mt", "grain imported (unhusked)", scope="nation"),
        ResultSpec("state_other_uses_mt", "flow", "Mt", "army, industry, non-agricultural rural", scope="nation"),
        ResultSpec("state_losses_mt", "flow", "Mt", "storage losses of the state pool", scope="nation"),
        ResultSpec("urban_ration_mt", "flow", "Mt", "grain the state supplies to urban residents", scope="nation"),
        ResultSpec("urban_ration_cut", "stock", "share", "cut of the urban ration standard", scope="nation"),
        ResultSpec("emergency_call_mt", "flow", "Mt", "grain called from the provinces for the cities", scope="nation"),
    )

    def init_nation(self, nation: Nation, ctx: StepContext) -> None:
        nation.state.state_stock_t[0] = self.params.initial_stock_mt * 1e6

    def report(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """Province phase: register the province's urban residents with the state."""
        communes = shard.communes
        assert ctx.nation is not None
        registered = (
            communes.population - communes.unregistered_persons
            if "unregistered_persons" in communes.names
            else communes.population
        )
        urban = (registered * communes.is_urban).astype(np.float64)
        ctx.nation.provinces.urban_persons[shard.index] = float(urban @ shard.commune_weight)
        spare = np.maximum(communes.granary_t - communes.seed_reserve_t, 0.0) * ~communes.is_urban
        ctx.nation.provinces.granary_spare_t[shard.index] = float(spare @ shard.commune_weight)
        rural = (communes.population * ~communes.is_urban).astype(np.float64)
        ctx.nation.provinces.rural_residents[shard.index] = float(rural @ shard.commune_weight)

    def step_nation(self, nation: Nation, ctx: StepContext) -> None:
        p = self.params
        provinces, state = nation.provinces, nation.state
        stock = float(state.state_stock_t[0])
        imported = by_year(p.imports_by_year, ctx.year)
        months_since_recall = float(state.months_since_recall[0]) if "months_since_recall" in state.names else -1.0
        if months_since_recall >= p.recall_import_lag_months:  # the recall opens the purchases abroad
            imported = max(imported, p.recall_imports_mt_per_year)
        imports = imported * p.trade_to_unhusked * 1e6 / 12.0
        stock += float(provinces.procured_t.sum()) + imports

        shortfall = max(0.0, 1.0 - stock / (p.stock_target_mt * 1e6)) if p.stock_target_mt > 0 else 0.0
        cut = p.urban_cut_max * min(shortfall, 1.0)
        month_length = ctx.days * 12.0 / 365.25  # the ration is per average month: a day's ration x the days
        urban_need = provinces.urban_persons * p.urban_ration_kg_per_month * month_length * (1.0 - cut) / 1000.0
        total_need = float(urban_need.sum())
        paid = min(total_need, stock)
        provinces.urban_ration_granted_t[:] = urban_need * (paid / total_need if total_need > 0 else 0.0)
        standard = total_need / (1.0 - cut) if cut < 1.0 else 0.0
        state.urban_supply_ratio[0] = paid / standard if standard > 0 else 1.0
        stock -= paid
        exports_year = by_year(p.exports_by_year, ctx.year) * p.exports_scale  # Mt trade grain
        exports = min(exports_year * p.trade_to_unhusked * 1e6 / 12.0, stock)
        stock -= exports
        other = min(p.other_uses_mt_per_year * 1e6 / 12.0, stock)
        stock -= other
        losses = stock * p.storage_loss_per_year / 12.0
        stock -= losses
        budget = max(0.0, stock - p.reserve_floor_mt * 1e6) * p.resale_share_of_stock
        asked = provinces.resale_requested_t
        asked_total = float(asked.sum())
        granted = min(asked_total, budget)
        provinces.resale_granted_t[:] = asked * (granted / asked_total if asked_total > 0 else 0.0)
        stock -= granted
        state.state_stock_t[0] = stock
        year = exports_year - by_year(p.imports_by_year, ctx.year)
        state.state_requirement_t[0] = (
            float(provinces.urban_persons.sum()) * p.urban_ration_kg_per_month * 12.0 / 1000.0
            + p.other_uses_mt_per_year * 1e6
            + year * p.trade_to_unhusked * 1e6
            + max(0.0, p.stock_target_mt * 1e6 - stock)
        )
        state.state_needs_index[0] = state.state_requirement_t[0] / (p.requirement_1957_mt * 1e6)
        # The urban rations in full until the next harvest: what the pool lacks is called from the provinces.
        # When their granaries hold enough above the seed, in proportion to that grain; before a harvest,
        # when they do not, in proportion to their rural population (each delivers what it can, 7.5).
        spare = provinces.granary_spare_t
        months = months_to_next_harvest(ctx.month % 12 + 1)  # from next month on
        call = max(0.0, float(urban_need.sum()) / (1.0 - cut) * months - stock) if p.emergency_calls else 0.0
        basis = spare if float(spare.sum()) >= call else provinces.rural_residents
        total = float(basis.sum())
        provinces.emergency_call_t[:] = basis * (call / total) if call > 0 and total > 0 else 0.0

        ctx.record_nation("state_stock_mt", stock / 1e6)
        ctx.record_nation("grain_exports_mt", exports / 1e6)
        ctx.record_nation("grain_imports_mt", imports / 1e6)
        ctx.record_nation("state_other_uses_mt", other / 1e6)
        ctx.record_nation("state_losses_mt", losses / 1e6)
        ctx.record_nation("urban_ration_mt", paid / 1e6)
        ctx.record_nation("urban_ration_cut", cut)
        ctx.record_nation("emergency_call_mt", call / 1e6)
