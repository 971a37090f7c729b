"""The policy lab's levers, generated from the parameter schema.

A lever names a scenario key and says it in plain words; everything else (the widget, its bounds, its
options, the historical value marked beside it) is read from the schema that also validates scenario files
and `--set` overrides, so a bound is declared once, on the parameter. What the page sends back is a list of
`section.key=value` overrides, validated by `Scenario.with_overrides` like any other.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, Literal

from greatleap.core.params import MONTH, field_bounds
from greatleap.scenario import Scenario, ScenarioSchema, toml_value

Kind = Literal["toggle", "choice", "slider", "integer", "month"]


@dataclass(frozen=True)
class Lever:
    """One control of the page: a scenario key, its label, and what the schema allows."""

    key: str
    label: str
    group: str
    kind: Kind
    historical: Any
    help: str
    low: float | None = None
    high: float | None = None
    options: tuple[Any, ...] = ()

    def override(self, value: Any) -> str:
        """The `section.key=value` assignment for `value` (TOML syntax, as on the command line)."""
        return f"{self.key}={toml_value(value)}"


# (key, plain-language label, group); the order is the page's.
LEVER_KEYS: tuple[tuple[str, str, str], ...] = (
    ("industry.steel_target_scale", "Steel target (x the historical plan)", "Steel"),
    ("furnaces.enabled", "Backyard furnace campaign", "Steel"),
    ("furnaces.peak_labour_share", "Share of labour sent to the furnaces at the campaign's peak", "Steel"),
    ("procurement.flexible", "Quotas follow the actual harvest (flexible procurement)", "Grain"),
    ("procurement.rate", "Procurement: share of the reported surplus taken", "Grain"),
    ("reports.inflation", "Report inflation under campaign pressure", "Grain"),
    ("state_grain.exports_scale", "Grain exports (x the record)", "Grain"),
    ("messhalls.enabled", "Communal mess halls", "Mess halls"),
    ("messhalls.rule", "How a rationing mess hall shares its food", "Mess halls"),
    ("migration.passports", "Internal passports", "People"),
    ("industry.incentives", "Incentives in the state enterprises", "People"),
    ("campaign.politics", "When the leadership recalls the policies", "Politics"),
    ("campaign.recall_date", "Recall date (historical politics)", "Politics"),
    ("agriculture.weather", "Weather", "Run"),
    ("run.seed", "Random seed", "Run"),
)


def _field(key: str):
    section, name = key.split(".")
    model = ScenarioSchema.model_fields[section].annotation
    return model, name, model.model_fields[name]


def _month_options(first: str, last: str) -> tuple[str, ...]:
    year, month = int(first[:4]), int(first[5:])
    options = []
    while f"{year:04d}-{month:02d}" <= last:
        options.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(options)


def make_lever(key: str, label: str, group: str, historical: Scenario) -> Lever:
    """A lever for `key`, its widget and bounds read from the schema and its historical value from
    `historical`."""
    model, name, field = _field(key)
    section = key.split(".")[0]
    value = getattr(historical.section(section) if section != "run" else historical.run, name)
    description = field.description or ""
    annotation = field.annotation
    if typing.get_origin(annotation) is Literal:
        return Lever(key, label, group, "choice", value, description, options=typing.get_args(annotation))
    if annotation is bool:
        return Lever(key, label, group, "toggle", value, description, options=(False, True))
    if annotation is str and any(getattr(meta, "pattern", None) == MONTH for meta in field.metadata):
        run = historical.run
        return Lever(key, label, group, "month", value, description, options=_month_options(run.start, run.end))
    bounds = field_bounds(model, name)
    low = bounds.get("ge", bounds.get("gt"))
    high = bounds.get("le", bounds.get("lt"))
    if annotation is int:
        return Lever(key, label, group, "integer", value, description, low, high)
    if annotation is float:
        if low is None or high is None:
            raise TypeError(f"{key}: a slider needs both bounds declared on the parameter")
        return Lever(key, label, group, "slider", value, description, float(low), float(high))
    raise TypeError(f"{key}: no widget for {annotation!r}")


def levers(historical: Scenario | None = None) -> list[Lever]:
    """Every lever of the page, with the values of `historical` (default: the built-in scenario)."""
    base = historical or Scenario.load("historical")
    return [make_lever(key, label, group, base) for key, label, group in LEVER_KEYS]


def overrides_for(choices: dict[str, Any], all_levers: list[Lever]) -> list[str]:
    """The overrides that turn `historical` into the page's choices: only levers moved off history,
    in the page's order (so equal choices give equal overrides, and equal cache keys)."""
    return [lever.override(choices[lever.key]) for lever in all_levers if choices[lever.key] != lever.historical]
