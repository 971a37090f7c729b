"""Internal passports (hukou) and famine flight.

Every person is registered where they live (their commune or urban district); moving needs a permit. From
1958 the Household Registration Regulations (organisation.csv: the directive against 'blind outflow' of
18 Dec 1957 and the regulations of 9 Jan 1958) made permits hard to get. Each month a hungry person of
working age (`flight_age_min`-`flight_age_max`) whose energy reserve is below `flight_onset` tries to flee
with a probability rising linearly to `flight_rate_max` at `flight_desperate`; the attempt succeeds with the
probability of the `passports` regime (`strict`, `lax`, `free`). A person who gets away joins a household
in another commune or urban district of the same province, chosen in proportion to how well fed it is
(its mean energy reserve to the power `destination_pull`). Migrants are marked (`unregistered`): they live
where they are without being registered there.

Flight stays within the province: provinces are shards that meet only at the state's tables. Recruitment into
state enterprises (1958-60) and the return of urban workers to the villages (1961-62) come with the
enterprises (issue 4).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.state import StateSpec
from greatleap.core.world import ProvinceShard, class_attributes

REGIMES = ("strict", "lax", "free")


class MigrationParams(ParamSection):
    passports: Literal["strict", "lax", "free"] = Field(
        "strict",
        description="the passport regime: how hard it is to move without a permit",
        json_schema_extra={
            "source": "organisation.csv: Household Registration Regulations of 9 Jan 1958 (partly verified); "
            "'strict' = history",
            "unit": "",
        },
    )
    success_strict: float = param(
        0.1,
        ge=0.0,
        le=1.0,
        description="share of flight attempts that succeed, strict passports",
        source="assumption",
        status="assumption",
    )
    success_lax: float = param(
        0.5, ge=0.0, le=1.0, description="the same, lax passports", source="assumption", status="assumption"
    )
    success_free: float = param(1.0, ge=0.0, le=1.0, description="the same, free movement", source="definition")
    flight_onset: float = param(
        0.85,
        ge=0.5,
        le=1.0,
        description="energy reserve below which people think of fleeing",
        source="assumption",
        status="assumption",
    )
    flight_desperate: float = param(
        0.7,
        ge=0.4,
        le=0.95,
        description="energy reserve at which the monthly chance of trying reaches `flight_rate_max`",
        source="assumption",
        status="assumption",
    )
    flight_rate_max: float = param(
        0.05,
        ge=0.0,
        le=1.0,
        description="monthly probability of trying to flee when desperate",
        source="assumption",
        status="assumption",
    )
    flight_age_min: int = param(
        15, ge=10, le=30, unit="years", description="youngest who flee alone", source="assumption"
    )
    flight_age_max: int = param(
        49, ge=30, le=80, unit="years", description="oldest who flee alone", source="assumption"
    )
    destination_pull: float = param(
        4.0,
        ge=0.0,
        le=20.0,
        description="how strongly migrants head for the best-fed communes (power of the mean reserve)",
        source="assumption",
        status="assumption",
    )


class Migration(Module):
    """Flight from hunger, filtered by the passport regime."""

    name = "migration"
    Params = MigrationParams
    params: MigrationParams
    states = (StateSpec("unregistered", "person", "bool", False, "living away from where registered", inherit=True),)
    results = (
        ResultSpec("migration_attempts", "flow", "persons", "attempts to flee hunger"),
        ResultSpec("migrants", "flow", "persons", "persons who got away (arrivals)"),
        ResultSpec("urban_population", "stock", "persons", "persons living in urban districts"),
        ResultSpec("unregistered_persons", "stock", "persons", "persons living away from their registration"),
    )
    streams = ("flight", "destination")

    def success(self) -> float:
        p = self.params
        return {"strict": p.success_strict, "lax": p.success_lax, "free": p.success_free}[p.passports]

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        persons, communes = shard.persons, shard.communes
        n_communes = communes.count
        reserve = persons.energy_reserve
        candidates = np.zeros(0, dtype=np.int64)
        if persons.count and float(reserve.min()) < p.flight_onset:  # nobody hungry: nobody flees
            age, _, _ = class_attributes()
            in_age = ((age >= p.flight_age_min) & (age <= p.flight_age_max))[shard.person_class(ctx.t)]
            candidates = np.flatnonzero(persons.alive & in_age & (reserve < p.flight_onset))
        commune = shard.person_commune()
        attempts_per_commune = np.zeros(n_communes)
        arrivals = np.zeros(n_communes)
        departures = np.zeros(n_communes)
        if candidates.size and n_communes > 1:
            span = p.flight_onset - p.flight_desperate
            chance = p.flight_rate_max * np.clip((p.flight_onset - reserve[candidates]) / span, 0.0, 1.0)
            rng = ctx.rng("flight")
            trying = candidates[rng.random(candidates.size) < chance]
            attempts_per_commune = np.bincount(commune[trying], minlength=n_communes).astype(np.float64)
            movers = trying[rng.random(trying.size) < self.success()]
            if movers.size:
                departures = np.bincount(commune[movers], minlength=n_communes).astype(np.float64)
                arrivals = self._move(shard, ctx, movers, commune)
        # The population identity per commune: the stock moves by arrivals less departures.
        communes.population[:] = communes.population + (arrivals - departures).astype(np.int64)
        ctx.record("migration_attempts", attempts_per_commune)
        ctx.record("migrants", arrivals)
        ctx.record("urban_population", communes.population * communes.is_urban)
        ctx.record("unregistered_persons", shard.sum_by_commune(persons.alive & persons.unregistered))

    def _move(self, shard: ProvinceShard, ctx: StepContext, movers: np.ndarray, commune: np.ndarray) -> np.ndarray:
        """Send `movers` to households of other communes, drawn by how well fed the communes are."""
        p = self.params
        persons, households, communes = shard.persons, shard.households, shard.communes
        n = communes.count
        alive = persons.alive
        mean_reserve = shard.sum_by_commune(np.where(alive, persons.energy_reserve, 0.0)) / np.maximum(
            shard.sum_by_commune(alive), 1.0
        )
        pull = np.maximum(mean_reserve, 1e-6) ** p.destination_pull * (communes.population > 0)
        rng = ctx.rng("destination")
        origin = commune[movers]
        # Draw a destination other than the origin: from the pull with the origin's weight removed.
        cumulative = np.cumsum(pull)
        u = rng.random(movers.size) * (cumulative[-1] - pull[origin])
        u = u + np.where(u >= cumulative[origin] - pull[origin], pull[origin], 0.0)
        destination = np.minimum(np.searchsorted(cumulative, u, side="right"), n - 1)
        # Households are stored commune by commune: a random household of the destination.
        per_commune = np.bincount(households.commune, minlength=n)
        first = np.cumsum(per_commune) - per_commune
        offset = (rng.random(movers.size) * per_commune[destination]).astype(np.int64)
        persons.household[movers] = (first[destination] + np.minimum(offset, per_commune[destination] - 1)).astype(
            np.int32
        )
        persons.unregistered[movers] = True
        persons.touch()  # the persons' communes changed: cached gathers are stale
        return np.bincount(destination, minlength=n).astype(np.float64)
