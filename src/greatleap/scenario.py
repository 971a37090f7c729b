"""Scenarios: a full, validated parameter set, loaded from TOML, with `base` inheritance and overrides.

The schema is assembled from the parameter sections of the modules in the phase plan plus the run and
world sections, so every parameter is declared exactly once (in its module). Errors become one-line
`ConfigError`s naming the key and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from importlib import resources
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from greatleap.core.errors import ConfigError
from greatleap.core.params import ParamSection, field_bounds, param
from greatleap.core.world import WorldParams
from greatleap.plan import module_classes

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class RunParams(ParamSection):
    """When, how large and with which seed."""

    start: str = param("1957-01", description="first simulated month (YYYY-MM)", source="the issue's default")
    end: str = param("1962-12", description="last simulated month (YYYY-MM)", source="the issue's default")
    seed: int = param(1, ge=0, le=2**63 - 1, description="seed of every random stream", source="user choice")
    scale: Literal["sample", "full"] | int = Field(
        "sample",
        description="'sample' (a few communes per province), an integer number of communes per province, "
        "or 'full' (every commune)",
        json_schema_extra={"source": "user choice", "unit": ""},
    )

    @field_validator("start", "end")
    @classmethod
    def _month(cls, value: str) -> str:
        if not _MONTH.match(value):
            raise ValueError("expected a month written YYYY-MM")
        return value

    @field_validator("scale")
    @classmethod
    def _scale(cls, value: str | int) -> str | int:
        if isinstance(value, int) and not 1 <= value <= 100000:
            raise ValueError("an integer scale must be between 1 and 100000 communes per province")
        return value


class _ScenarioBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "custom"
    description: str = ""
    base: str | None = None


def _build_schema() -> type[_ScenarioBase]:
    sections: dict[str, Any] = {
        "run": (RunParams, RunParams()),
        "world": (WorldParams, WorldParams()),
    }
    for cls in module_classes():
        sections[cls.name] = (cls.Params, cls.Params())
    return create_model("ScenarioSchema", __base__=_ScenarioBase, **sections)


ScenarioSchema = _build_schema()
SCENARIO_DIR = "scenarios"


def builtin_names() -> list[str]:
    folder = resources.files("greatleap") / SCENARIO_DIR
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def _read_toml(name_or_path: str) -> tuple[dict[str, Any], str]:
    """The raw table of a built-in scenario (by name) or a file (by path), and where it came from."""
    if name_or_path in builtin_names():
        text = (resources.files("greatleap") / SCENARIO_DIR / f"{name_or_path}.toml").read_text("utf-8")
        origin = f"built-in scenario {name_or_path!r}"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            allowed = ", ".join(builtin_names())
            raise ConfigError(f"scenario: {name_or_path!r} is neither a built-in scenario ({allowed}) nor a file")
        text = path.read_text("utf-8")
        origin = str(path)
    try:
        return tomllib.loads(text), origin
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{origin}: not valid TOML ({err})") from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve(name_or_path: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    if name_or_path in seen:
        raise ConfigError(f"base: scenario inheritance loops ({' -> '.join((*seen, name_or_path))})")
    raw, _ = _read_toml(name_or_path)
    base = raw.get("base")
    if base is None:
        return raw
    if not isinstance(base, str):
        raise ConfigError("base: expected the name or path of another scenario")
    parent = _resolve(base, (*seen, name_or_path))
    parent.pop("name", None)
    parent.pop("description", None)
    return _merge(parent, raw)


def parse_override(assignment: str) -> tuple[list[str], Any]:
    """`section.key=value` -> (['section', 'key'], value); the value is read as TOML, else as a string."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment}: expected KEY=VALUE, e.g. nutrition.intake_scale=0.7")
    key, _, text = assignment.partition("=")
    path = [part for part in key.strip().split(".") if part]
    if not path:
        raise ConfigError(f"--set {assignment}: empty key")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    return path, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    data = _merge({}, raw)
    for assignment in overrides:
        path, value = parse_override(assignment)
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[path[-1]] = value
    return data


def _describe_allowed(model: type[BaseModel] | None, field: str) -> str:
    if model is None or field not in model.model_fields:
        return ""
    bounds = field_bounds(model, field)
    low = f"{bounds['ge']} <= " if "ge" in bounds else (f"{bounds['gt']} < " if "gt" in bounds else "")
    high = f" <= {bounds['le']}" if "le" in bounds else (f" < {bounds['lt']}" if "lt" in bounds else "")
    kind = _type_name(model.model_fields[field].annotation)
    if low or high:
        return f"{low}{kind}{high}"
    return kind


