"""Struct-of-arrays tables: one numpy array per state variable, one entry per person, household, etc.

Following laser-core: tables are preallocated to a capacity, grow by `add(n)` (which returns the slice of
the new rows), and mark the dead instead of deleting them; `compact` drops dead rows now and then so that
the arrays stay dense. Hierarchy is expressed by integer parent-index arrays (a person's household, a
household's commune) and aggregated upwards with `np.bincount`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from greatleap.core import kernels

Level = Literal["person", "household", "team", "brigade", "commune", "province", "nation"]
LEVELS: tuple[Level, ...] = ("person", "household", "team", "brigade", "commune", "province", "nation")

# A state holding a month as a step index of the run (a due date, the end of an incapacity) declares the
# dtype "step": the engine stores it in one byte when every step of the run, plus `STEP_MARGIN` months of
# look-ahead, fits in an int8 (the default run, 1957-01 to 1962-12, is 72 months), and in two otherwise.
# At full scale each such column costs 0.63 GB in int16 and 0.63 GB less in int8. `NO_STEP` (-128) is
# the "none" value in either dtype; steps themselves are never negative.
STEP = "step"
STEP_MARGIN = 36
NO_STEP = -128


def step_dtype(n_months: int) -> str:
    """The narrowest signed integer dtype that holds every step of an `n_months` run plus the margin."""
    return "int8" if n_months + STEP_MARGIN <= np.iinfo(np.int8).max else "int16"


@dataclass(frozen=True)
class StateSpec:
    """A state array owned by a module (or by the world): its name, level, dtype and initial value."""

    name: str
    level: Level
    dtype: str
    default: float | int | bool
    description: str
    inherit: bool = False  # a newborn row takes its mother's value (see Table.add_offspring)
    # A household quantity held per member (a store, a planned need): a member who leaves takes an equal
    # share of it along to the household they join (see ProvinceShard.take_shares and resettle).
    carried: bool = False
    # A value one phase hands to a later phase of the same stretch of province phases (see the engine), and
    # nobody reads after: the column has storage only while a province is in a stretch where its owner has
    # a phase (set to the default on entry), so that at full scale it costs one province's worth of memory,
    # not the country's. Outside it the column is empty; checkpoints do not save it.
    transient: bool = False

    def for_run(self, n_months: int) -> StateSpec:
        """This spec with the dtype "step" resolved for a run of `n_months` (see `step_dtype`)."""
        return replace(self, dtype=step_dtype(n_months)) if self.dtype == STEP else self


class Table:
    """Columns of equal length for one level of the hierarchy.

    Columns are read and written through attribute access, which returns a view of the live rows
    (`table.sex[...] = 1` writes into the table). The views are kept as instance attributes and renewed
    whenever the row count or the storage changes, so that reading a column costs a plain attribute lookup
    (modules read tens of columns per province and month).
    """

    def __init__(self, level: Level, capacity: int) -> None:
        object.__setattr__(self, "level", level)
        object.__setattr__(self, "count", 0)
        object.__setattr__(self, "capacity", max(int(capacity), 1))
        object.__setattr__(self, "_columns", {})
        object.__setattr__(self, "_specs", {})
        object.__setattr__(self, "version", 0)

    # --- declaration -------------------------------------------------------------------------------
    def declare(self, spec: StateSpec) -> None:
        """Allocate a column; declaring the same name twice is an error (one owner per state)."""
        if spec.level != self.level:
            raise ValueError(f"state {spec.name!r} is {spec.level}-level, table is {self.level}")
        if spec.name in self._columns:
            raise ValueError(f"state {spec.name!r} is declared twice")
        if hasattr(type(self), spec.name) or spec.name in self.__dict__:
            raise ValueError(f"state {spec.name!r} would hide the table attribute of the same name")
        if spec.transient and (spec.inherit or spec.carried or self.level in ("province", "nation")):
            raise ValueError(
                f"state {spec.name!r}: a transient state is neither inherited nor carried, below the province"
            )
        if spec.transient:
            self._columns[spec.name] = np.empty(0, dtype=spec.dtype)  # detached: see `attach`
            self._specs[spec.name] = spec
            self._renew_views()
            return
        # Only the live rows are written: the headroom above them stays untouched, so the system maps no
        # memory for it until rows are added (6% of a person table at full scale, about 0.6 GB).
        column = np.empty(self.capacity, dtype=spec.dtype)
        column[: self.count] = spec.default
        self._columns[spec.name] = column
        self._specs[spec.name] = spec
        self._renew_views()

    def __getstate__(self) -> dict[str, object]:
        """Pickle the storage, not the views (unpickled views would be copies, detached from the storage)."""
        return {k: v for k, v in self.__dict__.items() if k not in self._columns}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._renew_views()

    def _renew_views(self) -> None:
        """Point every column's attribute at the live rows of its storage (after a change of count or storage)."""
        count = self.count
        for name, column in self._columns.items():
            object.__setattr__(self, name, column[:count])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._columns)

    @property
    def resident_names(self) -> tuple[str, ...]:
        """The columns held from one month to the next: all but the transient ones (a checkpoint's)."""
        return tuple(name for name, spec in self._specs.items() if not spec.transient)

    def attached(self, name: str) -> bool:
        """Whether the column has storage (always, but for a transient column outside its stretch)."""
        return self._columns[name].size >= self.capacity

    def _stored(self) -> dict[str, np.ndarray]:
        """The columns that have storage now."""
        capacity = self.capacity
        return {name: column for name, column in self._columns.items() if column.size >= capacity}

    def attach(self, name: str, storage: np.ndarray) -> None:
        """Give the transient column `name` the storage `storage` (at least `capacity` long, of its dtype),
        every live row set to its default."""
        spec = self._specs[name]
        if not spec.transient or storage.dtype != np.dtype(spec.dtype) or storage.size < self.capacity:
            raise ValueError(f"state {name!r}: cannot attach {storage.dtype}[{storage.size}] storage to it")
        column = storage[: self.capacity]
        column[: self.count] = spec.default
        self._columns[name] = column
        object.__setattr__(self, name, column[: self.count])

    def detach(self, name: str) -> None:
        """Take the storage of the transient column `name` back (it reads as an empty array until attached)."""
        spec = self._specs[name]
        if not spec.transient:
            raise ValueError(f"state {name!r} is not transient")
        self._columns[name] = np.empty(0, dtype=spec.dtype)
        object.__setattr__(self, name, self._columns[name])

    def spec(self, name: str) -> StateSpec:
        return self._specs[name]

    # --- access ------------------------------------------------------------------------------------
    def __getattr__(self, name: str) -> np.ndarray:
        # Reached only for names that are not columns (the columns' views are instance attributes).
        raise AttributeError(f"{object.__getattribute__(self, 'level')} table has no state {name!r}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("assign into a column (table.x[...] = v), not to the table")

    def column(self, name: str) -> np.ndarray:
        return self._columns[name][: self.count]

    def column_or(self, name: str, fill: float) -> np.ndarray:
        """The column `name`, or `fill` in every row when no module in the plan declares it (a module run
        without the one that owns the column, as in the unit tests)."""
        return self.column(name) if name in self.names else np.full(self.count, fill)

    def touch(self) -> None:
        """Mark derived views stale: called by `add` and `compact`, and by a module that changes a parent
        index (a person's household), so that cached gathers (see `ProvinceShard`) are recomputed."""
        object.__setattr__(self, "version", self.version + 1)

    # --- growth and compaction -----------------------------------------------------------------------
    def add(self, n: int) -> slice:
        """Append `n` rows holding each column's default; returns the slice of the new rows."""
        start = self.count
        needed = start + n
        if needed > self.capacity:
            # Grow by a sixteenth: at full scale a person table holds tens of millions of rows, and a year
            # of births is a few percent of them (a quarter more, as before, cost 4.5 bytes per person).
            new_capacity = max(needed, self.capacity + self.capacity // 16 + 16)
            # Column by column, holding no reference to the old storage once copied, so that it is freed
            # before the next column is copied (a dict of the old columns would keep them all alive).
            for name in list(self._stored()):
                grown = np.empty(new_capacity, dtype=self._columns[name].dtype)  # headroom untouched
                grown[:start] = self._columns[name][:start]
                self._columns[name] = grown
                object.__setattr__(self, name, grown)
            object.__setattr__(self, "capacity", new_capacity)
        for name, column in self._stored().items():
            column[start:needed] = self._specs[name].default
        object.__setattr__(self, "count", needed)
        self._renew_views()
        self.touch()
        return slice(start, needed)

    def add_offspring(self, parents: np.ndarray) -> slice:
        """Append one row per entry of `parents` (row indices): inherited columns copy the parent's value."""
        values = {name: self._columns[name][parents] for name, spec in self._specs.items() if spec.inherit}
        new = self.add(len(parents))
        for name, value in values.items():
            self._columns[name][new] = value
        return new

    def carried_columns(self) -> list[str]:
        """Names of the columns declared `carried` (shares that travel with a member who leaves)."""
        return [name for name, spec in self._specs.items() if spec.carried]

    def add_copies(self, rows: np.ndarray) -> slice:
        """Append a copy of each row of `rows` (every column copied): a person who stands for more real
        persons where they arrive than where they left (see `ProvinceShard.resettle`)."""
        values = {name: column[rows] for name, column in self._stored().items()}
        new = self.add(len(rows))
        for name, value in values.items():
            self._columns[name][new] = value
        return new

    def add_rows(self, columns: dict[str, np.ndarray]) -> slice:
        """Append rows given column by column (rows taken from another shard's table of the same level:
        persons arriving from another province); columns not given keep their defaults."""
        n = len(next(iter(columns.values()))) if columns else 0
        new = self.add(n)
        for name, value in columns.items():
            if name in self._columns:
                self._columns[name][new] = value
        return new

    def compact(self, keep: np.ndarray, order_by: str | None = None) -> None:
        """Keep only the rows where `keep` is true (dead persons are dropped), in their order, or in the order
        of the column `order_by` (a stable sort: rows with equal values keep their order)."""
        # A new array: `keep` may be a view of a column compacted below. Rows appended since the last
        # compaction (births, arrivals) are out of place in the `order_by` order; the sort is stable.
        rows = kernels.kept_rows(keep, None if order_by is None else self.column(order_by))
        kept = rows.size
        for column in self._stored().values():
            column[:kept] = kernels.gather(column, rows)
        object.__setattr__(self, "count", kept)
        self._renew_views()
        self.touch()

    @property
    def nbytes_per_row(self) -> int:
        """Bytes of state per row: the sum of the column item sizes."""
        return sum(self._columns[name].dtype.itemsize for name in self.resident_names)

    @property
    def nbytes(self) -> int:
        """Bytes allocated (capacity, not only live rows)."""
        return sum(c.nbytes for c in self._stored().values())

    def restore(self, columns: dict[str, np.ndarray]) -> None:
        """Replace every row with `columns` (one array per resident column, all of one length): a checkpoint's
        rows put back into a freshly built table (its transient columns detached)."""
        resident = set(self.resident_names)
        if set(columns) != resident:
            raise ValueError(f"{self.level} table: columns {sorted(columns)} differ from {sorted(resident)}")
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"{self.level} table: columns of different lengths {sorted(lengths)}")
        count = lengths.pop() if lengths else 0
        if count > self.capacity:
            for name in resident:
                self._columns[name] = np.empty(count, dtype=self._columns[name].dtype)
            object.__setattr__(self, "capacity", count)
        for name, values in columns.items():
            self._columns[name][:count] = values
        object.__setattr__(self, "count", count)
        self._renew_views()
        self.touch()

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the live rows of every column that has storage now (for checkpoints and tests)."""
        return {name: column[: self.count].copy() for name, column in self._stored().items()}
