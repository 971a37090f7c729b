"""Mess halls and the collective's distribution of grain to households.

Outside the mess halls (before they open, after they close, and to the households that do not join them), the
collective distributes the grain left after procurement and the seed to households: at each harvest, and as
relief in between when households run short. A share is distributed by need (the 'basic ration', graded by
age) times the household's food access, and the rest by work points (each household's able-bodied days),
except under the free supply of the communes (`labour.egalitarian_from` to `egalitarian_until`), when
everything goes by need.

From `start` until `close` (the retreat) a share `participation` of rural households eats in the commune's
mess hall. On opening, `confiscation_share` of their private stocks goes into the granary, and their pots go
to the furnaces: they may cook only `private_cooking_share` of what they would have eaten from what is left.
In the first months, until `fill_until`, the mess hall lets everyone 'eat their fill': it serves `fill_factor`
times what its members need, as long as the granary holds out. A mess hall wastes `waste_share` of what it
draws (kitchens' waste, pilfering). Then it rations: each month it serves the food grain in the granary
divided by the months until the next harvest, at most what its members need, shared by `rule`: `equal` (by
need times food access), `work_points` (part so, part by work) or `cadre_privilege` (by need times food
access, cadre households served `cadre_multiplier` times their share)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import MONTH, ParamSection, param
from greatleap.core.schedule import in_window, parse_month
from greatleap.core.state import StateSpec
from greatleap.core.world import ProvinceShard
from greatleap.modules.crops import HARVEST_MONTHS, months_to_next_harvest


class MessHallParams(ParamSection):
    enabled: bool = param(
        True, description="whether the communes open mess halls at all", source="policy lever; true = history"
    )
    start: str = param(
        "1958-10",
        pattern=MONTH,
        description="month the mess halls open",
        source="organisation.csv: 2.65 million canteens by Oct 1958 (verified)",
        status="verified",
    )
    fill_until: str = param(
        "1958-12",
        pattern=MONTH,
        description="first month of rationing: the 'eat your fill' phase ends",
        source="food_system.csv: 'eat your fill' began 18 Sep 1958 and lasted about two months (verified)",
        status="verified",
    )
    close: str = param(
        "1961-06",
        pattern=MONTH,
        description="month the mess halls are dissolved (the retreat)",
        source="organisation.csv: Sixty Articles 1961 allowed dissolving canteens (partly verified)",
        status="partly_verified",
    )
    close_after_recall: int = param(
        7,
        ge=0,
        le=36,
        unit="months",
        description="months after the recall by which the mess halls are dissolved",
        source="derived: the Twelve Articles (Nov 1960) to the dissolution in June 1961 (organisation.csv, "
        "food_system.csv, verified)",
        status="derived",
    )
    participation: float = param(
        0.9,
        ge=0.0,
        le=1.0,
        description="share of rural households eating in the mess halls",
        source="organisation.csv: >90% of the rural population in canteens at the end of 1958 (Luo Pinghan "
        "2014, verified); 72.6% at the end of 1959",
        status="verified",
    )
    fill_factor: float = param(
        1.9,
        ge=1.0,
        le=3.0,
        description="food served in the 'eat your fill' phase, per unit of need",
        source="derived: 17.5 Mt 'eaten ahead' in 1958 (food_system.csv, a forum quote attributed to Xue Muqiao: "
        "weak) over two months of ~9.5 Mt of rural grain need => ~1.9",
        status="derived",
    )
    waste_share: float = param(
        0.1,
        ge=0.0,
        le=0.5,
        description="share of what a mess hall draws from the granary that is wasted or taken before it is served",
        source="assumption: communal kitchens' waste and cadres' pilfering",
        status="assumption",
    )
    rule: Literal["equal", "work_points", "cadre_privilege"] = Field(
        "cadre_privilege",
        description="how a rationing mess hall shares its food",
        json_schema_extra={
            "source": "assumption: cadres ate better (Yang 2008, Dikotter 2010 accounts)",
            "unit": "",
            "status": "assumption",
        },
    )
    cadre_share: float = param(
        0.04,
        ge=0.0,
        le=0.3,
        description="share of households that are cadres'",
        source="assumption",
        status="assumption",
    )
    cadre_multiplier: float = param(
        1.5,
        ge=1.0,
        le=5.0,
        description="cadre households' portion per unit of need",
        source="assumption",
        status="assumption",
    )
    work_points_share: float = param(
        0.3,
        ge=0.0,
        le=1.0,
        description="share of distributed grain allocated by work (the rest by need)",
        source="food_system.csv distribution rows (supply system vs work points)",
        status="estimated",
    )
    confiscation_share: float = param(
        0.5,
        ge=0.0,
        le=1.0,
        description="share of private stocks taken into the granary when a mess hall opens",
        source="assumption",
        status="assumption",
    )
    private_cooking_share: float = param(
        0.1,
        ge=0.0,
        le=1.0,
        description="share of their usual private consumption mess-hall households can "
        "still cook (their pots went to the furnaces)",
        source="assumption",
        status="assumption",
    )
    relief_share: float = param(
        0.5,
        ge=0.0,
        le=1.0,
        description="share of the distributable grain handed out between harvests to households that run short",
        source="assumption",
        status="assumption",
    )


class MessHalls(Module):
    """Collective grain to households: distributions, and mess halls while they are open."""

    name = "messhalls"
    Params = MessHallParams
    params: MessHallParams
    states = (
        StateSpec("in_messhall", "household", "bool", False, "the household eats in the commune's mess hall"),
        StateSpec("is_cadre", "household", "bool", False, "a cadre's household"),
        StateSpec("messhall_food_kg", "household", "float32", 0.0, "grain served to the household this month"),
        StateSpec("messhall_opened", "commune", "bool", False, "the commune's mess hall has opened"),
        StateSpec("flow_confiscated_t", "commune", "float64", 0.0, "this month: private grain into the granary"),
        StateSpec("flow_distributed_t", "commune", "float64", 0.0, "this month: granary to private stores"),
        StateSpec("flow_served_t", "commune", "float64", 0.0, "this month: grain the mess hall served"),
        StateSpec("flow_wasted_t", "commune", "float64", 0.0, "this month: grain the mess hall wasted"),
        StateSpec(
            "private_cooking_share",
            "commune",
            "float32",
            1.0,
            "share of their usual private consumption mess-hall members can still cook",
        ),
    )
    results = (
        ResultSpec("messhall_consumption_mt", "flow", "Mt", "grain served by the mess halls"),
        ResultSpec("distributed_mt", "flow", "Mt", "grain distributed to households by the collectives"),
        ResultSpec("confiscated_mt", "flow", "Mt", "private stocks taken into the granaries"),
        ResultSpec("messhall_waste_mt", "flow", "Mt", "grain wasted or pilfered in the mess halls"),
        ResultSpec("messhall_persons", "stock", "persons", "persons eating in mess halls", public=False),
        ResultSpec("rural_persons", "stock", "persons", "rural population", public=False),
        ResultSpec(
            "messhall_share",
            "ratio",
            "share",
            "share of the rural population eating in mess halls",
            numerator="messhall_persons",
            denominator="rural_persons",
        ),
    )
    streams = ("participation",)

    def is_open(self, year: int, month: int, months_since_recall: float = -1.0) -> bool:
        """Open from `start` until `close`, and no later than `close_after_recall` months after the recall."""
        p = self.params
        recalled_long = months_since_recall >= p.close_after_recall
        return p.enabled and in_window(year, month, p.start, p.close) and not recalled_long

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        households, communes = shard.households, shard.communes
        n_communes = communes.count
        rural_household = ~communes.is_urban[households.commune]
        assert ctx.nation is not None
        open_now = self.is_open(ctx.year, ctx.month, float(ctx.nation.state.months_since_recall[0]))
        confiscated = np.zeros(households.count)
        if open_now and not communes.messhall_opened.any():
            confiscated = self._open(shard, ctx, rural_household)
        if not open_now:
            households.in_messhall[:] = False
        if open_now:
            communes.messhall_opened[:] = True
        communes.private_cooking_share[:] = p.private_cooking_share if open_now else 1.0

        members = shard.household_members()
        days = ctx.days
        need_kg = households.grain_need_kg_per_day.astype(np.float64) * days
        # Food grain: everything but the seed. The quota still due is not held back: procurement, which ran
        # earlier this month, has already taken all it could above the protected floor.
        available = np.maximum(communes.granary_t - communes.seed_reserve_t, 0.0)
        part = households.in_messhall & rural_household
        need_t = need_kg / 1000.0
        need_part = shard.per_commune(need_t * part)
        need_all = shard.per_commune(need_t * rural_household)
        with np.errstate(divide="ignore", invalid="ignore"):
            part_share = np.where(need_all > 0, need_part / need_all, 0.0)

        # Mess halls: serve members.
        served = np.zeros(households.count)
        served_t = np.zeros(n_communes)
        if open_now:
            if ctx.month_key < parse_month(p.fill_until):
                release = np.minimum(available, p.fill_factor * need_part)
            else:
                release = np.minimum(available * part_share / months_to_next_harvest(ctx.month), need_part)
            served = self._share(shard, release * (1.0 - p.waste_share), need_kg * part, part)
            served_t = shard.per_commune(served) / 1000.0
            wasted = served_t * p.waste_share / (1.0 - p.waste_share) if p.waste_share < 1 else release
            communes.granary_t[:] -= served_t + wasted
            communes.flow_wasted_t[:] = wasted
            available = available - release

        # Distribution to households outside the mess halls: at harvests, and as relief in between.
        outside = rural_household & ~part
        short = households.private_stock_kg < need_kg
        if ctx.month in HARVEST_MONTHS:
            eligible = outside
            portion = 1.0
        else:
            eligible = outside & short
            portion = p.relief_share
        eligible_need = shard.per_commune(need_t * eligible)
        with np.errstate(divide="ignore", invalid="ignore"):
            eligible_share = np.where(need_all > 0, eligible_need / need_all, 0.0)
        distributable = available * eligible_share * portion
        labour = households.labour_days * eligible
        access = households.food_access
        by_need = self._proportional(shard, need_kg * access * eligible, distributable * 1000.0)
        by_work = self._proportional(shard, labour, distributable * 1000.0)
        has_labour = shard.per_commune(labour) > 0
        in_force = has_labour & communes.work_points_in_force  # free supply: by need alone
        wp = np.where(in_force, p.work_points_share, 0.0)[households.commune]
        given = (1.0 - wp) * by_need + wp * by_work
        handed_out = shard.per_commune(given) / 1000.0
        communes.granary_t[:] -= handed_out
        households.private_stock_kg[:] += given
        households.messhall_food_kg[:] = served

        communes.flow_confiscated_t[:] = shard.per_commune(confiscated) / 1000.0
        communes.flow_distributed_t[:] = handed_out
        communes.flow_served_t[:] = served_t
        ctx.record("messhall_waste_mt", communes.flow_wasted_t / 1e6)
        ctx.record("messhall_consumption_mt", served_t / 1e6)
        ctx.record("distributed_mt", handed_out / 1e6)
        ctx.record("confiscated_mt", communes.flow_confiscated_t / 1e6)
        ctx.record("messhall_persons", shard.per_commune(members * part))
        ctx.record("rural_persons", shard.per_commune(members * rural_household))

    def _open(self, shard: ProvinceShard, ctx: StepContext, rural_household: np.ndarray) -> np.ndarray:
        """Opening day: who joins, who are the cadres, and the private grain taken in. Returns kg taken."""
        p = self.params
        households, communes = shard.households, shard.communes
        rng = ctx.rng("participation")
        u = rng.random(households.count)
        households.in_messhall[:] = rural_household & (u < p.participation)
        households.is_cadre[:] = rural_household & (rng.random(households.count) < p.cadre_share)
        taken = households.private_stock_kg * p.confiscation_share * households.in_messhall
        households.private_stock_kg[:] -= taken
        communes.granary_t[:] += shard.per_commune(taken) / 1000.0
        return taken

    def _share(self, shard: ProvinceShard, release_t: np.ndarray, need_kg: np.ndarray, part: np.ndarray):
        """A mess hall's food (t per commune) shared among its member households (kg each) by the rule."""
        p = self.params
        households = shard.households
        weight = need_kg * households.food_access
        if p.rule == "cadre_privilege":
            weight = weight * np.where(households.is_cadre, p.cadre_multiplier, 1.0)
        if p.rule == "work_points":
            by_work = self._proportional(shard, households.labour_days * part, release_t * 1000.0)
            by_need = self._proportional(shard, weight * part, release_t * 1000.0)
            has_labour = shard.per_commune(households.labour_days * part) > 0
            wp = np.where(has_labour, p.work_points_share, 0.0)[households.commune]
            return (1.0 - wp) * by_need + wp * by_work
        return self._proportional(shard, weight * part, release_t * 1000.0)

    @staticmethod
    def _proportional(shard: ProvinceShard, weight: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Split each commune's `total` among its households in proportion to their `weight`."""
        sums = shard.per_commune(weight)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_unit = np.where(sums > 0, total / sums, 0.0)
        return weight * per_unit[shard.households.commune]
