"""Backyard furnaces: the steel campaign's labour, scrap and fuel, and what came out of it.

In the months of the steel drive (`drive`, a schedule peaking in the autumn of 1958), each rural commune
claims `peak_labour_share` x drive x its province's radicalism of its able-bodied days for the furnaces,
through the labour interface (the claim for a month is posted at the end of the month before, like every
campaign claim); about 90 million people stood at the furnaces in the autumn of 1958 (organisation.csv). A
furnace day yields `iron_kg_per_person_day` of iron and steel, of which only `usable_share` is usable
(shared/data: the 3 Mt of native steel of 1958 were unusable). The reported output is inflated like the
harvests (`report_inflation` x the province's campaign pressure).

Scrap feeds the furnaces: households eating in the mess halls lose their pots (`pot_collection` of those left,
a month, at full drive; without pots a household cooks less at home once the mess halls close, see
`household_food.cooking_without_pots`; after the drive `pot_replacement` of the potless get one back each
month), and the commune its farm tools (`tool_loss` of the tools index a month at full drive; tools come back
slowly, `tool_recovery` a month), which lowers yields through agriculture's tool elasticity. Part of the
useless iron goes into local building (`building_share`); buildings of poor steel collapse: a monthly hazard
of `collapse_rate` collapses per tonne of bad steel in the commune's buildings, each killing
`deaths_per_collapse` persons on average, posted to demography as the cause 'collapse'. The bad steel in
buildings decays as they are repaired or fall (`building_decay` a month).
"""

from __future__ import annotations

import numpy as np

from greatleap.core import kernels
from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.schedule import interpolate_schedule
from greatleap.core.state import StateSpec
from greatleap.core.world import ProvinceShard

FURNACES = "furnaces"


class FurnaceParams(ParamSection):
    enabled: bool = param(
        True,
        description="whether the steel campaign builds backyard furnaces at all",
        source="policy lever; true = history",
    )
    drive: dict[str, float] = param(
        {"1958-07": 0.0, "1958-09": 1.0, "1958-12": 1.0, "1959-01": 0.3, "1959-04": 0.1, "1959-07": 0.0},
        description="intensity of the backyard steel drive (0-1) by month, linear in between",
        source="organisation.csv: the steel doubling decided at Beidaihe (Aug 1958), ~90 million at the furnaces "
        "in autumn 1958 (verified); the ramp and the winding down are assumptions",
        status="partly_verified",
    )
    peak_labour_share: float = param(
        0.31,
        ge=0.0,
        le=0.9,
        description="share of able-bodied days the furnaces claim at full drive",
        source="derived: ~90 million persons at the furnaces in autumn 1958 (organisation.csv, verified) over "
        "the ~290 million rural persons aged 16-59",
        status="derived",
    )
    iron_kg_per_person_day: float = param(
        0.28,
        ge=0.0,
        le=10.0,
        unit="kg/person-day",
        description="iron and steel a furnace day yields",
        source="derived: set so that the 1958 drive of the historical run yields ~3 Mt, the native steel of 1958 "
        "(national_series.csv steel_unusable, a lower bound, verified)",
        status="derived",
    )
    usable_share: float = param(
        0.1,
        ge=0.0,
        le=1.0,
        description="share of backyard iron and steel that is usable",
        source="assumption: the native steel of 1958 was largely useless (national_series.csv: 3 Mt unusable, "
        "excluded from the official 8.0 Mt)",
        status="assumption",
    )
    report_inflation: float = param(
        0.5,
        ge=0.0,
        le=5.0,
        description="share added to true furnace output per unit of campaign pressure",
        source="assumption",
        status="assumption",
    )
    pot_collection: float = param(
        0.4,
        ge=0.0,
        le=1.0,
        description="share of the remaining household pots collected a month at full drive",
        source="assumption",
        status="assumption",
    )
    pot_replacement: float = param(
        0.03,
        ge=0.0,
        le=1.0,
        description="share of potless households that get a pot again a month once the drive is over",
        source="assumption",
        status="assumption",
    )
    tool_loss: float = param(
        0.06,
        ge=0.0,
        le=1.0,
        description="share of the tools index melted a month at full drive",
        source="assumption",
        status="assumption",
    )
    tool_recovery: float = param(
        0.015,
        ge=0.0,
        le=1.0,
        description="share of the tools lost that is replaced a month",
        source="assumption",
        status="assumption",
    )
    building_share: float = param(
        0.2,
        ge=0.0,
        le=1.0,
        description="share of the useless iron built into local buildings",
        source="assumption",
        status="assumption",
    )
    collapse_rate: float = param(
        0.002,
        ge=0.0,
        le=1.0,
        unit="collapses per t per month",
        description="monthly collapses per tonne of bad steel in buildings",
        source="assumption",
        status="assumption",
    )
    deaths_per_collapse: float = param(
        0.5, ge=0.0, le=20.0, description="deaths per collapse, on average", source="assumption", status="assumption"
    )
    building_decay: float = param(
        0.02,
        ge=0.0,
        le=1.0,
        description="share of the bad steel in buildings repaired or fallen a month",
        source="assumption",
        status="assumption",
    )


