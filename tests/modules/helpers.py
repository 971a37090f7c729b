"""A one-province engine for module tests: a made-up province of one rural commune, simulated in full."""

from __future__ import annotations

import numpy as np

from greatleap.core.calendar import Calendar
from greatleap.core.data import Province, provinces
from greatleap.core.engine import Engine
from greatleap.core.world import WorldParams, build_province
from greatleap.plan import build_phases, module_classes
from greatleap.scenario import Scenario


def tiny_engine(*overrides: str, persons: float = 20_000, seed: int = 1) -> Engine:
    """An engine over one province of `persons` rural persons at scale 'full' (one or a few communes)."""
    scenario = Scenario.load("historical", list(overrides))
    national = sum(p.population for p in provinces())
    world = WorldParams(**{**scenario.world.model_dump(), "population_at_start": national})
    # 300 kg of grain and 0.17 ha a head, about the 1957 national means.
    province = Province("TT", "Testland", "测试", persons, 0.0, 0.3 * persons, 0.17 * persons)
    shard = build_province(province, world, "full", seed)
    sections = {cls.name: scenario.section(cls.name) for cls in module_classes()}
    calendar = Calendar.parse(scenario.run.start, scenario.run.end)
    phases, modules = build_phases(sections)
    engine = Engine(phases, calendar, [shard], check=True, modules=modules)
    hold_transient_states(engine)
    return engine


def hold_transient_states(engine: Engine) -> None:
    """Give every transient state its own storage, as the engine does while a province is in a stretch: a
    module step run alone (`run_module_step`) runs as if inside its stretch."""
    for shard in engine.shards:
        shard.hold_household_commune(np.empty(shard.households.capacity, dtype=np.int32))
        tables = shard.tables()
        for spec in (spec for m in engine.modules() for spec in m.states if spec.transient):
            table = tables[spec.level]
            table.attach(spec.name, np.empty(table.capacity, dtype=spec.for_run(engine.calendar.n_months).dtype))


def module(engine: Engine, name: str):
    return next(m for m in engine.modules() if m.name == name)


def run_module_step(engine: Engine, name: str, t: int = 0) -> None:
    """Run one module's monthly step alone on the engine's shard (for tests of a single mechanism)."""
    ctx = engine.ctx
    ctx.t = t
    ctx.module = module(engine, name)
    ctx.shard = engine.shards[0]
    ctx.nation = engine.nation
    ctx.module.step(engine.shards[0], ctx)
