"""Declaring parameters: one typed schema for scenario files, CLI overrides, calibration and the dashboard.

Every mechanism declares its parameters as a pydantic model derived from `ParamSection`, each field made
with `param(...)`, which records the allowed range, the unit and the source of the default value. The
scenario schema is assembled from these sections (see `greatleap.scenario`), so a parameter is declared
exactly once.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ParamSection(BaseModel):
    """Base of every parameter section: unknown keys are refused, values are frozen during a run."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def param(
    default: Any,
    *,
    description: str,
    source: str,
    unit: str = "",
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
    status: str = "",
    pattern: str | None = None,
) -> Any:
    """A parameter field: default, allowed range, unit, and where the default comes from.

    `source` names the paper, table or data row behind the default (or says it is an assumption);
    `status` carries the verification status of that value from `shared/data/` (`verified`,
    `unverified`, `derived`, `estimated`, `assumption`) when the value is a historical fact.
    """
    extra = {"source": source, "unit": unit}
    if status:
        extra["status"] = status
    return Field(
        default,
        description=description,
        ge=ge,
        le=le,
        gt=gt,
        lt=lt,
        pattern=pattern,
        json_schema_extra=extra,
    )


MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"  # a month written YYYY-MM, for `param(..., pattern=MONTH)`


def field_bounds(model: type[BaseModel], name: str) -> dict[str, float]:
    """The numeric bounds declared on a field (`ge`, `le`, `gt`, `lt`), for messages and widgets."""
    bounds: dict[str, float] = {}
    for meta in model.model_fields[name].metadata:
        for key in ("ge", "le", "gt", "lt"):
            value = getattr(meta, key, None)
            if value is not None:
                bounds[key] = value
    return bounds