def pots_reference(
    bounds: np.ndarray,
    commune: np.ndarray,
    commune_rural: np.ndarray,
    u: np.ndarray,
    collecting: bool,
    threshold: float,
    in_messhall: np.ndarray,
    has_pots: np.ndarray,
) -> np.ndarray:
    """A month of pots (numpy reference of the compiled kernel): while `collecting`, rural mess-hall
    households with `u` < `threshold` lose them; otherwise households with `u` < `threshold` get them back.
    Updates `has_pots` in place; returns the rural households with pots per commune (float64)."""
    rural_household = commune_rural[commune]
    if collecting:
        collected = (u < threshold) & rural_household & in_messhall
        has_pots[:] = has_pots & ~collected
    else:
        has_pots[:] = has_pots | (u < threshold)
    return np.bincount(commune, weights=has_pots & rural_household, minlength=bounds.size - 1)


@kernels.jit
def pots_compiled(bounds, commune, commune_rural, u, collecting, threshold, in_messhall, has_pots):  # pragma: no cover
    """`pots_reference` in one pass over the households, commune by commune, without its gather of the
    communes' rural flags and its household-sized temporaries (the counts are exact in any order)."""
    with_pots = np.zeros(bounds.size - 1)
    for c in range(bounds.size - 1):
        rural = commune_rural[c]
        count = 0.0
        for h in range(bounds[c], bounds[c + 1]):
            drawn = u[h] < threshold
            if collecting:
                pots = has_pots[h] & ~(drawn & rural & in_messhall[h])
            else:
                pots = has_pots[h] | drawn
            has_pots[h] = pots
            count += pots & rural
        with_pots[c] = count
    return with_pots


