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


# A boolean person state (a person's sex, a migrant's registration, a recruit) may declare the dtype "bit":
# its column is stored eight rows to a byte, an eighth of a byte a person (at full scale 0.09 GB a column,
# not 0.7 GB). It reads and writes as a boolean column by row index (see `Bits`); its default is False.
# `alive`, read by every compiled pass, stays a byte.
BIT = "bit"


class Bits:
    """A boolean column of `size` rows stored in `packed`, eight rows to a byte: row i is bit i % 8 of byte
    i // 8 (numpy's "little" bit order, as `np.packbits(..., bitorder="little")`).

    `bits[rows]` reads rows (an index array, a boolean mask or a slice) as booleans; `bits[rows] = value`
    writes them; `unpack()` gives the whole column as a boolean array. A view of a table's column shares its
    storage, as a numpy view does."""

    __slots__ = ("packed", "size")
    dtype = np.dtype(bool)  # what reading gives

    def __init__(self, packed: np.ndarray, size: int) -> None:
        if packed.dtype != np.uint8 or packed.size * 8 < size:
            raise ValueError(f"{size} bits need {-(-size // 8)} bytes of uint8, not {packed.dtype}[{packed.size}]")
        self.packed = packed
        self.size = int(size)

    def __len__(self) -> int:
        return self.size

    def _rows(self, rows: object) -> np.ndarray:
        if isinstance(rows, slice):
            return np.arange(*rows.indices(self.size))
        rows = np.asarray(rows)
        if rows.dtype == bool:
            if rows.size != self.size:
                raise IndexError(f"boolean index of {rows.size} rows for a column of {self.size}")
            return np.flatnonzero(rows)
        rows = rows.astype(np.int64, copy=False)
        if rows.size and (rows.min() < 0 or rows.max() >= self.size):
            raise IndexError(f"rows out of range for a column of {self.size}")
        return rows

    def __getitem__(self, rows: object) -> np.ndarray | bool:
        if np.ndim(rows) == 0 and not isinstance(rows, slice):  # one row: a bool, as numpy gives
            return bool(self[np.array([rows])][0])
        rows = self._rows(rows)
        if kernels.compiled():  # one pass, no temporaries: rows drawn for a check may be millions
            return _read_bits(self.packed, rows, np.empty(rows.size, dtype=bool))
        return ((self.packed[rows >> 3] >> (rows & 7).astype(np.uint8)) & 1).astype(bool)

    def __setitem__(self, rows: object, value: object) -> None:
        if isinstance(rows, slice) and rows.step in (None, 1):
            self._set_range(*rows.indices(self.size)[:2], value)
            return
        rows = self._rows(np.atleast_1d(rows))
        values = np.broadcast_to(np.asarray(value, dtype=bool), rows.shape)
        if values.size > 1 and not values.all() and values.any():
            # A row given twice takes its last value, as in a numpy assignment.
            reversed_first = np.unique(rows[::-1], return_index=True)[1]
            last = rows.size - 1 - reversed_first
            rows, values = rows[last], values[last]
        mask = (np.uint8(1) << (rows & 7).astype(np.uint8)).astype(np.uint8)
        byte = rows >> 3
        np.bitwise_and.at(self.packed, byte[~values], ~mask[~values])
        np.bitwise_or.at(self.packed, byte[values], mask[values])

    def _set_range(self, start: int, stop: int, value: object) -> None:
        """Write the consecutive rows start..stop-1 (a whole column at the build, a month's births): the
        bytes they touch unpacked, written and packed again."""
        if stop <= start:
            return
        first, last = start // 8, -(-stop // 8)
        unpacked = np.unpackbits(self.packed[first:last], bitorder="little").view(bool)
        unpacked[start - 8 * first : stop - 8 * first] = value
        self.packed[first:last] = np.packbits(unpacked, bitorder="little")

    def unpack(self) -> np.ndarray:
        """The whole column as a boolean array (a copy)."""
        return np.unpackbits(self.packed, count=self.size, bitorder="little").view(bool)

    def any(self) -> bool:
        return bool(self.unpack().any())

    def sum(self) -> int:
        return int(np.count_nonzero(self.unpack()))


@kernels.jit
def _read_bits(packed, rows, out):  # pragma: no cover - compiled
    """`Bits.__getitem__` for an index array (compiled)."""
    for k in range(rows.size):
        i = np.uint32(rows[k])  # unsigned: see kernels.jit
        out[k] = (packed[i >> np.uint32(3)] >> (i & np.uint32(7))) & 1
    return out


