"""The compiled kernels give the numpy reference's bytes: generic sums here, whole runs at the end; each
mechanism's own kernels are tested beside the mechanism (tests/modules)."""

from __future__ import annotations

import re

import numba
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greatleap.core import kernels
from greatleap.core.errors import ConfigError
from greatleap.sim import Sim
from tests.conftest import small_scenario

WEIGHT_DTYPES = (np.float64, np.float32, np.bool_, np.int64)


def weights_of(rng: np.random.Generator, dtype, n: int) -> np.ndarray:
    if dtype == np.bool_:
        return rng.random(n) < 0.5
    if dtype == np.int64:
        return rng.integers(-5, 100, n)
    # Values of mixed magnitudes, so that the order of the additions shows in the last bits.
    return (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 6, n)).astype(dtype)


@settings(max_examples=40, deadline=None)  # the first example may compile
@given(st.integers(0, 2**32 - 1), st.integers(0, 3000), st.integers(1, 60), st.sampled_from(WEIGHT_DTYPES))
def test_group_sum_is_bincount_byte_for_byte(seed, n, n_groups, dtype):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, n_groups, n).astype(np.int32)
    weights = weights_of(rng, dtype, n)
    expected = np.bincount(group, weights=weights, minlength=n_groups)
    got = kernels.group_sum(group, weights, n_groups)
    assert got.dtype == np.float64 and got.tobytes() == expected.tobytes()


def test_the_household_sums_prefetch_ahead_and_stay_exact_to_the_last_row():
    """The kernels that add rows into household-sized arrays ask for the line `PREFETCH_AHEAD` rows ahead
    (a prefetch in the compiled code), clamped at the last row: a few rows, or rows in scattered order, sum
    as bincount does."""
    assert 1 <= kernels.PREFETCH_AHEAD <= 1024
    group, weights = np.array([3, 0, 3], dtype=np.int32), np.array([0.5, 2.0, 1.25])
    assert kernels.group_sum(group, weights, 5).tolist() == [2.0, 0.0, 0.0, 1.75, 0.0]
    table, alive = np.array([1.0, 10.0]), np.array([True, True, False])
    person_class = np.array([0, 1, 1], dtype=np.int16)
    assert kernels.class_sum(group, person_class, alive, table, 5).tolist() == [10.0, 0.0, 0.0, 1.0, 0.0]
    for kernel in (kernels._group_sum, kernels._class_sum):  # compiled afresh: a kernel from the cache has no IR
        fresh = numba.njit(kernel.py_func)
        fresh.compile(kernel.signatures[0])
        (code,) = fresh.inspect_llvm().values()
        assert "llvm.prefetch" in code, kernel
    rng = np.random.default_rng(7)
    n = kernels.PREFETCH_AHEAD * 40
    scattered = np.sort(rng.integers(0, 9_000, n)).astype(np.int32)
    moved = rng.random(n) < 0.05
    scattered[moved] = rng.integers(0, 9_000, np.count_nonzero(moved))
    weights = weights_of(rng, np.float64, n)
    expected = np.bincount(scattered, weights=weights, minlength=9_000)
    assert kernels.group_sum(scattered, weights, 9_000).tobytes() == expected.tobytes()


@settings(max_examples=40, deadline=None)  # the first example may compile
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.sampled_from(WEIGHT_DTYPES))
def test_segment_sum_of_sorted_rows_is_bincount_byte_for_byte(seed, n_groups, dtype):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 200, n_groups)  # empty groups too
    group = np.repeat(np.arange(n_groups, dtype=np.int32), sizes)
    bounds = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    weights = weights_of(rng, dtype, group.size)
    expected = np.bincount(group, weights=weights, minlength=n_groups)
    assert kernels.segment_sum(bounds, weights, group).tobytes() == expected.tobytes()


@settings(max_examples=40, deadline=None)  # the first example may compile
@given(st.integers(0, 2**32 - 1), st.integers(1, 40))
def test_fill_segments_spells_out_each_rows_segment_with_either_backend(seed, n_groups):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 200, n_groups)  # empty segments too
    bounds = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    expected = np.repeat(np.arange(n_groups, dtype=np.int32), sizes)
    compiled = kernels.fill_segments(bounds, np.full(expected.size, -7, dtype=np.int32))
    with kernels.use("numpy"):
        reference = kernels.fill_segments(bounds, np.full(expected.size, -7, dtype=np.int32))
    np.testing.assert_array_equal(compiled, expected)
    np.testing.assert_array_equal(reference, expected)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 3000), st.sampled_from((np.float32, np.float64, np.bool_)))
def test_class_sum_is_the_reference_byte_for_byte(seed, n, dtype):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 50, n).astype(np.int32)
    person_class = rng.integers(0, 444, n).astype(np.int32)
    alive = rng.random(n) < 0.8
    table = weights_of(rng, dtype, 444)
    compiled = kernels.class_sum(group, person_class, alive, table, 50)
    with kernels.use("numpy"):
        reference = kernels.class_sum(group, person_class, alive, table, 50)
    assert compiled.tobytes() == reference.tobytes()


