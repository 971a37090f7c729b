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

from greatleap.core import kernels
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


# The per-commune sums of `ration_sums_*`, in the order they are returned.
RATION_SUMS = (
    "need_members_t",  # grain need of the mess halls' members
    "need_rural_t",  # grain need of all rural households
    "serve_weight",  # the mess halls' sharing weights: need x food access (x the cadres' multiplier)
    "serve_labour_days",  # the members' days of work (sharing by work points)
    "need_eligible_t",  # grain need of the households eligible for a distribution
    "distribute_weight",  # their sharing weights by need: need x food access
    "distribute_labour_days",  # their days of work
    "members_persons",  # persons eating in the mess halls
    "rural_persons",  # rural persons
)


def _shares_reference(
    commune, commune_urban, grain_need, days, in_messhall, is_cadre, cadre_multiplier, food_access, stock, harvest
) -> tuple[np.ndarray, ...]:
    """Per household (numpy reference of `_household_share`): rural or not, the month's grain need in kg,
    membership of a mess hall (a rural household in it), the weight a member is served by (need x food access
    x the cadres' multiplier), and eligibility for a distribution (rural, outside the mess halls, and between
    harvests short of a month's need)."""
    rural = ~commune_urban[commune]
    need_kg = grain_need.astype(np.float64) * days
    part = in_messhall & rural
    serve_weight = need_kg * part * food_access * np.where(is_cadre, cadre_multiplier, 1.0) * part
    eligible = rural & ~part
    if not harvest:
        eligible = eligible & (stock < need_kg)
    return rural, need_kg, part, serve_weight, eligible


@kernels.jit
def _household_share(
    h, rural, grain_need, days, in_messhall, is_cadre, cadre_multiplier, food_access, stock, harvest
):  # pragma: no cover - compiled
    """`_shares_reference` for household `h` of a commune that is `rural` or not, plus its food access as
    float64 (compiled; the same operations, so the same bytes)."""
    need_kg = np.float64(grain_need[h]) * days
    part = in_messhall[h] & rural
    access = np.float64(food_access[h])
    privilege = cadre_multiplier if is_cadre[h] else 1.0
    serve_weight = need_kg * part * access * privilege * part
    eligible = rural & ~part & (harvest | (stock[h] < need_kg))
    return need_kg, part, access, serve_weight, eligible


