"""Compiled kernels: numba versions of the per-person loops that dominate a run, beside their numpy reference.

A month of a mechanism is mostly a chain of whole-array numpy operations over every person: each link
reads and writes an array the size of the population, so the chain is bound by memory traffic and by its
temporaries. A kernel does the same arithmetic in one loop per pass, person by person, and keeps only
per-household sums. The numpy code stays beside it as the reference: every kernel is written to give the
same bytes (the same operations in the same float precision, sums in the same order), and the tests run
both on the same inputs and require equal arrays, and a whole run with each backend to give equal results.

The backend is chosen by the environment variable `GREATLEAP_KERNELS` (`numba`, the default, or `numpy`),
or in-process with `use("numpy")`. Compiled code is cached on disk by numba (`cache=True`), so only the
first run on a machine pays the compilation.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable, Iterator
from typing import Literal, TypeVar, get_args

import numpy as np

from greatleap.core.errors import ConfigError

Backend = Literal["numba", "numpy"]
BACKENDS: tuple[str, ...] = get_args(Backend)
ENVIRONMENT_VARIABLE = "GREATLEAP_KERNELS"

F = TypeVar("F", bound=Callable)
_override: list[str] = []


def backend() -> Backend:
    """The backend in force: the innermost `use(...)`, else `GREATLEAP_KERNELS`, else numba."""
    name = _override[-1] if _override else os.environ.get(ENVIRONMENT_VARIABLE, "numba")
    if name not in BACKENDS:
        raise ConfigError(f"{ENVIRONMENT_VARIABLE}: {name!r} is not a kernel backend (allowed: {', '.join(BACKENDS)})")
    return name  # type: ignore[return-value]


def compiled() -> bool:
    """True when the numba kernels are in force."""
    return backend() == "numba"


@contextlib.contextmanager
def use(name: Backend) -> Iterator[None]:
    """Run the block with the `name` backend (tests compare the backends in one process)."""
    if name not in BACKENDS:
        raise ConfigError(f"kernels: {name!r} is not a kernel backend (allowed: {', '.join(BACKENDS)})")
    _override.append(name)
    try:
        yield
    finally:
        _override.pop()


def jit(function: F) -> F:
    """Compile `function` with numba (no Python objects, no GIL, cached on disk), lazily at its first call.

    `error_model="numpy"` makes a division by zero give inf/nan as numpy does, instead of raising.

    The kernels index with unsigned integers where an index is read from an array (`np.uint32(household[i])`,
    `np.uint16(person_class[i])`): numba checks every signed index for a negative value, to wrap it around as
    Python does, and that check costs more than the lookup itself. The energy balance took 15 ns a row with
    unsigned indices against 19.5 ns with signed ones (a full-scale province's 7.5 million rows), the month of
    the benchmark's core 376 us against 462 us at 10,000 persons, with the same bytes. Every index so cast is
    below 2**32 (rows, households and communes of a province).
    """
    import numba

    return numba.njit(cache=True, nogil=True, error_model="numpy")(function)


# How many rows ahead `prefetch_ahead` asks for a household's cache line. The energy balance over a real province
# in June 1959 (Beijing at 100 communes per province: 5.8 million rows, 3.6% of them out of household order),
# on the AMD EPYC host: 20.7 ns a row without prefetching, 17.7 with 8 rows ahead, 15.3 with 16, 13.6 with 32,
# 13.2 with 64, 12.7 with 128, 13.8 with 256. (numba's disk cache of a kernel in another module that calls
# `prefetch_ahead` does not see a change here: remove the `__pycache__` folders after changing it.)
PREFETCH_AHEAD = 128


def _prefetch_intrinsic():  # pragma: no cover - compiled
    """`prefetch(values, index)`, compiled: LLVM's prefetch of the cache line holding `values[index]` (a 1-D
    array, an unsigned or non-negative index), for reading and writing, kept in every cache level. It only
    asks the memory system: it changes no value, so the kernels' bytes stay those of their numpy references."""
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def prefetch(typingctx, values, index):
        def codegen(context, builder, signature, args):
            values_type, index_type = signature.args
            array = context.make_array(values_type)(context, builder, args[0])
            position = context.cast(builder, args[1], index_type, types.intp)
            address = cgutils.get_item_pointer(
                context, builder, values_type, array, [position], wraparound=False, boundscheck=False
            )
            byte_pointer, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            function_type = ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32])
            function = cgutils.get_or_insert_function(builder.module, function_type, "llvm.prefetch.p0")
            # (address, write = 1, locality = 3: keep in all caches, data cache = 1)
            arguments = [builder.bitcast(address, byte_pointer), *(ir.Constant(i32, v) for v in (1, 3, 1))]
            builder.call(function, arguments)
            return context.get_dummy_value()

        return types.void(values, index), codegen

    return prefetch


