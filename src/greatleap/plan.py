"""The phase plan: which module steps when, every month. Defined here and nowhere else.

The full order the model grows into (STYLE.md): plan -> labour -> agriculture -> furnaces and SOEs ->
procurement -> mess halls -> consumption and nutrition -> demography -> migration -> politics ->
results -> checks. The engine adds its own `checks` and `compaction` phases after these.
"""

from __future__ import annotations

from greatleap.core.engine import Phase
from greatleap.core.module import Module
from greatleap.modules.demography import Demography
from greatleap.modules.nutrition import Nutrition

# (phase name, module class), in the order they run each month.
PHASE_PLAN: tuple[tuple[str, type[Module]], ...] = (
    ("consumption and nutrition", Nutrition),
    ("demography", Demography),
)


def module_classes() -> tuple[type[Module], ...]:
    """Every module class of the plan, once, in plan order."""
    seen: dict[str, type[Module]] = {}
    for entry in PHASE_PLAN:
        seen.setdefault(entry[1].name, entry[1])
    return tuple(seen.values())


def build_phases(sections: dict[str, object]) -> list[Phase]:
    """Instantiate each module once with its parameter section and lay out the phases."""
    modules = {cls.name: cls(sections[cls.name]) for cls in module_classes()}  # type: ignore[arg-type]
    return [Phase(name, modules[cls.name], scope) for name, cls, scope in _entries()]


def _entries() -> list[tuple[str, type[Module], str]]:
    return [(entry[0], entry[1], entry[2] if len(entry) > 2 else "province") for entry in PHASE_PLAN]