def ration_sums_reference(
    bounds: np.ndarray,
    commune: np.ndarray,
    commune_urban: np.ndarray,
    grain_need: np.ndarray,
    days: float,
    in_messhall: np.ndarray,
    is_cadre: np.ndarray,
    cadre_multiplier: float,
    food_access: np.ndarray,
    labour_days: np.ndarray,
    stock: np.ndarray,
    harvest: bool,
    members: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """The per-commune sums the month's rationing and distribution are planned from (`RATION_SUMS`; numpy
    reference of the compiled kernel). A mess hall's member is a rural household in it; a household is
    eligible for a distribution if it is rural and outside the mess halls, and (between harvests) its stock
    is short of a month's need. `cadre_multiplier` weights the cadres' shares of the mess hall's food
    (1: no privilege)."""
    n_communes = bounds.size - 1
    rural, need_kg, part, serve_weight, eligible = _shares_reference(
        commune, commune_urban, grain_need, days, in_messhall, is_cadre, cadre_multiplier, food_access, stock, harvest
    )
    need_t = need_kg / 1000.0
    sums = (
        need_t * part,
        need_t * rural,
        serve_weight,
        labour_days * part,
        need_t * eligible,
        need_kg * food_access * eligible,
        labour_days * eligible,
        members * part,
        members * rural,
    )
    return tuple(np.bincount(commune, weights=weights, minlength=n_communes) for weights in sums)


@kernels.jit
def ration_sums_compiled(
    bounds,
    commune,
    commune_urban,
    grain_need,
    days,
    in_messhall,
    is_cadre,
    cadre_multiplier,
    food_access,
    labour_days,
    stock,
    harvest,
    members,
):  # pragma: no cover - compiled
    """`ration_sums_reference` in one pass over the households, commune by commune, with the same float
    operations and each sum in the same order (so the same bytes), and none of the reference's two dozen
    household-sized temporaries."""
    n_communes = bounds.size - 1
    sums = np.zeros((9, n_communes))
    for c in range(n_communes):
        rural = not commune_urban[c]
        need_members = need_rural = serve_weight_sum = serve_labour = 0.0
        need_eligible = distribute_weight = distribute_labour = members_persons = rural_persons = 0.0
        for h in range(bounds[c], bounds[c + 1]):
            need_kg, part, access, serve_weight, eligible = _household_share(
                h, rural, grain_need, days, in_messhall, is_cadre, cadre_multiplier, food_access, stock, harvest
            )
            need_t = need_kg / 1000.0
            need_members += need_t * part
            need_rural += need_t * rural
            serve_weight_sum += serve_weight
            serve_labour += labour_days[h] * np.float32(part)
            need_eligible += need_t * eligible
            distribute_weight += need_kg * access * eligible
            distribute_labour += labour_days[h] * np.float32(eligible)
            members_persons += members[h] * part
            rural_persons += members[h] * rural
        sums[0, c] = need_members
        sums[1, c] = need_rural
        sums[2, c] = serve_weight_sum
        sums[3, c] = serve_labour
        sums[4, c] = need_eligible
        sums[5, c] = distribute_weight
        sums[6, c] = distribute_labour
        sums[7, c] = members_persons
        sums[8, c] = rural_persons
    return sums[0], sums[1], sums[2], sums[3], sums[4], sums[5], sums[6], sums[7], sums[8]


def hand_out_reference(
    bounds: np.ndarray,
    commune: np.ndarray,
    commune_urban: np.ndarray,
    grain_need: np.ndarray,
    days: float,
    in_messhall: np.ndarray,
    is_cadre: np.ndarray,
    cadre_multiplier: float,
    food_access: np.ndarray,
    labour_days: np.ndarray,
    stock: np.ndarray,
    harvest: bool,
    serve_per_weight: np.ndarray,
    serve_per_labour_day: np.ndarray,
    serve_work_share: np.ndarray,
    distribute_per_weight: np.ndarray,
    distribute_per_labour_day: np.ndarray,
    distribute_work_share: np.ndarray,
    served_kg: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each household's portion (numpy reference of the compiled kernel): a mess hall's member is served
    (into `served_kg`) its weight (as in `ration_sums_reference`) times its commune's `serve_per_weight`
    and, for the share `serve_work_share` of its commune's food, its days of work times
    `serve_per_labour_day`; an eligible household gets a distribution the same way, added to its `stock`.
    An empty `serve_per_weight`: the mess halls are closed, nothing is served. Returns the per-commune sums
    of what was served and distributed, kg."""
    n_communes = bounds.size - 1
    _rural, need_kg, part, serve_weight, eligible = _shares_reference(
        commune, commune_urban, grain_need, days, in_messhall, is_cadre, cadre_multiplier, food_access, stock, harvest
    )
    served = np.zeros(commune.size)
    if serve_per_weight.size:
        served = serve_weight * serve_per_weight[commune]
        if serve_work_share.size:
            by_work = labour_days * part * serve_per_labour_day[commune]
            work_share = serve_work_share[commune]
            served = (1.0 - work_share) * served + work_share * by_work
    by_need = need_kg * food_access * eligible * distribute_per_weight[commune]
    by_work = labour_days * eligible * distribute_per_labour_day[commune]
    work_share = distribute_work_share[commune]
    given = (1.0 - work_share) * by_need + work_share * by_work
    stock += given
    served_kg[:] = served
    return (
        np.bincount(commune, weights=served, minlength=n_communes),
        np.bincount(commune, weights=given, minlength=n_communes),
    )


@kernels.jit
def hand_out_compiled(
    bounds,
    commune,
    commune_urban,
    grain_need,
    days,
    in_messhall,
    is_cadre,
    cadre_multiplier,
    food_access,
    labour_days,
    stock,
    harvest,
    serve_per_weight,
    serve_per_labour_day,
    serve_work_share,
    distribute_per_weight,
    distribute_per_labour_day,
    distribute_work_share,
    served_kg,
):  # pragma: no cover - compiled
    """`hand_out_reference` in one pass over the households, commune by commune, with the same float
    operations and sums in the same order (so the same bytes)."""
    n_communes = bounds.size - 1
    served_sums = np.zeros(n_communes)
    given_sums = np.zeros(n_communes)
    serving = serve_per_weight.size > 0
    serving_by_work = serve_work_share.size > 0
    for c in range(n_communes):
        rural = not commune_urban[c]
        served_sum = given_sum = 0.0
        for h in range(bounds[c], bounds[c + 1]):
            need_kg, part, access, serve_weight, eligible = _household_share(
                h, rural, grain_need, days, in_messhall, is_cadre, cadre_multiplier, food_access, stock, harvest
            )
            served = 0.0
            if serving:
                served = serve_weight * serve_per_weight[c]
                if serving_by_work:
                    by_work = np.float64(labour_days[h] * np.float32(part)) * serve_per_labour_day[c]
                    served = (1.0 - serve_work_share[c]) * served + serve_work_share[c] * by_work
            by_need = need_kg * access * eligible * distribute_per_weight[c]
            by_work = np.float64(labour_days[h] * np.float32(eligible)) * distribute_per_labour_day[c]
            given = (1.0 - distribute_work_share[c]) * by_need + distribute_work_share[c] * by_work
            stock[h] += given
            served_kg[h] = served
            served_sum += served
            given_sum += given
        served_sums[c] = served_sum
        given_sums[c] = given_sum
    return served_sums, given_sums


class MessHalls(Module):
    """Collective grain to households: distributions, and mess halls while they are open."""

    name = "messhalls"
    Params = MessHallParams
    params: MessHallParams
    states = (
        StateSpec("in_messhall", "household", "bool", False, "the household eats in the commune's mess hall"),
        StateSpec("is_cadre", "household", "bool", False, "a cadre's household"),
        StateSpec(
            "messhall_food_kg",
            "household",
            "float32",
            0.0,
            "grain served to the household this month (read by household food in the same stretch)",
            transient=True,
        ),
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
        assert ctx.nation is not None
        open_now = self.is_open(ctx.year, ctx.month, float(ctx.nation.state.months_since_recall[0]))
        confiscated_t = np.zeros(n_communes)
        if open_now and not communes.messhall_opened.any():
            confiscated_t = self._open(shard, ctx) / 1000.0
        if not open_now:
            households.in_messhall[:] = False
        if open_now:
            communes.messhall_opened[:] = True
        communes.private_cooking_share[:] = p.private_cooking_share if open_now else 1.0

        # The household passes: the same households, the same need, weights and eligibility in both.
        compiled = kernels.compiled()
        harvest = ctx.month in HARVEST_MONTHS
        households_in = (
            shard.household_bounds(),
            households.commune,
            communes.is_urban,
            households.grain_need_kg_per_day,
            ctx.days,
            households.in_messhall,
            households.is_cadre,
            p.cadre_multiplier if p.rule == "cadre_privilege" else 1.0,
            households.food_access,
            households.labour_days,
            households.private_stock_kg,
            harvest,
        )
        (
            need_part,
            need_all,
            serve_weight,
            serve_labour_days,
            eligible_need,
            distribute_weight,
            distribute_labour_days,
            messhall_persons,
            rural_persons,
        ) = (ration_sums_compiled if compiled else ration_sums_reference)(*households_in, shard.household_members())

        # Food grain: everything but the seed. The quota still due is not held back: procurement, which ran
        # earlier this month, has already taken all it could above the protected floor.
        available = np.maximum(communes.granary_t - communes.seed_reserve_t, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            part_share = np.where(need_all > 0, need_part / need_all, 0.0)

        # Mess halls: serve members, by the rule.
        serve_per_weight = serve_per_labour_day = serve_work_share = np.zeros(0)
        if open_now:
            if ctx.month_key < parse_month(p.fill_until):
                release = np.minimum(available, p.fill_factor * need_part)
            else:
                release = np.minimum(available * part_share / months_to_next_harvest(ctx.month), need_part)
            serve_kg = release * (1.0 - p.waste_share) * 1000.0
            serve_per_weight = self._per_unit(serve_weight, serve_kg)
            if p.rule == "work_points":
                serve_per_labour_day = self._per_unit(serve_labour_days, serve_kg)
                serve_work_share = np.where(serve_labour_days > 0, p.work_points_share, 0.0)
            available = available - release

        # Distribution to households outside the mess halls: at harvests, and as relief in between. By need
        # and by work, except under the free supply (and where nobody works): by need alone.
        with np.errstate(divide="ignore", invalid="ignore"):
            eligible_share = np.where(need_all > 0, eligible_need / need_all, 0.0)
        distributable_kg = available * eligible_share * (1.0 if harvest else p.relief_share) * 1000.0
        in_force = (distribute_labour_days > 0) & communes.work_points_in_force
        served_kg, given_kg = (hand_out_compiled if compiled else hand_out_reference)(
            *households_in,
            serve_per_weight,
            serve_per_labour_day,
            serve_work_share,
            self._per_unit(distribute_weight, distributable_kg),
            self._per_unit(distribute_labour_days, distributable_kg),
            np.where(in_force, p.work_points_share, 0.0),
            households.messhall_food_kg,
        )
        served_t = served_kg / 1000.0
        if open_now:
            wasted = served_t * p.waste_share / (1.0 - p.waste_share) if p.waste_share < 1 else release
            communes.granary_t[:] -= served_t + wasted
            communes.flow_wasted_t[:] = wasted
        handed_out = given_kg / 1000.0
        communes.granary_t[:] -= handed_out

        communes.flow_confiscated_t[:] = confiscated_t
        communes.flow_distributed_t[:] = handed_out
        communes.flow_served_t[:] = served_t
        ctx.record("messhall_waste_mt", communes.flow_wasted_t / 1e6)
        ctx.record("messhall_consumption_mt", served_t / 1e6)
        ctx.record("distributed_mt", handed_out / 1e6)
        ctx.record("confiscated_mt", communes.flow_confiscated_t / 1e6)
        ctx.record("messhall_persons", messhall_persons)
        ctx.record("rural_persons", rural_persons)

    def _open(self, shard: ProvinceShard, ctx: StepContext) -> np.ndarray:
        """Opening day: who joins, who are the cadres, and the private grain taken in. Returns kg taken per
        commune."""
        p = self.params
        households, communes = shard.households, shard.communes
        rural_household = ~communes.is_urban[households.commune]
        rng = ctx.rng("participation")
        u = rng.random(households.count)
        households.in_messhall[:] = rural_household & (u < p.participation)
        households.is_cadre[:] = rural_household & (rng.random(households.count) < p.cadre_share)
        taken = households.private_stock_kg * p.confiscation_share * households.in_messhall
        households.private_stock_kg[:] -= taken
        taken_kg = shard.per_commune(taken)
        communes.granary_t[:] += taken_kg / 1000.0
        return taken_kg

    @staticmethod
    def _per_unit(weights: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Each commune's `total` per unit of its households' summed `weights` (0 where they sum to 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(weights > 0, total / weights, 0.0)
