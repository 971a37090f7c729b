"""The parameter tables of `docs/model.md`, generated from the scenario schema so the docs stay true.

`python -m greatleap.paramdoc docs/model.md` rewrites the region between the markers
`<!-- parameters:begin -->` and `<!-- parameters:end -->`, and the free parameters' table between
`<!-- free-parameters:begin -->` and `<!-- free-parameters:end -->`; a test fails when either is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from greatleap.core.params import field_bounds
from greatleap.scenario import ScenarioSchema, _type_name

BEGIN, END = "<!-- parameters:begin -->", "<!-- parameters:end -->"
FREE_BEGIN, FREE_END = "<!-- free-parameters:begin -->", "<!-- free-parameters:end -->"


def _allowed(model, name: str) -> str:
    bounds = field_bounds(model, name)
    if bounds:
        low = f"{bounds['ge']} <= " if "ge" in bounds else (f"{bounds['gt']} < " if "gt" in bounds else "")
        high = f" <= {bounds['le']}" if "le" in bounds else (f" < {bounds['lt']}" if "lt" in bounds else "")
        return f"{low}x{high}"
    return _type_name(model.model_fields[name].annotation)


def _default(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, float) and abs(value) >= 1e6:
        return f"{value:.5g}"
    return str(value)


def parameter_tables() -> str:
    """One Markdown table per scenario section: name, default, allowed, unit, source, status."""
    parts = []
    for section, field in ScenarioSchema.model_fields.items():
        model = field.annotation
        if not hasattr(model, "model_fields"):
            continue
        parts.append(f"**[{section}]**\n")
        parts.append("| name | default | allowed | unit | source | status |")
        parts.append("| --- | --- | --- | --- | --- | --- |")
        for name, info in model.model_fields.items():
            extra = info.json_schema_extra or {}
            cells = [
                f"`{name}`",
                _default(info.default),
                _allowed(model, name),
                str(extra.get("unit", "")),
                str(extra.get("source", "")).replace("|", "/"),
                str(extra.get("status", "")),
            ]
            parts.append("| " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def free_parameter_table() -> str:
    """The free parameters: key, prior range, reason."""
    from greatleap.free_parameters import FREE_PARAMETERS

    lines = ["| parameter | prior range | why this range |", "| --- | --- | --- |"]
    for p in FREE_PARAMETERS:
        lines.append(f"| `{p.key}` | {p.low:g} - {p.high:g} | {p.reason} |")
    return "\n".join(lines) + "\n"


def _replace(text: str, begin: str, end: str, content: str) -> str:
    if begin not in text or end not in text:
        raise ValueError(f"the markers {begin} and {end} are missing")
    start, stop = text.index(begin) + len(begin), text.index(end)
    return text[:start] + "\n" + content + text[stop:]


def rewrite(text: str) -> str:
    """`text` with the regions between the markers replaced by fresh tables."""
    text = _replace(text, BEGIN, END, parameter_tables())
    return _replace(text, FREE_BEGIN, FREE_END, free_parameter_table())


def main(paths: list[str]) -> None:
    for path in paths:
        file = Path(path)
        file.write_text(rewrite(file.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:] or ["docs/model.md"])
