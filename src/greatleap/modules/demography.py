"""Demography: ageing, baseline mortality, starvation mortality, conceptions and births.

Ageing is implicit: a person's age is the current step minus the birth month. Each month every living
person faces two competing hazards:

- a baseline hazard by age and sex from a 1950s Chinese life table (`life_table_1950s.csv`), scaled by
  `mortality_scale` (the default brings the 1957 crude death rate to Banister's estimate of the true rate);
- a starvation hazard that is zero while the energy reserve is above `starvation_onset` and rises as a
  power of the shortfall, reaching a monthly death probability of one half at `lethal_reserve`,
  multiplied by an age vulnerability (young children and the old die first).

A Poisson process along the month's hazards, laid end to end, decides deaths and their causes (in
proportion to the hazards) with about one draw per death. Women aged
15-49 who are not pregnant conceive with the 1957 age-specific fertility rates (`fertility_1957.csv`),
corrected for the months spent pregnant and suppressed as their reserve falls; births follow
`gestation_months` later if the mother is alive. Newborns join their mother's household.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from greatleap.core import kernels
from greatleap.core.data import read_rows
from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.state import NO_STEP, STEP, StateSpec
from greatleap.core.world import FEMALE, MAX_AGE, N_CLASSES, ProvinceShard, class_attributes

AGE_GROUPS = {"0_4": (0, 4), "5_14": (5, 14), "15_59": (15, 59), "60_plus": (60, MAX_AGE)}
NOT_PREGNANT = NO_STEP
CAUSES = ("collapse", "injury")  # causes other modules post through `ProvinceShard.hazards`


class DemographyParams(ParamSection):
    mortality_scale: float = param(
        1.157,
        ge=0.1,
        le=3.0,
        description="multiplier on the life table's death rates",
        source="set so that the 1957 crude death rate matches Banister's 18.1 per mille, the official 10.8 "
        "corrected for under-registration (national_series.csv crude_death_rate_banister_adjusted 1957, "
        "verified); see docs/model.md",
        status="derived",
    )
    fertility_scale: float = param(
        0.986,
        ge=0.1,
        le=3.0,
        description="multiplier on the 1957 age-specific fertility rates",
        source="set so that the 1957 crude birth rate matches Banister's 43.3 per mille, the official 34.0 "
        "corrected for under-registration (national_series_added.csv crude_birth_rate_banister_adjusted 1957, "
        "verified)",
        status="derived",
    )
    death_registration_completeness: float = param(
        0.62,
        ge=0.1,
        le=1.0,
        description="share of deaths the registration of the time recorded",
        source="derived: mean over 1957-62 of the official crude death rate over Banister's adjusted one "
        "(10.8/18.1, 12.0/20.7, 14.6/22.1, 25.4/44.6, 14.2/23.0, 10.0/14.0; Banister 1984 PDR 10(2) Table 5, "
        "national_series.csv, verified); the yearly ratios range from 0.57 to 0.71",
        status="derived",
    )
    birth_registration_completeness: float = param(
        0.82,
        ge=0.1,
        le=1.0,
        description="share of live births the registration of the time recorded",
        source="derived: mean over 1957-62 of the registered crude birth rate over Banister's adjusted one "
        "(34.0/43.3, 29.2/37.8, 24.8/28.5, 20.9/26.8, 18.0/22.4, 37.0/41.0; Banister 1984 PDR 10(2) Table 5, "
        "national_series_added.csv, verified); the yearly ratios range from 0.77 to 0.90",
        status="derived",
    )
    sex_ratio_at_birth: float = param(
        1.06,
        ge=0.9,
        le=1.3,
        unit="males per female",
        description="boys born per girl",
        source="SOURCES_demography.md: no 1950s value retrieved; 'normal' 105-106 (J. Official Statistics "
        "7(1) 1991 abstract)",
        status="estimated",
    )
    gestation_months: int = param(
        9, ge=6, le=10, unit="months", description="months from conception to birth", source="physiology"
    )
    starvation_onset: float = param(
        0.78,
        ge=0.6,
        le=1.0,
        description="energy reserve below which starvation mortality begins",
        source="nutrition.csv minnesota_target_weight_loss: the Minnesota volunteers (Keys et al. 1950) all "
        "survived a loss of ~24% of body mass",
        status="derived",
    )
    lethal_reserve: float = param(
        0.62,
        ge=0.4,
        le=0.8,
        description="energy reserve at which the monthly probability of dying of starvation is one half",
        source="nutrition.csv weight_loss_fraction_at_death: death at a loss of ~37% (men) to ~46% (women) "
        "of body mass (ENN Field Exchange 15, BMI at death 13 and 11)",
        status="derived",
    )
    starvation_steepness: float = param(
        4.0,
        ge=1.0,
        le=8.0,
        description="power of the shortfall below the onset in the starvation hazard",
        source="assumption: hazard rising steeply, mortality rare at moderate loss (Keys et al. 1950)",
        status="assumption",
    )
    vulnerability_under5: float = param(
        2.0,
        ge=0.5,
        le=6.0,
        description="starvation hazard of children under 5 relative to adults",
        source="assumption after the famine's age pattern (Ashton, Hill, Piazza & Zeitz 1984: the young "
        "and the old bore the largest mortality increases)",
        status="assumption",
    )
    vulnerability_60_plus: float = param(
        2.5,
        ge=0.5,
        le=6.0,
        description="starvation hazard of persons 60 and over relative to adults",
        source="assumption after Ashton, Hill, Piazza & Zeitz 1984 (see vulnerability_under5)",
        status="assumption",
    )
    fertility_hunger_onset: float = param(
        0.92,
        ge=0.6,
        le=1.0,
        description="energy reserve below which conception falls",
        source="assumption: menstrual cycles stop with weight loss of ~10-15% (Frisch & McArthur 1974)",
        status="assumption",
    )
    fertility_hunger_floor: float = param(
        0.75,
        ge=0.4,
        le=0.95,
        description="energy reserve at and below which no conception occurs",
        source="assumption: famine amenorrhea (Frisch & McArthur 1974)",
        status="assumption",
    )


@cache
def baseline_hazard() -> np.ndarray:
    """Monthly death hazard by [age, sex] from the life table (mx, or -ln(1-qx)/n where mx is missing)."""
    hazard = np.full((MAX_AGE + 1, 2), np.nan)
    for row in read_rows("life_table_1950s.csv"):
        sex = {"male": 0, "female": 1}.get(row["sex"])
        if sex is None:
            continue
        lo = int(row["age_lo"])
        hi = int(row["age_hi"]) if row["age_hi"].strip() else MAX_AGE
        width = hi - lo + 1
        if row["mx"].strip():
            annual = float(row["mx"])
        else:
            q = float(row["qx"])
            annual = -math.log(1.0 - min(q, 0.999999)) / (width if row["age_hi"].strip() else 5)
        hazard[lo : min(hi, MAX_AGE) + 1, sex] = annual / 12.0
    if np.isnan(hazard).any():
        raise ValueError("life_table_1950s.csv does not cover every age and sex")
    return hazard


@cache
def fertility_rates() -> np.ndarray:
    """Annual births per woman by single-year age (1957 age-specific fertility rates)."""
    asfr = np.zeros(MAX_AGE + 1)
    for row in read_rows("fertility_1957.csv"):
        if not row["age_lo"].strip() or not row["asfr"].strip():
            continue
        asfr[int(row["age_lo"]) : int(row["age_hi"]) + 1] = float(row["asfr"])
    return asfr


def _age_group_lookup() -> np.ndarray:
    """Index of the age group of every single-year age."""
    lookup = np.zeros(MAX_AGE + 1, dtype=np.int64)
    for index, (lo, hi) in enumerate(AGE_GROUPS.values()):
        lookup[lo : hi + 1] = index
    return lookup


AGE_GROUP_OF_AGE = _age_group_lookup()
# Rows per slice of the death draw (see Demography.decide_deaths): its temporaries stay in the cache.
DEATH_SLICE_ROWS = 1 << 18


# The bound of the death draw: a row below the onset of starvation has the total hazard H = hazard of its cell
# + log(2) x shortfall ** steepness x vulnerability. The bound on H is computed with operations both paths
# compute identically in float64: the shortfall raised by repeated multiplication to the whole power that
# gives a power at least as large (floor(steepness) below a shortfall of 1, ceil(steepness) from 1 up), times
# a margin far above float32's rounding of the power it stands for, plus an absolute slack for float32's
# subnormals (a power below 1e-38 rounds with a large relative error). The draw thins events on the line of
# the bounds down to the exact hazards (see Demography.decide_deaths), so numpy's power runs only on the
# rows an event falls on.
BOUND_LOG2 = float(np.float32(math.log(2.0)))
BOUND_MARGIN = 1.0 + 1e-5
BOUND_SLACK = 1e-30


def starvation_bound_reference(
    shortfall: np.ndarray, hazard: np.ndarray, vulnerability: np.ndarray, steepness: float
) -> np.ndarray:
    """The bound on the total hazard of rows with float32 `shortfall`, cell hazard `hazard` and class
    vulnerability `vulnerability` (numpy reference of the compiled kernel's arithmetic, in its order)."""
    base = shortfall.astype(np.float64)
    below_one = math.floor(steepness)  # the whole powers, as the kernel takes them
    extra = math.ceil(steepness) > below_one
    powered = np.ones_like(base)
    for _ in range(below_one):
        powered *= base
    if extra:
        powered = np.where(base >= 1.0, powered * base, powered)
    return (hazard + BOUND_LOG2 * powered * vulnerability) * BOUND_MARGIN + BOUND_SLACK


def hazard_line_reference(
    person_class: np.ndarray,
    household: np.ndarray,
    household_commune: np.ndarray,
    alive: np.ndarray,
    reserve: np.ndarray,
    hazard_table: np.ndarray,
    by_commune: bool,
    starvation_onset: np.float32,
    vulnerability: np.ndarray,
    span: np.float32,
    steepness: float,
) -> np.ndarray:
    """The running sum, row after row, of every row's bound on its monthly death hazard (float64): 0 for the
    dead; the hazard of its cell (its class, or its commune and class when `by_commune`; a person's commune
    is their household's) at or above the onset of starvation; below it, the bound on the hazard with
    starvation added (see BOUND_LOG2). numpy reference of the compiled kernel: `np.cumsum` adds in row
    order, as the kernel does."""
    commune = household_commune[household]
    cell = commune.astype(np.int32) * np.int32(N_CLASSES) + person_class if by_commune else person_class
    hazard = np.take(hazard_table, cell)
    shortfall = np.maximum((starvation_onset - reserve) / span, np.float32(0.0))
    bound = starvation_bound_reference(shortfall, hazard, np.take(vulnerability, person_class), steepness)
    below = reserve < starvation_onset
    return np.cumsum(np.where(alive, np.where(below, bound, hazard), 0.0))


@kernels.jit
def _cell(i, person_class, household, household_commune, by_commune):  # pragma: no cover - compiled
    """Row `i`'s cell of the class tables: its class, or its commune and class when `by_commune` (a person's
    commune is their household's). Unsigned, as an index into the tables (see `kernels.jit`)."""
    c = np.uint32(person_class[i])
    if by_commune:
        return kernels.row_commune(i, household, household_commune) * np.uint32(N_CLASSES) + c
    return np.uint64(c)


def hazard_line_compiled(*arguments) -> np.ndarray:
    """`hazard_line_reference` compiled (`_hazard_line_kernel`), with its arguments: the line is a view of this
    thread's `kernels.reusable` array, valid until its next call."""
    return _hazard_line_kernel(*arguments, kernels.reusable("deaths.line", (arguments[0].size,)))


@kernels.jit
def _hazard_line_kernel(
    person_class,
    household,
    household_commune,
    alive,
    reserve,
    hazard_table,
    by_commune,
    starvation_onset,
    vulnerability,
    span,
    steepness,
    line,
):  # pragma: no cover - compiled
    """`hazard_line_reference` in one pass, into `line`, the bound computed only for the rows below the onset.
    Branches, not selects: the living and the fed are most rows most months, and a select computed the bound
    (a float32 division and the powers) for every row. On Gansu's rows of a 1959 month (13% below the onset)
    1.85 ns a row with the branches against 3.5 with selects; on bench_peers' famine at 10,000 persons (53%
    below) 2.9 against 3.6. numpy's `uniform` for every row, which the line replaces, took 1.75."""
    below_one = np.int64(math.floor(steepness))
    extra = math.ceil(steepness) > below_one
    total = 0.0
    for i in range(person_class.size):
        own = 0.0
        if alive[i]:
            own = hazard_table[_cell(i, person_class, household, household_commune, by_commune)]
            r = reserve[i]
            if r < starvation_onset:
                base = np.float64(max((starvation_onset - r) / span, np.float32(0.0)))
                powered = 1.0
                for _ in range(below_one):
                    powered *= base
                if extra and base >= 1.0:
                    powered = powered * base
                vulnerable = vulnerability[np.uint32(person_class[i])]
                own = (own + BOUND_LOG2 * powered * vulnerable) * BOUND_MARGIN + BOUND_SLACK
        total += own
        line[i] = total
    return line[: person_class.size]


def first_points_reference(
    line: np.ndarray,
    points: np.ndarray,
    person_class: np.ndarray,
    household: np.ndarray,
    household_commune: np.ndarray,
    reserve: np.ndarray,
    hazard_table: np.ndarray,
    by_commune: bool,
    starvation_onset: np.float32,
    span: np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows the `points` (ascending) fall on, each once, ascending (int64: row i's stretch of the `line`
    is [line[i - 1], line[i])); how far into its stretch its first point falls (float64); its cell's hazard
    (float64); and, for those below the onset of starvation, their index among the rows (int64) and their
    shortfall below the onset (float32, as `Demography.starvation_hazard` computes it before its power).
    numpy reference of the compiled kernel."""
    hit = np.searchsorted(line, points, side="right")
    first = np.ones(hit.size, dtype=bool)
    first[1:] = hit[1:] != hit[:-1]
    hit, points = hit[first], points[first]
    into = points - np.where(hit > 0, line[hit - 1], 0.0)  # (line[-1] read for row 0, unused)
    cell = (
        household_commune[household[hit]].astype(np.int64) * N_CLASSES + person_class[hit]
        if by_commune
        else person_class[hit]
    )
    starving = np.flatnonzero(reserve[hit] < starvation_onset)
    shortfall = np.maximum((starvation_onset - reserve[hit[starving]]) / span, np.float32(0.0))
    return hit, into, hazard_table[cell], starving, shortfall


def first_points_compiled(line: np.ndarray, points: np.ndarray, *arguments) -> tuple[np.ndarray, ...]:
    """`first_points_reference` compiled (`_first_points_kernel`): its five arrays are views of this thread's
    `kernels.reusable` arrays, valid until its next call."""
    rows = kernels.reusable("deaths.first_rows", (2, points.size), np.int64)
    values = kernels.reusable("deaths.first_values", (2, points.size))
    shortfall = kernels.reusable("deaths.first_shortfall", (points.size,), np.float32)
    found, starving = _first_points_kernel(line, points, *arguments, rows[0], values[0], values[1], rows[1], shortfall)
    return rows[0, :found], values[0, :found], values[1, :found], rows[1, :starving], shortfall[:starving]


@kernels.jit
def _first_points_kernel(
    line,
    points,
    person_class,
    household,
    household_commune,
    reserve,
    hazard_table,
    by_commune,
    starvation_onset,
    span,
    hit,
    into,
    hazard,
    starving,
    shortfall,
):  # pragma: no cover - compiled
    """`first_points_reference` in one pass over the points, into the given arrays: (rows found, of them below
    the onset). Each point's row is searched from the last one's, in steps that double, then halve: the rows
    between two points are a few hundred in a month without famine, and a binary search of the whole line
    for each point waited on a cache miss at each of its 18 steps (Gansu at full scale in 1957-59: 16 ms a
    month, against 9 ms searched from the last row)."""
    n = line.size
    found = 0
    below = 0
    previous = -1
    i = 0  # the first row whose line passes the last point
    for j in range(points.size):
        t = points[j]
        # The first row i with line[i] > t, from the last: line[low] <= t < line[high] (or high == n).
        if line[i] <= t:
            low = i
            step = 1
            high = i + 1
            while high < n and line[high] <= t:
                low = high
                step *= 2
                high = low + step
            high = min(high, n)
            while high - low > 1:
                middle = (low + high) // 2
                if line[middle] <= t:
                    low = middle
                else:
                    high = middle
            i = high
        if i == previous:
            continue
        previous = i
        hit[found] = i
        into[found] = points[j] - (line[i - 1] if i > 0 else 0.0)
        hazard[found] = hazard_table[_cell(i, person_class, household, household_commune, by_commune)]
        r = reserve[i]
        if r < starvation_onset:
            starving[below] = found
            shortfall[below] = max((starvation_onset - r) / span, np.float32(0.0))
            below += 1
        found += 1
    return found, below


def unit_poisson_points(rng: np.random.Generator, length: float) -> np.ndarray:
    """The points of a Poisson process of rate 1 on [0, `length`), ascending: running sums of standard
    exponential gaps, drawn in chunks of the expected count plus four standard deviations until one passes
    `length` (a second chunk is rare); the draws depend on `length` only."""
    if not math.isfinite(length):  # a hazard of inf or nan: no number of points would reach it
        raise ValueError(f"death draw: the hazards sum to {length}")
    chunks = []
    reach = 0.0
    while reach < length:
        expected = length - reach
        points = reach + np.cumsum(rng.standard_exponential(int(expected + 4.0 * math.sqrt(expected)) + 16))
        chunks.append(points)
        reach = float(points[-1])
    if not chunks:
        return np.zeros(0)
    points = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
    return points[: np.searchsorted(points, length)]


def pregnancies_reference(
    survivors: np.ndarray,
    due: np.ndarray,
    t: int,
    fertile: np.ndarray,
    person_class: np.ndarray,
    household: np.ndarray,
    household_commune: np.ndarray,
    group_of_class: np.ndarray,
    by_group: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The month's deliveries (rows of the surviving women due at `t`) and the women who may conceive
    (surviving, of an age and sex that conceives, not pregnant once this month's births are delivered);
    clears the due month of everyone due at `t` in `due`, and counts the survivors by commune and age group
    into `by_group` ([communes, groups]; numpy reference of the compiled kernel)."""
    delivering = np.flatnonzero(survivors & (due == t))
    due[due == t] = NOT_PREGNANT
    women = np.flatnonzero(survivors & np.take(fertile, person_class) & (due == NOT_PREGNANT))
    n_communes, n_groups = by_group.shape
    by_group[:] = count_by_group_reference(
        household, household_commune, person_class, survivors, group_of_class, n_communes, n_groups
    )
    return delivering, women


def pregnancies_compiled(*arguments) -> tuple[np.ndarray, np.ndarray]:
    """`pregnancies_reference` compiled (`_pregnancies_kernel`). The women's rows are a view of a
    `kernels.workspace` array, valid until the end of the phase."""
    n = arguments[1].size  # due
    return _pregnancies_kernel(*arguments, kernels.workspace((2, n), np.int32))


@kernels.jit
def _pregnancies_kernel(
    survivors, due, t, fertile, person_class, household, household_commune, group_of_class, by_group, rows
):
    """`pregnancies_reference` in one pass (compiled; the counts are whole numbers, exact in any order), the
    row lists written into `rows`. The women are written branch-free at the running end of their list."""
    delivering, women = rows[0], rows[1]
    by_group[:] = 0.0
    d = 0
    w = 0
    for i in range(due.size):
        c = np.uint16(person_class[i])  # unsigned: see kernels.jit
        if due[i] == t:  # rare: a branch
            due[i] = NOT_PREGNANT
            if survivors[i]:
                delivering[d] = i
                d += 1
        women[w] = i
        w += survivors[i] & fertile[c] & (due[i] == NOT_PREGNANT)
        by_group[kernels.row_commune(i, household, household_commune), np.uint8(group_of_class[c])] += survivors[i]
    return delivering[:d].copy(), women[:w]


def conceive_reference(women, u, person_class, reserve, conception, floor, span, due, due_month) -> None:
    """Each of `women` conceives when her uniform falls below her class's conception hazard times the
    hunger factor, float32 (reserve - floor) / span within [0, 1]; sets her due month (numpy reference)."""
    hunger = np.clip((reserve[women] - floor) / span, 0.0, 1.0)
    due[women[u < conception[person_class[women]] * hunger]] = due_month


@kernels.jit
def conceive_compiled(women, u, person_class, reserve, conception, floor, span, due, due_month):
    """`conceive_reference` in one pass over the women (compiled)."""
    for k in range(women.size):
        i = np.uint32(women[k])
        hunger = min(max((reserve[i] - floor) / span, np.float32(0.0)), np.float32(1.0))
        if u[k] < conception[np.uint16(person_class[i])] * np.float64(hunger):
            due[i] = due_month


def count_by_group_reference(
    household: np.ndarray,
    household_commune: np.ndarray,
    person_class: np.ndarray,
    weights: np.ndarray | None,
    group_of_class: np.ndarray,
    n_communes: int,
    n_groups: int,
) -> np.ndarray:
    """Persons (or `weights`, 0/1) per commune and age group, [n_communes, n_groups] (float64), counted
    straight into (commune, group) cells. A person's commune is their household's.

    Counted into groups directly rather than per (commune, class) cell and then multiplied by a one-hot
    class -> group matrix, as before: whole numbers, so the same values, but without a cells-sized array
    (444 per commune, 10 MB for a province of 3,000 communes, faulted in afresh every month) and a matrix
    product that woke OpenBLAS's spinning thread (4.5% of the CPU of a full-scale run, measured with perf)."""
    cell = household_commune[household].astype(np.int64) * n_groups + group_of_class[person_class]
    counts = np.bincount(cell, weights=weights, minlength=n_communes * n_groups)
    return counts.astype(np.float64, copy=False).reshape(n_communes, n_groups)


class Demography(Module):
    """Births and deaths of persons; ageing by the calendar."""

    name = "demography"
    Params = DemographyParams
    params: DemographyParams
    # Rows a point of the death draw fell on (its first point), and those of them below the onset of
    # starvation (whose exact hazard numpy's power computes), summed over this instance's calls (diagnostics:
    # the benchmarks count the bytes these paths move; unlocked, so shards on several threads may lose counts,
    # which no result reads).
    candidate_rows: int = 0
    starving_candidate_rows: int = 0
    states = (
        StateSpec("pregnancy_due_month", "person", STEP, NOT_PREGNANT, "step of the expected birth, if pregnant"),
        StateSpec("population", "commune", "int64", 0, "living persons at the end of the last step"),
    )
    results = (
        ResultSpec("population", "stock", "persons", "living persons at the end of the month"),
        ResultSpec("births", "flow", "persons", "live births"),
        ResultSpec("deaths", "flow", "persons", "deaths from every cause"),
        ResultSpec("deaths_baseline", "flow", "persons", "deaths at the life table's age-sex rates"),
        ResultSpec("deaths_starvation", "flow", "persons", "deaths from the starvation hazard"),
        ResultSpec("deaths_collapse", "flow", "persons", "deaths in collapsing buildings"),
        ResultSpec("deaths_injury", "flow", "persons", "deaths from injuries at work"),
        ResultSpec(
            "cbr", "ratio", "per mille", "crude birth rate", numerator="births", denominator="population", scale=1000.0
        ),
        ResultSpec(
            "cdr", "ratio", "per mille", "crude death rate", numerator="deaths", denominator="population", scale=1000.0
        ),
        ResultSpec("births_registered", "flow", "persons", "live births the registration of the time recorded"),
        ResultSpec("deaths_registered", "flow", "persons", "deaths the registration of the time recorded"),
        ResultSpec(
            "cbr_registered",
            "ratio",
            "per mille",
            "crude birth rate as registered (comparable with the official series)",
            numerator="births_registered",
            denominator="population",
            scale=1000.0,
        ),
        ResultSpec(
            "cdr_registered",
            "ratio",
            "per mille",
            "crude death rate as registered (comparable with the official series)",
            numerator="deaths_registered",
            denominator="population",
            scale=1000.0,
        ),
        *(
            ResultSpec(f"population_{g}", "stock", "persons", f"living persons aged {g.replace('_', '-')}")
            for g in AGE_GROUPS
        ),
        *(
            ResultSpec(f"deaths_starvation_{g}", "flow", "persons", f"starvation deaths aged {g.replace('_', '-')}")
            for g in AGE_GROUPS
        ),
        *(
            ResultSpec(
                f"starvation_death_rate_{g}",
                "ratio",
                "per mille",
                f"starvation deaths per 1000 persons aged {g.replace('_', '-')} a year",
                numerator=f"deaths_starvation_{g}",
                denominator=f"population_{g}",
                scale=1000.0,
            )
            for g in AGE_GROUPS
        ),
    )
    streams = ("deaths", "conceptions", "births", "initial_pregnancies")

    def class_tables(self) -> dict[str, np.ndarray]:
        """Per person class (see `ProvinceShard.person_class`): baseline hazard and death probability,
        starvation vulnerability, conception hazard and age group, computed once from the parameters."""
        tables = getattr(self, "_class_tables", None)
        if tables is None:
            p = self.params
            age, sex, _ = class_attributes()
            hazard = baseline_hazard()[age, sex] * p.mortality_scale
            vulnerability = np.ones(age.size)
            vulnerability[age < 5] = p.vulnerability_under5
            vulnerability[age >= 60] = p.vulnerability_60_plus
            asfr = np.where(sex == FEMALE, fertility_rates()[age] * p.fertility_scale, 0.0)
            # The hazard among women not already pregnant, so that births per woman-year equal the ASFR.
            conception = asfr / 12.0 / np.clip(1.0 - asfr * p.gestation_months / 12.0, 0.05, None)
            tables = {
                "hazard": hazard,
                "vulnerability": vulnerability,
                "asfr": asfr,
                "conception": conception,
                "fertile": conception > 0,
                "age_group": AGE_GROUP_OF_AGE[age],
            }
            self._class_tables = tables
        return tables

    def init(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """Women are pregnant at the start in proportion to fertility, with due months spread evenly."""
        persons = shard.persons
        gestation = self.params.gestation_months
        asfr = np.take(self.class_tables()["asfr"], shard.person_class(ctx.t))
        rng = ctx.rng("initial_pregnancies")
        u = rng.random(persons.count)
        pregnant = u < asfr * gestation / 12.0
        due = rng.integers(0, gestation, size=persons.count, dtype=np.int64)
        persons.pregnancy_due_month[pregnant] = due[pregnant]
        shard.communes.population[:] = shard.living_by_commune(persons.alive)

    @staticmethod
    def _baseline_factor(shard: ProvinceShard) -> np.ndarray | None:
        """Each commune's multiplier on the baseline hazard (the enterprises' welfare in the cities), if set."""
        communes = shard.communes
        if "baseline_mortality_factor" not in communes.names:
            return None
        factor = communes.baseline_mortality_factor
        return None if (factor == 1.0).all() else np.asarray(factor, dtype=np.float64)

    def _hazards(self, rows, row_commune, person_class, reserve, posted, factor) -> dict[str, np.ndarray]:
        """Monthly hazards by cause for the person `rows` (in the communes `row_commune`): baseline, starvation
        and the posted causes."""
        tables = self.class_tables()
        row_class = person_class[rows]
        baseline = tables["hazard"][row_class]
        hazards = {"baseline": baseline if factor is None else baseline * factor[row_commune]}
        hazards["starvation"] = self.starvation_hazard(reserve[rows]) * tables["vulnerability"][row_class]
        for cause, per_commune in posted.items():
            hazards[cause] = per_commune[row_commune]
        return hazards

    def starvation_hazard(self, reserve: np.ndarray) -> np.ndarray:
        """Monthly starvation hazard of an adult at energy reserve `reserve`."""
        p = self.params
        # np.maximum, not np.clip: the same numbers, and clip costs microseconds more per call on a few rows
        shortfall = np.maximum((p.starvation_onset - reserve) / (p.starvation_onset - p.lethal_reserve), 0.0)
        return math.log(2.0) * shortfall**p.starvation_steepness

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        tables = self.class_tables()
        persons, communes = shard.persons, shard.communes
        t = ctx.t
        n_communes = communes.count
        household, household_commune = persons.household, shard.households.commune
        person_class = shard.person_class(t)
        alive = kernels.workspace(persons.count, np.bool_)  # becomes the survivors
        np.copyto(alive, persons.alive)
        reserve = persons.energy_reserve

        # Deaths: competing hazards (see decide_deaths). Everyone's hazard is the baseline of their class plus
        # the causes other modules post per commune (building collapses, injuries): one table per (commune,
        # class), one gather. Starvation is added only where the reserve is below its onset.
        posted = {cause: np.asarray(h, dtype=np.float64) for cause, h in shard.hazards.items() if cause in CAUSES}
        shard.hazards.clear()
        class_hazard = tables["hazard"]
        factor = self._baseline_factor(shard)
        if posted or factor is not None:
            baseline = class_hazard[None, :] if factor is None else factor[:, None] * class_hazard[None, :]
            hazard_table = (sum(posted.values(), np.zeros(n_communes))[:, None] + baseline).ravel()
        else:
            hazard_table = class_hazard
        by_commune = hazard_table.size > N_CLASSES
        dying, position = self.decide_deaths(
            ctx.rng("deaths"), person_class, household, household_commune, alive, reserve, hazard_table, by_commune
        )
        dying_commune = shard.commune_of(dying)
        # Where each death falls within its probability splits the dying by cause, in proportion to the hazards.
        hazards = self._hazards(dying, dying_commune, person_class, reserve, posted, factor)
        total = sum(hazards.values())
        cumulative = np.zeros(dying.size)
        cause_of = {}
        for cause, hazard in hazards.items():
            share = hazard / total
            cause_of[cause] = dying[(position >= cumulative) & (position < cumulative + share)]
            cumulative = cumulative + share
        starved_rows = cause_of["starvation"]
        persons.alive[dying] = False
        shard.members_moved(shard.current_members(), left=household[dying])
        survivors = alive
        survivors[dying] = False

        # Births due this month, to mothers still alive; then conceptions.
        due = persons.pregnancy_due_month
        due[dying] = NOT_PREGNANT
        # One pass finds the births and the women who may conceive, and counts the survivors by age group.
        n_groups = len(AGE_GROUPS)
        group_of_class = tables["age_group"]
        by_group = np.empty((n_communes, n_groups))
        scan = pregnancies_compiled if kernels.compiled() else pregnancies_reference
        delivering, women = scan(
            survivors, due, t, tables["fertile"], person_class, household, household_commune, group_of_class, by_group
        )
        self._conceive(shard, ctx, person_class, women)
        births_per_commune = np.bincount(shard.commune_of(delivering), minlength=n_communes)
        deaths = np.bincount(dying_commune, minlength=n_communes)
        deaths_starvation = np.bincount(shard.commune_of(starved_rows), minlength=n_communes)
        other_causes = {
            c: np.bincount(shard.commune_of(cause_of.get(c, np.zeros(0, np.int64))), minlength=n_communes)
            for c in CAUSES
        }
        # Stocks and starvation deaths by age group (the survivors counted before the newborns are appended).
        by_group[:, 0] += births_per_commune
        starved = count_by_group_reference(
            household[starved_rows],
            household_commune,
            person_class[starved_rows],
            None,
            group_of_class,
            n_communes,
            n_groups,
        )

        n_births = delivering.size
        if n_births:
            girl = ctx.rng("births").random(n_births) < 1.0 / (1.0 + p.sex_ratio_at_birth)
            members = shard.current_members()
            new = persons.add_offspring(delivering)  # household and inherited states from the mother
            shard.members_moved(members, joined=persons.household[new][persons.alive[new]])
            persons.birth_month[new] = t
            persons.sex[new] = girl

        communes.population[:] = communes.population + births_per_commune - deaths
        if ctx.nation is not None:  # what the leadership sees next month (see campaign: prestige)
            weight = shard.commune_weight
            ctx.nation.provinces.starvation_deaths_last[shard.index] = float(deaths_starvation @ weight)
            ctx.nation.provinces.population_last[shard.index] = float(communes.population @ weight)
        ctx.record("births", births_per_commune)
        ctx.record("deaths", deaths)
        ctx.record("births_registered", births_per_commune * p.birth_registration_completeness)
        ctx.record("deaths_registered", deaths * p.death_registration_completeness)
        ctx.record("deaths_starvation", deaths_starvation)
        ctx.record("deaths_baseline", deaths - deaths_starvation - sum(other_causes.values()))
        for cause, count in other_causes.items():
            ctx.record(f"deaths_{cause}", count)
        ctx.record("population", communes.population)
        for g_index, g in enumerate(AGE_GROUPS):
            ctx.record(f"population_{g}", by_group[:, g_index])
            ctx.record(f"deaths_starvation_{g}", starved[:, g_index])

    def decide_deaths(
        self,
        rng: np.random.Generator,
        person_class: np.ndarray,
        household: np.ndarray,
        household_commune: np.ndarray,
        alive: np.ndarray,
        reserve: np.ndarray,
        hazard_table: np.ndarray,
        by_commune: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Who dies this month (rows, sorted) and where each one's death falls within their probability of
        dying (in [0, 1), uniform given death, which splits them by cause). Competing hazards: everyone's
        hazard is their cell's (class, or commune and class; a person's commune is their household's), with
        starvation added below its onset; a row dies with probability 1 - exp(-hazard), independently.

        Random draws only where they decide something: the rows' hazards are laid end to end on a line (a
        running sum, `hazard_line_compiled`), and the points of a Poisson process of rate 1 on that line
        (exponential gaps, `unit_poisson_points`) fall in a row's stretch with the row's probability of
        dying, independently of the other rows. About one draw per death, where one uniform per living
        person was drawn before (a month has 1.5 deaths for 1,000 persons in 1957, 3.7 in 1960). Below the onset
        of starvation the line holds a bound on the hazard (see BOUND_LOG2), so that numpy's float32 power
        runs only on the starving rows a point falls on: the row dies if its first point falls within its
        exact hazard (thinning, exact: the points within the hazard are a Poisson process of rate 1 on it).
        The position of a death at distance x into a row of hazard h is (1 - exp(-x)) / (1 - exp(-h)).

        The rows are taken in slices of `DEATH_SLICE_ROWS`, each with its own line and points (the points of
        a Poisson process on disjoint stretches are independent): the line stays a few megabytes at full
        scale, and its running sum small (float64 keeps each row's hazard to about 1e-11 at a slice's end)."""
        p = self.params
        vulnerability = self.class_tables()["vulnerability"]
        line_of = hazard_line_compiled if kernels.compiled() else hazard_line_reference
        first_of = first_points_compiled if kernels.compiled() else first_points_reference
        # The constants of `starvation_hazard` as numpy applies them to float32 reserves (float32 too).
        onset = np.float32(p.starvation_onset)
        span = np.float32(p.starvation_onset - p.lethal_reserve)
        dying, position = [], []
        for start in range(0, alive.size, DEATH_SLICE_ROWS):
            rows = slice(start, start + DEATH_SLICE_ROWS)
            slice_class, slice_household, slice_reserve = person_class[rows], household[rows], reserve[rows]
            line = line_of(
                slice_class,
                slice_household,
                household_commune,
                alive[rows],
                slice_reserve,
                hazard_table,
                by_commune,
                onset,
                vulnerability,
                span,
                p.starvation_steepness,
            )
            if line.size == 0:
                continue
            points = unit_poisson_points(rng, float(line[-1]))
            hit, into, hazard, starving, shortfall = first_of(
                line,
                points,
                slice_class,
                slice_household,
                household_commune,
                slice_reserve,
                hazard_table,
                by_commune,
                onset,
                span,
            )
            self.candidate_rows += hit.size
            self.starving_candidate_rows += starving.size
            if starving.size:  # `starvation_hazard`'s power and product, on the starving rows a point fell on
                starvation = math.log(2.0) * shortfall**p.starvation_steepness
                hazard[starving] += starvation * vulnerability[slice_class[hit[starving]]]
            dies = into < hazard
            # Uniform in [0, 1) given death (kept below 1 where the two rounded probabilities meet).
            fraction = np.expm1(-into[dies]) / np.expm1(-hazard[dies])
            position.append(np.minimum(fraction, np.nextafter(1.0, 0.0)))
            dying.append(hit[dies] + start)
        if not dying:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        if len(dying) == 1:  # one slice (up to 2**18 rows): its own arrays
            return dying[0], position[0]
        return np.concatenate(dying), np.concatenate(position)

    def _conceive(self, shard: ProvinceShard, ctx: StepContext, person_class: np.ndarray, women: np.ndarray) -> None:
        """Conceptions among `women` (living, of childbearing age, not pregnant), slowed by hunger."""
        p = self.params
        persons = shard.persons
        conceive = conceive_compiled if kernels.compiled() else conceive_reference
        conceive(
            women,
            ctx.rng("conceptions").random(women.size),
            person_class,
            persons.energy_reserve,
            self.class_tables()["conception"],
            # The constants as numpy applies them to float32 reserves (float32 too).
            np.float32(p.fertility_hunger_floor),
            np.float32(p.fertility_hunger_onset - p.fertility_hunger_floor),
            persons.pregnancy_due_month,
            ctx.t + p.gestation_months,
        )

    def check(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """Population identity per commune: the stock equals the living persons counted afresh."""
        counted = np.bincount(shard.person_commune(), weights=shard.persons.alive, minlength=shard.communes.count)
        if not np.array_equal(counted.astype(np.int64), shard.communes.population):
            raise AssertionError(f"{shard.code}: population stock differs from the persons alive at step {ctx.t}")
