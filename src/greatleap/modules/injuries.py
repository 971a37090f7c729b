"""Injuries at work: in the fields, on the campaigns' sites, at the backyard furnaces and in the factories.

Each month the work done in a commune injures workers at a rate per day of work: `field_rate_per_kday` for
field work, `campaign_rate_per_kday` for the campaigns' earthworks (water conservancy, deep ploughing),
`furnace_rate_per_kday` at the furnaces (labour's grants of the month). Fatigue multiplies every rate: the
commune's work intensity (days worked over a normal month's) to the power `hours_exponent`, and the
hunger of its people, 1 + `hunger_weight` x (1 - mean energy reserve). In the fields, defective farm
equipment from the state's rushed factories adds 1 + `equipment_weight` x the province's equipment defect
rate (see `industry`). Factories injure their workers at the rate `industry` sets from their hours and
defects.

An injured person loses their working capacity for `incapacity_months` (labour counts them out): the
injured are drawn at random among the commune's living persons of working age who are not already
injured (a sparse draw: the expected number a commune, then random rows of it). `fatal_share` of the
injuries kill: posted to demography as the monthly hazard of the cause `injury`.
"""

from __future__ import annotations

import numpy as np

from greatleap.core import kernels
from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.state import NO_STEP, STEP, StateSpec
from greatleap.core.world import ProvinceShard

NOT_INJURED = NO_STEP
CAMPAIGN_SECTORS = ("conservancy", "deep_ploughing")
FURNACE_SECTOR = "furnaces"


class InjuryParams(ParamSection):
    field_rate_per_kday: float = param(
        0.02,
        ge=0.0,
        le=10.0,
        unit="injuries per 1000 days",
        description="injuries per thousand days of field work at a normal pace, well fed",
        source="assumption: about 5 disabling injuries per 1000 farm workers a year",
        status="assumption",
    )
    campaign_rate_per_kday: float = param(
        0.05,
        ge=0.0,
        le=10.0,
        unit="injuries per 1000 days",
        description="the same on the campaigns' earthworks (dams, canals, deep ploughing)",
        source="assumption: heavy manual earthworks",
        status="assumption",
    )
    furnace_rate_per_kday: float = param(
        0.2,
        ge=0.0,
        le=10.0,
        unit="injuries per 1000 days",
        description="the same at the backyard furnaces (burns, falls, collapsing kilns)",
        source="assumption: untrained crews at improvised furnaces, day and night",
        status="assumption",
    )
    hours_exponent: float = param(
        2.0, ge=0.0, le=4.0, description="power of the work intensity in the injury rate", source="assumption"
    )
    hunger_weight: float = param(
        3.0,
        ge=0.0,
        le=20.0,
        description="extra injury rate per unit of lost energy reserve (exhausted workers)",
        source="assumption",
        status="assumption",
    )
    equipment_weight: float = param(
        2.0,
        ge=0.0,
        le=20.0,
        description="extra field injury rate per unit of the equipment defect rate (malfunctioning tools)",
        source="assumption: 'shoddy equipment' from factories rushing impossible quotas",
        status="assumption",
    )
    incapacity_months: int = param(
        2, ge=0, le=24, unit="months", description="months an injured person cannot work", source="assumption"
    )
    fatal_share: float = param(
        0.03,
        ge=0.0,
        le=1.0,
        description="share of injuries that kill",
        source="assumption: about one death in thirty serious injuries",
        status="assumption",
    )
    age_min: int = param(
        14, ge=10, le=20, unit="years", description="youngest who can be injured at work", source="assumption"
    )
    age_max: int = param(
        64, ge=40, le=80, unit="years", description="oldest who can be injured at work", source="assumption"
    )