prefetch = _prefetch_intrinsic()


@jit
def prefetch_ahead(values, group, i, width):  # pragma: no cover - compiled
    """Ask for the cache line of `values[group[i + PREFETCH_AHEAD] * width]`, the entry that row's pass will
    add to (`width` values per group: 1 for a plain per-household row, 4 for four sums side by side).

    Why: persons are stored household by household after each December's compaction, but during the year
    births are appended and movers change household in place, so a few percent of the rows point to a
    household far from their neighbours'. Each such row stalls its pass on a miss in a household-sized array
    that the processor's prefetcher, following the rows in order, cannot foresee (the energy balance ran at
    9 ns a row over rows in household order and 20 ns over the same rows as they stood in June 1959). Asking
    for the line that many rows ahead hides most of the stall."""
    ahead = min(i + PREFETCH_AHEAD, group.size - 1)
    prefetch(values, np.uint64(np.uint32(group[ahead])) * np.uint64(width))


_reused = threading.local()  # per thread: working arrays kept from one call to the next (see `reusable`)


def reusable(name: str, shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """Uninitialised working memory for a kernel, kept by this thread under `name` and handed out again on
    its next call (grown when a larger province needs more): a working array the size of a province's
    households, allocated afresh every month, costs more in page faults and the system's zeroing of new
    pages than the kernel's arithmetic at full scale (measured on Jiangsu's 40 million persons). The caller
    must be done with the arrays, and any view of them, before the next call under the same name."""
    pool = getattr(_reused, "arrays", None)
    if pool is None:
        pool = _reused.arrays = {}
    size = math.prod(shape)  # (numpy's prod of a tuple costs 3.5 us, more than the rest of the call)
    kept = pool.get(name)
    if kept is None or kept.dtype != dtype or kept.size < size:
        kept = pool[name] = np.empty(size, dtype=dtype)
    return kept[:size].reshape(shape)


_workspace = threading.local()  # per thread: one byte buffer for the working arrays of the phase in progress
WORKSPACE_ALIGNMENT = 64  # bytes: each working array starts on a cache line


def workspace(shape: int | tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """Uninitialised working memory for the rest of the phase in progress, from this thread's workspace.

    A thread runs one phase of one province at a time, so the largest working arrays of different phases (the
    energy balance's household sums, the death draw's survivors, the pregnancy scan's row lists) can take the
    same memory in turn: the thread keeps one buffer, as large as the most any phase asked for, instead of
    one per array (kept under a name each, as `reusable` does, Sichuan's would add up to 1.3 GB a thread;
    the workspace holds 0.75 GB). Like `reusable`, it spares the page faults of fresh memory every month.

    The engine runs each phase in `phase_workspace`. The arrays taken in a phase never overlap, and the next
    phase takes the same memory again: the caller must be done with them, and any view of them, when its
    phase ends. Outside a phase (a kernel called on its own) each call gets fresh memory."""
    if not getattr(_workspace, "open", False):
        return np.empty(shape, dtype=dtype)
    dtype = np.dtype(dtype)
    size = math.prod(shape) if isinstance(shape, tuple) else int(shape)
    n_bytes = size * dtype.itemsize
    padded = -(-n_bytes // WORKSPACE_ALIGNMENT) * WORKSPACE_ALIGNMENT
    _workspace.taken += padded  # this phase's working memory so far
    buffer = getattr(_workspace, "buffer", None)
    if buffer is None or _workspace.aligned_start + _workspace.offset + n_bytes > buffer.size:
        # A buffer that holds all this phase has taken, for the phases to come; the arrays taken before in
        # this phase keep the old one alive until they are dropped.
        buffer = _workspace.buffer = np.empty(_workspace.taken + WORKSPACE_ALIGNMENT, dtype=np.uint8)
        _workspace.aligned_start = _aligned_start(buffer)  # once: reading an address costs microseconds
        _workspace.offset = 0
    start = _workspace.aligned_start + _workspace.offset
    _workspace.offset += padded
    return buffer[start : start + n_bytes].view(dtype).reshape(shape)


def _aligned_start(buffer: np.ndarray) -> int:
    """The index of `buffer`'s first byte on a `WORKSPACE_ALIGNMENT` boundary."""
    return -buffer.ctypes.data % WORKSPACE_ALIGNMENT


@contextlib.contextmanager
def phase_workspace() -> Iterator[None]:
    """The span of one phase on this thread (the engine runs every phase in it): `workspace` hands out this
    thread's buffer, from its start again when the phase ends."""
    _workspace.open, _workspace.offset, _workspace.taken = True, 0, 0
    try:
        yield
    finally:
        _workspace.open = False


def workspace_bytes() -> int:
    """Bytes this thread's workspace holds (at most what one phase has taken, plus the alignment)."""
    buffer = getattr(_workspace, "buffer", None)
    return 0 if buffer is None else int(buffer.size)


def scratch(shape: int | tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """Uninitialised memory for a kernel's output or working arrays, allocated by numpy rather than inside the
    kernel. On Linux numpy asks for huge pages for a large array, while an array a numba kernel allocates is
    faulted in 4 KiB pages; at full scale, with arrays of a province's households or persons allocated
    every month, those faults cost a third of a Sichuan run's time (measured: 128 of 445 s in the system).
    The kernel sets every element it returns."""
    return np.empty(shape, dtype=dtype)


@jit
def row_commune(i, household, household_commune):  # pragma: no cover - compiled
    """The commune of person row `i` (its household's), unsigned, as an index (see `jit`): callable from other
    kernels."""
    return np.uint32(household_commune[np.uint32(household[i])])


@jit
def _group_sum(group, weights, out):  # pragma: no cover - compiled
    out[:] = 0.0
    for i in range(group.size):
        prefetch_ahead(out, group, i, 1)
        out[np.uint32(group[i])] += weights[i]
    return out


@jit
def segment_sum_into(bounds, weights, out):  # pragma: no cover - compiled
    """`segment_sum`'s compiled loop, into `out`: callable from other kernels too. Four segments at a time,
    side by side over the length of the shortest, then each one's rest: every segment is still summed
    from 0.0 in the order of its rows (the same bytes), but four independent sums and four streams of
    rows keep the core busy where one sum waits on the last. Over Gansu's households at full scale (588
    communes of about 4,600), rows not in cache: 3.0 ms -> 1.65 ms a call."""
    n_segments = bounds.size - 1
    s = 0
    while s + 4 <= n_segments:
        a0, a1, a2, a3, a4 = bounds[s], bounds[s + 1], bounds[s + 2], bounds[s + 3], bounds[s + 4]
        shortest = min(a1 - a0, a2 - a1, a3 - a2, a4 - a3)
        t0 = t1 = t2 = t3 = 0.0
        for j in range(shortest):
            t0 += weights[a0 + j]
            t1 += weights[a1 + j]
            t2 += weights[a2 + j]
            t3 += weights[a3 + j]
        for i in range(a0 + shortest, a1):
            t0 += weights[i]
        for i in range(a1 + shortest, a2):
            t1 += weights[i]
        for i in range(a2 + shortest, a3):
            t2 += weights[i]
        for i in range(a3 + shortest, a4):
            t3 += weights[i]
        out[s], out[s + 1], out[s + 2], out[s + 3] = t0, t1, t2, t3
        s += 4
    for r in range(s, n_segments):
        total = 0.0
        for i in range(bounds[r], bounds[r + 1]):
            total += weights[i]
        out[r] = total
    return out


def group_sum(group: np.ndarray, weights: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-group sums of `weights` (float64): `np.bincount(group, weights, minlength=n_groups)`, summed in the
    same order (so the same bytes), without bincount's extra passes (its range check and weight copy), each
    group's line asked for `PREFETCH_AHEAD` rows ahead (`prefetch_ahead`). `group` must lie in [0, n_groups)."""
    if not compiled():
        return np.bincount(group, weights=weights, minlength=n_groups)
    return _group_sum(group, weights, scratch(n_groups))


def segment_sum(bounds: np.ndarray, weights: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Per-group sums of `weights` whose rows are stored group by group: group s holds rows
    bounds[s]..bounds[s+1]-1. Equals `np.bincount(group, weights, minlength=bounds.size - 1)` byte for byte
    (the same additions in the same order); `group` is used by the numpy backend."""
    if not compiled():
        return np.bincount(group, weights=weights, minlength=bounds.size - 1)
    return segment_sum_into(bounds, weights, scratch(bounds.size - 1))


@jit
def _fill_segments(bounds, out):  # pragma: no cover - compiled
    for s in range(bounds.size - 1):
        out[bounds[s] : bounds[s + 1]] = s


def fill_segments(bounds: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Write into `out` the segment of every row, for rows stored segment by segment (segment s holds rows
    bounds[s]..bounds[s+1]-1): `np.repeat(np.arange(bounds.size - 1), np.diff(bounds))`, without its
    temporaries."""
    if not compiled():
        out[:] = np.repeat(np.arange(bounds.size - 1, dtype=out.dtype), np.diff(bounds))
        return out
    _fill_segments(bounds, out)
    return out


@jit
def _class_sum(group, person_class, alive, table, out):  # pragma: no cover - compiled
    out[:] = 0.0
    for i in range(group.size):
        prefetch_ahead(out, group, i, 1)
        if alive[i]:
            out[np.uint32(group[i])] += table[np.uint32(person_class[i])]
    return out


def class_sum(group: np.ndarray, person_class: np.ndarray, alive: np.ndarray, table: np.ndarray, n_groups: int):
    """Per-group sums, over the living, of a per-class value: `np.bincount(group, np.take(table, person_class)
    * alive, minlength=n_groups)` in one pass, summed in the same order (a dead row adds zero there)."""
    if not compiled():
        return np.bincount(group, weights=np.take(table, person_class) * alive, minlength=n_groups)
    return _class_sum(group, person_class, alive, table, scratch(n_groups))


@jit
def _kept_in_key_order(keep, keys, out):  # pragma: no cover - compiled
    """The rows where `keep` is set, stably ordered by `keys` (non-negative integers): a counting sort, so
    one count per key value and the int32 row list, instead of int64 row lists and an argsort's."""
    n_keys = 0
    for i in range(keys.size):
        if keep[i] and keys[i] + 1 > n_keys:
            n_keys = keys[i] + 1
    start = np.zeros(n_keys + 1, dtype=np.int64)
    for i in range(keys.size):
        if keep[i]:
            start[np.uint32(keys[i]) + np.uint32(1)] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    for i in range(keys.size):
        if keep[i]:
            key = np.uint32(keys[i])
            out[np.uint64(start[key])] = i
            start[key] += 1
    return out


@jit
def _gather_into(column, rows, out):  # pragma: no cover - compiled
    for j in range(rows.size):
        out[j] = column[np.uint32(rows[j])]
    return out


def kept_rows(keep: np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
    """The rows where `keep` is set, in their order, or stably ordered by `keys` (non-negative integers):
    equal to `rows[np.argsort(keys[rows], kind="stable")]` with `rows = np.flatnonzero(keep)`. With the
    kernels, an int32 list from a counting sort: at full scale the numpy way holds three int64 arrays of a
    province's persons at once (1.7 GB for Sichuan's 70 million) while it drops the dead."""
    if not compiled() or keep.size >= np.iinfo(np.int32).max or (keys is not None and keys.size and keys.min() < 0):
        rows = np.flatnonzero(keep)
        return rows if keys is None else rows[np.argsort(keys[rows], kind="stable")]
    if keys is None:
        return np.flatnonzero(keep).astype(np.int32)
    return _kept_in_key_order(keep, keys, scratch(int(np.count_nonzero(keep)), np.int32))


def gather(column: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`column[rows]` (a new array); with the kernels, without numpy's int64 copy of an int32 `rows`."""
    if not compiled() or rows.dtype != np.int32:
        return column[rows]
    return _gather_into(column, rows, scratch(rows.size, column.dtype))
