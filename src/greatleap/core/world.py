"""Building the simulated world: provinces, their communes (rural) and urban districts, brigades, teams,
households and persons.

Communes keep their real size (about 4,600 households, brigades of about 200, teams of about 30). At
`scale = full` every commune of every province is simulated; otherwise a stratified sample of `k`
communes per province is, each weighted by the number of real communes it stands for. Communes are
stratified on a productivity score: the score's distribution is cut into `k` equal strata and one
commune sits at each stratum's midpoint, so a sample is the full population coarsened, not a random
draw of it, and figures are comparable across scales. The urban sector of each province is made of
urban districts of the same size, sampled in proportion to the urban population (at least one).

Each province is a `ProvinceShard` holding its own tables and random streams: provinces never share
state, so they can be processed in any order or on different workers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from greatleap.core import kernels
from greatleap.core.data import Province, age_sex_1953, provinces
from greatleap.core.params import ParamSection, param
from greatleap.core.state import BIT, Bits, StateSpec, Table
from greatleap.core.streams import Streams, make_generator

# States owned by the world itself (modules declare their own).
WORLD_STATES: tuple[StateSpec, ...] = (
    StateSpec("household", "person", "int32", -1, "index of the person's household in the shard", inherit=True),
    StateSpec("birth_month", "person", "int16", 0, "month of birth, as a step index (negative: before the start)"),
    StateSpec("sex", "person", BIT, False, "1 = female, 0 = male (a bit: see state.Bits)"),
    StateSpec("alive", "person", "bool", True, "false once dead (the row is dropped at the next compaction)"),
    # A commune's households are consecutive rows, so the household's commune is spelled out from each
    # commune's first row while the province is in a stretch of phases (see ProvinceShard.hold), not stored
    # from month to month (0.56 GB at full scale).
    StateSpec("commune", "household", "int32", -1, "index of the household's commune in the shard", transient=True),
    StateSpec("brigade", "team", "int32", -1, "index of the team's brigade"),
    # A team's households are consecutive rows, so the household table holds no team index (0.56 GB at
    # full scale): see ProvinceShard.household_team.
    StateSpec("first_household", "team", "int32", -1, "row of the team's first household"),
    StateSpec("commune", "brigade", "int32", -1, "index of the brigade's commune"),
    StateSpec("first_household", "commune", "int32", -1, "row of the commune's first household"),
    StateSpec("is_urban", "commune", "bool", False, "an urban district rather than a rural commune"),
    StateSpec("weight", "commune", "float64", 1.0, "number of real communes this simulated one stands for"),
    StateSpec("quality", "commune", "float32", 0.5, "productivity score: the commune's stratum midpoint, in (0, 1)"),
    StateSpec("land_ha", "commune", "float32", 0.0, "cultivated land of the commune, hectares"),
)

MALE, FEMALE = 0, 1
# Per-person arrays a shard caches in `extra`, each keyed by the person table's version (see person_class).
PERSON_CACHES = ("person_class", "person_commune", "household_members")
# The household members kept between stretches, one byte a household (see `release_caches`).
KEPT_MEMBERS = "household_members_kept"
MAX_AGE = 110  # ages above are treated as 110 by the per-age tables
PERSON_HEADROOM = 1.5  # person rows a province's table has room for, per person at the start (see _populate)
N_CLASSES = (MAX_AGE + 1) * 4  # see ProvinceShard.person_class


def class_attributes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Age in years, sex and urban flag of every person class (inverse of `person_class`)."""
    index = np.arange(N_CLASSES)
    return index // 4, (index // 2) % 2, index % 2


class WorldParams(ParamSection):
    """How the world is built from the 1957 provincial data."""

    population_at_start: float = param(
        628.28e6,
        ge=1e3,
        le=2e9,
        unit="persons",
        description="national population at the start of the run, spread over provinces in proportion to "
        "their 1957 populations",
        source="national_series.csv population_total_yearend 1956 = 62,828 (10k persons), the population on "
        "1957-01-01 (NBS series, status unverified)",
        status="unverified",
    )
    households_per_commune: int = param(
        4600,
        ge=200,
        le=20000,
        unit="households",
        description="households in a commune (and in an urban district)",
        source="organisation.csv: >26,000 communes held 120 million households at the end of Oct 1958 "
        "(Beijing Review via fx361.cc, verified) => ~4,600 per commune (derived)",
        status="derived",
    )
    households_per_brigade: int = param(
        200,
        ge=20,
        le=2000,
        unit="households",
        description="households in a production brigade",
        source="organisation.csv: ~500,000 brigades in 1959 for 120 million households (~240, unverified); "
        "greatleap brief: ~200",
        status="unverified",
    )
    households_per_team: int = param(
        30,
        ge=5,
        le=200,
        unit="households",
        description="households in a production team",
        source="organisation.csv: teams of ~20-40 households (unverified)",
        status="unverified",
    )
    rural_household_size: float = param(
        4.6,
        ge=1.5,
        le=10.0,
        unit="persons",
        description="mean size of a rural household",
        source="national_series.csv rural population year-end 1958 552.73 million / organisation.csv 120 "
        "million households in communes (Oct 1958) = 4.6 (derived)",
        status="derived",
    )
    urban_household_size: float = param(
        4.0,
        ge=1.5,
        le=10.0,
        unit="persons",
        description="mean size of an urban household",
        source="assumption: smaller than rural households (single workers in dormitories); no sourced value yet",
        status="assumption",
    )
    sample_communes_per_province: int = param(
        2,
        ge=1,
        le=64,
        unit="communes",
        description="rural communes simulated per province at scale 'sample'",
        source="benchmarks/bench_scale.py: 2 per province keeps national rates within sampling noise of "
        "larger samples at a few seconds per run",
    )


