"""Nutrition: the monthly energy balance of every person and the energy reserve it moves.

Each month a person's energy need is basal metabolism (Schofield's equations by age and sex, applied to
the person's current body mass, lowered further as the body adapts to hunger) times a physical activity
level. The activity level of rural working-age
adults rises with the commune's work intensity (days worked relative to a normal month: the campaigns'
extra labour costs food) and every activity level falls as the person goes hungry (less work, less
movement). The energy reserve is body mass relative to a well-nourished person of the same age and sex
(1 = well nourished; about 0.6 = death by starvation, see `demography`). A deficit costs tissue worth
`kcal_per_kg_tissue` per kg; basal need falls with mass (the body's adaptation), so a smaller ration slows
the loss without stopping it.

Food comes from the food system: `household_food` sets each household's food energy per day (`intake_scale`
multiplies it: a thought-experiment lever, 1 = the mechanisms' own result). Within a household the
`sharing` rule divides a shortfall or a surplus: `equal_loss` (default: every member's reserve moves by the
same amount, i.e. the same share of their reference mass) or `by_need` (every member gets food in
proportion to their need times the priority of their age and sex, `priority_*`; with equal priorities,
children, whose need per kg is highest, lose mass fastest). No one stores beyond `reserve_max`: what a
full member would store goes to the members of the household still below it. Nutrition also keeps each
household's need when well fed (`need_kcal_per_day`), which the food system uses to plan rations.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import numpy as np
from pydantic import Field

from greatleap.core import kernels
from greatleap.core.data import read_rows
from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.state import StateSpec
from greatleap.core.world import MAX_AGE, ProvinceShard, class_attributes

UNDERNOURISHED_RESERVE = 0.85  # a loss of 15% of body mass


class NutritionParams(ParamSection):
    intake_scale: float = param(
        1.0,
        ge=0.0,
        le=2.0,
        description="multiplier on every household's food (0.7 = a 30% cut everywhere; 1 = the food system's own)",
        source="thought-experiment lever",
    )
    work_pal_elasticity: float = param(
        0.3,
        ge=0.0,
        le=1.0,
        description="rise of rural adults' activity level per unit of extra work intensity",
        source="assumption: the campaigns' extra days of heavy work raised energy needs",
        status="assumption",
    )
    sharing: Literal["equal_loss", "by_need"] = Field(
        "equal_loss",
        description="how a household shares a shortfall or surplus among its members",
        json_schema_extra={"source": "assumption", "unit": ""},
    )
    priority_men: float = param(
        1.0,
        ge=0.1,
        le=3.0,
        description="under `by_need`: food share per unit of need of men aged 15-59",
        source="lever; 1 = shares in proportion to need (famine accounts report priority to working men, "
        "not retrieved as numbers)",
    )
    priority_women: float = param(
        1.0, ge=0.1, le=3.0, description="under `by_need`: women aged 15-59", source="lever (see priority_men)"
    )
    priority_children: float = param(
        1.0, ge=0.1, le=3.0, description="under `by_need`: children under 15", source="lever (see priority_men)"
    )
    priority_elderly: float = param(
        1.0, ge=0.1, le=3.0, description="under `by_need`: persons 60 and over", source="lever (see priority_men)"
    )
    pal_child: float = param(
        1.45,
        ge=1.2,
        le=2.2,
        description="physical activity level (need / basal) of children under 15",
        source="assumption: children's energy needs scaled to the adult light-activity range (nutrition.csv "
        "pal_sedentary_light_min/max 1.40-1.69, verified)",
        status="assumption",
    )
    pal_rural_adult: float = param(
        1.75,
        ge=1.3,
        le=2.6,
        description="physical activity level of rural adults 15-59 (farm work)",
        source="assumption within the FAO moderate range 1.70-1.99 (nutrition.csv pal_moderate_min/max, "
        "verified); below its mid-point 1.85 because the year mixes busy seasons and winter slack",
        status="assumption",
    )
    pal_urban_adult: float = param(
        1.6,
        ge=1.3,
        le=2.6,
        description="physical activity level of urban adults 15-59",
        source="assumption within the FAO light range 1.40-1.69 (nutrition.csv pal_sedentary_light_min/max, verified)",
        status="assumption",
    )
    pal_elderly: float = param(
        1.5,
        ge=1.2,
        le=2.2,
        description="physical activity level of persons aged 60 and over",
        source="assumption within the FAO light range 1.40-1.69 (nutrition.csv pal_sedentary_light_min/max, verified)",
        status="assumption",
    )
    hunger_pal: float = param(
        1.4,
        ge=1.0,
        le=2.0,
        description="physical activity level that a starving person falls to (less work, less movement)",
        source="nutrition.csv pal_sedentary_light_min; Keys et al. 1950: semi-starved volunteers cut their "
        "spontaneous activity sharply",
        status="assumption",
    )
    hunger_pal_reserve: float = param(
        0.75,
        ge=0.4,
        le=0.99,
        description="energy reserve at which activity has fallen to `hunger_pal` (linear from a reserve of 1)",
        source="assumption",
        status="assumption",
    )
    metabolic_adaptation: float = param(
        0.25,
        ge=0.0,
        le=0.5,
        description="largest cut of basal metabolism beyond what the lost mass explains (adaptive thermogenesis), "
        "reached at `hunger_pal_reserve`",
        source="Keys et al. 1950 (Minnesota experiment): basal metabolism fell ~39% at ~24% weight loss, about "
        "two-thirds of it more than the lost tissue explains (recalled, not retrieved)",
        status="unverified",
    )
    kcal_per_kg_tissue: float = param(
        7000.0,
        ge=3000.0,
        le=9500.0,
        unit="kcal/kg",
        description="energy released per kg of body mass lost (and needed per kg regained)",
        source="nutrition.csv energy_per_kg_weight_lost_rule_kcal: 7,696 kcal/kg (Hall 2008, derived), which Hall "
        "notes overstates the figure for lean people; 7,000 assumed for the lean bodies of 1950s China",
        status="assumption",
    )
    reserve_max: float = param(
        1.0,
        ge=1.0,
        le=1.2,
        description="ceiling of the energy reserve: surplus food beyond it is not stored",
        source="definition: 1 = the well-nourished reference mass",
    )


@cache
def energy_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference body mass (kg), BMR slope (kcal/kg/day) and intercept (kcal/day) by [age, sex].

    From `nutrition.csv`: Schofield's BMR equations (FAO/WHO/UNU 1985) by age band, and reference body
    masses by age and sex interpolated linearly between the ages given.
    """
    weight_points: dict[int, list[tuple[float, float]]] = {0: [], 1: []}
    slope = np.zeros((MAX_AGE + 1, 2))
    intercept = np.zeros((MAX_AGE + 1, 2))
    for row in read_rows("nutrition.csv"):
        if row["sex"] not in ("male", "female"):
            continue
        sex = 0 if row["sex"] == "male" else 1
        lo = int(float(row["age_lo"]))
        hi = int(float(row["age_hi"])) if row["age_hi"].strip() else MAX_AGE
        value = float(row["value"])
        if row["parameter"] == "bmr_slope_schofield1985":
            slope[lo : min(hi, MAX_AGE) + 1, sex] = value
        elif row["parameter"] == "bmr_intercept_schofield1985":
            intercept[lo : min(hi, MAX_AGE) + 1, sex] = value
        elif row["parameter"] == "body_weight_1957_proxy":
            weight_points[sex].append(((lo + min(hi, lo + 10)) / 2.0 if hi > lo else lo, value))
    ages = np.arange(MAX_AGE + 1, dtype=np.float64) + 0.5
    weight = np.zeros((MAX_AGE + 1, 2))
    for sex in (0, 1):
        points = sorted(weight_points[sex])
        weight[:, sex] = np.interp(ages, [p[0] for p in points], [p[1] for p in points])
    if (slope == 0).any() or (weight <= 0).any():
        raise ValueError("nutrition.csv does not cover every age and sex")
    return weight, slope, intercept


