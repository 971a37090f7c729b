"""Internal passports (hukou) and famine flight.

Every person is registered where they live (their commune or urban district); moving needs a permit. From 1958
the Household Registration Regulations (organisation.csv: the directive against 'blind outflow' of 18 Dec 1957
and the regulations of 9 Jan 1958) made permits hard to get. Each month a hungry person of working age
(`flight_age_min`-`flight_age_max`) living in a rural commune whose energy reserve is below `flight_onset`
tries to flee with a probability rising linearly to `flight_rate_max` at `flight_desperate`; the attempt
succeeds with the probability of the `passports` regime (`strict`, `lax`, `free`). A person who gets away
either leaves the province (with probability `cross_province_share`) or joins a household of another commune
or urban district of the same province. Destinations are chosen in proportion to how well fed they are (the
commune's mean energy reserve to the power `destination_pull`, times the number of real communes a simulated
one stands for); another province is chosen the same way from the provinces' totals, at the state's level,
since provinces meet only there: the origin posts the migrants' rows to the nation's outbox, a nation phase
routes them, and the destination takes them in. A simulated migrant stands for as many real persons as their
origin's commune weight, so they arrive as copies in proportion to the weights (`ProvinceShard.resettle`).

Migrants are marked `unregistered`: they live where they are without being registered there, so the cities do
not count them for rations (`unregistered_persons` per commune, which the state's urban registration
subtracts); urban districts draw migrants only `urban_pull` times as much as an equally fed commune. A migrant
takes along an equal member's share of their household's grain store and planned needs (the household columns
declared `carried`) and shares the food of the household that takes them in. Recruitment into state
enterprises and the return of workers to the villages move registered persons (module `recruitment`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from greatleap.core import kernels
from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.state import BIT, StateSpec
from greatleap.core.world import Nation, ProvinceShard, draw_destinations

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
        0.02,
        ge=0.0,
        le=1.0,
        description="share of flight attempts that succeed, strict passports (a family on the road is stopped "
        "more easily than a lone man)",
        source="assumption, bounded by the record: with families fleeing together, 0.1 sent so many migrants "
        "to the cities that the urban population of 1960 lay 6% above the recorded year-end "
        "(national_series.csv); at 0.02 about 4 million persons flee in 1960, as many as lone flight at 0.1 moved",
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
    family_share: float = param(
        1.0,
        ge=0.0,
        le=1.0,
        description="share of those who get away who take their whole household along (the others go alone)",
        source="assumption: accounts of the famine describe families fleeing and begging together; no share is sourced",
        status="assumption",
    )
    flight_age_max: int = param(
        49, ge=30, le=80, unit="years", description="oldest who flee alone", source="assumption"
    )
    cross_province_share: float = param(
        0.3,
        ge=0.0,
        le=1.0,
        description="share of those who get away who leave the province",
        source="assumption: the 'blind flow' went largely to the northeast, Inner Mongolia, Qinghai and "
        "Xinjiang (organisation.csv, unverified); no national share is sourced",
        status="assumption",
    )
    urban_pull: float = param(
        0.1,
        ge=0.0,
        le=1.0,
        description="how much an urban district draws migrants relative to a rural commune as well fed: "
        "grain in the cities is bought with ration coupons that only registered residents hold",
        source="assumption: grain rationing by coupon from 1955 (organisation.csv, unverified); cities sent "
        "the 'blind flow' back",
        status="assumption",
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
    """Flight from hunger, filtered by the passport regime, within and across provinces."""

    name = "migration"
    Params = MigrationParams
    params: MigrationParams
    states = (
        StateSpec("unregistered", "person", BIT, False, "living away from where registered", inherit=True),
        StateSpec("unregistered_persons", "commune", "int64", 0, "living persons not registered where they live"),
        StateSpec("migration_pull", "province", "float64", 0.0, "how many migrants the province draws (weight)"),
        StateSpec("flow_carried_out_t", "commune", "float64", 0.0, "this month: grain migrants took from stores"),
        StateSpec("flow_carried_in_t", "commune", "float64", 0.0, "this month: grain migrants brought into stores"),
    )
    results = (
        ResultSpec("migration_attempts", "flow", "persons", "attempts to flee hunger"),
        ResultSpec("migrants", "flow", "persons", "persons who got away (arrivals, within and across provinces)"),
        ResultSpec("migrants_interprovincial", "flow", "persons", "arrivals from another province"),
        ResultSpec(
            "migration_net",
            "flow",
            "persons",
            "arrivals less departures (after the month's population is recorded; nationally zero in expectation)",
        ),
        ResultSpec("urban_population", "stock", "persons", "persons living in urban districts"),
        ResultSpec("unregistered_persons", "stock", "persons", "persons living away from their registration"),
        ResultSpec("grain_carried_out_mt", "flow", "Mt", "grain migrants took along from their households"),
        ResultSpec("grain_carried_in_mt", "flow", "Mt", "grain migrants brought into the households they joined"),
    )
    streams = ("flight", "destination", "routing", "arrival")

    def success(self) -> float:
        p = self.params
        return {"strict": p.success_strict, "lax": p.success_lax, "free": p.success_free}[p.passports]

    def pull(self, shard: ProvinceShard) -> np.ndarray:
        """How strongly each simulated commune draws migrants: the real communes it stands for, times
        their mean reserve to the power `destination_pull`."""
        communes = shard.communes
        reserve = np.maximum(communes.mean_reserve, 1e-6)
        p = self.params
        attraction = np.where(communes.is_urban, p.urban_pull, 1.0)
        return reserve**p.destination_pull * attraction * communes.weight * (communes.population > 0)

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """Who tries to flee, who gets away; those staying in the province are resettled, the others posted.

        Communes are looked up only for the rows drawn (`ProvinceShard.commune_of`), not for every person: the
        per-person gather would be stale again after the month's moves, and nobody else reads it before then."""
        p = self.params
        persons, communes = shard.persons, shard.communes
        n_communes = communes.count
        attempts_per_commune = np.zeros(n_communes)
        arrivals = np.zeros(n_communes)
        departures = np.zeros(n_communes)
        pull = self.pull(shard)
        rng = ctx.rng("flight")
        # Each person tries with a chance of at most `flight_rate_max`: draw that share of the rows at random,
        # then keep each with its own chance over the maximum (thinning: no pass over everyone).
        sampled = sorted_sample(rng, persons.count, rng.binomial(persons.count, p.flight_rate_max))
        trying, trying_commune = self._attempts(shard, ctx.t, sampled, rng.random(sampled.size))
        if trying.size:
            attempts_per_commune = np.bincount(trying_commune, minlength=n_communes).astype(np.float64)
            successful = trying[rng.random(trying.size) < self.success()]
            movers, family = self._families(shard, successful, rng.random(successful.size) < p.family_share)
            mover_commune = shard.commune_of(movers)
            n_families = int(family.max()) + 1 if family.size else 0
            head = np.zeros(n_families, dtype=np.int64)
            head[family] = movers  # a member of each family (all live in the same commune)
            leaving_family = rng.random(n_families) < (p.cross_province_share if ctx.nation is not None else 0.0)
            leaving = leaving_family[family]
            departures = np.bincount(mover_commune, minlength=n_communes).astype(np.float64)
            shares = shard.take_shares(movers)
            self._carried(communes.flow_carried_out_t, mover_commune, shares)
            if leaving.any():
                self._post(
                    shard,
                    ctx,
                    movers[leaving],
                    _renumber(family[leaving]),
                    mover_commune[leaving],
                    {k: v[leaving] for k, v in shares.items()},
                )
            staying = ~leaving
            if staying.any():
                rng = ctx.rng("destination")
                staying_head_commune = shard.commune_of(head[~leaving_family])
                destination = draw_destinations(rng, pull, staying_head_commune)
                arrived, received = shard.resettle(
                    rng,
                    movers[staying],
                    destination,
                    communes.weight[staying_head_commune],
                    {k: v[staying] for k, v in shares.items()},
                    family=_renumber(family[staying]),
                )
                persons.unregistered[arrived] = True
                self._received(communes, received)
                arrivals = np.bincount(shard.commune_of(arrived), minlength=n_communes).astype(np.float64)
        # The population identity per commune: the stock moves by arrivals less departures.
        communes.population[:] = communes.population + (arrivals - departures).astype(np.int64)
        shard.extra["migration_attempts"] = attempts_per_commune
        shard.extra["migration_arrivals"] = arrivals
        shard.extra["migration_departures"] = departures
        if ctx.nation is not None:
            ctx.nation.provinces.migration_pull[shard.index] = float(pull.sum())
        else:  # a shard on its own (unit tests): nothing arrives from elsewhere
            self.arrive(shard, ctx)

    def _attempts(
        self, shard: ProvinceShard, t: int, sampled: np.ndarray, u: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Those of the `sampled` rows who try to flee, and their communes: living, of fleeing age, in a rural
        commune, and `u` (a uniform each) below their chance over the maximum. The kernel does it in one
        loop over the sample, without the numpy path's dozen temporaries."""
        p = self.params
        persons, communes = shard.persons, shard.communes
        reserve = persons.energy_reserve
        span = p.flight_onset - p.flight_desperate
        if kernels.compiled():
            as_reserve = reserve.dtype.type  # numpy computes in the reserve's precision (float32)
            return _attempts_compiled(
                sampled,
                u,
                t,
                persons.birth_month,
                persons.alive,
                persons.household,
                shard.households.commune,
                communes.is_urban,
                reserve,
                p.flight_age_min,
                p.flight_age_max,
                as_reserve(p.flight_onset),
                as_reserve(span),
            )
        sampled_commune = shard.commune_of(sampled)
        age = (t - persons.birth_month[sampled].astype(np.int32)) // 12
        eligible = persons.alive[sampled] & (age >= p.flight_age_min) & (age <= p.flight_age_max)
        eligible &= ~communes.is_urban[sampled_commune]  # city dwellers hold ration coupons: they stay
        relative = np.clip((p.flight_onset - reserve[sampled]) / span, 0.0, 1.0)
        tries = eligible & (u < relative)
        return sampled[tries], sampled_commune[tries]

    @staticmethod
    def _families(
        shard: ProvinceShard, successful: np.ndarray, with_family: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The persons who leave and the family (0..F-1) each travels with: those in `successful` marked
        `with_family` take along every living member of their household who shares their registration
        status (a registered person their registered household; a migrant the migrants who came with them,
        not the family that took them in); the others go alone. Rows sorted."""
        persons = shard.persons
        if not with_family.any():
            return successful, np.arange(successful.size)
        # A family is a household and a registration status: key = household * 2 + unregistered.
        key_of = lambda rows: persons.household[rows].astype(np.int64) * 2 + persons.unregistered[rows]  # noqa: E731
        going = np.zeros(2 * shard.households.count, dtype=bool)
        going[key_of(successful[with_family])] = True
        if kernels.compiled():
            members = _family_members_compiled(persons.household, persons.unregistered.packed, persons.alive, going)
        else:
            # Only rows of the households that go are looked at further (one boolean gather over everyone).
            household_goes = going.reshape(-1, 2).any(axis=1)
            candidates = np.flatnonzero(household_goes[persons.household] & persons.alive)
            members = candidates[going[key_of(candidates)]]
        alone = successful[~going[key_of(successful)]]
        movers = np.union1d(members, alone)
        key = key_of(movers)
        return movers, _renumber(np.where(going[key], key, going.size + movers))

    @staticmethod
    def _carried(flow: np.ndarray, origin: np.ndarray, shares: dict[str, np.ndarray]) -> None:
        """Grain taken out of the origin communes' private stores (t), into the month's flow."""
        if "private_stock_kg" in shares:
            flow += np.bincount(origin, weights=shares["private_stock_kg"], minlength=flow.size) / 1000.0

    @staticmethod
    def _received(communes, received: dict[str, np.ndarray]) -> None:
        if "private_stock_kg" in received:
            communes.flow_carried_in_t[:] += received["private_stock_kg"] / 1000.0

    def _post(
        self,
        shard: ProvinceShard,
        ctx: StepContext,
        leavers: np.ndarray,
        family: np.ndarray,
        leaver_commune: np.ndarray,
        shares: dict[str, np.ndarray],
    ) -> None:
        """Post persons leaving the province (their rows, what they carry and the communes they leave) to
        the nation's outbox; their rows here are closed."""
        assert ctx.nation is not None
        persons = shard.persons
        rows = {name: persons.column(name)[leavers].copy() for name in persons.names}
        rows.update({f"carried:{name}": share for name, share in shares.items()})
        rows["origin_weight"] = shard.communes.weight[leaver_commune].astype(np.float64)
        rows["family"] = family
        ctx.nation.outbox[shard.code] = rows
        persons.alive[leavers] = False  # not a death: the person lives on in another province
        shard.members_moved(shard.current_members(), left=persons.household[leavers])

    def step_nation(self, nation: Nation, ctx: StepContext) -> None:
        """Route the persons posted this month: each to another province, drawn by the provinces' pull."""
        pull = nation.provinces.migration_pull
        rng = ctx.rng("routing")
        for code in sorted(nation.outbox):
            rows = nation.outbox[code]
            origin = nation.row(code)
            family = rows["family"]
            n_families = int(family.max()) + 1 if family.size else 0
            destination = draw_destinations(rng, pull, np.full(n_families, origin))[family]
            for row in np.unique(destination):
                chosen = destination == row
                nation.inbox.setdefault(nation.codes[row], []).append({k: v[chosen] for k, v in rows.items()})
        nation.outbox.clear()

    def arrive(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """Take in the persons routed to this province, each into a household of a commune drawn by pull;
        then count the unregistered and record the month's migration."""
        parcels = ctx.nation.inbox.pop(shard.code, []) if ctx.nation is not None else []
        communes, persons = shard.communes, shard.persons
        interprovincial = np.zeros(communes.count)
        if parcels and ctx.nation is not None:
            # Family numbers are the origin's: make them distinct across parcels, then 0..F-1.
            offsets = np.cumsum([0] + [int(parcel["family"].max()) + 1 for parcel in parcels[:-1]])
            for parcel, offset in zip(parcels, offsets, strict=True):
                parcel["family"] = parcel["family"] + offset
            rows = {k: np.concatenate([parcel[k] for parcel in parcels]) for k in parcels[0]}
            family = _renumber(rows.pop("family"))
            origin_weight = np.zeros(int(family.max()) + 1)
            origin_weight[family] = rows.pop("origin_weight")
            shares = {key.split(":", 1)[1]: rows.pop(key) for key in list(rows) if key.startswith("carried:")}
            rows.pop("household")  # an index into the origin's tables: meaningless here
            members = shard.current_members()
            new = persons.add_rows(rows)
            persons.household[new] = 0  # until resettled (a row that leaves no copy keeps a valid index)
            shard.members_moved(members, joined=persons.household[new][persons.alive[new]])
            movers = np.arange(new.start, new.stop)
            rng = ctx.rng("arrival")
            destination = draw_destinations(rng, self.pull(shard), np.full(origin_weight.size, -1))
            arrived, received = shard.resettle(rng, movers, destination, origin_weight, shares, family=family)
            persons.unregistered[arrived] = True
            self._received(communes, received)
            interprovincial = np.bincount(shard.commune_of(arrived), minlength=communes.count).astype(float)
            communes.population[:] = communes.population + interprovincial.astype(np.int64)
        communes.unregistered_persons[:] = shard.living_by_commune(persons.unregistered)
        ctx.record("migration_attempts", shard.extra.pop("migration_attempts", np.zeros(communes.count)))
        arrivals = shard.extra.pop("migration_arrivals", np.zeros(communes.count)) + interprovincial
        ctx.record("migrants", arrivals)
        ctx.record("migrants_interprovincial", interprovincial)
        departures = shard.extra.pop("migration_departures", np.zeros(communes.count))
        ctx.record("migration_net", arrivals - departures)
        ctx.record("urban_population", communes.population * communes.is_urban)
        ctx.record("unregistered_persons", communes.unregistered_persons)
        ctx.record("grain_carried_out_mt", communes.flow_carried_out_t / 1e6)
        ctx.record("grain_carried_in_mt", communes.flow_carried_in_t / 1e6)


def _renumber(key: np.ndarray) -> np.ndarray:
    """Consecutive numbers 0..K-1 for the distinct values of `key`, in order of first appearance."""
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse]


@kernels.jit
def _attempts_compiled(
    sampled,
    u,
    t,
    birth_month,
    alive,
    household,
    household_commune,
    commune_urban,
    reserve,
    age_min,
    age_max,
    onset,
    span,
):  # pragma: no cover - compiled
    """`Migration._attempts` in one loop over the sample (compiled; `onset` and `span` in the reserve's
    precision, as numpy computes)."""
    trying = np.empty(sampled.size, dtype=np.int64)
    trying_commune = np.empty(sampled.size, dtype=household_commune.dtype)
    found = 0
    for s in range(sampled.size):
        row = np.uint32(sampled[s])  # unsigned: see kernels.jit
        if not alive[row]:
            continue
        age = (t - np.int64(birth_month[row])) // 12
        if age < age_min or age > age_max:
            continue
        commune = kernels.row_commune(row, household, household_commune)
        if commune_urban[commune]:
            continue
        relative = (onset - reserve[row]) / span
        if relative < 0:
            relative = 0
        elif relative > 1:
            relative = 1
        if u[s] < relative:
            trying[found] = row
            trying_commune[found] = commune
            found += 1
    return trying[:found].copy(), trying_commune[:found].copy()


@kernels.jit
def _family_members_compiled(household, unregistered, alive, going):  # pragma: no cover - compiled
    """The living rows whose family key (household * 2 + unregistered; `unregistered` packed eight rows to a
    byte, see `greatleap.core.state.Bits`) is `going`, ascending: the numpy
    path's gather, mask and `flatnonzero` over everyone in one pass (compiled), into a buffer that doubles
    when full (the scan itself is a separate loop: growing the buffer inside it keeps numba from
    optimising the loop, 4x slower)."""
    out = np.empty(4096, dtype=np.int64)
    found, row = _scan_family_members(household, unregistered, alive, going, 0, out, 0)
    while row < household.size:
        grown = np.empty(2 * out.size, dtype=np.int64)
        grown[:found] = out
        out = grown
        found, row = _scan_family_members(household, unregistered, alive, going, row, out, found)
    return out[:found].copy()


@kernels.jit
def _scan_family_members(household, unregistered, alive, going, start, out, found):  # pragma: no cover
    """Rows from `start` on into `out` from `found` on, until `out` is full: (rows found, next row)."""
    for i in range(start, household.size):
        unregistered_bit = (unregistered[np.uint64(i) >> np.uint64(3)] >> (i & 7)) & 1
        key = np.uint64(household[i]) * np.uint64(2) + np.uint64(unregistered_bit)  # unsigned: see kernels.jit
        if alive[i] and going[key]:
            if found == out.size:
                return found, i
            out[found] = i
            found += 1
    return found, household.size


def sorted_sample(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """`k` distinct rows of `n` drawn at random, ascending: `np.sort(rng.choice(n, k, replace=False))`, the
    same numbers from the same draws, leaving `rng` in the same state.

    For k > n / 50 (and n > 10,000) numpy draws by shuffling the tail of `arange(n)`: an array of 8 bytes a
    person, then a sort of the sample. The kernel replays that shuffle on the k swapped positions only (the
    rest kept in a hash table) and sorts by buckets: the same numbers, a few bytes a sampled row. It reads
    PCG64's raw output, so the parity test (tests/modules/test_migration.py) pins it to numpy's algorithm."""
    k = int(k)
    if kernels.compiled() and _choice_shuffles_the_tail(n, k) and rng.bit_generator.state["bit_generator"] == "PCG64":
        return _sorted_sample_compiled(rng, n, k)
    sample = rng.choice(n, size=k, replace=False)
    sample.sort()
    return sample


def _choice_shuffles_the_tail(n: int, k: int) -> bool:
    """Whether `Generator.choice(n, k, replace=False)` (shuffle on) takes its tail-shuffle branch (numpy's
    `pop_size > 10000 and size > pop_size // 50`; Floyd's algorithm otherwise); bounded so that every draw is
    32-bit and the kernel's products fit int64."""
    return 10_000 < n < 2**31 and n // 50 < k <= n


def _sorted_sample_compiled(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """`sorted_sample` by the kernel: numpy's 32-bit draws are the halves of PCG64's 64-bit outputs (low
    half first; an odd draw leaves the high half buffered in the state), rejected now and then (Lemire's
    method); enough raw outputs are drawn ahead, then the state is set to where numpy would have left it."""
    bit_generator = rng.bit_generator
    start = bit_generator.state
    buffered = int(start["has_uint32"])
    spare = int(2 * k * n / 2**32) + 64  # rejections: at most a share n / 2**32 of the draws
    while True:
        n_raw = (k - buffered + 1) // 2 + spare
        raw = bit_generator.random_raw(n_raw)
        words = np.empty(buffered + 2 * n_raw, dtype=np.uint32)
        if buffered:
            words[0] = start["uinteger"]
        words[buffered::2] = raw & 0xFFFFFFFF
        words[buffered + 1 :: 2] = raw >> 32
        sample, used = _tail_shuffle_sample_compiled(n, k, words)
        if used >= 0:
            break
        bit_generator.state = start  # too many rejections: draw again, further ahead
        spare *= 4
    from_raw = used - buffered
    n_used = max(from_raw + 1, 0) // 2
    state = dict(start)
    state["has_uint32"] = from_raw % 2 if from_raw > 0 else buffered - used
    if n_used:
        state["uinteger"] = int(raw[n_used - 1] >> 32)
    bit_generator.state = start
    bit_generator.advance(n_used)
    state["state"] = bit_generator.state["state"]
    bit_generator.state = state
    return sample


@kernels.jit
def _tail_shuffle_sample_compiled(n, k, words):  # pragma: no cover - compiled
    """The values numpy's tail shuffle leaves in positions n-k..n-1, ascending, and the number of 32-bit
    `words` used (-1 if they ran out). For i from n-1 down to n-k numpy swaps positions i and
    j = Lemire-bounded draw in [0, i]; positions below n-k that were swapped are kept in a hash table."""
    first = n - k
    # int32 throughout (n < 2**31): half the memory and cache of int64 tables.
    tail = np.empty(k, dtype=np.int32)  # the values at positions first..n-1
    for position in range(k):
        tail[position] = first + position
    size = 2
    while size < 2 * k:
        size *= 2
    mask = size - 1
    keys = np.full(size, -1, dtype=np.int32)  # positions below `first` holding another value
    values = np.empty(size, dtype=np.int32)
    used = 0
    for i in range(n - 1, max(first, 1) - 1, -1):  # numpy leaves position 0 alone (k = n)
        bound = np.uint64(i + 1)
        while True:  # numpy's buffered_bounded_lemire_uint32
            if used == words.size:
                return np.zeros(0, dtype=np.int64), -1
            product = np.uint64(words[used]) * bound
            used += 1
            leftover = product & np.uint64(0xFFFFFFFF)
            if leftover >= bound or leftover >= (np.uint64(0xFFFFFFFF) - np.uint64(i)) % bound:
                break
        j = np.int32(product >> np.uint64(32))
        at_i = np.uint32(i - first)  # unsigned indices: see kernels.jit
        value_i = tail[at_i]
        if j >= first:
            at_j = np.uint32(j - first)
            tail[at_i] = tail[at_j]
            tail[at_j] = value_i
        else:
            slot = np.uint64(j) & np.uint64(mask)
            while keys[slot] != -1 and keys[slot] != j:
                slot = (slot + np.uint64(1)) & np.uint64(mask)
            if keys[slot] == -1:
                keys[slot] = j
                tail[at_i] = j
            else:
                tail[at_i] = values[slot]
            values[slot] = value_i
    # Sort by buckets of 2**shift values (a shift, not a division): the values spread evenly over [0, n),
    # so a bucket holds about four (few enough for insertion; the bucket table stays small in the cache).
    shift = 0
    while (n >> (shift + 1)) >= max(k // 4, 1):
        shift += 1
    n_buckets = ((n - 1) >> shift) + 1
    start = np.zeros(n_buckets + 1, dtype=np.int32)
    for value in tail:
        start[np.uint32(value >> shift) + np.uint32(1)] += 1
    for b in range(n_buckets):
        start[b + 1] += start[b]
    fill = start[:n_buckets].copy()
    out = np.empty(k, dtype=np.int64)
    for value in tail:
        b = np.uint32(value >> shift)
        out[np.uint32(fill[b])] = value
        fill[b] += 1
    for b in range(n_buckets):  # insertion sort within each bucket
        for a in range(start[b] + 1, start[b + 1]):
            value = out[a]
            c = a - 1
            while c >= start[b] and out[c] > value:
                out[c + 1] = out[c]
                c -= 1
            out[c + 1] = value
    return out, used
