"""The phase plan: which module steps when, every month. Defined here and nowhere else.

The full order the model grows into (STYLE.md): plan -> labour -> agriculture -> furnaces and SOEs ->
procurement -> mess halls -> consumption and nutrition -> demography -> migration -> politics ->
results -> checks. The engine adds its own `checks` and `compaction` phases after these.
"""

from __future__ import annotations

from greatleap.core.engine import Phase
from greatleap.core.module import Module
from greatleap.modules.agriculture import Agriculture
from greatleap.modules.campaign import Campaign
from greatleap.modules.demography import Demography
from greatleap.modules.furnaces import Furnaces
from greatleap.modules.grain_accounts import GrainAccounts
from greatleap.modules.household_food import HouseholdFood
from greatleap.modules.industry import Industry
from greatleap.modules.injuries import Injuries
from greatleap.modules.labour import Labour
from greatleap.modules.livestock import Livestock
from greatleap.modules.messhalls import MessHalls
from greatleap.modules.migration import Migration
from greatleap.modules.nutrition import Nutrition
from greatleap.modules.procurement import Procurement
from greatleap.modules.recruitment import Recruitment
from greatleap.modules.reports import Reports
from greatleap.modules.state_grain import StateGrain

# (phase name, module class[, scope[, method]]), in the order they run each month. Scope "province" runs
# the method (default `step`) in every province shard; "nation" runs it (default `step_nation`) once.
PHASE_PLAN: tuple[tuple, ...] = (
    ("plan: opening accounts", GrainAccounts),
    ("plan: campaign", Campaign, "nation"),
    ("plan: industrial capacity", Industry, "nation"),
    ("labour", Labour),
    ("livestock", Livestock),
    ("agriculture", Agriculture),
    ("furnaces", Furnaces),
    ("industry", Industry),
    ("injuries", Injuries),
    ("reports", Reports),
    ("procurement", Procurement),
    ("urban registration", StateGrain, "province", "report"),
    ("state grain pool", StateGrain, "nation"),
    ("procurement: state needs", Procurement, "nation"),
    ("resales", Procurement, "province", "receive"),
    ("mess halls and distribution", MessHalls),
    ("household food", HouseholdFood),
    ("consumption and nutrition", Nutrition),
    ("food needs", HouseholdFood, "province", "after_nutrition"),
    ("demography", Demography),
    ("migration: flight", Migration),
    ("migration: between provinces", Migration, "nation"),
    ("migration: arrivals", Migration, "province", "arrive"),
    ("recruitment", Recruitment),
    ("accounts: closing stocks", GrainAccounts, "province", "close"),
)


# The order in which modules set their initial state: a module's `init` may read what those before it set
# (demography's commune populations, labour's days on offer, agriculture's 1957 output, nutrition's needs).
INIT_ORDER: tuple[type[Module], ...] = (
    Campaign,
    Demography,
    Labour,
    Agriculture,
    Livestock,
    Furnaces,
    Industry,
    Injuries,
    Reports,
    Procurement,
    StateGrain,
    Nutrition,
    HouseholdFood,
    MessHalls,
    GrainAccounts,
    Migration,
    Recruitment,
)


def module_classes() -> tuple[type[Module], ...]:
    """Every module class of the plan, once, in initialisation order."""
    in_plan = {entry[1].name for entry in PHASE_PLAN}
    ordered = [cls for cls in INIT_ORDER if cls.name in in_plan]
    missing = in_plan - {cls.name for cls in ordered}
    if missing:
        raise ValueError(f"modules in the phase plan but not in INIT_ORDER: {sorted(missing)}")
    return tuple(ordered)


def build_phases(sections: dict[str, object]) -> tuple[list[Phase], list[Module]]:
    """Instantiate each module once with its parameter section; the phases, and the modules in init order."""
    modules = {cls.name: cls(sections[cls.name]) for cls in module_classes()}  # type: ignore[arg-type]
    phases = [Phase(name, modules[cls.name], scope, method) for name, cls, scope, method in _entries()]
    return phases, list(modules.values())


def _entries() -> list[tuple[str, type[Module], str, str]]:
    """(phase, module class, scope, method) with the defaults filled in."""
    padded = []
    for entry in PHASE_PLAN:
        name, cls, *rest = entry
        scope = rest[0] if rest else "province"
        method = rest[1] if len(rest) > 1 else ""
        padded.append((name, cls, scope, method))
    return padded
