"""One contract suite over every module of the phase plan (after scikit-learn's estimator checks)."""

import numpy as np
import pytest

from greatleap.core.module import Module, StepContext
from greatleap.core.state import BIT, LEVELS
from greatleap.plan import module_classes
from greatleap.sim import Sim
from tests.conftest import small_scenario

MODULES = module_classes()


@pytest.fixture(scope="module")
def short_sim():
    sim = Sim(small_scenario('run.end="1957-04"'), check=True)
    snapshot = {cls.name: sim.scenario.section(cls.name).model_dump() for cls in MODULES}
    sim.run()
    return sim, snapshot


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.name)
def test_module_declares_its_contract(cls: type[Module]):
    module = cls()  # constructible with defaults
    assert module.name and module.params == cls.Params()
    for spec in cls.states:
        dtype = spec.for_run(72).dtype
        assert spec.level in LEVELS and (dtype == BIT or np.dtype(dtype)) and spec.description
    every_result = {r.name for m in MODULES for r in m.results}
    for spec in cls.results:
        assert spec.kind in ("stock", "flow", "ratio", "sum") and spec.description
        if spec.kind == "ratio":
            assert spec.numerator in every_result and spec.denominator in every_result
        if spec.kind == "sum":
            assert spec.terms and all(term.lstrip("-") in every_result for term in spec.terms)
    assert len(set(cls.streams)) == len(cls.streams)


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.name)
def test_module_fills_every_declared_result_every_month(short_sim, cls: type[Module]):
    sim, _ = short_sim
    recorder = sim.engine.recorder
    for spec in cls.results:
        if spec.computed:
            continue
        column = recorder.recorded.index(spec.name)
        codes = ["CN"] if spec.scope == "nation" else recorder.provinces
        for code in codes:
            assert recorder.filled[code][:, column].all(), f"{cls.name} left {spec.name} unrecorded in {code}"


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.name)
def test_module_does_not_mutate_its_parameters(short_sim, cls: type[Module]):
    sim, snapshot = short_sim
    module = next(m for m in sim.engine.modules() if m.name == cls.name)
    assert module.params.model_dump() == snapshot[cls.name]


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.name)
def test_module_draws_only_from_declared_streams(short_sim, cls: type[Module]):
    sim, _ = short_sim
    shard = sim.engine.shards[0]
    used = {key.split("/")[0] + "/" + key.split("/")[1] for key in shard.streams.state()}
    declared = {f"{m.name}/{s}" for m in sim.engine.modules() for s in m.streams}
    assert used <= declared
    ctx = StepContext(sim.calendar, sim.engine.recorder)
    ctx.module, ctx.shard = next(m for m in sim.engine.modules() if m.name == cls.name), shard
    with pytest.raises(KeyError, match="undeclared stream"):
        ctx.rng("a_stream_nobody_declared")


def test_every_module_in_the_plan_has_a_distinct_section_name():
    names = [cls.name for cls in MODULES]
    assert len(names) == len(set(names))
    assert not {"run", "world", "name", "description", "base"} & set(names)
