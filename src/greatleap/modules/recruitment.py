"""State enterprises recruit peasants into the cities (1958-60); after the retreat the state sends them back.

The state's workforce grew from 24.51 million at the end of 1957 to 45.32 million at the end of 1958 and
50.44 million in 1960 (national_series.csv `state_sector_employees`); the urban population grew by 31
million over 1958-60, about 24 million of it by migration from the villages. `recruits_by_year_m` are the
rural persons recruited each year nationally, split among the provinces by
their share of the urban population (the cities where the enterprises grew). Each month a twelfth of the
year's recruits, aged `recruit_age_min`-`recruit_age_max`, are drawn at random from the province's rural
communes and settle in households of its urban districts, registered there: they draw urban rations, which
the state procures from the countryside. They take along their share of the household's planned needs and
leave its grain store behind.

Recruitment stops at the recall. From the month after it, the state sends `return_share` of the recruits
back to the villages, evenly over `return_months` months, and more (`return_on_shortage`) when its grain
pool cannot pay the cities' rations (about 20 million workers went back in 1960-64:
national_series.csv `urban_to_rural_return_1960_64`). Those sent back are drawn at random among the living
recruits (listed from their bit column, not drawn over every person), each into a random rural household of
the province, registered there again. A simulated person stands for the weight of their commune, so moves between the
lightly sampled urban districts and the rural communes go through `ProvinceShard.resettle`.
"""

from __future__ import annotations

import numpy as np

from greatleap.core.data import urban_population_shares
from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.schedule import by_year
from greatleap.core.state import BIT, StateSpec
from greatleap.core.world import Nation, ProvinceShard, draw_destinations

_EMPLOYEES = (
    "national_series.csv state_sector_employees: 24.51 M in 1957 (derived from verified), 45.32 M in 1958 "
    "(verified), 50.44 M in 1960 (verified)"
)


class RecruitmentParams(ParamSection):
    recruits_by_year_m: dict[int, float] = param(
        {1957: 0.0, 1958: 5.4, 1959: 14.2, 1960: 4.6, 1961: 0.0, 1962: 0.0},
        unit="million persons",
        description="rural persons recruited into state enterprises each year (stops at the recall)",
        source="derived: the growth of the urban population (national_series.csv population_urban_yearend "
        "99.49, 107.21, 123.71, 130.73 M at the ends of 1957-60; unverified, 1960 partly verified) less a "
        "natural increase of about 2.3% a year (assumption); the state's workforce grew faster, by 20.8 M in "
        f"1958 alone ({_EMPLOYEES}), because many new workers were already urban residents",
        status="derived",
    )
    recruit_age_min: int = param(16, ge=14, le=25, unit="years", description="youngest recruit", source="assumption")
    recruit_age_max: int = param(35, ge=20, le=60, unit="years", description="oldest recruit", source="assumption")
    return_share: float = param(
        0.77,
        ge=0.0,
        le=1.0,
        description="share of the recruits sent back to the villages after the recall",
        source="derived: about 20 M returned in 1960-64 (national_series.csv urban_to_rural_return_1960_64, "
        "verified) over the 24.2 M recruited in 1958-60 (`recruits_by_year_m`) and the 25.9 M the state's "
        "workforce grew by",
        status="derived",
    )
    return_months: int = param(
        24,
        ge=1,
        le=60,
        unit="months",
        description="months over which the recruits are sent back, from the month after the recall",
        source="assumption: the downsizing ran mostly through 1961-62 (Chen Yun's speech of 31 May 1961, "
        "national_series.csv grain_saved_per_10m_sent_down)",
        status="assumption",
    )
    return_on_shortage: float = param(
        0.5,
        ge=0.0,
        le=1.0,
        description="extra share of the recruits sent back a month, after the recall, per unit of the cities' "
        "ration shortfall (1 - rations paid / rations due)",
        source="assumption: the state sent workers down to save grain (Chen Yun, 31 May 1961: 10 million sent "
        "down save 4.5 bn jin a year, national_series.csv grain_saved_per_10m_sent_down, verified)",
        status="assumption",
    )