# The per-class tables the energy balance reads, in the order of its arguments.
BALANCE_TABLES = ("slope_mass", "base", "pal", "rural_adult", "pal_drop", "need_well_fed", "reference_mass", "priority")


def need_reference(
    person_class: np.ndarray,
    reserve: np.ndarray,
    person_intensity: np.ndarray | None,
    tables: dict[str, np.ndarray],
    constants: tuple[np.float32, np.float32, np.float32],
) -> np.ndarray:
    """Energy need (kcal/day, float32) of every person at their reserve: basal metabolism at the current
    mass, lowered by adaptation as the reserve falls, times an activity level that rises with the commune's
    work intensity (rural adults) and falls with hunger. `person_intensity` is None when work does not count."""
    hunger_per_reserve, adaptation_max, work_elasticity = constants
    take = lambda name: np.take(tables[name], person_class)  # noqa: E731
    hunger = np.clip((1.0 - reserve) * hunger_per_reserve, 0.0, 1.0)
    adaptation = 1.0 - hunger * adaptation_max
    bmr = np.maximum(take("slope_mass") * reserve + take("base"), 0.0) * adaptation
    pal = take("pal")
    if person_intensity is not None:
        pal = pal * (1.0 + (person_intensity - 1.0) * work_elasticity * take("rural_adult"))
    return bmr * (pal - hunger * take("pal_drop"))