class Injuries(Module):
    """Work injuries, the working capacity they take, and the deaths."""

    name = "injuries"
    Params = InjuryParams
    params: InjuryParams
    states = (StateSpec("injured_until", "person", STEP, NOT_INJURED, "first month able to work again (step index)"),)
    results = (
        ResultSpec("injuries_fields", "flow", "persons", "injuries in the fields and on the campaigns' sites"),
        ResultSpec("injuries_furnaces", "flow", "persons", "injuries at the backyard furnaces"),
        ResultSpec("injuries_factories", "flow", "persons", "injuries in the state's factories"),
        ResultSpec(
            "injuries",
            "sum",
            "persons",
            "injuries at work",
            terms=("injuries_fields", "injuries_furnaces", "injuries_factories"),
        ),
        ResultSpec("persons_injured", "stock", "persons", "persons unable to work after an injury"),
    )
    streams = ("injuries",)

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        communes = shard.communes
        n = communes.count
        zeros = np.zeros(n)
        granted = shard.labour_granted
        intensity = communes.column_or("work_intensity", 1.0)
        reserve = communes.column_or("mean_reserve", 1.0)
        fatigue = np.maximum(intensity, 0.0) ** p.hours_exponent * (1.0 + p.hunger_weight * (1.0 - reserve))
        defects = 0.0
        if ctx.nation is not None and "equipment_defect_rate" in ctx.nation.provinces.names:
            defects = float(ctx.nation.provinces.equipment_defect_rate[shard.index])
        field_days = communes.column_or("labour_days_fields", 0.0)
        campaign_days = sum((np.asarray(granted[s]) for s in CAMPAIGN_SECTORS if s in granted), zeros)
        furnace_days = np.asarray(granted.get(FURNACE_SECTOR, zeros), dtype=np.float64)
        fields = (
            (
                (field_days * p.field_rate_per_kday * (1.0 + p.equipment_weight * defects))
                + campaign_days * p.campaign_rate_per_kday
            )
            * fatigue
            / 1000.0
        )
        furnaces = furnace_days * p.furnace_rate_per_kday * fatigue / 1000.0
        factories = zeros
        if "factory_workers" in communes.names:
            factories = communes.factory_workers * communes.factory_injury_rate
        expected = fields + furnaces + factories

        persons = shard.persons
        t = ctx.t
        if expected.sum() > 0:
            injured = self._draw(shard, ctx, expected)
            persons.injured_until[injured] = t + max(p.incapacity_months, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            hazard = np.where(communes.population > 0, p.fatal_share * expected / communes.population, 0.0)
        if (hazard > 0).any():
            shard.post_hazard("injury", hazard)
        ctx.record("injuries_fields", fields)
        ctx.record("injuries_furnaces", furnaces)
        ctx.record("injuries_factories", factories)
        still = np.flatnonzero(persons.injured_until > t)
        still = still[persons.alive[still]]
        ctx.record("persons_injured", np.bincount(shard.commune_of(still), minlength=n))

    def _draw(self, shard: ProvinceShard, ctx: StepContext, expected: np.ndarray) -> np.ndarray:
        """Rows of the persons injured this month: Poisson(expected) per commune, each a random living person
        of working age of the commune not already injured (random rows, kept where they qualify)."""
        p = self.params
        rng = ctx.rng("injuries")
        persons = shard.persons
        wanted = rng.poisson(expected)
        if wanted.sum() == 0 or persons.count == 0:
            return np.zeros(0, dtype=np.int64)
        rows_per_commune = np.maximum(shard.communes.population, 1)
        chosen: list[np.ndarray] = []
        for _ in range(8):  # a few rounds of draws: each round over-draws by the commune's working share
            draws = int(4 * (wanted * persons.count / rows_per_commune).max()) + 64
            rows = rng.integers(0, persons.count, size=draws)
            age = (ctx.t - persons.birth_month[rows].astype(np.int32)) // 12
            ok = persons.alive[rows] & (age >= p.age_min) & (age <= p.age_max) & (persons.injured_until[rows] <= ctx.t)
            rows = unique_rows(rows[ok], persons.count)  # once each (sorted: the order of the draw is the stream's)
            rows = rows[rng.permutation(rows.size)]
            commune = shard.commune_of(rows)  # for these rows only: no gather over everyone
            # The first `wanted` rows of each commune, in the shuffled order.
            rows, commune, rank = rank_by_commune(rows, commune, wanted.size)
            take = rank < wanted[commune]
            chosen.append(rows[take])
            wanted = wanted - np.bincount(commune[take], minlength=wanted.size)
            persons.injured_until[rows[take]] = ctx.t + 1  # not drawn twice in later rounds
            if wanted.sum() == 0:
                break
        return np.concatenate(chosen)


def unique_rows(rows: np.ndarray, n_rows: int) -> np.ndarray:
    """`np.unique(rows)` for row indices in [0, `n_rows`): sorted, each once. Compiled, through a bitmap of
    the rows (a pass over the draws and one over `n_rows` / 64 words) instead of numpy's hash and sort, which
    at full scale cost most of this module's time (millions of candidate rows a month in a large province)."""
    if not kernels.compiled():
        return np.unique(rows)
    return _unique_rows_compiled(rows, n_rows)


@kernels.jit
def _unique_rows_compiled(rows, n_rows):  # pragma: no cover - compiled
    words = np.zeros((n_rows + 63) // 64, dtype=np.uint64)
    for r in rows:
        words[r >> 6] |= np.uint64(1) << np.uint64(r & 63)
    count = 0
    for word in words:
        while word:
            word &= word - np.uint64(1)
            count += 1
    out = np.empty(count, dtype=np.int64)
    k = 0
    for w in range(words.size):
        word = words[w]
        bit = 0
        while word:
            if word & np.uint64(1):
                out[k] = w * 64 + bit
                k += 1
            word >>= np.uint64(1)
            bit += 1
    return out


def rank_by_commune(
    rows: np.ndarray, commune: np.ndarray, n_communes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`rows` and their `commune` reordered by commune, stably (within a commune, in their order), and each
    row's rank within its commune: numpy's stable argsort and searchsorted, or (compiled) a counting sort
    over the communes, which gives the same order in two passes."""
    if not kernels.compiled():
        order = np.argsort(commune, kind="stable")
        rows, commune = rows[order], commune[order]
        return rows, commune, np.arange(rows.size) - np.searchsorted(commune, commune)
    return _rank_by_commune_compiled(rows, commune, n_communes)


@kernels.jit
def _rank_by_commune_compiled(rows, commune, n_communes):  # pragma: no cover - compiled
    start = np.zeros(n_communes + 1, dtype=np.int64)
    for c in commune:
        start[c + 1] += 1
    for c in range(n_communes):
        start[c + 1] += start[c]
    sorted_rows = np.empty(rows.size, dtype=rows.dtype)
    sorted_commune = np.empty(commune.size, dtype=commune.dtype)
    rank = np.empty(rows.size, dtype=np.int64)
    filled = start[:-1].copy()
    for i in range(rows.size):
        c = commune[i]
        k = filled[c]
        sorted_rows[k] = rows[i]
        sorted_commune[k] = c
        rank[k] = k - start[c]
        filled[c] += 1
    return sorted_rows, sorted_commune, rank