def _type_name(annotation: Any) -> str:
    """A readable name for a field's type: `float`, `'sample' or 'full' or int`, `table of int -> float`."""
    origin = get_origin(annotation)
    if origin is Literal:
        return " or ".join(repr(option) for option in get_args(annotation))
    if origin in (Union, UnionType):
        return " or ".join(_type_name(arg) for arg in get_args(annotation))
    if origin is dict:
        key, value = get_args(annotation)
        return f"table of {_type_name(key)} -> {_type_name(value)}"
    if get_origin(annotation) is Annotated:
        return _type_name(get_args(annotation)[0])
    return getattr(annotation, "__name__", str(annotation))


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that holds the last key of `loc`."""
    model: Any = ScenarioSchema
    for part in loc[:-1]:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return None
        model = fields[part].annotation
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def format_validation_error(err: ValidationError) -> str:
    """One line: the first error's dotted key, the problem and what is allowed."""
    errors = err.errors()
    first = errors[0]
    loc = tuple(first["loc"])
    key = ".".join(str(part) for part in loc) or "scenario"
    model = _model_at(loc)
    field = str(loc[-1]) if loc else ""
    kind = first["type"]
    given = first.get("input")
    if kind == "extra_forbidden":
        allowed = ", ".join(model.model_fields) if model is not None else ""
        message = f"{key}: unknown key (allowed: {allowed})"
    elif kind in {"less_than_equal", "greater_than_equal", "less_than", "greater_than"}:
        message = f"{key}: {given!r} is out of range (allowed: {_describe_allowed(model, field)})"
    elif kind == "literal_error" or "literal" in kind:
        message = f"{key}: {given!r} is not allowed ({first['msg']})"
    else:
        allowed = _describe_allowed(model, field)
        hint = f" (allowed: {allowed})" if allowed else ""
        message = f"{key}: {given!r} is invalid: {first['msg']}{hint}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return message


class Scenario:
    """A validated scenario: a name, a description and every parameter section."""

    def __init__(self, params: _ScenarioBase) -> None:
        self.params = params

    # --- construction -----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        try:
            return cls(ScenarioSchema.model_validate(data))
        except ValidationError as err:
            raise ConfigError(format_validation_error(err)) from None

    @classmethod
    def load(cls, name_or_path: str = "historical", overrides: list[str] | None = None) -> Scenario:
        """A built-in scenario by name or a TOML file by path, with `--set` style overrides applied."""
        raw = _resolve(name_or_path)
        raw.pop("base", None)
        if "name" not in raw:
            raw["name"] = Path(name_or_path).stem
        # Start from every default, so that an override of one entry of a table (one year of a series)
        # keeps the other entries.
        defaults = ScenarioSchema().model_dump(mode="json", exclude={"name", "description", "base"})
        return cls.from_dict(apply_overrides(_merge(defaults, raw), overrides or []))

    def with_overrides(self, overrides: list[str]) -> Scenario:
        return Scenario.from_dict(apply_overrides(self.to_dict(), overrides))

    # --- views ------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.params.name

    @property
    def description(self) -> str:
        return self.params.description

    def section(self, name: str) -> ParamSection:
        return getattr(self.params, name)

    @property
    def run(self) -> RunParams:
        return self.params.run  # type: ignore[attr-defined]

    @property
    def world(self) -> WorldParams:
        return self.params.world  # type: ignore[attr-defined]

    def default_out_dir(self) -> Path:
        """Where `greatleap run` writes this scenario when no folder is given: runs/<name>-<seed>."""
        return Path("runs") / f"{self.name}-{self.run.seed}"

    def to_dict(self) -> dict[str, Any]:
        data = self.params.model_dump(mode="json")
        data.pop("base", None)
        return data

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of every parameter: equal hashes, equal scenarios."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_toml(self) -> str:
        """The full scenario as TOML (every parameter written out), loadable by `Scenario.load`."""
        return _to_toml(self.to_dict())


def toml_value(value: Any) -> str:
    """A value as TOML (also the right-hand side of a `--set section.key=value` override)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _to_toml(data: dict[str, Any]) -> str:
    lines = [f"{k} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, values in data.items():
        if isinstance(values, dict):
            lines += ["", f"[{section}]"]
            lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
