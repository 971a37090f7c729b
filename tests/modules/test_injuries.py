"""Injuries at work: rates by the work done and fatigue, incapacity, deaths."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.modules.helpers import module, run_module_step, tiny_engine


def test_the_furnace_campaign_and_the_plan_bring_injuries(historical_run):
    value = historical_run.value
    assert value("injuries_furnaces", 1957) == 0.0
    assert value("injuries_furnaces", 1958) > value("injuries_fields", 1958) > 0  # the autumn 1958 drive
    assert value("injuries", 1958) > 2 * value("injuries", 1957)
    assert value("injuries_factories", 1959) > 1.5 * value("injuries_factories", 1957)  # rushed factories
    assert value("injuries", 1962) < 0.5 * value("injuries", 1958)
    # A few deaths in a hundred injuries (fatal_share 0.03).
    assert 0.01 < value("deaths_injury", 1958) / value("injuries", 1958) < 0.06


def test_the_injured_cannot_work_until_they_recover():
    engine = tiny_engine()
    shard = engine.shards[0]
    injuries = module(engine, "injuries")
    # Every day worked in the fields injures someone: many injuries in a winter month, to see their effect.
    injuries.params = injuries.params.model_copy(update={"field_rate_per_kday": 1000.0, "incapacity_months": 3})
    engine.step()
    injured = np.flatnonzero(shard.persons.injured_until > 0)
    assert injured.size > 200
    assert (shard.persons.injured_until[injured] == 3).all()  # injured at step 0, back at step 3
    labour = module(engine, "labour")
    with_injured = labour.days_on_offer(shard, 1).sum()
    shard.persons.injured_until[injured] = 0
    assert labour.days_on_offer(shard, 1).sum() > with_injured


def test_hunger_and_long_hours_raise_the_rate():
    engine = tiny_engine()
    shard = engine.shards[0]
    communes = shard.communes
    communes.labour_days_fields[:] = 1e5
    rates = []
    for intensity, reserve in ((1.0, 1.0), (1.5, 1.0), (1.0, 0.8)):
        communes.work_intensity[:] = intensity
        communes.mean_reserve[:] = reserve
        run_module_step(engine, "injuries")
        rates.append(
            engine.recorder.values["TT"][0, engine.recorder._column_of("injuries", "injuries_fields", "province")]
        )
    assert rates[1] > 2 * rates[0] and rates[2] > 1.5 * rates[0]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(1, 5000), n_communes=st.integers(1, 40))
def test_compiled_candidate_rows_and_ranks_give_numpys_bytes(seed, n_rows, n_communes):
    """The draw's sorted unique rows and its stable order by commune (with each row's rank in its commune)
    are numpy's, byte for byte, from the compiled bitmap and counting sort."""
    from greatleap.core import kernels
    from greatleap.modules.injuries import rank_by_commune, unique_rows

    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n_rows, size=int(rng.integers(0, 3 * n_rows)))
    commune = rng.integers(0, n_communes, size=rows.size).astype(np.int32)
    results = {}
    for backend in ("numba", "numpy"):
        with kernels.use(backend):
            results[backend] = (unique_rows(rows, n_rows), *rank_by_commune(rows, commune, n_communes))
    for compiled, reference in zip(results["numba"], results["numpy"], strict=True):
        assert compiled.dtype == reference.dtype and compiled.tobytes() == reference.tobytes()
    unique, by_commune, communes, rank = results["numba"]
    assert set(unique.tolist()) == set(rows.tolist()) and (np.diff(unique) > 0).all()
    assert (np.diff(communes) >= 0).all() and sorted(by_commune.tolist()) == sorted(rows.tolist())
    assert all((rank[communes == c] == np.arange((communes == c).sum())).all() for c in range(n_communes))
