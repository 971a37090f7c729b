"""A one-province engine for module tests: a made-up province of one rural commune, simulated in full."""

from __future__ import annotations

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
    province = Province("TT", "Testland", "测试", persons, 0.0, 1e6, 1e6)
    shard = build_province(province, world, "full", seed)
    sections = {cls.name: scenario.section(cls.name) for cls in module_classes()}
    calendar = Calendar.parse(scenario.run.start, scenario.run.end)
    return Engine(build_phases(sections), calendar, [shard], check=True)


def module(engine: Engine, name: str):
    return next(m for m in engine.modules() if m.name == name)
