import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from greatleap.core import kernels
from greatleap.core.state import BIT, Bits, StateSpec, Table


def person_table(capacity: int = 4) -> Table:
    table = Table("person", capacity)
    table.declare(StateSpec("alive", "person", "bool", True, "alive"))
    table.declare(StateSpec("value", "person", "float32", 1.5, "some value", inherit=True))
    table.declare(StateSpec("tag", "person", "int16", -1, "not inherited"))
    return table


def test_add_returns_the_new_rows_with_defaults_and_grows_capacity():
    table = person_table(capacity=2)
    first = table.add(2)
    table.value[first] = [3.0, 4.0]
    second = table.add(5)  # beyond capacity: grows, keeps the old rows
    assert (second.start, second.stop) == (2, 7)
    assert table.count == 7 and table.capacity >= 7
    np.testing.assert_array_equal(table.value, np.array([3, 4, 1.5, 1.5, 1.5, 1.5, 1.5], np.float32))
    assert table.alive.all()


def test_declaring_twice_or_at_the_wrong_level_is_refused():
    table = person_table()
    with pytest.raises(ValueError, match="declared twice"):
        table.declare(StateSpec("value", "person", "float32", 0.0, "again"))
    with pytest.raises(ValueError, match="household-level"):
        table.declare(StateSpec("x", "household", "float32", 0.0, "wrong level"))


def test_add_offspring_copies_only_inherited_columns():
    table = person_table()
    rows = table.add(3)
    table.value[rows] = [10.0, 20.0, 30.0]
    table.tag[rows] = [7, 8, 9]
    new = table.add_offspring(np.array([2, 0]))
    np.testing.assert_array_equal(table.value[new], [30.0, 10.0])
    np.testing.assert_array_equal(table.tag[new], [-1, -1])


def test_compact_drops_dead_rows_in_order_and_bumps_the_version():
    table = person_table()
    rows = table.add(4)
    table.value[rows] = [1, 2, 3, 4]
    table.alive[[1, 2]] = False
    version = table.version
    table.compact(table.alive)  # a view of a column being compacted: must still work
    np.testing.assert_array_equal(table.value, [1, 4])
    assert table.alive.all() and table.version > version


def test_assigning_to_the_table_instead_of_a_column_is_an_error():
    table = person_table()
    with pytest.raises(AttributeError):
        table.value = np.zeros(3)


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 2**16 - 1)), min_size=1, max_size=15))
def test_add_and_compact_keep_the_survivors_values(operations):
    """Random sequences of appends and compactions: the table equals a plain list doing the same."""
    table = person_table(capacity=1)
    model: list[float] = []
    counter = 0.0
    for n_new, death_bits in operations:
        rows = table.add(n_new)
        table.value[rows] = np.arange(counter, counter + n_new, dtype=np.float32)
        model += [counter + i for i in range(n_new)]
        counter += n_new
        keep = np.array([(death_bits >> (i % 16)) & 1 == 0 for i in range(table.count)], dtype=bool)
        table.alive[:] = keep
        table.compact(table.alive)
        model = [v for v, k in zip(model, keep, strict=True) if k]
        np.testing.assert_array_equal(table.value, np.array(model, dtype=np.float32))


def test_column_views_follow_growth_compaction_and_pickling():
    """Columns are read as attributes that the table renews when rows are added or dropped: a write
    through the attribute always lands in the storage, also after pickling (a worker's copy)."""
    table = person_table(capacity=2)
    table.add(2)
    table.add(3)  # grows the storage
    table.value[:] = [1, 2, 3, 4, 5]
    assert table.column("value").tolist() == [1, 2, 3, 4, 5]
    table.compact(np.array([True, False, True, False, True]))
    assert table.value.tolist() == [1, 3, 5] and table.value.size == table.count
    copy = pickle.loads(pickle.dumps(table))
    copy.value[0] = 9
    assert copy.column("value").tolist() == [9, 3, 5] and table.value[0] == 1


def test_a_column_may_not_hide_a_table_attribute():
    with pytest.raises(ValueError, match="would hide the table attribute"):
        person_table().declare(StateSpec("count", "person", "int32", 0, "clashes with Table.count"))