class Recruitment(Module):
    """Peasants into the state's enterprises, and back."""

    name = "recruitment"
    Params = RecruitmentParams
    params: RecruitmentParams
    states = (
        StateSpec("recruited", "person", BIT, False, "recruited from a village into a state enterprise"),
        StateSpec("urban_population_share", "province", "float64", 0.0, "the province's share of urban residents"),
        StateSpec("recruits_real", "province", "float64", 0.0, "real persons recruited so far"),
    )
    results = (
        ResultSpec("recruits", "flow", "persons", "peasants recruited into state enterprises in the cities"),
        ResultSpec("workers_sent_back", "flow", "persons", "recruits sent back to the villages"),
        ResultSpec("recruits_in_cities", "stock", "persons", "recruits living in the cities"),
        ResultSpec(
            "recruitment_net",
            "flow",
            "persons",
            "arrivals less departures of recruits and returning workers (zero in expectation)",
        ),
    )
    streams = ("recruit", "send_back")

    def init_nation(self, nation: Nation, ctx: StepContext) -> None:
        nation.provinces.urban_population_share[:] = urban_population_shares(nation.codes)

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """Recruit (before the recall) or send back (after it). Communes are looked up only for the rows
        drawn and moved (`ProvinceShard.commune_of`), not for every person: the per-person gather would be stale again
        after the moves, and nobody reads it before then."""
        p = self.params
        assert ctx.nation is not None
        communes, persons = shard.communes, shard.persons
        provinces_table, row = ctx.nation.provinces, shard.index
        months_since_recall = float(ctx.nation.state.months_since_recall[0])
        arrivals = np.zeros(communes.count)
        departures = np.zeros(communes.count)
        recruits = np.zeros(communes.count)
        sent_back = np.zeros(communes.count)
        rural = ~communes.is_urban
        if months_since_recall < 0:
            real = by_year(p.recruits_by_year_m, ctx.year) * 1e6 / 12.0 * provinces_table.urban_population_share[row]
            t = ctx.t

            def eligible(rows: np.ndarray) -> np.ndarray:
                age = (t - persons.birth_month[rows].astype(np.int32)) // 12
                young = (age >= p.recruit_age_min) & (age <= p.recruit_age_max)
                return persons.alive[rows] & young & rural[shard.commune_of(rows)] & ~persons.recruited[rows]

            rng = ctx.rng("recruit")
            n = self._row_count(rng, real, communes.weight[rural], persons.count)
            movers = shard.draw_rows(rng, n, eligible, 0.3)
            if movers.size:
                mover_commune = shard.commune_of(movers)
                provinces_table.recruits_real[row] += float(communes.weight[mover_commune].sum())
                arrived = self._move(shard, ctx.rng("recruit"), movers, mover_commune, to_urban=True)
                persons.recruited[arrived] = True
                departures += np.bincount(mover_commune, minlength=communes.count)
                recruits = np.bincount(shard.commune_of(arrived), minlength=communes.count).astype(float)
                arrivals += recruits
        elif months_since_recall >= 1:
            real = self._returning(ctx, float(provinces_table.recruits_real[row]), months_since_recall)
            candidates = shard.living_rows(persons.recruited)  # the living recruits, listed from the bit column
            rng = ctx.rng("send_back")
            n = self._row_count(rng, real, communes.weight[~rural], candidates.size)
            movers = candidates[np.sort(rng.choice(candidates.size, n, replace=False, shuffle=False))]
            if movers.size:
                mover_commune = shard.commune_of(movers)
                departures += np.bincount(mover_commune, minlength=communes.count)
                sent_back = np.bincount(mover_commune, minlength=communes.count).astype(float)
                arrived = self._move(shard, ctx.rng("send_back"), movers, mover_commune, to_urban=False)
                persons.recruited[movers] = False
                persons.recruited[arrived] = False  # copies too (where a rural row stands for fewer persons)
                arrivals += np.bincount(shard.commune_of(arrived), minlength=communes.count)
        communes.population[:] = communes.population + (arrivals - departures).astype(np.int64)
        ctx.record("recruits", recruits)
        ctx.record("workers_sent_back", sent_back)
        ctx.record("recruitment_net", arrivals - departures)
        ctx.record("recruits_in_cities", shard.living_by_commune(persons.recruited))

    def _returning(self, ctx: StepContext, recruited_real: float, months_since_recall: float) -> float:
        """Real recruits to send back this month: the schedule's even share, more when the state cannot pay
        the cities' rations (a tenth of a million sent down saved 450 million jin a year: Chen Yun, 1961)."""
        p = self.params
        assert ctx.nation is not None
        scheduled = p.return_share / p.return_months if months_since_recall <= p.return_months else 0.0
        state = ctx.nation.state
        supplied = float(state.urban_supply_ratio[0]) if "urban_supply_ratio" in state.names else 1.0
        return recruited_real * (scheduled + p.return_on_shortage * max(0.0, 1.0 - supplied))

    @staticmethod
    def _row_count(rng: np.random.Generator, real: float, weights: np.ndarray, available: int) -> int:
        """How many rows stand for about `real` real persons living in communes of the given `weights` (each
        row stands for its commune's weight; rounded at random so that the expectation is exact; at most
        `available`)."""
        if real <= 0 or weights.size == 0:
            return 0
        expected = real / float(weights.mean())
        return min(int(expected) + int(rng.random() < expected - int(expected)), available)

    @staticmethod
    def _move(
        shard: ProvinceShard,
        rng: np.random.Generator,
        movers: np.ndarray,
        mover_commune: np.ndarray,
        to_urban: bool,
    ) -> np.ndarray:
        """Settle `movers` (living in `mover_commune`) in random urban districts (or rural communes), drawn by
        the real communes each stands for, registered there; they take their share of planned needs, not the
        household's grain."""
        communes = shard.communes
        target = communes.weight * (communes.is_urban == to_urban) * (communes.population > 0)
        if target.sum() <= 0:
            return np.zeros(0, dtype=np.int64)
        destination = draw_destinations(rng, target, np.full(movers.size, -1))
        shares = shard.take_shares(movers, exclude=("private_stock_kg",))
        arrived, _ = shard.resettle(rng, movers, destination, communes.weight[mover_commune], shares)
        if "unregistered" in shard.persons.names:  # registered where they now live
            shard.persons.unregistered[arrived] = False
        return arrived
