import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greatleap.modules.labour import days_on_offer_compiled, days_on_offer_reference
from tests.modules.helpers import module, tiny_engine


@pytest.fixture(scope="module")
def engine():
    return tiny_engine(persons=6_000)


def test_days_on_offer_count_the_able_bodied_at_their_capacity(engine):
    """A well-fed rural adult offers a full month of work days; a child, an injured adult and an adult at
    the reserve where capacity reaches zero offer none."""
    shard, labour = engine.shards[0], module(engine, "labour")
    p = labour.params
    persons = shard.persons
    age = -persons.birth_month.astype(int) // 12
    adult = np.flatnonzero((age >= 20) & (age <= 40))[:3]
    child = np.flatnonzero(age < 10)[0]
    persons.energy_reserve[:] = 1.0
    persons.energy_reserve[adult[1]] = p.capacity_zero_reserve
    persons.injured_until[adult[2]] = 5
    labour.days_on_offer(shard, 0)
    by_person = days_on_offer_reference(
        shard.person_class(0), np.arange(persons.count), persons.alive, persons.energy_reserve,
        persons.injured_until, 0, labour.able_bodied_table(), np.float32(p.capacity_zero_reserve),
        np.float32(p.capacity_full_reserve - p.capacity_zero_reserve), np.float32(p.workdays_per_month),
        persons.count,
    )  # fmt: skip
    assert by_person[adult[0]] == np.float32(p.workdays_per_month)
    assert by_person[adult[1]] == 0 and by_person[adult[2]] == 0 and by_person[child] == 0
    assert shard.households.labour_days.sum() == by_person.sum()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), injuries=st.booleans(), t=st.integers(0, 71))
def test_compiled_days_on_offer_give_the_reference_bytes(engine, seed, injuries, t):
    rng = np.random.default_rng(seed)
    shard, labour = engine.shards[0], module(engine, "labour")
    p = labour.params
    persons = shard.persons
    n = persons.count
    injured_until = rng.integers(0, 72, n).astype(np.int16) if injuries else np.zeros(0, np.int16)
    arguments = (
        shard.person_class(t), persons.household, rng.random(n) < 0.9, rng.uniform(0.4, 1.0, n).astype(np.float32),
        injured_until, t, labour.able_bodied_table(), np.float32(p.capacity_zero_reserve),
        np.float32(p.capacity_full_reserve - p.capacity_zero_reserve), np.float32(p.workdays_per_month),
        shard.households.count,
    )  # fmt: skip
    compiled, reference = days_on_offer_compiled(*arguments), days_on_offer_reference(*arguments)
    assert compiled.tobytes() == reference.tobytes() and compiled.sum() > 0