def test_compaction_can_restore_an_order_keeping_ties_in_row_order():
    """The persons are put back in household order each December: the dead go, the rows sort by the column
    stably (appended rows join their group after the rows already there), every column moves along."""
    table = person_table(capacity=2)
    table.add(7)
    table.tag[:] = [0, 0, 2, 1, 0, 2, 1]  # household-like groups, the last three appended out of place
    table.value[:] = np.arange(7, dtype=np.float32)
    table.alive[:] = [True, True, True, False, True, True, True]
    table.compact(table.alive, order_by="tag")
    assert table.tag.tolist() == [0, 0, 0, 1, 2, 2]
    assert table.value.tolist() == [0, 1, 4, 6, 2, 5]  # row 3 dead; ties in their former order
    assert table.alive.all() and table.count == 6


@given(
    keys=st.lists(st.integers(0, 6), min_size=0, max_size=60),
    seed=st.integers(0, 2**16),
)
def test_the_compiled_compaction_orders_rows_as_numpys_stable_sort(keys, seed):
    """`kernels.kept_rows` (a counting sort into int32 rows) equals numpy's flatnonzero + stable argsort."""
    from greatleap.core import kernels

    key_array = np.array(keys, dtype=np.int32)
    keep = np.random.default_rng(seed).random(key_array.size) < 0.7
    expected = np.flatnonzero(keep)
    expected = expected[np.argsort(key_array[expected], kind="stable")]
    compiled = kernels.kept_rows(keep, key_array)
    assert compiled.dtype == np.int32
    np.testing.assert_array_equal(compiled, expected)
    np.testing.assert_array_equal(kernels.kept_rows(keep), np.flatnonzero(keep))
    with kernels.use("numpy"):
        np.testing.assert_array_equal(kernels.kept_rows(keep, key_array), expected)
    values = np.arange(key_array.size, dtype=np.float32) * 1.5
    np.testing.assert_array_equal(kernels.gather(values, compiled), values[expected])


def test_a_transient_column_has_storage_only_while_attached():
    table = Table("household", 4)
    table.declare(StateSpec("stock", "household", "float64", 2.0, "resident"))
    table.declare(StateSpec("served", "household", "float32", 0.5, "handed on within a stretch", transient=True))
    table.add(3)
    assert table.resident_names == ("stock",) and table.nbytes_per_row == 8
    assert table.served.size == 0 and not table.attached("served")
    assert set(table.snapshot()) == {"stock"}

    storage = np.full(10, 9.0, dtype=np.float32)
    table.attach("served", storage)
    assert table.attached("served") and table.served.tolist() == [0.5, 0.5, 0.5]  # defaults, not the 9s
    table.served[:] = [1.0, 2.0, 3.0]
    assert storage[:3].tolist() == [1.0, 2.0, 3.0]  # the attached storage is written
    table.add(5)  # grows past the capacity: the attached column grows with the others
    assert table.served.tolist() == [1.0, 2.0, 3.0] + [0.5] * 5 and table.stock.size == 8
    assert set(table.snapshot()) == {"stock", "served"}

    table.detach("served")
    assert table.served.size == 0 and not table.attached("served")
    table.compact(np.array([True, False] * 4))  # a detached column is left alone
    assert table.count == 4 and table.served.size == 0
    table.restore({"stock": np.arange(6.0)})  # a checkpoint holds the resident columns only
    assert table.stock.tolist() == list(range(6)) and table.served.size == 0


def test_a_transient_state_is_neither_inherited_nor_carried_nor_detached_when_resident():
    table = Table("person", 2)
    with pytest.raises(ValueError, match="transient"):
        table.declare(StateSpec("x", "person", "float32", 0.0, "inherited", inherit=True, transient=True))
    table.declare(StateSpec("y", "person", "float32", 0.0, "resident"))
    with pytest.raises(ValueError, match="not transient"):
        table.detach("y")
    table.declare(StateSpec("z", "person", "float32", 0.0, "transient", transient=True))
    with pytest.raises(ValueError, match="cannot attach"):
        table.attach("z", np.zeros(1, dtype=np.float64))


def test_a_step_state_takes_one_byte_when_the_run_and_its_margin_fit():
    from greatleap.core.state import NO_STEP, STEP, step_dtype

    spec = StateSpec("due", "person", STEP, NO_STEP, "a month of the run")
    assert spec.for_run(72).dtype == "int8"  # 1957-01 to 1962-12
    assert step_dtype(127 - 36) == "int8" and step_dtype(127 - 35) == "int16"
    assert spec.for_run(200).dtype == "int16"
    table = Table("person", 2)
    table.declare(spec.for_run(72))
    table.add(2)
    assert table.due.dtype == np.int8 and (table.due == NO_STEP).all()
    assert StateSpec("x", "person", "int16", 0, "not a step").for_run(72).dtype == "int16"