def pack_bits(values: np.ndarray, capacity: int) -> np.ndarray:
    """Storage for `capacity` bits holding `values` (booleans) in its first rows and False above."""
    packed = np.zeros(-(-max(int(capacity), 1) // 8), dtype=np.uint8)
    filled = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    packed[: filled.size] = filled
    return packed


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
        object.__setattr__(self, "_bits", {})  # bit columns' packed storage (see `Bits`)
        object.__setattr__(self, "version", 0)

    # --- declaration -------------------------------------------------------------------------------
    def declare(self, spec: StateSpec) -> None:
        """Allocate a column; declaring the same name twice is an error (one owner per state)."""
        if spec.level != self.level:
            raise ValueError(f"state {spec.name!r} is {spec.level}-level, table is {self.level}")
        if spec.name in self._columns or spec.name in self._bits:
            raise ValueError(f"state {spec.name!r} is declared twice")
        if hasattr(type(self), spec.name) or spec.name in self.__dict__:
            raise ValueError(f"state {spec.name!r} would hide the table attribute of the same name")
        if spec.transient and (spec.inherit or spec.carried or self.level in ("province", "nation")):
            raise ValueError(
                f"state {spec.name!r}: a transient state is neither inherited nor carried, below the province"
            )
        if spec.dtype == BIT:
            if spec.default or spec.transient:
                raise ValueError(f"state {spec.name!r}: a bit state starts False and is not transient")
            self._bits[spec.name] = pack_bits(np.zeros(0, bool), self.capacity)
            self._specs[spec.name] = spec
            self._renew_views()
            return
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
        return {k: v for k, v in self.__dict__.items() if k not in self._columns and k not in self._bits}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._renew_views()

    def _renew_views(self) -> None:
        """Point every column's attribute at the live rows of its storage (after a change of count or storage)."""
        count = self.count
        for name, column in self._columns.items():
            object.__setattr__(self, name, column[:count])
        for name, packed in self._bits.items():
            object.__setattr__(self, name, Bits(packed, count))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    @property
    def resident_names(self) -> tuple[str, ...]:
        """The columns held from one month to the next: all but the transient ones (a checkpoint's)."""
        return tuple(name for name, spec in self._specs.items() if not spec.transient)

    def attached(self, name: str) -> bool:
        """Whether the column has storage (always, but for a transient column outside its stretch)."""
        return name in self._bits or self._columns[name].size >= self.capacity

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

    def column(self, name: str) -> np.ndarray | Bits:
        if name in self._bits:
            return Bits(self._bits[name], self.count)
        return self._columns[name][: self.count]

    def values(self, name: str) -> np.ndarray:
        """The live rows of column `name` as a numpy array: a view, or for a bit column its rows unpacked."""
        column = self.column(name)
        return column.unpack() if isinstance(column, Bits) else column

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
            for name, packed in self._bits.items():
                grown_bits = np.zeros(-(-new_capacity // 8), dtype=np.uint8)
                grown_bits[: packed.size] = packed
                self._bits[name] = grown_bits
            object.__setattr__(self, "capacity", new_capacity)
        for name, column in self._stored().items():
            column[start:needed] = self._specs[name].default
        for packed in self._bits.values():
            Bits(packed, needed)[start:needed] = False
        object.__setattr__(self, "count", needed)
        self._renew_views()
        self.touch()
        return slice(start, needed)

    def add_offspring(self, parents: np.ndarray) -> slice:
        """Append one row per entry of `parents` (row indices): inherited columns copy the parent's value."""
        values = {name: self.column(name)[parents] for name, spec in self._specs.items() if spec.inherit}
        new = self.add(len(parents))
        for name, value in values.items():
            self._write(name, new, value)
        return new

    def _write(self, name: str, rows: slice, value: np.ndarray) -> None:
        """Write `value` into the rows `rows` (new rows) of column `name`, a bit column included."""
        if name in self._bits:
            Bits(self._bits[name], self.count)[rows] = value
        else:
            self._columns[name][rows] = value

    def carried_columns(self) -> list[str]:
        """Names of the columns declared `carried` (shares that travel with a member who leaves)."""
        return [name for name, spec in self._specs.items() if spec.carried]

    def add_copies(self, rows: np.ndarray) -> slice:
        """Append a copy of each row of `rows` (every column copied): a person who stands for more real
        persons where they arrive than where they left (see `ProvinceShard.resettle`)."""
        values = {name: column[rows] for name, column in self._stored().items()}
        values.update({name: self.column(name)[rows] for name in self._bits})
        new = self.add(len(rows))
        for name, value in values.items():
            self._write(name, new, value)
        return new

    def add_rows(self, columns: dict[str, np.ndarray]) -> slice:
        """Append rows given column by column (rows taken from another shard's table of the same level:
        persons arriving from another province); columns not given keep their defaults."""
        n = len(next(iter(columns.values()))) if columns else 0
        new = self.add(n)
        for name, value in columns.items():
            if name in self._specs:
                self._write(name, new, value)
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
        for name in self._bits:
            kept_values = kernels.gather(self.values(name), rows)
            self._bits[name] = pack_bits(kept_values, self.capacity)
        object.__setattr__(self, "count", kept)
        self._renew_views()
        self.touch()

    @property
    def nbytes_per_row(self) -> float:
        """Bytes of state per row: the sum of the column item sizes (an eighth for a bit column)."""
        return sum(1 / 8 if name in self._bits else self._columns[name].dtype.itemsize for name in self.resident_names)

    @property
    def nbytes(self) -> int:
        """Bytes allocated (capacity, not only live rows)."""
        return sum(c.nbytes for c in self._stored().values()) + sum(b.nbytes for b in self._bits.values())

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
            for name in resident - set(self._bits):
                self._columns[name] = np.empty(count, dtype=self._columns[name].dtype)
            object.__setattr__(self, "capacity", count)
        for name, values in columns.items():
            if name in self._bits:
                self._bits[name] = pack_bits(values, self.capacity)
            else:
                self._columns[name][:count] = values
        object.__setattr__(self, "count", count)
        self._renew_views()
        self.touch()

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the live rows of every column that has storage now (for checkpoints and tests)."""
        stored = self._stored()
        return {
            name: stored[name][: self.count].copy() if name in stored else self.values(name)
            for name in self.names
            if self.attached(name)
        }