Scale = Literal["sample", "full"] | int


@dataclass
class ProvinceShard:
    """One province: its data, its tables and its random streams."""

    province: Province
    persons: Table
    households: Table
    teams: Table
    brigades: Table
    communes: Table
    streams: Streams
    real_rural_communes: int
    real_urban_districts: int
    index: int = -1  # row of this province in the nation's province table (set by `build_nation`)
    extra: dict[str, object] = field(default_factory=dict)
    # The shared labour interface: before the labour phase, a sector (water conservancy, furnaces, state
    # enterprises) claims person-days per commune; the labour module grants them and clears the claims.
    labour_claims: dict[str, np.ndarray] = field(default_factory=dict)
    labour_granted: dict[str, np.ndarray] = field(default_factory=dict)
    # The shared hazard interface: a module posts a monthly death hazard per commune for a cause (building
    # collapses, injuries); demography applies it with the others and clears it.
    hazards: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.province.code

    @property
    def commune_weight(self) -> np.ndarray:
        return self.communes.weight

    def tables(self) -> dict[str, Table]:
        return {
            "person": self.persons,
            "household": self.households,
            "team": self.teams,
            "brigade": self.brigades,
            "commune": self.communes,
        }

    def compact_persons(self) -> None:
        """Drop the dead rows (the engine does it after each December), and put the persons back in household
        order: a year's births and moves were appended or changed in place, and every per-person pass that
        adds into its household (the energy balance, members, classes) runs faster over rows in order (a
        quarter faster for the energy balance, measured on Ningxia's persons in June 1959). The per-person
        caches are dropped with the old rows (a stale cache nobody asks for again would hold 2-4 bytes a person);
        the kept household members stay true (only dead rows go, and no one changes household) and are kept."""
        kept = self._kept_members()
        self.persons.compact(self.persons.alive, order_by="household")
        self.release_caches()
        if kept is not None:
            self.extra[KEPT_MEMBERS] = (self.persons.version, kept)

    def hold(self, states: Sequence[StateSpec]) -> None:
        """Give the transient `states` storage while the province is in a stretch of phases: arrays kept by
        this thread (`kernels.reusable`), which serves one province at a time, set to their defaults. The
        households' communes are always held, spelled out from the communes' first rows."""
        self.hold_household_commune(kernels.reusable("household.commune", (self.households.capacity,), np.int32))
        tables = self.tables()
        for spec in states:
            table = tables[spec.level]
            table.attach(
                spec.name, kernels.reusable(f"{spec.level}.{spec.name}", (table.capacity,), np.dtype(spec.dtype))
            )

    def release(self, states: Sequence[StateSpec]) -> None:
        """Take the transient `states`' storage back when the province leaves the stretch."""
        tables = self.tables()
        for spec in states:
            tables[spec.level].detach(spec.name)
        self.households.detach("commune")

    def hold_household_commune(self, storage: np.ndarray) -> None:
        """Give the households' `commune` column the int32 `storage` and spell it out: commune c holds the
        households bounds[c]..bounds[c+1]-1 (see `household_bounds`)."""
        self.households.attach("commune", storage)
        kernels.fill_segments(self.household_bounds(), self.households.commune)

    def release_caches(self) -> None:
        """Drop the per-person caches (the engine calls it when a province leaves a stretch of phases): they
        are rebuilt on demand, and kept only while the province is being stepped. The household members are
        kept in one byte a household (0.14 GB for the country at full scale, against 1.1 GB in float64) when
        every count fits, so that the next stretch expands them (about 1 ns a household) instead of recounting
        every person (Gansu at full scale: 18 ms a recount, two a month). Kept counts the stretch did not
        expand stay as they are, if still current."""
        cached = self.extra.get("household_members")
        members = cached[1] if cached is not None and cached[0] == ("household_members", self.persons.version) else None
        for name in PERSON_CACHES:
            self.extra.pop(name, None)
        if members is not None and members.size and members.max() <= np.iinfo(np.uint8).max:
            self.extra[KEPT_MEMBERS] = (self.persons.version, members.astype(np.uint8))
        elif self._kept_members() is None:
            self.extra.pop(KEPT_MEMBERS, None)  # stale

    def _kept_members(self) -> np.ndarray | None:
        """The kept household members (uint8) if they count the person rows as they are, else None."""
        kept = self.extra.get(KEPT_MEMBERS)
        return kept[1] if kept is not None and kept[0] == self.persons.version else None

    def person_commune(self) -> np.ndarray:
        """The commune of every person row (a gather through the household), cached until rows change."""
        key = ("person_commune", self.persons.version)
        cached = self.extra.get("person_commune")
        if cached is None or cached[0] != key:
            cached = (key, np.take(self.household_commune(), self.persons.household))
            self.extra["person_commune"] = cached
        return cached[1]  # type: ignore[return-value]

    def household_commune(self) -> np.ndarray:
        """The commune of every household: the column held in a stretch of phases, else spelled out afresh
        (int32; see `hold`)."""
        households = self.households
        if households.attached("commune"):
            return households.commune
        return kernels.fill_segments(self.household_bounds(), np.empty(households.count, dtype=np.int32))

    def commune_of(self, rows: np.ndarray) -> np.ndarray:
        """The communes of the person `rows`: `person_commune()[rows]`, gathered through the households for
        these rows only (the per-person gather costs a pass over everyone each time rows move)."""
        return self.household_commune()[self.persons.household[rows]]

    def living_by_commune(self, flag: np.ndarray | Bits) -> np.ndarray:
        """Living persons per commune for whom `flag` (a boolean or bit column of the persons) is set, int64:
        `np.bincount` of the communes of those rows. The kernels skip unflagged rows eight at a time (64 in a
        bit column): few rows are flagged but for `alive`."""
        persons, n_communes = self.persons, self.communes.count
        commune, household, alive = self.household_commune(), persons.household, persons.alive
        if kernels.compiled() and isinstance(flag, Bits):
            return _living_by_commune_bits(flag.packed, flag.size, alive, household, commune, n_communes)
        if kernels.compiled():
            return _living_by_commune_compiled(flag, alive, household, commune, n_communes)
        rows = np.flatnonzero(flag.unpack() if isinstance(flag, Bits) else flag)
        rows = rows[persons.alive[rows]]
        return np.bincount(self.commune_of(rows), minlength=n_communes)

    def living_rows(self, flag: Bits) -> np.ndarray:
        """The rows of the living persons for whom the bit column `flag` is set (sorted int64): the compiled
        pass skips eight unflagged rows (a zero byte) at a time and allocates only the rows found, not a mask of
        everyone."""
        alive = self.persons.alive
        if kernels.compiled():
            return _living_rows_bits(flag.packed, flag.size, alive)
        return np.flatnonzero(flag.unpack() & alive[: flag.size])

    def sum_by_household(self, per_person: np.ndarray) -> np.ndarray:
        """Per-household sums of a per-person quantity (float64; `np.bincount` over the persons' households)."""
        return kernels.group_sum(self.persons.household, per_person, self.households.count)

    def class_sum_by_household(self, per_class: np.ndarray, t: int) -> np.ndarray:
        """Per-household sums, over the living members, of a value per person class (see `person_class`)."""
        persons, count = self.persons, self.households.count
        return kernels.class_sum(persons.household, self.person_class(t), persons.alive, per_class, count)

    def sum_by_commune(self, per_person: np.ndarray) -> np.ndarray:
        """Per-commune sums of a per-person quantity, through the households (faster than a direct
        gather-and-count over persons)."""
        return self.per_commune(self.sum_by_household(per_person))

    def household_team(self) -> np.ndarray:
        """The production team of every household (int32). Teams hold consecutive households (they are built
        so, brigade by brigade and commune by commune, and households are never added or moved), so the
        index is spelled out from each team's first row rather than stored."""
        bounds = np.r_[self.teams.first_household, self.households.count].astype(np.int64)
        return kernels.fill_segments(bounds, np.empty(self.households.count, dtype=np.int32))

    def household_bounds(self) -> np.ndarray:
        """Households are stored commune by commune (they are built so and never move): commune c holds
        households bounds[c]..bounds[c+1]-1 (int64)."""
        bounds = self.extra.get("household_bounds")
        if bounds is None:
            bounds = np.r_[self.communes.first_household, self.households.count].astype(np.int64)
            self.extra["household_bounds"] = bounds
        return bounds  # type: ignore[return-value]

    def household_members(self) -> np.ndarray:
        """Living members of every household (float64), cached while the person rows stay as they are; those
        who die, leave, move or are born keep it current (`members_moved`). Several modules need it every
        month."""
        members = self.current_members()
        if members is None:
            members = self.sum_by_household(self.persons.alive)
            self.extra["household_members"] = (("household_members", self.persons.version), members)
        return members

    def current_members(self) -> np.ndarray | None:
        """The cached living members per household if they still count the rows as they are, else None: taken
        before a change that adds rows (which makes the cache stale), to hand to `members_moved` after it."""
        key = ("household_members", self.persons.version)
        cached = self.extra.get("household_members")
        if cached is not None and cached[0] == key:
            return cached[1]  # type: ignore[no-any-return]
        kept = self._kept_members()
        if kept is None:
            return None
        # Expanded, the kept counts become the one cache that changes in place (`members_moved`): the
        # kept copy goes, so that a later change without a new version cannot leave it stale behind.
        members = kept.astype(np.float64)
        self.extra.pop(KEPT_MEMBERS)
        self.extra["household_members"] = (key, members)
        return members

    def members_moved(
        self, members: np.ndarray | None, left: np.ndarray | None = None, joined: np.ndarray | None = None
    ) -> None:
        """Keep the household members counted after living persons left the households `left` (one entry
        each: they died, left the province or moved; their households before the move) and joined the
        households `joined` (born, arrived, moved or copied in): `members` is `current_members()` as it was
        before the change, counted up and down in place and kept as current. The counts are whole numbers,
        so they equal a recount byte for byte, without its pass over every person (a province's full-scale
        flight needed one after every month's deaths). With `members` None the cache is dropped."""
        if members is None:
            self.forget_members()
            return
        if left is not None and left.size:
            np.subtract.at(members, left, 1.0)
        if joined is not None and joined.size:
            np.add.at(members, joined, 1.0)
        self.extra["household_members"] = (("household_members", self.persons.version), members)

    def forget_members(self) -> None:
        """Drop the cached household members (and the kept ones)."""
        self.extra.pop("household_members", None)
        self.extra.pop(KEPT_MEMBERS, None)

    def per_commune(self, per_household: np.ndarray) -> np.ndarray:
        """Per-commune sums of a per-household quantity (float64; `np.bincount` over the households' communes,
        computed as sums over each commune's contiguous households)."""
        return kernels.segment_sum(self.household_bounds(), per_household, self.household_commune())

    def post_hazard(self, cause: str, per_commune: np.ndarray) -> None:
        """Add a monthly death hazard per commune for `cause` (several modules may post the same cause:
        injuries at the furnaces, in the fields and in the factories); demography applies and clears them."""
        current = self.hazards.get(cause)
        self.hazards[cause] = per_commune if current is None else current + per_commune

    def draw_rows(
        self, rng: np.random.Generator, n: int, eligible: Callable[[np.ndarray], np.ndarray], share: float
    ) -> np.ndarray:
        """`n` distinct person rows drawn at random among those `eligible(rows)` accepts, without a pass over
        every person: uniform rows in rounds, kept where eligible (`share` guesses the eligible share of
        rows, to size the rounds). Fewer than `n` if the rounds run out (sorted row indices)."""
        count = self.persons.count
        chosen = np.zeros(0, dtype=np.int64)
        if n <= 0 or count == 0 or share <= 0:
            return chosen
        for _ in range(6):
            missing = n - chosen.size
            rows = rng.integers(0, count, size=min(int(2 * missing / share) + 32, 2 * count))
            rows = np.setdiff1d(rows[eligible(rows)], chosen)  # distinct, sorted
            rows = rows[rng.permutation(rows.size)][:missing]
            chosen = np.r_[chosen, rows]
            if chosen.size >= n:
                break
        return np.sort(chosen)

    def take_shares(self, movers: np.ndarray, exclude: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        """What each of `movers` takes along from their household: an equal member's share of every
        household column declared `carried` (the grain store, the planned needs), taken out of the
        household now (except the columns in `exclude`). Returns the amounts per mover, by column."""
        households = self.households
        old = self.persons.household[movers]
        members = np.maximum(self.household_members()[old], 1.0)
        shares = {}
        for name in households.carried_columns():
            if name in exclude:
                continue
            column = households.column(name)
            share = column[old] / members
            np.subtract.at(column, old, share.astype(column.dtype))
            np.maximum(column, 0, out=column)  # float rounding never leaves a negative store
            shares[name] = share
        return shares

    def resettle(
        self,
        rng: np.random.Generator,
        movers: np.ndarray,
        destination: np.ndarray,
        origin_weight: np.ndarray,
        shares: dict[str, np.ndarray],
        family: np.ndarray | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Move the person rows `movers` into random households of the communes `destination`, each bringing
        `shares` (from `take_shares`, or from another province) into the household.

        Movers travel in families: `family` numbers them 0..F-1 (None: each mover alone), and
        `destination` and `origin_weight` are given per family. A family goes into one household together.
        A simulated person stands for `weight` real persons of their commune; a family that stood for
        `origin_weight` real families arrives as origin_weight / weight(destination) simulated families:
        the whole part as copies, the fraction by a draw (a family from a heavily sampled commune to a
        lightly sampled one becomes several; one the other way may leave no row), each member's copy with
        the member's shares. Real persons and what they carry are conserved in expectation. Rows that leave
        no one behind are marked not alive (they are not deaths: the population stocks move with arrivals
        and departures). Returns the arriving rows (moved in place and copies) and, by carried column, the
        amounts received per commune.
        """
        persons, households, communes = self.persons, self.households, self.communes
        received = {name: np.zeros(communes.count) for name in shares}
        if movers.size == 0:
            return np.zeros(0, dtype=np.int64), received
        if family is None:
            family = np.arange(movers.size)
        n_families = destination.size
        ratio = origin_weight / communes.weight[destination]
        copies = np.floor(ratio).astype(np.int64) + (rng.random(n_families) < ratio - np.floor(ratio))
        bounds = self.household_bounds()  # households are stored commune by commune
        per_commune, first = np.diff(bounds), bounds[:-1]
        # One host household per copy of each family.
        copy_family = np.repeat(np.arange(n_families), copies)
        offset = (rng.random(copy_family.size) * per_commune[destination[copy_family]]).astype(np.int64)
        host = first[destination[copy_family]] + np.minimum(offset, per_commune[destination[copy_family]] - 1)
        first_copy = np.r_[True, copy_family[1:] != copy_family[:-1]] if copy_family.size else np.zeros(0, bool)
        # Every member of a family goes with each copy of it: (copy, member) pairs, copy by copy.
        order = np.argsort(family, kind="stable")
        size = np.bincount(family, minlength=n_families)
        start = np.cumsum(size) - size
        pair_copy = np.repeat(np.arange(copy_family.size), size[copy_family])
        within = np.arange(pair_copy.size) - np.repeat(
            np.cumsum(size[copy_family]) - size[copy_family], size[copy_family]
        )
        member = order[start[copy_family[pair_copy]] + within]  # index into movers
        household = host[pair_copy]
        # The first copy of each arriving mover moves in place; further copies are appended.
        members = self.current_members()
        left = persons.household[movers[persons.alive[movers]]]
        is_first = first_copy[pair_copy]
        persons.household[movers[member[is_first]]] = household[is_first].astype(np.int32)
        persons.alive[movers[copies[family] == 0]] = False
        new = persons.add_copies(movers[member[~is_first]])
        persons.household[new] = household[~is_first].astype(np.int32)
        persons.touch()  # communes changed: cached gathers are stale
        moved_in = np.r_[movers[member[is_first]], np.arange(new.start, new.stop)]
        self.members_moved(members, left=left, joined=persons.household[moved_in[persons.alive[moved_in]]])
        arrived_at = destination[copy_family[pair_copy]]
        for name, share in shares.items():
            column = households.column(name)
            np.add.at(column, household, share[member].astype(column.dtype))
            received[name] = np.bincount(arrived_at, weights=share[member], minlength=communes.count)
        return moved_in.astype(np.int64), received

    def person_class(self, t: int) -> np.ndarray:
        """Every person's class at step `t`: (age in years * 2 + sex) * 2 + urban, cached for the month. The
        classes number fewer than 2**15, so the cache is int16 (2 bytes a person at full scale, not 4).

        Modules keep per-class tables (need, hazards, fertility) and gather from them with this index,
        which costs one gather per table instead of recomputing age, sex and residence every time.
        """
        key = ("person_class", t, self.persons.version)
        cached = self.extra.get("person_class")
        if cached is None or cached[0] != key:
            persons = self.persons
            if kernels.compiled():
                value = _person_class_compiled(
                    t,
                    persons.birth_month,
                    persons.sex.packed,
                    persons.household,
                    self.household_commune(),
                    self.communes.is_urban,
                    MAX_AGE,
                    kernels.scratch(persons.count, np.int16),
                )
            else:
                age_months = t - persons.birth_month.astype(np.int32)
                age = np.minimum(age_months // 12, MAX_AGE)
                urban = self.communes.is_urban[self.person_commune()]
                value = ((age * 2 + persons.sex.unpack()) * 2 + urban).astype(np.int16)
            cached = (key, value)
            self.extra["person_class"] = cached
        return cached[1]  # type: ignore[return-value]


@kernels.jit
def _living_by_commune_compiled(flag, alive, household, household_commune, n_communes):  # pragma: no cover
    """`living_by_commune` in one pass (compiled): the flags read eight at a time as one 64-bit word."""
    out = np.zeros(n_communes, dtype=np.int64)
    whole = flag.size // 8 * 8
    words = flag[:whole].view(np.uint64)
    for w in range(words.size):
        if words[w]:
            for i in range(8 * w, 8 * w + 8):
                if flag[i] and alive[i]:
                    out[kernels.row_commune(i, household, household_commune)] += 1
    for i in range(whole, flag.size):
        if flag[i] and alive[i]:
            out[kernels.row_commune(i, household, household_commune)] += 1
    return out


@kernels.jit
def _living_by_commune_bits(packed, size, alive, household, household_commune, n_communes):  # pragma: no cover
    """`living_by_commune` of a bit column in one pass (compiled): the packed flags read 64 rows at a time."""
    out = np.zeros(n_communes, dtype=np.int64)
    n_bytes = (size + 7) // 8
    whole = n_bytes // 8 * 8
    words = packed[:whole].view(np.uint64)
    for w in range(words.size):
        if words[w]:
            for b in range(8 * w, 8 * w + 8):
                _count_flagged_byte(packed, b, size, alive, household, household_commune, out)
    for b in range(whole, n_bytes):
        _count_flagged_byte(packed, b, size, alive, household, household_commune, out)
    return out


@kernels.jit
def _living_rows_bits(packed, size, alive):  # pragma: no cover - compiled
    """`ProvinceShard.living_rows` (compiled): one scan to count the rows, a second to write them."""
    out = np.empty(_scan_living_flagged(packed, size, alive, np.empty(0, dtype=np.int64)), dtype=np.int64)
    _scan_living_flagged(packed, size, alive, out)
    return out


@kernels.jit
def _scan_living_flagged(packed, size, alive, out):  # pragma: no cover - compiled
    """The number of living rows flagged in a packed column, written in order into `out` as far as it has room
    (compiled; zero bytes, eight unflagged rows, are skipped at once)."""
    found = 0
    for b in range((size + 7) // 8):
        byte = packed[b]
        if byte:
            for k in range(8):
                i = 8 * b + k
                if (byte >> k) & 1 and i < size and alive[i]:
                    if found < out.size:
                        out[found] = i
                    found += 1
    return found


@kernels.jit
def _count_flagged_byte(packed, b, size, alive, household, household_commune, out):  # pragma: no cover
    """Count the living rows flagged in byte `b` of a packed column into their communes (compiled)."""
    byte = packed[b]
    if byte:
        for k in range(8):
            i = 8 * b + k
            if (byte >> k) & 1 and i < size and alive[i]:
                out[kernels.row_commune(i, household, household_commune)] += 1


@kernels.jit
def _person_class_compiled(t, birth_month, sex, household, household_commune, commune_urban, max_age, out):
    """`ProvinceShard.person_class` in one pass (compiled), into `out` (int16, one per person); `sex` is the
    packed bit column, read a byte (eight rows) at a time: the whole bytes in a loop of eight rows, which the
    compiler unrolls (a fifth faster than a loop that stops at the last row), then the rows left."""
    n = birth_month.size
    whole = n // 8
    for b in range(whole):
        byte = np.int32(sex[b])
        for k in range(8):
            i = 8 * b + k
            urban = commune_urban[kernels.row_commune(i, household, household_commune)]
            out[i] = _class_of(t - np.int32(birth_month[i]), (byte >> k) & 1, urban, max_age)
    for i in range(8 * whole, n):
        urban = commune_urban[kernels.row_commune(i, household, household_commune)]
        out[i] = _class_of(t - np.int32(birth_month[i]), (np.int32(sex[whole]) >> (i - 8 * whole)) & 1, urban, max_age)
    return out


@kernels.jit
def _class_of(age_months, female, urban, max_age):  # pragma: no cover
    """A person's class from their age in months, sex and residence (compiled; see `person_class`)."""
    # Ages are never negative (no row is born after `t`): unsigned division is the floor, and faster.
    age = min(np.uint32(age_months) // np.uint32(12), np.uint32(max_age))
    return np.int16((np.int32(age) * 2 + female) * 2 + urban)


def draw_destinations(rng: np.random.Generator, weights: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """A destination (an index into `weights`) for each entry of `origin`, drawn in proportion to `weights`
    with the origin's own weight removed (an origin of -1 excludes nothing); where nothing else has weight,
    the origin itself (0 for -1). One uniform per entry."""
    cumulative = np.cumsum(weights)
    has_origin = origin >= 0
    origin_row = np.maximum(origin, 0)
    own = np.where(has_origin, weights[origin_row], 0.0)
    own_start = np.where(has_origin, cumulative[origin_row] - own, np.inf)
    room = cumulative[-1] - own
    u = rng.random(origin.size) * room
    u = u + np.where(u >= own_start, own, 0.0)
    destination = np.minimum(np.searchsorted(cumulative, u, side="right"), weights.size - 1)
    return np.where(room > 0, destination, origin_row)


def _declare_world_states(table: Table) -> None:
    for spec in WORLD_STATES:
        if spec.level == table.level:
            table.declare(spec)


def resolve_sample_size(scale: Scale, params: WorldParams) -> int | None:
    """Communes per province for `scale`; None means every commune (full scale)."""
    if scale == "full":
        return None
    if scale == "sample":
        return params.sample_communes_per_province
    return int(scale)


def start_population(province: Province, params: WorldParams) -> tuple[float, float]:
    """Rural and urban persons of `province` at the start: its share of the 1957 national population
    applied to `population_at_start`, split by its urban share."""
    total = province.population * params.population_at_start / sum(p.population for p in provinces())
    return total * (1.0 - province.urban_share), total * province.urban_share


def _real_counts(rural: float, urban: float, params: WorldParams) -> tuple[int, int]:
    rural_households = rural / params.rural_household_size
    urban_households = urban / params.urban_household_size
    n_rural = max(1, round(rural_households / params.households_per_commune))
    n_urban = max(1, round(urban_households / params.households_per_commune))
    return n_rural, n_urban


def _stratum_midpoints(k: int) -> np.ndarray:
    return (np.arange(k, dtype=np.float64) + 0.5) / k


def build_province(province: Province, params: WorldParams, scale: Scale, seed: int) -> ProvinceShard:
    """Create the communes, brigades, teams, households and persons of one province."""
    rural, urban = start_population(province, params)
    n_rural_real, n_urban_real = _real_counts(rural, urban, params)
    k = resolve_sample_size(scale, params)
    if k is None:
        k_rural, k_urban = n_rural_real, n_urban_real
    else:
        k_rural = min(k, n_rural_real)
        urban_to_rural = urban / max(rural, 1.0)
        k_urban = min(n_urban_real, max(1, round(k * urban_to_rural)))

    # Households per simulated commune: the province's households spread evenly over its real communes.
    rural_hh = rural / params.rural_household_size / n_rural_real
    urban_hh = urban / params.urban_household_size / n_urban_real
    is_urban = np.r_[np.zeros(k_rural, bool), np.ones(k_urban, bool)]
    households_per = np.where(is_urban, round(urban_hh), round(rural_hh)).astype(np.int64)
    households_per = np.maximum(households_per, 1)
    n_communes = k_rural + k_urban

    communes = Table("commune", n_communes)
    _declare_world_states(communes)
    communes.add(n_communes)
    communes.is_urban[:] = is_urban
    communes.weight[:] = np.where(is_urban, n_urban_real / k_urban, n_rural_real / k_rural)
    communes.quality[:] = np.r_[_stratum_midpoints(k_rural), _stratum_midpoints(k_urban)]
    communes.land_ha[:] = np.where(is_urban, 0.0, province.cultivated_land_ha / n_rural_real)
    communes.first_household[:] = np.cumsum(households_per) - households_per

    # Brigades and teams: consecutive households, in chunks of the declared sizes.
    n_households = int(households_per.sum())
    household_commune = np.repeat(np.arange(n_communes, dtype=np.int32), households_per)
    position = np.arange(n_households) - np.repeat(np.cumsum(households_per) - households_per, households_per)
    brigades_per = np.maximum(1, np.rint(households_per / params.households_per_brigade)).astype(np.int64)
    household_brigade_local = position * brigades_per[household_commune] // households_per[household_commune]
    brigade_offset = np.cumsum(brigades_per) - brigades_per
    household_brigade = brigade_offset[household_commune] + household_brigade_local
    n_brigades = int(brigades_per.sum())
    brigade_households = np.bincount(household_brigade, minlength=n_brigades)
    teams_per = np.maximum(1, np.rint(brigade_households / params.households_per_team)).astype(np.int64)
    position_in_brigade = np.arange(n_households) - np.repeat(
        np.cumsum(brigade_households) - brigade_households, brigade_households
    )
    household_team = (np.cumsum(teams_per) - teams_per)[household_brigade] + (
        position_in_brigade * teams_per[household_brigade] // brigade_households[household_brigade]
    )
    n_teams = int(teams_per.sum())

    brigades = Table("brigade", n_brigades)
    teams = Table("team", n_teams)
    households = Table("household", n_households)
    for table in (brigades, teams, households):
        _declare_world_states(table)
    brigades.add(n_brigades)
    brigades.commune[:] = np.repeat(np.arange(n_communes, dtype=np.int32), brigades_per)
    teams.add(n_teams)
    teams.brigade[:] = np.repeat(np.arange(n_brigades, dtype=np.int32), teams_per)
    team_households = np.bincount(household_team, minlength=n_teams)
    teams.first_household[:] = np.cumsum(team_households) - team_households
    households.add(n_households)

    urban = np.repeat(is_urban, households_per)
    persons = _populate(households, urban, params, make_generator(seed, "world", "population", province.code))
    return ProvinceShard(
        province=province,
        persons=persons,
        households=households,
        teams=teams,
        brigades=brigades,
        communes=communes,
        streams=Streams(seed, province.code),
        real_rural_communes=n_rural_real,
        real_urban_districts=n_urban_real,
    )


def _populate(households: Table, urban: np.ndarray, params: WorldParams, rng: np.random.Generator) -> Table:
    """Persons: household sizes, then ages and sexes from the 1953 census structure (its broad groups,
    split into 5-year groups by a model: see data/SOURCES_demography.md), one adult heading each household
    (`urban`: whether each household lives in an urban district)."""
    n_households = households.count
    mean_size = np.where(urban, params.urban_household_size, params.rural_household_size)
    sizes = 1 + rng.poisson(mean_size - 1.0)
    n_persons = int(sizes.sum())

    structure = age_sex_1953().shares  # (ages, 2)
    cells = rng.choice(structure.size, size=n_persons, p=structure.ravel())
    age_years, sex = np.divmod(cells, 2)
    age_months = age_years * 12 + rng.integers(0, 12, size=n_persons, dtype=np.int64)

    # Persons are drawn in random order: the first adult goes to household 0's first slot, the next to
    # household 1's, ...; everyone else fills the remaining slots in order.
    adult = age_years >= 18
    adults = np.flatnonzero(adult)
    if adults.size < n_households:
        raise ValueError("too few adults to head every household")
    heads = adults[:n_households]
    is_head = np.zeros(n_persons, bool)
    is_head[heads] = True
    others = np.flatnonzero(~is_head)
    first_slot = np.cumsum(sizes) - sizes
    slot_is_first = np.zeros(n_persons, bool)
    slot_is_first[first_slot] = True
    order = np.empty(n_persons, np.int64)
    order[first_slot] = heads
    order[~slot_is_first] = others

    # Headroom for the births and moves of the run (the dead are dropped each December): the table's columns
    # are allocated but left untouched above the live rows, so the system maps no memory for them until rows
    # arrive, and a generous headroom costs nothing. Growing a table costs a copy of every column while the
    # old ones are still referenced (at full scale, 1.3 GB for Sichuan's 70 million persons at once).
    persons = Table("person", int(n_persons * PERSON_HEADROOM) + 64)
    _declare_world_states(persons)
    persons.add(n_persons)
    persons.household[:] = np.repeat(np.arange(n_households, dtype=np.int32), sizes)
    persons.birth_month[:] = -age_months[order]
    persons.sex[:] = sex[order]
    return persons


def build_world(
    params: WorldParams, scale: Scale, seed: int, codes: Collection[str] | None = None
) -> list[ProvinceShard]:
    """Every province's shard (or those of the provinces `codes`: a worker's share), sorted by code.

    The provinces are built largest first: a build's temporaries (about 90 bytes a person at their peak)
    then sit on top of the fewest built provinces, which keeps the peak of a full-scale build near that of
    the finished state. A province's build draws from its own streams, so the order changes nothing."""
    chosen = [p for p in provinces() if codes is None or p.code in codes]
    by_size = sorted(chosen, key=lambda p: (-sum(start_population(p, params)), p.code))
    shards = {p.code: build_province(p, params, scale, seed) for p in by_size}
    return [shards[p.code] for p in chosen]


@dataclass
class Nation:
    """The state's level: one row per province (aggregates the provinces report, allocations the state
    makes) and one row for the nation (the state grain pool, national policy). Nation phases read and
    write only these tables, so a province shard can live on another worker."""

    codes: tuple[str, ...]
    provinces: Table
    state: Table
    streams: Streams
    # Persons in transit between provinces this month: the origin's province phase posts their rows
    # (every person column, plus `origin_weight`) under its code; a nation phase routes them into `inbox`
    # under the destination's code; the destination's province phase takes them in.
    outbox: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    inbox: dict[str, list[dict[str, np.ndarray]]] = field(default_factory=dict)

    def tables(self) -> dict[str, Table]:
        return {"province": self.provinces, "nation": self.state}

    def row(self, code: str) -> int:
        return self.codes.index(code)


def build_nation(shards: list[ProvinceShard], seed: int) -> Nation:
    """The nation over `shards`; every province of the data is a row, so a run of one province still
    sees the same national tables (provinces not simulated stay at their initial values)."""
    codes = tuple(sorted({p.code for p in provinces()} | {s.code for s in shards}))
    table = Table("province", len(codes))
    table.add(len(codes))
    state = Table("nation", 1)
    state.add(1)
    for shard in shards:
        shard.index = codes.index(shard.code)
    return Nation(codes=codes, provinces=table, state=state, streams=Streams(seed, "CN"))