def energy_balance_reference(
    person_class: np.ndarray,
    household: np.ndarray,
    alive: np.ndarray,
    reserve: np.ndarray,
    household_commune: np.ndarray,
    intensity: np.ndarray,
    household_food: np.ndarray,
    slope_mass: np.ndarray,
    base: np.ndarray,
    pal: np.ndarray,
    rural_adult: np.ndarray,
    pal_drop: np.ndarray,
    need_well_fed: np.ndarray,
    reference_mass: np.ndarray,
    priority: np.ndarray,
    hunger_per_reserve: np.float32,
    adaptation_max: np.float32,
    work_elasticity: np.float32,
    by_need: bool,
    scale: float,
    reserve_max: float,
    undernourished_below: np.float32,
    household_bounds: np.ndarray,
    need_well_fed_out: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The month's energy balance of every person (numpy reference of the compiled kernel).

    Each household's food (kcal/day) is shared among its living members by the sharing rule (equal loss
    of reserve per kg of reference mass, or by need x priority); each member's reserve moves by the
    difference between their share and their need, `scale` reserve units per kcal/day per kg; what full
    members cannot store goes to the household's members below `reserve_max`. Updates `reserve` in place,
    writes each household's need when well fed into `need_well_fed_out` (float32), and returns per commune
    (commune c holds the households `household_bounds[c]..household_bounds[c+1]-1`, the households' sums
    added in household order, as `ProvinceShard.per_commune` does): energy need now, sum of the living
    members' reserves, and members below `undernourished_below`.
    """
    n_households = household_food.size
    columns = (slope_mass, base, pal, rural_adult, pal_drop, need_well_fed, reference_mass, priority)
    tables = dict(zip(BALANCE_TABLES, columns, strict=True))
    person_intensity = intensity[household_commune[household]] if intensity.size else None
    constants = (hunger_per_reserve, adaptation_max, work_elasticity)
    need = np.where(alive, need_reference(person_class, reserve, person_intensity, tables, constants), 0.0)
    mass = np.take(reference_mass, person_class)
    household_need = np.bincount(household, weights=need, minlength=n_households)
    if by_need:
        # Each member's claim is their need times the priority of their age and sex.
        claim = need * np.take(priority, person_class)
        household_claim = np.bincount(household, weights=claim, minlength=n_households)
        with np.errstate(divide="ignore", invalid="ignore"):
            cover = np.where(household_claim > 0, household_food / household_claim, 0.0)
        change = (cover[household] * claim - need) * scale / mass
    else:
        living_mass = np.bincount(household, weights=np.where(alive, mass, 0.0), minlength=n_households)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_kg = np.where(living_mass > 0, (household_food - household_need) / living_mass, 0.0)
        change = per_kg[household] * scale
    raised = np.where(alive, reserve + change, reserve)
    # What a full member cannot store is eaten by the members still below the ceiling (a hungry newcomer
    # in a well-fed household recovers): the household's overflow, shared by reference mass.
    overflow = np.maximum(raised - reserve_max, 0.0) * mass
    if overflow.any():
        room_mass = np.where(alive & (raised < reserve_max), mass, 0.0)
        spare = np.bincount(household, weights=overflow, minlength=n_households)
        room = np.bincount(household, weights=room_mass, minlength=n_households)
        with np.errstate(divide="ignore", invalid="ignore"):
            extra_per_kg = np.where(room > 0, spare / room, 0.0)
        raised = raised + extra_per_kg[household]  # full members get some too, and stay at the ceiling
    np.minimum(raised, reserve_max, out=reserve)  # (rows of the dead may change: nothing reads them)
    well_fed = np.bincount(household, weights=np.take(need_well_fed, person_class) * alive, minlength=n_households)
    need_well_fed_out[:n_households] = well_fed
    reserve_sum = np.bincount(household, weights=np.where(alive, reserve, 0.0), minlength=n_households)
    undernourished = np.bincount(household, weights=alive & (reserve < undernourished_below), minlength=n_households)
    commune, n_communes = household_commune[:n_households], household_bounds.size - 1
    need_total, reserve_total, undernourished_total = (
        np.bincount(commune, weights=sums, minlength=n_communes)
        for sums in (household_need, reserve_sum, undernourished)
    )
    return need_total, reserve_total, undernourished_total


@kernels.jit
def _raised_reserve(i, h, c, alive, reserve, need, claim_of, per_household, mass, by_need, scale):
    """A person's reserve after the month's share of food, before the overflow is shared (compiled)."""
    r = np.float64(reserve[i])
    if not alive[i]:
        return r
    if by_need:
        return r + (per_household[h] * np.float64(claim_of[i]) - np.float64(need[i])) * scale / np.float64(mass[c])
    return r + per_household[h] * scale


def energy_balance_compiled(*arguments) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The energy balance compiled with numba (`_energy_balance_kernel`), with its arguments and results those
    of `energy_balance_reference`. Its four per-household working rows, side by side (half a cache line for a
    household's four), and the rows it defers (int32, room for an eighth of the persons: a larger share of
    deferred rows is found again by a scan) are `kernels.workspace`."""
    global deferred_rows
    n_households = arguments[6].size  # household_food
    deferred = kernels.workspace(arguments[3].size // 8 + 1024, np.int32)  # reserve
    *sums, n_deferred = _energy_balance_kernel(*arguments, kernels.workspace((n_households, 4)), deferred)
    deferred_rows += n_deferred
    return tuple(sums)


# Rows the compiled energy balance deferred to its third pass, added up over its calls: a diagnostic, not
# locked across threads, that bench_peers reads for its count of the bytes moved.
deferred_rows = 0


@kernels.jit
def _settle_reserve(i, h, alive, reserve, raised, reserve_max, reserve_sum, undernourished, household_commune, below):
    """Cap row `i`'s `raised` reserve at the ceiling and store it (float32), adding it to its household's sum
    of the living's reserves and counting it into its commune if it is alive and below `below` (compiled)."""
    kept = np.float32(min(raised, reserve_max))
    reserve[i] = kept
    reserve_sum[h] += np.float64(kept) if alive[i] else 0.0
    undernourished[np.uint32(household_commune[h])] += 1.0 if alive[i] and kept < below else 0.0


@kernels.jit
def _energy_balance_kernel(
    person_class,
    household,
    alive,
    reserve,
    household_commune,
    intensity,
    household_food,
    slope_mass,
    base,
    pal,
    rural_adult,
    pal_drop,
    need_well_fed,
    reference_mass,
    priority,
    hunger_per_reserve,
    adaptation_max,
    work_elasticity,
    by_need,
    scale,
    reserve_max,
    undernourished_below,
    household_bounds,
    need_well_fed_out,
    scratch,
    deferred,
):
    """The energy balance compiled with numba: `energy_balance_reference` with the same float32/float64
    arithmetic in the same order, so that it gives the same bytes, in two passes over the persons and a third
    over the few rows it defers.

    The first pass computes the needs and sums them by household, with each household's highest and lowest
    reserve. The reference then raises every reserve, shares each household's overflow above the ceiling
    among its members below it, and caps and sums the reserves: two passes over everyone, the second
    waiting on the overflow of every household. Here the second pass settles at once the rows of the
    households not flagged, whose share of an overflow would be zero, while it sums the overflow and the
    room below the ceiling of the flagged ones and defers their rows to the third. A household's reserves
    are summed in the order of its rows either way.

    A flagged household is one where a member may rise above the ceiling (its highest reserve, raised by its
    members' common gain under equal loss) while a living member may stay below it (its lowest, raised
    likewise): where every living member reaches the ceiling, none has room and the overflow is lost. Under
    sharing by need the members' gains differ and every household is flagged. The rows deferred are written
    to `deferred` while it has room; beyond, the third pass scans every row for its household's flag. The
    same bytes as the three passes over every row that this kernel had before, and faster (best of many
    calls on an Intel Xeon host): in bench_peers' famine 10.5 -> 8.2 ns a row at 10,000 persons and
    12.0 -> 9.3 at 1,000,000; on Ningxia's full-scale rows in 1957, work intensity included, 12.8-14.5 ->
    9.7-10.7 (its well-fed households at the ceiling are not flagged, as none has room); on Gansu's from
    1957 to 1959, 15.4-22.5 -> 11.4-16.5. At Gansu's size (13 million rows) the first pass takes 6.5 ns a
    row, the households' own pass 1.4 and the second pass 6; zeroing the household rows in the pass that
    sets the extremes, not before it, saved 0.7 of the first pass's.

    Four sums per household serve in turn, side by side; each pass asks for a household's line, and its
    commune's, `kernels.PREFETCH_AHEAD` rows ahead (`kernels.prefetch_ahead`): over Beijing's rows of June
    1959 repeated to a full-scale province's size (52 million), 19.0-23.7 ns a row against 29.7-32.0 without
    (on a host where both were slow)."""
    one = np.float32(1.0)
    zero = np.float32(0.0)
    n = reserve.size
    n_households = household_food.size
    use_intensity = intensity.size > 0
    need = np.empty(n if by_need else 0, dtype=np.float32)  # read again only under `by_need`
    claim = np.empty(n if by_need else 0, dtype=np.float32)
    sums = scratch.reshape(-1)  # (the four sums of household h at 4h .. 4h+3)
    # shared_by: the living mass, or the claims. The fourth sum's eight bytes hold two float32: the highest
    # reserve of the household's rows, living or not, and the lowest of its living members'.
    household_need, well_fed, shared_by, spare = scratch[:, 0], scratch[:, 1], scratch[:, 2], scratch[:, 3]
    extremes = sums.view(np.float32)  # household h's highest at 8h + 6, its lowest at 8h + 7
    for h in range(n_households):  # one pass over the rows, not a zeroing and then the extremes
        household_need[h] = 0.0
        well_fed[h] = 0.0
        shared_by[h] = 0.0
        extremes[8 * h + 6] = -np.inf
        extremes[8 * h + 7] = np.inf
    for i in range(n):
        c = np.uint16(person_class[i])  # unsigned: see kernels.jit
        h = np.uint32(household[i])
        kernels.prefetch_ahead(sums, household, i, 4)
        if use_intensity:
            kernels.prefetch_ahead(household_commune, household, i, 1)
        r = reserve[i]
        hunger = min(max((one - r) * hunger_per_reserve, zero), one)
        bmr = slope_mass[c] * r + base[c]
        bmr = max(bmr, zero) * (one - hunger * adaptation_max)
        activity = pal[c]
        if use_intensity:
            commune_intensity = intensity[np.uint32(household_commune[h])]
            activity = activity * (one + (commune_intensity - one) * work_elasticity * rural_adult[c])
        person_need = bmr * (activity - hunger * pal_drop[c]) if alive[i] else zero
        household_need[h] += person_need
        if by_need:
            need[i] = person_need
            claim[i] = person_need * priority[c]
            shared_by[h] += claim[i]
        elif alive[i]:
            shared_by[h] += reference_mass[c]
        if alive[i]:
            well_fed[h] += need_well_fed[c]
        extremes[8 * h + 6] = max(extremes[8 * h + 6], r)
        if alive[i]:
            extremes[8 * h + 7] = min(extremes[8 * h + 7], r)
    n_communes = household_bounds.size - 1
    need_by_commune = kernels.segment_sum_into(household_bounds, household_need, np.empty(n_communes))
    # The rows in place of the sums read no more: the food per unit of claim, or the surplus per kg, where the
    # living mass or the claims were; whether the household is flagged where the need when well fed was; the
    # overflow where the highest reserve was; the room below the ceiling (flagged households) or the sum of
    # the living's reserves (the others) where the need was.
    per_household, flagged, room_or_sum = shared_by, well_fed, household_need
    for h in range(n_households):
        need_well_fed_out[h] = well_fed[h]
        if shared_by[h] > 0:
            per_household[h] = (
                household_food[h] / shared_by[h]
                if by_need
                else ((household_food[h] - household_need[h]) / shared_by[h])
            )
        else:
            per_household[h] = 0.0
        # Under equal loss a living member's reserve moves by per_household[h] * scale (the sum rounded alike
        # for every member: the highest raised stays the highest, the lowest the lowest); a dead row's stays.
        gain = per_household[h] * scale
        highest, lowest = np.float64(extremes[8 * h + 6]), np.float64(extremes[8 * h + 7])
        top = highest + gain if gain > 0 else highest
        # Flagged where a member may rise above the ceiling while another (living) may stay below it: where
        # every living member reaches the ceiling, no one has room for the overflow, and it is lost.
        flagged[h] = 1.0 if by_need or (top > reserve_max and lowest + gain < reserve_max) else 0.0
        spare[h] = 0.0
        room_or_sum[h] = 0.0
    undernourished = np.zeros(n_communes)
    n_deferred = 0
    for i in range(n):
        c = np.uint16(person_class[i])  # unsigned: see kernels.jit
        h = np.uint32(household[i])
        kernels.prefetch_ahead(sums, household, i, 4)
        kernels.prefetch_ahead(household_commune, household, i, 1)
        raised = _raised_reserve(i, h, c, alive, reserve, need, claim, per_household, reference_mass, by_need, scale)
        if flagged[h] != 0.0:
            spare[h] += max(raised - reserve_max, 0.0) * np.float64(reference_mass[c])
            # Selects rather than branches (the conditions follow the data; adding 0.0 leaves a sum's bytes).
            room_or_sum[h] += np.float64(reference_mass[c]) if alive[i] and raised < reserve_max else 0.0
            if n_deferred < deferred.size:
                deferred[n_deferred] = i
            n_deferred += 1
        else:
            _settle_reserve(
                i,
                h,
                alive,
                reserve,
                raised,
                reserve_max,
                room_or_sum,
                undernourished,
                household_commune,
                undernourished_below,
            )
    if n_deferred:
        extra_per_kg = spare  # each flagged household's overflow per kg of its members' room
        for h in range(n_households):
            if flagged[h] != 0.0:
                extra_per_kg[h] = spare[h] / room_or_sum[h] if room_or_sum[h] > 0 else 0.0
                room_or_sum[h] = 0.0  # the room is read no more: the sum of the reserves starts
        listed = n_deferred <= deferred.size  # else the flagged households' rows are found again by a scan
        for j in range(n_deferred if listed else n):
            i = np.uint32(deferred[j]) if listed else np.uint32(j)
            h = np.uint32(household[i])
            if flagged[h] != 0.0:
                c = np.uint16(person_class[i])  # unsigned: see kernels.jit
                raised = _raised_reserve(
                    i, h, c, alive, reserve, need, claim, per_household, reference_mass, by_need, scale
                )
                raised += extra_per_kg[h]
                _settle_reserve(
                    i,
                    h,
                    alive,
                    reserve,
                    raised,
                    reserve_max,
                    room_or_sum,
                    undernourished,
                    household_commune,
                    undernourished_below,
                )
    reserve_by_commune = kernels.segment_sum_into(household_bounds, room_or_sum, np.empty(n_communes))
    return need_by_commune, reserve_by_commune, undernourished, n_deferred


class Nutrition(Module):
    """Energy intake, need and reserve of every person."""

    name = "nutrition"
    Params = NutritionParams
    params: NutritionParams
    states = (
        StateSpec(
            "energy_reserve",
            "person",
            "float32",
            1.0,
            "body mass relative to the well-nourished reference (a newborn starts at its mother's)",
            inherit=True,
        ),
        StateSpec(
            "need_kcal_per_day",
            "household",
            "float32",
            0.0,
            "the members' energy need when well fed (read by the food needs in the same stretch)",
            transient=True,
        ),
        StateSpec("mean_reserve", "commune", "float64", 1.0, "mean energy reserve of the living (what migrants seek)"),
    )
    results = (
        ResultSpec("kcal_intake_total", "stock", "kcal/day", "food energy eaten per day", public=False),
        ResultSpec("persons_fed", "stock", "persons", "persons alive when the month's food is shared", public=False),
        ResultSpec("reserve_total", "stock", "", "sum of energy reserves", public=False),
        ResultSpec("persons_undernourished", "stock", "persons", "persons with reserve below 0.85", public=False),
        ResultSpec("kcal_need_total", "stock", "kcal/day", "food energy needed per day", public=False),
        ResultSpec(
            "kcal_per_capita",
            "ratio",
            "kcal/person/day",
            "food energy eaten per head per day",
            numerator="kcal_intake_total",
            denominator="persons_fed",
        ),
        ResultSpec("kcal_intake_rural", "stock", "kcal/day", "food energy eaten, rural", public=False),
        ResultSpec("persons_fed_rural", "stock", "persons", "rural persons fed", public=False),
        ResultSpec("kcal_intake_urban", "stock", "kcal/day", "food energy eaten, urban", public=False),
        ResultSpec("persons_fed_urban", "stock", "persons", "urban persons fed", public=False),
        ResultSpec(
            "kcal_per_capita_rural",
            "ratio",
            "kcal/person/day",
            "food energy eaten per rural person",
            numerator="kcal_intake_rural",
            denominator="persons_fed_rural",
        ),
        ResultSpec(
            "kcal_per_capita_urban",
            "ratio",
            "kcal/person/day",
            "food energy eaten per urban person",
            numerator="kcal_intake_urban",
            denominator="persons_fed_urban",
        ),
        ResultSpec(
            "kcal_need_per_capita",
            "ratio",
            "kcal/person/day",
            "energy need per head per day at current mass",
            numerator="kcal_need_total",
            denominator="persons_fed",
        ),
        ResultSpec(
            "energy_reserve_mean",
            "ratio",
            "",
            "mean energy reserve (1 = well nourished)",
            numerator="reserve_total",
            denominator="persons_fed",
        ),
        ResultSpec(
            "undernourished_share",
            "ratio",
            "share",
            "share of persons whose reserve is below 0.85",
            numerator="persons_undernourished",
            denominator="persons_fed",
        ),
    )

    def init(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """Each household's need when well fed: what the food system plans rations on (the step renews it)."""
        need_well_fed = self.class_tables()["need_well_fed"]
        shard.households.need_kcal_per_day[:] = shard.class_sum_by_household(need_well_fed, ctx.t)

    def class_tables(self) -> dict[str, np.ndarray]:
        """Per person class (see `ProvinceShard.person_class`): the quantities that depend only on age,
        sex and residence, computed once from the parameters."""
        tables = getattr(self, "_class_tables", None)
        if tables is None:
            p = self.params
            weight, slope, intercept = energy_tables()
            age, sex, urban = class_attributes()
            mass = weight[age, sex]
            slope_mass = slope[age, sex] * mass
            base = intercept[age, sex]
            pal = np.where(age < 15, p.pal_child, p.pal_elderly)
            pal = np.where((age >= 15) & (age < 60), np.where(urban == 1, p.pal_urban_adult, p.pal_rural_adult), pal)
            tables = {
                "reference_mass": mass,
                "slope_mass": slope_mass,
                "base": base,
                "pal": pal,
                "rural_adult": ((age >= 15) & (age < 60) & (urban == 0)).astype(np.float64),
                "priority": np.select(
                    [age < 15, age >= 60, sex == 0],
                    [p.priority_children, p.priority_elderly, p.priority_men],
                    default=p.priority_women,
                ),
                "pal_drop": np.maximum(pal - p.hunger_pal, 0.0),
                "need_well_fed": (slope_mass + base) * pal,
            }
            tables = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in tables.items()}
            self._class_tables = tables
        return tables

    def need_per_day(self, shard: ProvinceShard, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Energy need (kcal/day) now, need when well nourished, and reference mass (kg) of every person.

        Need = basal metabolism at the current mass x activity; activity falls linearly from its usual
        level at a reserve of 1 to `hunger_pal` at `hunger_pal_reserve` (hungry people move and work less).
        """
        tables = self.class_tables()
        person_class = shard.person_class(t)
        intensity = self._intensity(shard)
        person_intensity = intensity[shard.person_commune()] if intensity.size else None
        need = need_reference(person_class, shard.persons.energy_reserve, person_intensity, tables, self._constants())
        return need, np.take(tables["need_well_fed"], person_class), np.take(tables["reference_mass"], person_class)

    def _intensity(self, shard: ProvinceShard) -> np.ndarray:
        """The communes' work intensity as float32, empty when it does not move activity levels."""
        communes = shard.communes
        if "work_intensity" not in communes.names or self.params.work_pal_elasticity <= 0:
            return np.zeros(0, dtype=np.float32)
        return communes.work_intensity.astype(np.float32)

    def _constants(self) -> tuple[np.float32, np.float32, np.float32]:
        """Float32 constants of the need equation: hunger per unit of lost reserve, largest metabolic
        adaptation, activity rise per unit of extra work intensity."""
        p = self.params
        return (
            np.float32(1.0 / (1.0 - p.hunger_pal_reserve)),
            np.float32(p.metabolic_adaptation),
            np.float32(p.work_pal_elasticity),
        )

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        persons, households, communes = shard.persons, shard.households, shard.communes

        # The food each household eats (set by the food system), kcal/day.
        members = shard.household_members()
        fed = shard.per_commune(members)
        household_food = households.food_kcal_per_day.astype(np.float64) * p.intake_scale
        food = shard.per_commune(household_food)

        tables = self.class_tables()
        balance = energy_balance_compiled if kernels.compiled() else energy_balance_reference
        need_total, reserve_total, undernourished = balance(
            shard.person_class(ctx.t),
            persons.household,
            persons.alive,
            persons.energy_reserve,
            households.commune,
            self._intensity(shard),
            household_food,
            *(tables[name] for name in BALANCE_TABLES),
            *self._constants(),
            p.sharing == "by_need",
            ctx.days / p.kcal_per_kg_tissue,
            p.reserve_max,
            np.float32(UNDERNOURISHED_RESERVE),
            shard.household_bounds(),
            # Next month's planning need: this month's need when well fed (a month's ageing makes no difference).
            households.need_kcal_per_day,
        )

        ctx.record("kcal_intake_total", food)
        ctx.record("kcal_need_total", need_total)
        ctx.record("persons_fed", fed)
        communes.mean_reserve[:] = np.where(fed > 0, reserve_total / np.maximum(fed, 1.0), 1.0)
        ctx.record("reserve_total", reserve_total)
        ctx.record("persons_undernourished", undernourished)
        urban = communes.is_urban
        ctx.record("kcal_intake_rural", food * ~urban)
        ctx.record("persons_fed_rural", fed * ~urban)
        ctx.record("kcal_intake_urban", food * urban)
        ctx.record("persons_fed_urban", fed * urban)
