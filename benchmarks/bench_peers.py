"""greatleap beside its peers: the demography + nutrition core in greatleap, Mesa and Starsim, with the same rules.

Why: the issue asks whether greatleap's struct-of-arrays design pays against the two usual ways of writing an
agent-based model in Python: one object per agent (Mesa) and a vectorized framework (Starsim). The only fair
comparison is the same rules on the same population, measured in the same run on the same machine, so this
script implements the core of a month three times, runs each implementation and size in its own process
(separate memory peaks), checks that the three give the same outcomes within sampling noise, and writes the
table to docs/performance.md. It also measures this machine's memory bandwidth (the bound on any per-person
pass) and, with --scaling, greatleap's whole-model cost curve (benchmarks/bench_scale.py).

How to run (from the repository root):

    pip install -e ".[bench]"                 # mesa>=3,<4 and starsim>=3,<4
    python benchmarks/bench_peers.py           # ~2 minutes on 2 idle cores; writes docs/performance.md
    python benchmarks/bench_peers.py --scaling # adds the whole-model curve (~2 more minutes)
    python benchmarks/bench_peers.py --sizes 10000 --no-doc   # a quick look, nothing written

The rules (one month t, the same in all three; parameters are greatleap's defaults, NutritionParams() and
DemographyParams(), and its class tables):

1. class = (min(age in years, 110) * 2 + sex) * 2 + urban, age from the birth month (greatleap's person class);
2. energy balance, `equal_loss` sharing: each living person's need is basal metabolism at their reserve
   (Schofield x reference mass, lowered by adaptation as the reserve falls) times an activity level that
   falls with hunger; the household's fixed ration minus the members' summed need, per kg of the living
   members' reference mass, moves every member's reserve by the same amount (days / 7000 kcal per kg);
   nobody stores above 1, the overflow goes to the members below it;
3. deaths: hazard = baseline(class) + starvation, the starvation hazard
   ln 2 * ((0.78 - reserve) / (0.78 - 0.62))^4 * vulnerability(class) below the onset 0.78; each living
   person dies with probability p = 1 - exp(-hazard), independently, of starvation with probability
   starvation / hazard given death (Mesa and Starsim: one uniform u per living person, death if u < p, of
   starvation when u / p >= baseline / hazard; greatleap: `Demography.decide_deaths`, points of a Poisson
   process along the hazards laid end to end, and where a death falls within p);
4. births: living women due this month give birth to one child, in their household, with their reserve,
   a girl with probability 1 / (1 + 1.06); pregnancies of women who died end;
5. conception: living women of a fertile class who are not pregnant conceive with the class's monthly
   hazard times the hunger suppression clip((reserve - 0.75) / (0.92 - 0.75), 0, 1); due in 9 months.

Births are appended after deaths and conceptions; newborns join next month's balance.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from greatleap.core import kernels
from greatleap.core.data import age_sex_1953
from greatleap.core.io import write_text_atomic
from greatleap.core.state import Table
from greatleap.core.world import MAX_AGE, WORLD_STATES, _person_class_compiled
from greatleap.modules import nutrition as nutrition_module
from greatleap.modules.demography import NOT_PREGNANT, Demography, conceive_compiled, pregnancies_compiled
from greatleap.modules.nutrition import (
    BALANCE_TABLES,
    UNDERNOURISHED_RESERVE,
    Nutrition,
    energy_balance_compiled,
)
from greatleap.sim import machine as greatleap_machine

ROOT = Path(__file__).resolve().parent.parent
IMPLEMENTATIONS = ("greatleap", "mesa", "starsim", "starsim-nocrn")  # starsim-nocrn: ss.options.crn = False
SIZES = (10_000, 100_000, 1_000_000)
ROUNDS = 3  # at each size the implementations take turns this many times; each keeps its fastest round
LONG_ROUND_SECONDS = 10.0  # a round's run longer than this is not repeated
REPEAT_SECONDS = 2.0  # within a round, a run of under a second is repeated until this many seconds are timed
MAX_REPEATS = 100
START_YEAR = 1959  # month 0 is January 1959: the famine's first full year
URBAN_SHARE = 0.15  # share of households in the cities (1957: ~15% of the population)
MEAN_HOUSEHOLD = 4.6  # persons per rural household (greatleap's WorldParams.rural_household_size)
RATION = 0.6  # each household's fixed food: this share of its members' need when well fed (see the doc)
RESERVE_LOW = 0.72  # initial reserves: per household uniform in [RESERVE_LOW, 1]
AGE_EPSILON = 1e-4  # Starsim keeps age in float32 years: a margin so that whole-year birthdays floor right


# --- the shared population and rules ---------------------------------------------------------------------------


def days_in_month(t: int) -> int:
    """Days in month t (0 = January 1959): the energy balance runs on calendar days, as greatleap's does."""
    return calendar.monthrange(START_YEAR + t // 12, t % 12 + 1)[1]


@dataclass(frozen=True)
class Rules:
    """Every number the rules read, taken once from greatleap so that the three implementations share them.

    Per-class tables are indexed by greatleap's person class; `balance` holds the energy-balance tables in
    the order `energy_balance_compiled` takes them."""

    balance: tuple[np.ndarray, ...]
    slope_mass: np.ndarray
    base: np.ndarray
    pal: np.ndarray
    pal_drop: np.ndarray
    reference_mass: np.ndarray
    need_well_fed: np.ndarray
    hunger_per_reserve: np.float32
    adaptation_max: np.float32
    work_elasticity: np.float32
    kcal_per_kg_tissue: float
    reserve_max: float
    hazard: np.ndarray
    vulnerability: np.ndarray
    asfr: np.ndarray
    conception: np.ndarray
    fertile: np.ndarray
    starvation_onset: float
    lethal_reserve: float
    starvation_steepness: float
    fertility_floor: float
    fertility_onset: float
    gestation: int
    girl_probability: float
    demography: Demography

    @classmethod
    def from_greatleap(cls) -> Rules:
        """The default parameters of greatleap's nutrition and demography modules and their class tables."""
        nutrition, demography = Nutrition(), Demography()
        n, d = nutrition.class_tables(), demography.class_tables()
        hunger_per_reserve, adaptation_max, work_elasticity = nutrition._constants()
        np_, dp = nutrition.params, demography.params
        return cls(
            balance=tuple(n[name] for name in BALANCE_TABLES),
            slope_mass=n["slope_mass"],
            base=n["base"],
            pal=n["pal"],
            pal_drop=n["pal_drop"],
            reference_mass=n["reference_mass"],
            need_well_fed=n["need_well_fed"],
            hunger_per_reserve=hunger_per_reserve,
            adaptation_max=adaptation_max,
            work_elasticity=work_elasticity,
            kcal_per_kg_tissue=np_.kcal_per_kg_tissue,
            reserve_max=np_.reserve_max,
            hazard=d["hazard"],
            vulnerability=d["vulnerability"],
            asfr=d["asfr"],
            conception=d["conception"],
            fertile=d["fertile"],
            starvation_onset=dp.starvation_onset,
            lethal_reserve=dp.lethal_reserve,
            starvation_steepness=dp.starvation_steepness,
            fertility_floor=dp.fertility_hunger_floor,
            fertility_onset=dp.fertility_hunger_onset,
            gestation=dp.gestation_months,
            girl_probability=1.0 / (1.0 + dp.sex_ratio_at_birth),
            demography=demography,
        )


def person_class_numpy(t: int, birth_month: np.ndarray, sex: np.ndarray, urban: np.ndarray) -> np.ndarray:
    """greatleap's person class (see ProvinceShard.person_class) with numpy, for building the population."""
    age = np.minimum((t - birth_month.astype(np.int32)) // 12, MAX_AGE)
    return ((age * 2 + sex) * 2 + urban).astype(np.int32)


def build_population(n: int, seed: int, ration: float = RATION, reserve_low: float = RESERVE_LOW) -> dict:
    """A synthetic population of `n` persons, built once with numpy and loaded into every implementation.

    Households of 1 + Poisson(3.6) persons (mean 4.6), 15% of them urban; ages and sexes drawn from the
    1953 census structure; reserves per household uniform in [reserve_low, 1] (a population entering
    famine) plus a little individual noise; a fixed ration per household, `ration` times its members' need
    when well fed; women pregnant at the start as greatleap's Demography.init makes them."""
    rules = Rules.from_greatleap()
    rng = np.random.default_rng([seed, n])
    sizes = 1 + rng.poisson(MEAN_HOUSEHOLD - 1.0, size=int(n / MEAN_HOUSEHOLD * 1.2) + 16)
    cumulative = np.cumsum(sizes)
    n_households = int(np.searchsorted(cumulative, n)) + 1
    sizes = sizes[:n_households]
    sizes[-1] -= int(cumulative[n_households - 1] - n)
    household = np.repeat(np.arange(n_households, dtype=np.int32), sizes)
    household_urban = rng.random(n_households) < URBAN_SHARE
    shares = age_sex_1953().shares
    cell = rng.choice(shares.size, size=n, p=shares.ravel())
    age, sex = np.divmod(cell, 2)
    birth_month = (-(age * 12 + rng.integers(0, 12, size=n))).astype(np.int16)
    sex = sex.astype(np.uint8)
    level = rng.uniform(reserve_low, 1.0, size=n_households)
    reserve = np.clip(level[household] + rng.normal(0.0, 0.01, size=n), 0.5, 1.0).astype(np.float32)
    person_class = person_class_numpy(0, birth_month, sex, household_urban[household].astype(np.int32))
    food = ration * np.bincount(household, weights=rules.need_well_fed[person_class], minlength=n_households)
    asfr = rules.asfr[person_class]
    pregnant = rng.random(n) < asfr * rules.gestation / 12.0
    due = np.where(pregnant, rng.integers(0, rules.gestation, size=n), NOT_PREGNANT).astype(np.int16)
    return {
        "household": household,
        "birth_month": birth_month,
        "sex": sex,
        "energy_reserve": reserve,
        "pregnancy_due_month": due,
        "household_urban": household_urban,
        "household_food": food.astype(np.float64),
    }


@dataclass
class Outcome:
    """What one implementation did over the measured months: the verification counts and the cost."""

    persons: int = 0
    months: int = 0
    person_months: int = 0
    deaths: int = 0
    hunger_deaths: int = 0
    births: int = 0
    mean_reserve: float = 0.0
    population: int = 0
    setup_seconds: float = 0.0
    seconds: float = 0.0
    starving_rows: int = 0  # greatleap only: rows below the onset of starvation, summed over the months
    candidate_rows: int = 0  # greatleap only: rows a point of the death draw fell on
    starving_candidate_rows: int = 0  # greatleap only: of those, the rows below the onset (numpy's power)
    deferred_rows: int = 0  # greatleap only: rows the energy balance deferred to its third pass
    women_rows: int = 0  # greatleap only: women who may conceive, summed over the months
    row_months: int = 0  # greatleap only: rows passed over (living and not yet compacted), summed over the months


# --- 1. greatleap: struct-of-arrays, greatleap's tables and compiled kernels ------------------------------------

PERSON_SPECS = tuple(spec for spec in (*WORLD_STATES, *Nutrition.states, *Demography.states) if spec.level == "person")


class GreatleapCore:
    """The core done greatleap's way: one greatleap `Table` of persons (the world's, nutrition's and
    demography's person states, struct-of-arrays, dead rows marked and compacted in December), the month as
    a few whole-array passes calling greatleap's own code: the kernels `_person_class_compiled` and
    `energy_balance_compiled`, `Demography.decide_deaths` (a compiled line of hazards, about one draw per
    death, numpy's power and expm1 on the rows the draws fall on), `pregnancies_compiled` and
    `conceive_compiled`, and the `Table`'s births."""

    def __init__(self, population: dict, rules: Rules, seed: int, months: int) -> None:
        n = population["household"].size
        self.rules = rules
        self.persons = Table("person", int(n * 1.06) + 64)  # greatleap's headroom: a year of births
        for spec in PERSON_SPECS:
            self.persons.declare(spec.for_run(months))  # the due month is a step: int8 in a short run
        self.persons.add(n)
        for name in ("household", "birth_month", "sex", "energy_reserve", "pregnancy_due_month"):
            self.persons.column(name)[:] = population[name]
        # Two 'communes', rural and urban: the household -> commune -> is_urban chain greatleap reads.
        self.household_commune = population["household_urban"].astype(np.int32)
        self.commune_urban = np.array([False, True])
        self.household_food = population["household_food"]
        self.no_intensity = np.zeros(0, dtype=np.float32)  # work intensity does not move activity here
        # The energy balance sums by commune (greatleap's households are stored commune by commune, `bounds`):
        # here all in one, as no work intensity reads the commune; and the planning need it writes, unread.
        n_households = self.household_food.size
        self.one_commune = np.zeros(n_households, dtype=np.int32)
        self.commune_bounds = np.array([0, n_households], dtype=np.int64)
        self.need_well_fed = np.empty(n_households, dtype=np.float32)
        streams = np.random.SeedSequence(seed).spawn(3)
        self.rng_deaths, self.rng_conceptions, self.rng_births = (np.random.default_rng(s) for s in streams)
        self.onset32 = np.float32(rules.starvation_onset)
        self.age_group = rules.demography.class_tables()["age_group"]
        self.by_group = np.empty((self.commune_urban.size, 4))
        self.outcome = Outcome(persons=n)

    def month(self, t: int) -> None:
        """One month: person classes, the energy balance, then demography (greatleap's phase order)."""
        rules, persons = self.rules, self.persons
        self.outcome.person_months += int(np.count_nonzero(persons.alive))
        self.outcome.row_months += persons.count
        person_class = _person_class_compiled(
            t,
            persons.birth_month,
            persons.sex.packed,
            persons.household,
            self.household_commune,
            self.commune_urban,
            MAX_AGE,
            np.empty(persons.count, dtype=np.int16),
        )
        # Each phase in the thread's workspace, as greatleap's engine runs them (its working arrays reused).
        deferred_before = nutrition_module.deferred_rows
        with kernels.phase_workspace():
            energy_balance_compiled(
                person_class,
                persons.household,
                persons.alive,
                persons.energy_reserve,
                self.one_commune,
                self.no_intensity,
                self.household_food,
                *rules.balance,
                rules.hunger_per_reserve,
                rules.adaptation_max,
                rules.work_elasticity,
                False,  # equal_loss sharing
                days_in_month(t) / rules.kcal_per_kg_tissue,
                rules.reserve_max,
                np.float32(UNDERNOURISHED_RESERVE),
                self.commune_bounds,
                self.need_well_fed,
            )
        self.outcome.deferred_rows += nutrition_module.deferred_rows - deferred_before
        with kernels.phase_workspace():
            self.demography(t, person_class)
        if t % 12 == 11:  # December: greatleap's engine drops the dead rows and restores household order
            persons.compact(persons.alive, order_by="household")

    def demography(self, t: int, person_class: np.ndarray) -> None:
        """Deaths, births and conceptions as Demography.step does them (no posted causes, one commune cell)."""
        rules, persons = self.rules, self.persons
        alive, reserve = persons.alive, persons.energy_reserve
        self.outcome.starving_rows += int(np.count_nonzero(alive & (reserve < self.onset32)))
        # greatleap's own death draw (in slices: a compiled line of hazards, points on it; one cell per class).
        demography = rules.demography
        candidates_before = demography.candidate_rows, demography.starving_candidate_rows
        dying, position = demography.decide_deaths(
            self.rng_deaths,
            person_class,
            persons.household,
            self.household_commune,
            alive,
            reserve,
            rules.hazard,
            False,
        )
        self.outcome.candidate_rows += demography.candidate_rows - candidates_before[0]
        self.outcome.starving_candidate_rows += demography.starving_candidate_rows - candidates_before[1]
        # Where a death falls within its probability splits the dying by cause: starvation beyond the baseline's share.
        dying_class = person_class[dying]
        baseline = rules.hazard[dying_class]
        starvation = rules.demography.starvation_hazard(reserve[dying]) * rules.vulnerability[dying_class]
        self.outcome.deaths += dying.size
        self.outcome.hunger_deaths += int(np.count_nonzero(position >= baseline / (baseline + starvation)))
        alive[dying] = False

        due = persons.pregnancy_due_month
        due[dying] = NOT_PREGNANT
        # greatleap's scan also counts the survivors by commune and age group (its monthly population records).
        delivering, women = pregnancies_compiled(
            alive,
            due,
            t,
            rules.fertile,
            person_class,
            persons.household,
            self.household_commune,
            self.age_group,
            self.by_group,
        )
        self.outcome.women_rows += women.size
        conceive_compiled(
            women,
            self.rng_conceptions.random(women.size),
            person_class,
            reserve,
            rules.conception,
            np.float32(rules.fertility_floor),
            np.float32(rules.fertility_onset - rules.fertility_floor),
            due,
            t + rules.gestation,
        )

        if delivering.size:
            girl = self.rng_births.random(delivering.size) < rules.girl_probability
            new = persons.add_offspring(delivering)  # household and reserve from the mother
            persons.birth_month[new] = t
            persons.sex[new] = girl
            self.outcome.births += delivering.size

    def finish(self) -> Outcome:
        """The outcome after the last month: the counts, and the population and mean reserve of the living."""
        alive = self.persons.alive
        self.outcome.population = int(np.count_nonzero(alive))
        self.outcome.mean_reserve = float(self.persons.energy_reserve[alive].mean())
        return self.outcome


# Bytes each greatleap pass reads and writes per person row and per household (spread over the members), for the
# bandwidth bound, in the STREAM convention (a write counts once). Counted from the code above and the kernels it
# calls; per-class tables (444 entries) stay in cache and are not counted. The last field says which rows a pass
# touches: all of them, the rows below the onset of starvation or the women who may conceive (shares measured in
# the run), or all rows one month in twelve.
GREATLEAP_PASSES: tuple[tuple[str, float, float, str], ...] = (
    ("person class: birth month 2, sex 1, household 4 read, class 2 written", 9, 4, "all"),
    ("balance pass 1: class 2, household 4, reserve 4, alive 1 read; 4 sums r/w", 11, 64, "all"),
    (
        "balance per household: 4 sums zeroed, extremes set; food and the sums read; planning need and 4 rows written",
        0,
        32 + 8 + 8 + 32 + 4 + 32,
        "all",
    ),
    (
        "balance pass 2: class 2, household 4, alive 1, reserve 4 read and 4 written; share and flag read, a sum "
        "r/w, commune 4 read",
        15,
        36,
        "all",
    ),
    (
        "balance pass 3, rows deferred: int32 index 4, pass 2's 15; their household's share, flag, overflow and sum 32",
        51,
        0,
        "deferred",
    ),
    (
        "death draw, slice by slice: class 2, household 4, alive 1, reserve 4 read; the line of hazards 8 written",
        19,
        0,
        "all",
    ),
    (
        "rows a point falls on: the point 8 drawn, summed and read, its row 8 (a search of the line, in cache), "
        "its stretch 8, class 2, reserve 4, hazard 8; the first-point mask 1, the decision 1, numpy expm1 32",
        72,
        0,
        "candidates",
    ),
    ("of those, the rows below the onset: shortfall 4, power 4, starvation hazard 8", 16, 0, "starving candidates"),
    ("deliveries and women, one pass: alive 1, due 1, class 2 read; women's index 8 written", 4, 0, "all"),
    ("women who may conceive: index 8, uniform 8 drawn and read, class 2, reserve 4, due 1", 31, 0, "women"),
    (
        "December compaction: alive and household read twice by the counting sort, int32 rows written; per "
        "column (13 B in all) the rows read, gathered, written to a temporary and copied back",
        90,
        0,
        "december",
    ),
)


def greatleap_bytes_per_row(persons_per_household: float, shares: dict[str, float]) -> float:
    """Bytes moved between memory and the cores per row and month by greatleap's core, from GREATLEAP_PASSES,
    with `shares` the share of rows each kind of pass touches."""
    return sum(
        shares[rows] * (per_person + per_household / persons_per_household)
        for _, per_person, per_household, rows in GREATLEAP_PASSES
    )


# --- 2. Mesa: one Python object per person -----------------------------------------------------------------------


def make_mesa_model(population: dict, rules: Rules, seed: int) -> Any:
    """A Mesa 3 model holding one `Person` agent per person and one plain `Household` object per household.

    The month is Model.step: the households' sums are reset, every agent adds its need to its household
    (AgentSet.do), every household works out its share per kg, every agent eats it (AgentSet.do), and
    every agent then lives its month in random order (AgentSet.shuffle_do): death, delivery, conception.
    Rules and tables are the same as greatleap's, read as Python floats."""
    import mesa

    slope_mass, base = rules.slope_mass.tolist(), rules.base.tolist()
    pal, pal_drop, mass_of = rules.pal.tolist(), rules.pal_drop.tolist(), rules.reference_mass.tolist()
    hazard, vulnerability = rules.hazard.tolist(), rules.vulnerability.tolist()
    conception, fertile = rules.conception.tolist(), rules.fertile.tolist()
    hunger_per_reserve, adaptation_max = float(rules.hunger_per_reserve), float(rules.adaptation_max)
    reserve_max = rules.reserve_max
    onset, lethal, steepness = rules.starvation_onset, rules.lethal_reserve, rules.starvation_steepness
    floor, fertility_span = rules.fertility_floor, rules.fertility_onset - rules.fertility_floor
    gestation, girl_probability = rules.gestation, rules.girl_probability
    ln2 = math.log(2.0)
    not_pregnant = int(NOT_PREGNANT)

    class Household:
        """A household: its ration and the month's sums over its living members."""

        def __init__(self, food: float, urban: int) -> None:
            self.food = food
            self.urban = urban
            self.need = self.mass = self.per_kg = self.spare = self.room = 0.0

    class Person(mesa.Agent):
        """One person: household, birth month, sex, reserve, pregnancy due month (alive while registered)."""

        def __init__(
            self, model: Any, household: Household, birth_month: int, sex: int, reserve: float, due: int
        ) -> None:
            super().__init__(model)
            self.household = household
            self.birth_month = birth_month
            self.sex = sex
            self.reserve = reserve
            self.due = due
            self.person_class = 0
            self.need = 0.0
            self.raised = reserve

        def assess_need(self, t: int) -> None:
            """This month's class and energy need, added to the household's sums (its share needs them all)."""
            age = min((t - self.birth_month) // 12, MAX_AGE)
            c = self.person_class = (age * 2 + self.sex) * 2 + self.household.urban
            r = self.reserve
            hunger = min(max((1.0 - r) * hunger_per_reserve, 0.0), 1.0)
            bmr = max(slope_mass[c] * r + base[c], 0.0) * (1.0 - hunger * adaptation_max)
            self.need = bmr * (pal[c] - hunger * pal_drop[c])
            h = self.household
            h.need += self.need
            h.mass += mass_of[c]

        def eat(self, scale: float) -> None:
            """The household's surplus or shortfall per kg moves the reserve; what cannot be stored is counted."""
            h = self.household
            raised = self.raised = self.reserve + h.per_kg * scale
            if raised > reserve_max:
                h.spare += (raised - reserve_max) * mass_of[self.person_class]
                self.model.overflowing = True
            elif raised < reserve_max:
                h.room += mass_of[self.person_class]
            self.reserve = min(raised, reserve_max)

        def share_overflow(self) -> None:
            """Take a share, per kg, of what the household's full members could not store."""
            h = self.household
            if h.room > 0:
                self.reserve = min(self.raised + h.spare / h.room, reserve_max)

        def live_month(self, t: int) -> None:
            """Death (and its cause), then delivery and conception for those who live."""
            model, c, r = self.model, self.person_class, self.reserve
            baseline = hazard[c]
            starvation = ln2 * ((onset - r) / (onset - lethal)) ** steepness * vulnerability[c] if r < onset else 0.0
            probability = 1.0 - math.exp(-(baseline + starvation))
            u = model.random.random()
            if u < probability:
                model.deaths += 1
                if starvation > 0.0 and u / probability >= baseline / (baseline + starvation):
                    model.hunger_deaths += 1
                self.remove()
                return
            if self.due == t:
                self.due = not_pregnant
                girl = 1 if model.random.random() < girl_probability else 0
                model.newborns.append((self.household, t, girl, r))
            if fertile[c] and self.due == not_pregnant:
                hunger = min(max((r - floor) / fertility_span, 0.0), 1.0)
                if model.random.random() < conception[c] * hunger:
                    self.due = t + gestation

    class Famine(mesa.Model):
        """The month of every household and person."""

        def __init__(self) -> None:
            super().__init__(seed=seed)
            self.households = [
                Household(float(food), int(urban))
                for food, urban in zip(population["household_food"], population["household_urban"], strict=True)
            ]
            columns = zip(
                population["household"].tolist(),
                population["birth_month"].tolist(),
                population["sex"].tolist(),
                population["energy_reserve"].tolist(),
                population["pregnancy_due_month"].tolist(),
                strict=True,
            )
            for h, birth_month, sex, reserve, due in columns:
                Person(self, self.households[h], birth_month, sex, reserve, due)
            self.deaths = self.hunger_deaths = self.births = self.person_months = 0
            self.overflowing = False
            self.newborns: list[tuple[Household, int, int, float]] = []

        def step(self) -> None:
            """One month: needs, meals (and overflow), each person's month, then the newborns."""
            t = self.steps - 1  # Mesa counts steps from 1
            self.person_months += len(self.agents)
            for h in self.households:
                h.need = h.mass = h.spare = h.room = 0.0
            self.agents.do("assess_need", t)
            for h in self.households:
                h.per_kg = (h.food - h.need) / h.mass if h.mass > 0 else 0.0
            self.overflowing = False
            self.agents.do("eat", days_in_month(t) / rules.kcal_per_kg_tissue)
            if self.overflowing:
                self.agents.do("share_overflow")
            self.agents.shuffle_do("live_month", t)
            for household, birth_month, girl, reserve in self.newborns:  # after the month, as greatleap does
                Person(self, household, birth_month, girl, reserve, not_pregnant)
            self.births += len(self.newborns)
            self.newborns.clear()

    return Famine()


def run_mesa(population: dict, rules: Rules, seed: int, months: int) -> Outcome:
    """Build the Mesa model (setup) and run it `months` months (timed)."""
    started = time.perf_counter()
    model = make_mesa_model(population, rules, seed)
    outcome = Outcome(persons=population["household"].size, months=months)
    outcome.setup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(months):
        model.step()
    outcome.seconds = time.perf_counter() - started
    outcome.person_months = model.person_months
    outcome.deaths, outcome.hunger_deaths, outcome.births = model.deaths, model.hunger_deaths, model.births
    reserves = [agent.reserve for agent in model.agents]
    outcome.population = len(reserves)
    outcome.mean_reserve = float(np.mean(reserves))
    return outcome


# --- 3. Starsim: a vectorized Starsim module on ss.People ---------------------------------------------------------


def make_starsim_sim(population: dict, rules: Rules, seed: int, months: int, crn: bool) -> Any:
    """An ss.Sim with monthly steps whose only module, `Famine` (an ss.Demographics), carries the rules.

    State lives in Starsim arrays: the People's own `age` (float years, which Starsim advances each step)
    and `female`, and the module's `household` (ss.IntArr), `reserve` (ss.FloatArr) and `due` (ss.FloatArr,
    NaN when not pregnant). Deaths go through people.request_death (Starsim removes the dead from the active
    agents at the end of the step); births through people.grow; uniforms from ss.random distributions
    (common random numbers when `crn`). The arithmetic is numpy on the living agents (people.auids)."""
    import starsim as ss

    ss.options.set(crn=crn)
    household_urban = population["household_urban"].astype(np.int64)
    household_food = population["household_food"]
    n_households = household_food.size

    class Famine(ss.Demographics):
        """Energy balance, deaths, births and conceptions of one month."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__()
            self.define_pars(gestation=rules.gestation)
            self.update_pars(**kwargs)
            self.define_states(
                ss.IntArr("household", default=0),
                ss.FloatArr("reserve", default=1.0),
                ss.FloatArr("due"),  # NaN: not pregnant
            )
            self.u_death = ss.random()
            self.u_conceive = ss.random()
            self.u_sex = ss.random()
            self.counts = {"deaths": 0, "hunger_deaths": 0, "births": 0, "person_months": 0}

        def step(self) -> None:
            """One month of the living agents: energy balance, deaths, deliveries, conceptions, newborns."""
            people = self.sim.people
            t = self.ti
            uids = people.auids
            self.counts["person_months"] += len(uids)
            age = np.minimum((people.age[uids] + AGE_EPSILON).astype(np.int64), MAX_AGE)
            household = self.household[uids]
            person_class = (age * 2 + people.female[uids]) * 2 + household_urban[household]
            reserve = self.reserve[uids]
            self.reserve[uids] = self.energy_balance(person_class, household, reserve, days_in_month(t))
            reserve = self.reserve[uids]

            # Deaths: competing hazards, one uniform each.
            baseline = rules.hazard[person_class]
            shortfall = np.clip(
                (rules.starvation_onset - reserve) / (rules.starvation_onset - rules.lethal_reserve), 0.0, None
            )
            starvation = math.log(2.0) * shortfall**rules.starvation_steepness * rules.vulnerability[person_class]
            probability = -np.expm1(-(baseline + starvation))
            u = self.u_death.rvs(uids)
            dies = u < probability
            starved = dies & (starvation > 0) & (u / probability >= baseline / (baseline + starvation))
            people.request_death(uids[dies])
            self.counts["deaths"] += int(np.count_nonzero(dies))
            self.counts["hunger_deaths"] += int(np.count_nonzero(starved))

            # Deliveries to surviving mothers, then conceptions.
            due = self.due[uids]
            due_now = due == t
            mothers = uids[due_now & ~dies]
            self.due[uids[due_now | dies]] = np.nan
            due = self.due[uids]
            eligible = ~dies & rules.fertile[person_class] & np.isnan(due)
            women = uids[eligible]
            hunger = np.clip(
                (reserve[eligible] - rules.fertility_floor) / (rules.fertility_onset - rules.fertility_floor), 0, 1
            )
            conceives = self.u_conceive.rvs(women) < rules.conception[person_class[eligible]] * hunger
            self.due[women[conceives]] = t + self.pars.gestation
            girls = self.u_sex.rvs(mothers) < rules.girl_probability
            if len(mothers):
                newborns = people.grow(len(mothers))
                people.age[newborns] = 0.0
                people.female[newborns] = girls
                people.parent[newborns] = mothers
                self.household[newborns] = self.household[mothers]
                self.reserve[newborns] = self.reserve[mothers]
                self.counts["births"] += len(mothers)

        def energy_balance(
            self, person_class: np.ndarray, household: np.ndarray, reserve: np.ndarray, days: int
        ) -> np.ndarray:
            """The living members' new reserves: equal_loss sharing of each household's ration, with numpy."""
            hunger = np.clip((1.0 - reserve) * rules.hunger_per_reserve, 0.0, 1.0)
            bmr = np.maximum(rules.slope_mass[person_class] * reserve + rules.base[person_class], 0.0)
            bmr = bmr * (1.0 - hunger * rules.adaptation_max)
            need = bmr * (rules.pal[person_class] - hunger * rules.pal_drop[person_class])
            mass = rules.reference_mass[person_class]
            household_need = np.bincount(household, weights=need, minlength=n_households)
            living_mass = np.bincount(household, weights=mass, minlength=n_households)
            with np.errstate(divide="ignore", invalid="ignore"):
                per_kg = np.where(living_mass > 0, (household_food - household_need) / living_mass, 0.0)
            raised = reserve + per_kg[household] * (days / rules.kcal_per_kg_tissue)
            overflow = np.maximum(raised - rules.reserve_max, 0.0) * mass
            if overflow.any():
                spare = np.bincount(household, weights=overflow, minlength=n_households)
                room = np.bincount(
                    household, weights=np.where(raised < rules.reserve_max, mass, 0.0), minlength=n_households
                )
                with np.errstate(divide="ignore", invalid="ignore"):
                    raised = raised + np.where(room > 0, spare / room, 0.0)[household]
            return np.minimum(raised, rules.reserve_max)

    famine = Famine()
    start = dt.date(START_YEAR, 1, 1)
    stop = dt.date(START_YEAR + (months - 1) // 12, (months - 1) % 12 + 1, 1)
    n = population["household"].size
    sim = ss.Sim(
        n_agents=n,
        demographics=[famine],
        start=ss.date(start.isoformat()),
        stop=ss.date(stop.isoformat()),
        dt=ss.month,
        rand_seed=seed,
        verbose=0,
    )
    sim.init()
    famine = sim.demographics[0]  # the sim holds its own copy of the module
    people = sim.people
    people.age.raw[:n] = -population["birth_month"].astype(np.float32) / 12.0  # exact age in years at month 0
    people.female.raw[:n] = population["sex"] == 1
    famine.household.raw[:n] = population["household"]
    famine.reserve.raw[:n] = population["energy_reserve"]
    due = population["pregnancy_due_month"]
    famine.due.raw[:n] = np.where(due == NOT_PREGNANT, np.nan, due)
    return sim


def run_starsim(population: dict, rules: Rules, seed: int, months: int, crn: bool) -> Outcome:
    """Build the Starsim sim (setup) and run it `months` months (timed)."""
    started = time.perf_counter()
    sim = make_starsim_sim(population, rules, seed, months, crn)
    outcome = Outcome(persons=population["household"].size, months=months)
    outcome.setup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sim.run()
    outcome.seconds = time.perf_counter() - started
    famine = sim.demographics[0]
    counts = famine.counts
    outcome.deaths, outcome.hunger_deaths, outcome.births = counts["deaths"], counts["hunger_deaths"], counts["births"]
    outcome.person_months = counts["person_months"]
    alive = sim.people.auids
    outcome.population = len(alive)
    outcome.mean_reserve = float(np.mean(famine.reserve[alive]))
    if sim.t.npts != months:
        raise AssertionError(f"starsim ran {sim.t.npts} steps, not {months}")
    return outcome


def run_greatleap(population: dict, rules: Rules, seed: int, months: int) -> Outcome:
    """Load the population into greatleap's table (setup) and run `months` months (timed)."""
    started = time.perf_counter()
    core = GreatleapCore(population, rules, seed, months)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    for t in range(months):
        core.month(t)
    seconds = time.perf_counter() - started
    outcome = core.finish()
    outcome.months, outcome.setup_seconds, outcome.seconds = months, setup, seconds
    return outcome


# --- measurement in child processes -------------------------------------------------------------------------------


def memory_status(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes: VmRSS (resident now) or VmHWM (peak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak_memory() -> None:
    """Reset this process's peak resident memory to its current value (Linux: clear_refs 5), so that the
    peak measured afterwards is the population's and the months', not that of the imports or the warm-up."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def child(implementation: str, population_file: str, months: int, seed: int) -> None:
    """Run one implementation on one population in this process and print its Outcome and memory as JSON.

    Imports and a warm-up (numba's cached kernels loaded, Starsim's and Mesa's first-use costs paid) come
    before the baseline, so the peak increase is what the population and the months cost."""
    rules = Rules.from_greatleap()
    crn = implementation != "starsim-nocrn"
    runners: dict[str, Callable[[dict, int], Outcome]] = {
        "greatleap": lambda pop, m: run_greatleap(pop, rules, seed, m),
        "mesa": lambda pop, m: run_mesa(pop, rules, seed, m),
        "starsim": lambda pop, m: run_starsim(pop, rules, seed, m, crn),
        "starsim-nocrn": lambda pop, m: run_starsim(pop, rules, seed, m, crn),
    }
    run = runners[implementation]
    run(build_population(2000, seed + 1), 2)  # warm-up
    reset_peak_memory()
    baseline = memory_status("VmRSS")
    with np.load(population_file) as data:
        population = {name: data[name] for name in data.files}
    outcome = run(population, months)
    peak = memory_status("VmHWM")
    # Runs of under a second are timed again from a fresh model (same seed, so the same outcome) until
    # REPEAT_SECONDS of timed runs (at most MAX_REPEATS), best of them: the small sizes take milliseconds,
    # where one run is mostly timer and scheduler noise (timeit's autorange, in effect).
    repeats, best, timed = 1, outcome.seconds, outcome.seconds
    while best < 1.0 and timed < REPEAT_SECONDS and repeats < MAX_REPEATS:
        seconds = run(population, months).seconds
        best, timed, repeats = min(best, seconds), timed + seconds, repeats + 1
    outcome.seconds = best
    result = {
        **outcome.__dict__,
        "implementation": implementation,
        "peak_increase_bytes": max(peak - baseline, 0),
        "repeats": repeats,
    }
    print(json.dumps(result))


def measure(implementation: str, population_file: Path, months: int, seed: int) -> dict:
    """Run `child` in a fresh interpreter (its own memory peak) and return its JSON."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", implementation, str(population_file)]
    command += ["--months", str(months), "--seed", str(seed)]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{implementation} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory_bandwidth(gib: float = 1.0, repeat: int = 5) -> dict[str, float]:
    """This machine's memory bandwidth from numpy on one core, best of `repeat`, in GB/s (1e9 bytes).

    copy: b = a (8 bytes read + 8 written per element); add: c = a + b (16 read + 8 written), the STREAM
    conventions, on float64 arrays of `gib` GiB each: far beyond the caches."""
    n = int(gib * 2**30) // 8
    a = np.full(n, 1.0)
    b = np.full(n, 2.0)
    c = np.zeros(n)

    def best(operation: Callable[[], object]) -> float:
        operation()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            operation()
            times.append(time.perf_counter() - started)
        return min(times)

    copy = 16 * n / best(lambda: np.copyto(b, a)) / 1e9
    add = 24 * n / best(lambda: np.add(a, b, out=c)) / 1e9
    return {"copy": copy, "add": add, "best": max(copy, add)}


def scaling_curve(scales: Sequence[int], end: str, seed: int, full_provinces: Sequence[str] = ()) -> list[dict]:
    """greatleap's whole historical model at `scales` communes per province, then the provinces
    `full_provinces` alone at full scale (benchmarks/bench_scale.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_scale import measure as measure_scale
    from bench_scale import measure_full_province

    curve = [measure_scale(scale, end, seed) for scale in scales]
    return curve + [measure_full_province(code, end, seed) for code in full_provinces]


# --- report ---------------------------------------------------------------------------------------------------------


def rate(row: dict) -> float:
    """Person-months per second over the measured months."""
    return row["person_months"] / row["seconds"]


def close(values: Sequence[float], relative: float, standard_errors: float) -> bool:
    """True when every pair of counts differs by less than `relative` of their mean or by fewer than
    `standard_errors` standard errors of the difference of two Poisson counts."""
    for i, a in enumerate(values):
        for b in values[i + 1 :]:
            difference = abs(a - b)
            if difference > relative * (a + b) / 2 and difference > standard_errors * math.sqrt(a + b):
                return False
    return True


def verify(rows: list[dict], size: int) -> tuple[str, bool]:
    """Outcomes of every implementation at `size` after the same months, and whether they agree."""
    chosen = [r for r in rows if r["persons"] == size and r["months"] == max(x["months"] for x in rows)]
    lines = [
        f"Outcomes after {chosen[0]['months']} months, {size:,} persons at the start:",
        "",
        "| implementation | deaths | hunger deaths | births | population at the end | mean reserve of the living |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in chosen:
        lines.append(
            f"| {r['implementation']} | {r['deaths']:,} | {r['hunger_deaths']:,} | {r['births']:,} "
            f"| {r['population']:,} | {r['mean_reserve']:.4f} |"
        )
    agree = all(close([r[key] for r in chosen], 0.15, 4.0) for key in ("deaths", "hunger_deaths", "births"))
    reserves = [r["mean_reserve"] for r in chosen]
    agree = agree and max(reserves) - min(reserves) < 0.01 and min(r["hunger_deaths"] for r in chosen) > 0
    return "\n".join(lines), agree


def results_table(rows: list[dict]) -> str:
    """The markdown table of throughput and memory."""
    lines = [
        "| implementation | persons | months | setup s | run s (rounds x runs, best) | person-months/s "
        "| peak RSS increase, B/person |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['implementation']} | {r['persons']:,} | {r['months']} | {r['setup_seconds']:.2f} "
            f"| {r['seconds']:.4f} ({r['rounds']} x {r['repeats']}) | {rate(r):,.0f} "
            f"| {r['peak_increase_bytes'] / r['persons']:,.0f} |"
        )
    return "\n".join(lines)


def ratios_table(rows: list[dict], peers: Sequence[str]) -> tuple[str, dict[str, float]]:
    """greatleap's throughput over each peer's, per size, measured in this run; and the worst ratio per peer."""
    by = {(r["implementation"], r["persons"]): r for r in rows}
    sizes = sorted({r["persons"] for r in rows})
    lines = ["| persons | " + " | ".join(f"greatleap / {p}" for p in peers) + " |", "|---:|" + "---:|" * len(peers)]
    worst: dict[str, float] = {}
    for size in sizes:
        cells = []
        for peer in peers:
            if ("greatleap", size) in by and (peer, size) in by:
                ratio = rate(by["greatleap", size]) / rate(by[peer, size])
                worst[peer] = min(worst.get(peer, math.inf), ratio)
                cells.append(f"{ratio:,.1f}")
            else:
                cells.append("-")
        lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines), worst


def machine() -> str:
    """One line on the machine and the software measured (the processor as a run's manifest names it)."""
    cpu = greatleap_machine()["cpu"]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = []
    for name in ("numpy", "numba", "mesa", "starsim"):
        try:
            module = __import__(name)
            versions.append(f"{name} {module.__version__}")
        except ImportError:
            versions.append(f"{name} missing")
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Linux {platform.release()}, "
        f"Python {platform.python_version()}, " + ", ".join(versions)
    )


def run_sizes(
    sizes: Sequence[int],
    implementations: Sequence[str],
    ration: float,
    months: int,
    seed: int,
    mesa_budget: float,
    rounds: int = ROUNDS,
) -> list[dict]:
    """Measure every implementation at every size on populations fed `ration`, each in its own process.

    At each size the implementations run in turn, `rounds` times over (a fresh process each time), and each
    keeps its fastest round: this machine's speed changes from minute to minute, and rounds spread every
    implementation's runs over the same minutes. A round taking over `LONG_ROUND_SECONDS` is not repeated
    (its noise is small beside its length).

    Mesa's cost is linear in person-months: at a size where the full months would take more than
    `mesa_budget` seconds at the rate measured at the size below, it runs fewer months (the row says so)."""
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        for size in sorted(sizes):
            population = build_population(size, seed, ration)
            path = Path(folder) / f"population-{size}.npz"
            np.savez(path, **population)
            fastest: dict[str, dict] = {}
            for round_index in range(rounds):
                for implementation in implementations:
                    kept = fastest.get(implementation)
                    if kept is not None and kept["seconds"] > LONG_ROUND_SECONDS:
                        continue
                    measured_months = kept["months"] if kept is not None else months
                    mesa_rows = [r for r in rows if r["implementation"] == "mesa"]
                    if implementation == "mesa" and mesa_rows and kept is None:
                        per_person_month = mesa_rows[-1]["seconds"] / mesa_rows[-1]["person_months"]
                        measured_months = max(1, min(months, int(mesa_budget / (per_person_month * size))))
                    row = measure(implementation, path, measured_months, seed)
                    row["rounds"] = 1 if kept is None else kept["rounds"] + 1
                    if kept is None or row["seconds"] < kept["seconds"]:
                        fastest[implementation] = row
                    else:
                        kept["rounds"] = row["rounds"]
                    print(
                        f"  round {round_index + 1}: {implementation:>14} {size:>9,} persons, "
                        f"{row['seconds']:.4f} s (best of {row['repeats']})",
                        flush=True,
                    )
            for implementation in implementations:
                row = fastest[implementation]
                row["households"] = population["household_food"].size
                row["ration"] = ration
                rows.append(row)
                print(
                    f"{implementation:>14} {size:>9,} persons, ration {ration:.2f}, {row['months']:>2} months: "
                    f"{rate(row):>12,.0f} person-months/s, {row['peak_increase_bytes'] / size:>5,.0f} B/person, "
                    f"deaths {row['deaths']:,} (hunger {row['hunger_deaths']:,}), births {row['births']:,}, "
                    f"mean reserve {row['mean_reserve']:.4f}",
                    flush=True,
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--implementations", nargs="+", default=list(IMPLEMENTATIONS))
    parser.add_argument("--mesa-budget", type=float, default=300.0, help="seconds Mesa may take at one size")
    parser.add_argument("--ration", type=float, default=RATION, help="households' food / well-fed need")
    parser.add_argument(
        "--light-ration", type=float, default=0.9, help="also run the largest size with this ration (0: skip)"
    )
    parser.add_argument("--verify-size", type=int, default=100_000)
    parser.add_argument("--scaling", action="store_true", help="also run greatleap's whole-model curve")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument(
        "--full-provinces", nargs="*", default=["NX", "GS"], help="provinces the curve also runs at full scale"
    )
    parser.add_argument("--no-doc", action="store_true", help="print only; do not write docs/performance.md")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--child", nargs=2, metavar=("IMPLEMENTATION", "POPULATION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.months, args.seed)
        return

    load_before = os.getloadavg()
    print(f"machine: {machine()}; load average {load_before[0]:.2f}", flush=True)
    rows = run_sizes(args.sizes, args.implementations, args.ration, args.months, args.seed, args.mesa_budget)
    light: list[dict] = []
    if args.light_ration > 0:  # the same at the largest size with a ration where few starve
        light_peers = [i for i in args.implementations if i != "mesa"]
        light = run_sizes([max(args.sizes)], light_peers, args.light_ration, args.months, args.seed, args.mesa_budget)
    load_after = os.getloadavg()
    table = results_table(rows)
    peers = [p for p in args.implementations if p != "greatleap"]
    ratios, worst = ratios_table(rows, peers)
    print("\n" + table + "\n\n" + ratios)
    verification, agree = ("", True)
    if args.verify_size in {r["persons"] for r in rows}:
        verification, agree = verify(rows, args.verify_size)
        print("\n" + verification + f"\n\nsame rules within sampling noise: {agree}")
    light_text = ""
    if light:
        light_text = results_table(light) + "\n\n" + ratios_table(light, [p for p in peers if p != "mesa"])[0]
        print(f"\nration {args.light_ration:.2f} at the largest size:\n" + light_text)

    bandwidth = memory_bandwidth()
    largest = max(r["persons"] for r in rows)
    great = next(r for r in rows if r["implementation"] == "greatleap" and r["persons"] == largest)
    bound = bandwidth_bound(great, bandwidth)
    bandwidth_text = bandwidth_paragraph(bandwidth, bound, great)
    if light:
        light_great = next(r for r in light if r["implementation"] == "greatleap")
        light_bound = bandwidth_bound(light_great, bandwidth)
        bandwidth_text += (
            f" With the ration of {args.light_ration:.0%}: {light_bound['moved']:.0f} bytes per person-month "
            f"({light_bound['shares']['starving']:.1%} of rows below the onset), a bound of "
            f"{light_bound['bound'] / 1e6:.0f} M person-months/s, and greatleap ran {rate(light_great) / 1e6:.1f} M: "
            f"{rate(light_great) / light_bound['bound']:.0%} of it."
        )
    print("\n" + bandwidth_text)
    # Linux hands a child started by fork + exec its parent's peak resident memory as its own starting
    # ru_maxrss, which bench_scale's children report: reset this process's peak (the bandwidth arrays) first.
    reset_peak_memory()
    curve = scaling_curve(args.scales, "1962-12", args.seed, args.full_provinces) if args.scaling else []
    if curve:
        print("\n" + scaling_table(curve))
    if not agree:
        raise SystemExit("the implementations disagree beyond sampling noise: not the same rules; no doc written")
    if not args.no_doc:
        report = {
            "rows": rows,
            "table": table,
            "ratios": ratios,
            "worst": worst,
            "verification": verification,
            "light": light_text,
            "light_rows": light,
            "light_ration": args.light_ration,
            "ration": args.ration,
            "bandwidth": bandwidth_text,
            "bound": bound,
            "curve": curve,
            "load": (load_before[0], load_after[0]),
        }
        write_keeping_country(args.doc, performance_doc(report))
        print(f"\nwrote {args.doc}")


# Person-months of the whole country, 1957-01 to 1962-12: the 628.3 million persons at the start (WorldParams) for
# 72 months (the population ends 1962 a few percent larger, the dead are dropped each December).
COUNTRY_PERSON_MONTHS = 628.3e6 * 72


def full_scale_paragraph(curve: list[dict]) -> str:
    """What the single provinces at full scale say about the whole country (a projection, not a measurement)."""
    full = [row for row in curve if str(row["scale"]).startswith("full")]
    if not full:
        return "No province ran at full scale in this run (`--full-provinces`)."
    largest = max(full, key=lambda row: row["persons"])
    rate_full = largest["person_months"] / largest["seconds"]
    return (
        f"The rows *full XX* are one province at full scale (every commune and person), alone, on one thread. At "
        f"{largest['scale'].split()[1]}'s {rate_full / 1e6:.1f} M person-months per second, the whole country "
        f"(about {COUNTRY_PERSON_MONTHS / 1e9:.0f} billion person-months) would take about "
        f"{COUNTRY_PERSON_MONTHS / rate_full / 60:.0f} minutes on one thread, and about half that spread over "
        f"two worker processes (`--workers 2`): a projection from a province; the country itself is measured by "
        f"`benchmarks/bench_country.py` (below)."
    )


def scaling_table(curve: list[dict]) -> str:
    """The whole-model cost curve as markdown."""
    base = curve[0]["person_months"] / curve[0]["seconds"]
    lines = [
        "| communes per province | persons | seconds | M person-months/s | vs smallest | peak MiB | peak B/person |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in curve:
        r = row["person_months"] / row["seconds"]
        lines.append(
            f"| {row['scale']} | {row['persons']:,} | {row['seconds']:.1f} | {r / 1e6:.2f} | {r / base:.2f} "
            f"| {row['peak_bytes'] / 2**20:,.0f} | {row['peak_bytes'] / row['persons']:,.0f} |"
        )
    return "\n".join(lines)


def write_keeping_country(doc: Path, text: str) -> None:
    """Write `text` to `doc` atomically, keeping the whole-country section `bench_country.py` wrote there (an
    hour's run, not redone here)."""
    begin, end = "<!-- country:begin -->", "<!-- country:end -->"
    current = doc.read_text() if doc.exists() else ""
    if begin in current and end in current:
        kept = begin + current.split(begin, 1)[1].split(end, 1)[0] + end
        text = text.rstrip("\n") + "\n\n" + kept + "\n"
    write_text_atomic(doc, text)


def performance_doc(report: dict[str, Any]) -> str:
    """docs/performance.md from the numbers of this run (nothing in it is typed by hand)."""
    rows, bound, curve = report["rows"], report["bound"], report["curve"]
    worst, ration, light_ration = report["worst"], report["ration"], report["light_ration"]
    full_months = max(r["months"] for r in rows)
    mesa_short = [r for r in rows if r["implementation"] == "mesa" and r["months"] < full_months]
    verdicts = []
    for peer, target in (("mesa", 100.0), ("starsim", 2.0), ("starsim-nocrn", 2.0)):
        if peer in worst:
            met = "met" if worst[peer] >= target else "NOT met"
            verdicts.append(
                f"- greatleap >= {target:g}x {peer}: **{met}** (smallest ratio over the sizes: {worst[peer]:,.1f}x)"
            )
    passes = "\n".join(
        f"| {name} | {per_person:g} | {per_household:g} | {bound['shares'][rows_touched]:.3f} |"
        for name, per_person, per_household, rows_touched in GREATLEAP_PASSES
    )
    scaling = (
        "Not measured in this run (pass `--scaling`)."
        if not curve
        else "Whole historical runs (1957-01 to 1962-12, every mechanism, the numba kernels, one thread: `Sim`'s "
        "default), each in its own process, from `benchmarks/bench_scale.py`'s `measure`; the ratio is the "
        "throughput against the smallest size:\n\n" + scaling_table(curve)
    )
    full_scale = full_scale_paragraph(curve)
    shortened = (
        "Mesa at "
        + ", ".join(f"{r['persons']:,} persons ran {r['months']} month(s)" for r in mesa_short)
        + " (at its rate at the size below, 12 months would have taken more than the script's budget); its rate "
        "is over those months."
        if mesa_short
        else f"Every implementation ran all {full_months} months at every size (Mesa too: within the budget)."
    )
    candidate_share = bound["shares"]["starving candidates"] / max(bound["shares"]["starving"], 1e-12)
    light = (
        f"""## The workload matters

The rules above put a famine on the population: over the year {bound["shares"]["starving"]:.0%} of the rows are
below the onset of starvation. greatleap computes the exact starvation hazard only for the rows a point of its
death draw falls on, as `Demography.decide_deaths` does (a compiled pass lays a bound on every row's hazard
end to end, a Poisson process of rate 1 on that line draws about one number per death, and numpy's float32
power and float64 expm1 decide the rows the points fall on: {candidate_share:.1%} of the starving rows here),
while Starsim's numpy runs over every living agent in any case. The same comparison at
the largest size with the issue's example ration, {light_ration:.0%} of the well-fed need (few starve), measured
in the same run:

{report["light"]}
"""
        if report["light"]
        else ""
    )
    load_before, load_after = report["load"]
    great = max((r for r in rows if r["implementation"] == "greatleap"), key=lambda r: r["persons"])
    hunger_share = great["hunger_deaths"] / great["persons"]
    death_rate = 1000 * great["deaths"] / (great["person_months"] / great["months"]) * 12 / great["months"]
    light_great = [r for r in report["light_rows"] if r["implementation"] == "greatleap"]
    light_reserve = (
        f"at {light_ration:.0%} the mean reserve ends the year at {light_great[0]['mean_reserve']:.2f} and "
        f"{light_great[0]['hunger_deaths']:,} of {light_great[0]['persons']:,} persons starve"
        if light_great
        else "with a 90% ration the reserves settle near 0.95"
    )
    fraction_of_bound = rate(great) / bound["bound"]
    bound_note = (
        "greatleap is far from this bound: its time goes to instructions, not to memory traffic (gathers from the "
        "class tables, float32 arithmetic, the per-household sums in the balance kernel, the running sum of the "
        "hazards, and Python's fixed cost per month at the small sizes)."
        if fraction_of_bound < 0.5
        else "greatleap runs close to this bound: memory traffic, not instructions, limits it."
    )
    return f"""# Performance: greatleap beside Mesa and Starsim

Written by `python benchmarks/bench_peers.py` on {dt.date.today().isoformat()}; every number below was measured
in that one run. Rerun it to refresh this page (`pip install -e ".[bench]"` first).

Machine: {machine()}. 1-minute load average {load_before:.2f} before the run and {load_after:.2f} after the
peer measurements (the script's own child processes count in it).

## What is measured

The demography + nutrition core of greatleap (the month of every person: energy balance, deaths from baseline
causes and hunger, births, conceptions), implemented three times with the same rules, the same default
parameters (`NutritionParams()`, `DemographyParams()`) and the same class tables, on the same population:

- **greatleap**: greatleap's way: a struct-of-arrays `Table` of persons (household int32, birth month int16,
  sex uint8, alive bool, energy reserve float32, pregnancy due month int8) and greatleap's own code: the
  kernels `_person_class_compiled` and `energy_balance_compiled`, `Demography.decide_deaths` (a compiled
  line of hazards, about one draw per death, numpy's power and expm1 on the rows the draws fall on),
  `pregnancies_compiled` and `conceive_compiled`; one thread.
- **mesa**: Mesa {_version("mesa")}, one `mesa.Agent` per person and a plain object per household; the month
  is `Model.step` with `AgentSet.do` (needs, meals) and `AgentSet.shuffle_do` (each person's month).
- **starsim** / **starsim-nocrn**: Starsim {_version("starsim")}, one `ss.Demographics` module on `ss.People`
  with `ss.IntArr`/`ss.FloatArr` states, numpy on the living agents, deaths through `request_death`, births
  through `people.grow`, uniforms from `ss.random`: with Starsim's default common random numbers (CRN), and
  with `ss.options.crn = False`, the plain draws Starsim documents as faster.

The rules are listed at the top of `benchmarks/bench_peers.py`. The population: households of 1 + Poisson(3.6)
persons (mean 4.6), 15% urban, ages and sexes from the 1953 census (`age_sex_1953()`), energy reserves per
household uniform in [{RESERVE_LOW}, 1], a fixed ration per household of {ration:.0%} of its members' need when
well fed, women pregnant at the start as `Demography.init` makes them. It is built once with numpy per size,
saved, and loaded into each implementation. The ration is below the issue's example of 90% on purpose: with
greatleap's metabolic adaptation the reserves settle where the lowered need meets the ration, and {light_reserve}
(the onset of starvation is 0.78); at {ration:.0%}, {hunger_share:.1%} of the population died of hunger in the
year of the greatleap run at {great["persons"]:,} persons, a crude death rate of {death_rate:.0f} per mille.

Each implementation and size runs in its own process: imports and a small warm-up first (numba's cached
kernels load), then the peak resident memory is reset (Linux `clear_refs`), the population is loaded and the
model built (setup, not timed), then the months are timed; a run of under a second is run again from a fresh
model until {REPEAT_SECONDS:g} s of timed runs (at most {MAX_REPEATS}), best of them. This machine (a virtual
machine sharing its host) changes speed from minute to minute, so at each size
the implementations take turns, {ROUNDS} rounds of fresh processes, and each keeps its fastest round; a round
of over {LONG_ROUND_SECONDS:g} s is not repeated. In brackets: rounds x runs in the kept round.
*Person-months/s* is the living persons at the
start of each month, summed, over the seconds of the months. *Peak RSS increase* is the peak resident memory minus
the memory before the population was loaded, per initial person; it includes the loaded population arrays
(about 13 B per person plus households) in every implementation.

## Results

{report["table"]}

greatleap's throughput over its peers', measured in the same run:

{report["ratios"]}

The issue's targets (greatleap >= 100x Mesa and >= 2x Starsim in person-months/s):

{chr(10).join(verdicts)}

{shortened}

{light}
## Same rules: the outcomes agree

{report["verification"]}

The implementations draw different random numbers, so the counts differ by sampling noise; the script requires
every pair of deaths, hunger deaths and births to differ by less than 15% or 4 standard errors, the mean
reserves by less than 0.01, and hunger deaths to happen, or it writes nothing.

## The bandwidth bound

{report["bandwidth"]}

Bytes per person-month, counted from the passes of the greatleap core (the per-class tables stay in cache and
are not counted; household arrays are spread over the members; the last column is the share of rows each pass
touches in the main run, measured):

| pass | bytes per person row | bytes per household | share of rows |
|---|---:|---:|---:|
{passes}

{bound_note}

## greatleap's whole model

{scaling}

{full_scale}

## Notes: what differs and what was not possible

- **Floating point.** greatleap's kernel computes needs in float32 and sums in float64; Mesa computes in
  Python floats (float64) throughout; Starsim's states are float32 and its numpy arithmetic mixes float32 and
  float64. The results differ in the last digits only, far below sampling noise.
- **Ages.** greatleap and Mesa derive age from the birth month; Starsim keeps its own `age` in float32 years
  and advances it by 1/12 each step, so the module floors it with a margin of 1e-4 year to get whole years.
- **Dead agents.** greatleap marks the dead and drops their rows in December (as its engine does); Mesa
  removes the agent (`Agent.remove`); Starsim removes them from the active agents at the end of the step (its
  own `people.step_die` and `remove_dead`).
- **Random numbers.** Each uses its own generator (numpy PCG64 streams; Python's `random` through Mesa's
  `model.random`; Starsim's hashed CRN uniforms or, with `crn=False`, plain draws), so only distributions, not
  individual outcomes, can agree. Mesa visits persons in random order (`shuffle_do`), which does not change
  the rules: a person's death, delivery and conception depend on no one else.
- **Starsim's own pregnancy module** (`ss.Pregnancy`) was not used: it makes an embryo agent at conception and
  has its own durations, losses and rate adjustment; greatleap's rule (a due month, a birth if the mother is
  alive) is written in the custom module, so that the rules are the same. Starsim's per-step bookkeeping
  (People results such as `n_alive`, the distributions' jumps) is left on, as a Starsim user gets it.
- **Work intensity** (activity rising with the commune's labour) is off in all three: the core has no labour.
- **One core.** Every implementation runs on one thread; greatleap's engine can spread provinces over
  threads, which this core benchmark does not use. The memory bandwidth is one core's too.
- **Peaks of the whole-model runs** are `ru_maxrss`, which on Linux a child started by fork + exec inherits
  from its parent's peak: the script resets its own peak before it starts them, or the 3 GiB of the bandwidth
  test would show as every run's peak.
"""


def bandwidth_bound(great: dict, bandwidth: dict[str, float]) -> dict[str, Any]:
    """Bytes greatleap's core moved per person-month in its run `great`, and the bound bandwidth sets on it.

    The passes run over rows (the dead stay until December's compaction), so bytes per row are scaled by
    rows per living person-month; the starving and conceiving shares are the run's own."""
    row_months = great["row_months"]
    shares = {
        "all": 1.0,
        "december": 1.0 / 12.0,
        "starving": great["starving_rows"] / row_months,
        "candidates": great["candidate_rows"] / row_months,
        "starving candidates": great["starving_candidate_rows"] / row_months,
        "deferred": great["deferred_rows"] / row_months,
        "women": great["women_rows"] / row_months,
    }
    per_household = great["persons"] / great["households"]
    per_row = greatleap_bytes_per_row(per_household, shares)
    moved = per_row * row_months / great["person_months"]
    return {"moved": moved, "bound": bandwidth["best"] * 1e9 / moved, "shares": shares, "per_household": per_household}


def bandwidth_paragraph(bandwidth: dict[str, float], bound: dict[str, Any], great: dict) -> str:
    """The bandwidth result: measured GB/s, bytes per person-month and the bound against greatleap's rate."""
    moved, limit = bound["moved"], bound["bound"]
    return (
        f"Memory bandwidth measured with numpy on one core, best of 5 on 1 GiB float64 arrays: copy "
        f"{bandwidth['copy']:.1f} GB/s, add (c = a + b) {bandwidth['add']:.1f} GB/s. greatleap's core moves about "
        f"{moved:.0f} bytes per person-month ({bound['per_household']:.2f} persons per household, "
        f"{bound['shares']['starving']:.0%} of rows below the onset of starvation, {bound['shares']['women']:.0%} "
        f"women who may conceive), so no implementation of its passes can exceed {bandwidth['best']:.1f} GB/s / "
        f"{moved:.0f} B = **{limit / 1e6:.0f} M person-months/s** on one core. greatleap ran "
        f"{rate(great) / 1e6:.1f} M person-months/s at {great['persons']:,} persons: {rate(great) / limit:.0%} of "
        "the bound."
    )


def _version(name: str) -> str:
    """The installed version of a package, or 'missing'."""
    try:
        return __import__(name).__version__
    except ImportError:
        return "missing"


if __name__ == "__main__":
    main()