def flagged_table(capacity: int = 3) -> Table:
    """A person table with a bool column and two bit columns (one inherited) that should always agree."""
    table = person_table(capacity)
    table.declare(StateSpec("flag", "person", BIT, False, "a bit column", inherit=True))
    table.declare(StateSpec("mark", "person", BIT, False, "a bit column, not inherited"))
    table.declare(StateSpec("flag_as_bool", "person", "bool", False, "the same values, a byte each", inherit=True))
    return table


def test_a_bit_column_reads_and_writes_like_a_boolean_column():
    table = flagged_table()
    rows = table.add(21)
    assert isinstance(table.flag, Bits) and len(table.flag) == 21 and not table.flag.any()
    table.flag[[0, 7, 8, 20]] = True
    table.flag[np.array([7])] = False
    table.flag[np.arange(21) == 3] = True  # a boolean mask
    np.testing.assert_array_equal(np.flatnonzero(table.flag.unpack()), [0, 3, 8, 20])
    np.testing.assert_array_equal(table.flag[rows], table.flag.unpack())
    with kernels.use("numpy"):  # the reference read, without the compiled one
        np.testing.assert_array_equal(table.flag[[20, 0, 1, 3]], [True, True, False, True])
    np.testing.assert_array_equal(table.flag[[20, 0, 1]], [True, True, False])
    assert table.flag[3] is True and table.flag[np.int64(4)] is False  # one row: a bool
    table.flag[4] = True
    assert table.flag[4] is True
    table.flag[4] = False
    assert table.flag.sum() == 4 and table.values("flag").dtype == bool
    table.flag[[1, 2]] = np.array([True, False])  # values per row
    assert table.flag[[1, 2]].tolist() == [True, False]
    with pytest.raises(IndexError):
        table.flag[[21]] = True  # beyond the live rows
    assert table.nbytes_per_row == 1 + 4 + 2 + 1 / 8 + 1 / 8 + 1
    with pytest.raises(ValueError, match="starts False"):
        table.declare(StateSpec("set", "person", BIT, True, "a bit state that starts True"))


@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 2**32 - 1), st.sampled_from(("add", "offspring", "copies"))),
        min_size=1,
        max_size=12,
    )
)
def test_bit_columns_follow_every_table_operation_as_a_bool_column_does(operations):
    """Random appends (plain, offspring, copies, rows from another table), flag writes and compactions (in
    row or in household order), growth, pickling, snapshot and restore: a bit column always equals a bool
    column that went through the same."""
    table = flagged_table(capacity=1)
    for n_new, bits, how in operations:
        rng = np.random.default_rng(bits)
        if how == "add" or table.count == 0:
            table.add_rows({"flag": rng.random(n_new) < 0.5} if n_new else {})
            table.flag_as_bool[table.count - n_new :] = table.flag[np.arange(table.count - n_new, table.count)]
        elif how == "offspring":
            table.add_offspring(rng.integers(0, table.count, n_new))
        else:
            table.add_copies(rng.integers(0, table.count, n_new))
        chosen = rng.integers(0, max(table.count, 1), 5) if table.count else np.zeros(0, dtype=np.int64)
        value = rng.random(chosen.size) < 0.5
        table.flag[chosen] = value
        table.flag_as_bool[chosen] = value
        table.mark[chosen] = value
        np.testing.assert_array_equal(table.values("flag"), table.flag_as_bool)
        table.alive[:] = rng.random(table.count) < 0.8
        table.tag[:] = rng.integers(0, 4, table.count)
        table.compact(table.alive, order_by="tag" if bits % 2 else None)
        np.testing.assert_array_equal(table.values("flag"), table.flag_as_bool)
    copy = pickle.loads(pickle.dumps(table))
    np.testing.assert_array_equal(copy.flag.unpack(), table.flag_as_bool)
    snapshot = table.snapshot()
    assert snapshot["flag"].dtype == bool
    fresh = flagged_table(capacity=1)
    fresh.restore({name: snapshot[name] for name in fresh.resident_names})
    np.testing.assert_array_equal(fresh.values("flag"), table.flag_as_bool)
    np.testing.assert_array_equal(fresh.values("mark"), table.values("mark"))
    fresh.add(9)  # rows added after a restore are False
    assert not fresh.flag[np.arange(fresh.count - 9, fresh.count)].any()