def test_the_backend_follows_the_environment_and_refuses_unknown_names(monkeypatch):
    monkeypatch.setenv(kernels.ENVIRONMENT_VARIABLE, "numpy")
    assert kernels.backend() == "numpy" and not kernels.compiled()
    with kernels.use("numba"):
        assert kernels.compiled()
    monkeypatch.setenv(kernels.ENVIRONMENT_VARIABLE, "fast")
    with pytest.raises(
        ConfigError, match=re.escape("GREATLEAP_KERNELS: 'fast' is not a kernel backend (allowed: numba, numpy)")
    ):
        kernels.backend()
    with pytest.raises(ConfigError, match="allowed: numba, numpy"):
        with kernels.use("cuda"):  # type: ignore[arg-type]
            pass


def monthly_bytes(threads: int = 1) -> bytes:
    """The run's monthly results, serialized (Arrow IPC): equal bytes mean equal values."""
    table = Sim(small_scenario(), threads=threads).run().monthly
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


@pytest.fixture(scope="module")
def compiled_run() -> bytes:
    with kernels.use("numba"):
        return monthly_bytes()


def test_a_run_with_the_numpy_reference_gives_the_same_bytes_as_the_compiled_kernels(compiled_run):
    with kernels.use("numpy"):
        assert monthly_bytes() == compiled_run


def test_a_run_on_two_threads_gives_the_same_bytes_as_on_one(compiled_run):
    with kernels.use("numba"):
        assert monthly_bytes(threads=2) == compiled_run


def test_the_workspace_hands_out_non_overlapping_aligned_arrays_in_a_phase_and_the_same_memory_in_the_next():
    """A phase's working arrays never overlap (and keep their values when a later one makes the buffer grow);
    the next phase takes the same memory again; the buffer grows to the most one phase took, no further;
    another thread has its own; outside a phase every call gets fresh memory."""
    from concurrent.futures import ThreadPoolExecutor

    def in_a_fresh_thread() -> None:  # a thread whose workspace no engine has sized yet
        import threading

        def take_all(sizes):
            arrays = [kernels.workspace((n,), dtype) for n, dtype in sizes]
            for k, array in enumerate(arrays):
                array[:] = k + 1
            return arrays

        sizes = [(1000, np.float64), (777, np.int32), (5, np.bool_), (3000, np.float64)]
        with kernels.phase_workspace():
            first = take_all(sizes)
            assert [a.shape for a in first] == [(1000,), (777,), (5,), (3000,)]
            assert [a.dtype for a in first] == [np.float64, np.int32, np.bool_, np.float64]
            assert all(a.ctypes.data % kernels.WORKSPACE_ALIGNMENT == 0 for a in first)
            assert not any(np.shares_memory(a, b) for k, a in enumerate(first) for b in first[k + 1 :])
            assert all((a == a.dtype.type(k + 1)).all() for k, a in enumerate(first))  # none overwrote another
        held = kernels.workspace_bytes()
        assert 8000 + 3108 + 5 + 24000 <= held <= 8000 + 3108 + 5 + 24000 + 5 * kernels.WORKSPACE_ALIGNMENT
        with kernels.phase_workspace():
            again = take_all(sizes)
            assert np.shares_memory(again[0], first[0]) or np.shares_memory(again[0], first[3])  # the same memory
            assert not any(np.shares_memory(a, b) for k, a in enumerate(again) for b in again[k + 1 :])
        assert kernels.workspace_bytes() == held  # it fitted: no growth
        with kernels.phase_workspace():
            small = kernels.workspace((10,))
        assert kernels.workspace_bytes() == held and np.shares_memory(small, again[0])
        elsewhere = []

        def in_a_thread():
            with kernels.phase_workspace():
                elsewhere.append(kernels.workspace((1000,)))

        thread = threading.Thread(target=in_a_thread)
        thread.start()
        thread.join()
        with kernels.phase_workspace():
            assert not np.shares_memory(elsewhere[0], kernels.workspace((1000,)))
        outside = kernels.workspace((1000,)), kernels.workspace((1000,))
        assert not np.shares_memory(*outside) and not np.shares_memory(outside[0], again[0])

    with ThreadPoolExecutor(1) as pool:
        pool.submit(in_a_fresh_thread).result()


def test_reusable_working_arrays_are_kept_per_name_and_thread_and_grow():
    """A kernel's working array is handed out again on the next call under its name (no fresh pages each
    month), grows for a larger province, and is never shared between threads (provinces run on threads)."""
    import threading

    first = kernels.reusable("test-pool", (3, 4))
    first[:] = 7.0
    again = kernels.reusable("test-pool", (2, 5))
    assert again.shape == (2, 5) and np.shares_memory(first, again)
    larger = kernels.reusable("test-pool", (10, 10))
    assert larger.shape == (10, 10) and not np.shares_memory(first, larger)
    assert not np.shares_memory(kernels.reusable("other-pool", (3, 4)), kernels.reusable("test-pool", (3, 4)))
    assert kernels.reusable("test-pool", (4,), np.int64).dtype == np.int64  # another dtype: a new array
    elsewhere = []
    thread = threading.Thread(target=lambda: elsewhere.append(kernels.reusable("test-pool", (3, 4))))
    thread.start()
    thread.join()
    assert not np.shares_memory(elsewhere[0], kernels.reusable("test-pool", (3, 4)))