class Furnaces(Module):
    """Backyard furnaces: labour claims, scrap, iron and steel, collapses."""

    name = "furnaces"
    Params = FurnaceParams
    params: FurnaceParams
    states = (
        StateSpec("has_pots", "household", "bool", True, "the household still has its cooking pots"),
        StateSpec("bad_steel_in_buildings_t", "commune", "float64", 0.0, "useless steel built into local buildings"),
    )
    results = (
        ResultSpec("steel_backyard_mt", "flow", "Mt", "iron and steel from the backyard furnaces"),
        ResultSpec("steel_backyard_usable_mt", "flow", "Mt", "usable backyard iron and steel"),
        ResultSpec("steel_backyard_reported_mt", "flow", "Mt", "backyard iron and steel as reported"),
        ResultSpec("labour_days_furnaces", "flow", "person-days", "days worked at the furnaces"),
        ResultSpec(
            "furnace_labour_share",
            "ratio",
            "share",
            "share of able-bodied days at the furnaces",
            numerator="labour_days_furnaces",
            denominator="labour_days_available",
        ),
        ResultSpec("tools_weighted", "stock", "ha", "tools index x cultivated land", public=False),
        ResultSpec("land_ha", "stock", "ha", "cultivated land", public=False),
        ResultSpec(
            "tools_index",
            "ratio",
            "",
            "farm tools relative to 1957 (land-weighted mean)",
            numerator="tools_weighted",
            denominator="land_ha",
        ),
        ResultSpec("households_with_pots", "stock", "households", "households with pots", public=False),
        ResultSpec("households_rural", "stock", "households", "rural households", public=False),
        ResultSpec(
            "pots_share",
            "ratio",
            "share",
            "share of rural households that still have cooking pots",
            numerator="households_with_pots",
            denominator="households_rural",
        ),
        ResultSpec("collapses", "flow", "buildings", "building collapses (expected number)"),
    )
    streams = ("pots",)

    def drive(self, year: int, month: int, recalled: bool = False) -> float:
        """The drive's intensity; none once the policies are recalled."""
        if not self.params.enabled or recalled:
            return 0.0
        return interpolate_schedule(self.params.drive, year, month)

    def init(self, shard: ProvinceShard, ctx: StepContext) -> None:
        self._claim(shard, ctx, ctx.year, ctx.month)

    def _claim(self, shard: ProvinceShard, ctx: StepContext, year: int, month: int) -> None:
        """Post the furnaces' labour claim for (year, month)."""
        assert ctx.nation is not None
        drive = self.drive(year, month, ctx.nation.state.months_since_recall[0] >= 0)
        if drive <= 0:
            return
        communes = shard.communes
        radicalism = float(ctx.nation.provinces.radicalism[shard.index])
        claim = self.params.peak_labour_share * drive * radicalism * communes.labour_days_available
        shard.labour_claims[FURNACES] = shard.labour_claims.get(FURNACES, 0.0) + claim * ~communes.is_urban

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        communes, households = shard.communes, shard.households
        assert ctx.nation is not None
        drive = self.drive(ctx.year, ctx.month, ctx.nation.state.months_since_recall[0] >= 0)
        rural = ~communes.is_urban
        days = np.asarray(shard.labour_granted.get(FURNACES, np.zeros(communes.count)), dtype=np.float64)
        output_t = days * p.iron_kg_per_person_day / 1000.0
        useless_t = output_t * (1.0 - p.usable_share)
        pressure = float(ctx.nation.provinces.pressure[shard.index])

        # Scrap: pots and tools.
        # Pots are taken from the households that eat in the mess halls: they no longer cook at home.
        u = ctx.rng("pots").random(households.count)
        bounds = shard.household_bounds()
        with_pots = (pots_compiled if kernels.compiled() else pots_reference)(
            bounds,
            households.commune,
            rural,
            u,
            drive > 0,
            p.pot_collection * drive if drive > 0 else p.pot_replacement,
            households.in_messhall,
            households.has_pots,
        )
        tools = communes.tools_index.astype(np.float64)
        tools = tools * (1.0 - p.tool_loss * drive) + (1.0 - tools) * p.tool_recovery
        communes.tools_index[:] = np.where(rural, tools, 1.0)

        # Poor steel in buildings, and their collapses.
        bad = communes.bad_steel_in_buildings_t * (1.0 - p.building_decay) + useless_t * p.building_share
        communes.bad_steel_in_buildings_t[:] = bad
        collapses = p.collapse_rate * bad
        with np.errstate(divide="ignore", invalid="ignore"):
            hazard = np.where(communes.population > 0, collapses * p.deaths_per_collapse / communes.population, 0.0)
        if (hazard > 0).any():
            shard.post_hazard("collapse", hazard)

        self._claim(shard, ctx, ctx.year + ctx.month // 12, ctx.month % 12 + 1)
        ctx.record("steel_backyard_mt", output_t / 1e6)
        ctx.record("steel_backyard_usable_mt", output_t * p.usable_share / 1e6)
        ctx.record("steel_backyard_reported_mt", output_t * (1.0 + p.report_inflation * pressure) / 1e6)
        ctx.record("labour_days_furnaces", days)
        ctx.record("tools_weighted", communes.tools_index * communes.land_ha)
        ctx.record("land_ha", communes.land_ha.astype(np.float64))
        ctx.record("households_with_pots", with_pots)
        ctx.record("households_rural", np.diff(bounds).astype(np.float64) * rural)  # households stored by commune
        ctx.record("collapses", collapses)
