"""The scenario report: every built-in counterfactual over replicate seeds, beside `historical` and the record.

Why replicates: one run per scenario mixes a counterfactual's effect with the noise of one seed. Every scenario
here runs on the same seeds, and every mechanism draws from its own named random stream (common random
numbers), so the change against `historical` is taken seed by seed: the median of the paired differences,
whose spread is the noise of the difference itself, narrower than the two scenarios' intervals side by side.
Intervals are the 5th to 95th percentiles over the replicates (numpy's default linear interpolation); with few
replicates they are rough, and their width says so.

`write_report` writes `docs/scenarios.md` and the README's scenario table (between its markers) from the same
runs, each atomically, with nothing that changes from one identical call to the next (no timestamps, and the
number of workers is not part of the recorded command because it does not change a result).
`ration_cut` is left out: it is a thought experiment on the famine mechanism, not a counterfactual of history.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from greatleap import history
from greatleap.calibration import demographic_range_m
from greatleap.compare import FAMINE_YEARS, TABLE_HEADER, excess_deaths, history_row, history_table_row, recall_date
from greatleap.core.io import write_text_atomic
from greatleap.core.results import Results
from greatleap.ensemble import Job, run_jobs, seeds
from greatleap.replicates import Interval, seed_text
from greatleap.scenario import builtin_names
from greatleap.version import __version__

REFERENCE = "historical"
EXCLUDED = ("ration_cut",)  # a test of the famine mechanism (its TOML says so), not a counterfactual
README_BEGIN = "<!-- scenario-table:begin -->"
README_END = "<!-- scenario-table:end -->"


@dataclass(frozen=True)
class Metric:
    """A number measured on every run; `digits` is how it is printed."""

    key: str
    label: str
    digits: int


# The report's three measures, each with its paired change against the reference.
METRICS = (
    Metric("excess_deaths_m", "excess deaths 1959-61 (M)", 1),
    Metric("grain_output_1960_mt", "grain output 1960 (Mt)", 0),
    Metric("steel_total_1958_mt", "total steel 1958 (Mt)", 2),
)
# The README table's other columns, medians over the replicates.
EXTRA = (Metric("cdr_1960", "CDR 1960 (‰)", 1), Metric("procurement_ratio_1959", "procurement / output 1959", 2))


def measure(results: Results) -> dict[str, float | str]:
    """What a worker sends back for one run (top level, so a process pool can pickle it): a few numbers."""
    recall = recall_date(results)
    return {
        "excess_deaths_m": excess_deaths(results, FAMINE_YEARS) / 1e6,
        "grain_output_1960_mt": results.value("grain_output_mt", 1960),
        "steel_total_1958_mt": results.value("steel_total_mt", 1958),
        "cdr_1960": results.value("cdr", 1960),
        "procurement_ratio_1959": results.value("procurement_ratio", 1959),
        "recall": "none" if recall is None else f"{recall:%Y-%m}",
    }


@dataclass(frozen=True)
class ScenarioSummary:
    """One scenario's measures, one value per seed (in the report's seed order)."""

    name: str
    description: str
    values: dict[str, tuple[float, ...]]
    recalls: tuple[str, ...]

    def interval(self, key: str) -> Interval:
        return Interval.of(self.values[key])

    def recall_text(self) -> str:
        """The recall month, or its range when the replicates disagree (an endogenous recall)."""
        months = sorted(set(self.recalls))
        return months[0] if len(months) == 1 else f"{months[0]} to {months[-1]}"


def paired_change(summary: ScenarioSummary, reference: ScenarioSummary, key: str) -> Interval:
    """The change against the reference: the median and 90% interval of the per-seed differences. Both ran on
    the same seeds, so the reference against itself is exactly 0."""
    return Interval.of(np.subtract(summary.values[key], reference.values[key]))


@dataclass(frozen=True)
class Report:
    """Every scenario's summary and how they were produced."""

    summaries: tuple[ScenarioSummary, ...]
    seeds: tuple[int, ...]
    scale: str
    overrides: tuple[str, ...]

    @property
    def reference(self) -> ScenarioSummary:
        return next(s for s in self.summaries if s.name == REFERENCE)


def report_names() -> list[str]:
    """Every built-in counterfactual, the reference first (the order of the report and the README)."""
    names = [n for n in builtin_names() if n not in EXCLUDED]
    return [REFERENCE, *(n for n in names if n != REFERENCE)]


def report_jobs(names: Sequence[str], replicates: int, first_seed: int, overrides: Sequence[str] = ()) -> list[Job]:
    """One job per scenario and seed, scenario by scenario; the reference is added first if missing, since every
    change is measured against it."""
    if replicates < 1:
        raise ValueError(f"replicates: {replicates} is out of range (allowed: an integer >= 1)")
    ordered = [REFERENCE, *(n for n in dict.fromkeys(names) if n != REFERENCE)]
    return [Job(name, (*overrides, f"run.seed={seed}")) for name in ordered for seed in seeds(first_seed, replicates)]


def run_report(
    names: Sequence[str] | None = None,
    replicates: int = 5,
    first_seed: int = 1,
    overrides: Sequence[str] = (),
    workers: int = 2,
    on_done: Callable[[int], None] | None = None,
) -> Report:
    """Run every scenario (default: `report_names()`) on seeds `first_seed`, `first_seed + 1`, ... and summarise
    them. Every job is validated before any runs (`ensemble.run_jobs`)."""
    jobs = report_jobs(report_names() if names is None else names, replicates, first_seed, overrides)
    measured = run_jobs(jobs, measure, workers=workers, on_done=on_done)
    summaries = []
    for start in range(0, len(jobs), replicates):
        chunk = measured[start : start + replicates]
        scenario = jobs[start].load()
        summaries.append(
            ScenarioSummary(
                name=scenario.name,
                description=scenario.description,
                values={m.key: tuple(float(v[m.key]) for v in chunk) for m in (*METRICS, *EXTRA)},
                recalls=tuple(str(v["recall"]) for v in chunk),
            )
        )
    return Report(
        summaries=tuple(summaries),
        seeds=tuple(seeds(first_seed, replicates)),
        scale=str(jobs[0].load().run.scale),
        overrides=tuple(overrides),
    )


def command_line(
    names: Sequence[str] | None,
    replicates: int,
    first_seed: int,
    scale: str | None,
    sets: Sequence[str],
    out: Path,
    readme: Path | None,
) -> str:
    """The command that reproduces a report, in a canonical form (the number of workers is left out: it does
    not change a result)."""
    args = ["greatleap", "scenario-report", *(names or []), "--replicates", str(replicates), "--seed", str(first_seed)]
    if scale is not None:
        args += ["--scale", scale]
    for override in sets:
        args += ["--set", override]
    args += ["--out", Path(out).as_posix()]
    if readme is not None:
        args += ["--readme", Path(readme).as_posix()]
    return shlex.join(args)


def _seed_text(report: Report) -> str:
    return seed_text(report.seeds)


def _provenance(report: Report, command: str) -> str:
    overrides = f"; overrides {', '.join(f'`{o}`' for o in report.overrides)}" if report.overrides else ""
    return (
        f"Produced by `{command}` with greatleap {__version__}: {len(report.summaries)} scenarios, "
        f"{len(report.seeds)} replicates each on {_seed_text(report)} (the same seeds for every scenario), "
        f"scale `{report.scale}`{overrides}."
    )


def _change_cell(summary: ScenarioSummary, reference: ScenarioSummary, metric: Metric) -> str:
    if summary is reference:
        return "reference"
    return paired_change(summary, reference, metric.key).text(metric.digits, signed=True)


def _record_lines() -> list[str]:
    """The record beside the measures, each value with its series and source (data/national_series.csv)."""
    lines = []
    for variable, year, label in (
        ("grain_output_official_1980s_vintage", 1960, "grain output 1960, official (1980s vintage)"),
        ("steel_output_official_usable", 1958, "steel 1958, official (usable steel only)"),
        ("steel_output_claimed_total", 1958, "steel 1958, claimed at the time (all, incl. native steel)"),
        ("crude_death_rate_official", 1960, "crude death rate 1960, official (registered)"),
        ("crude_death_rate_banister_adjusted", 1960, "crude death rate 1960, Banister's adjusted"),
    ):
        value = history.national_detail(variable).get(year)
        if value is not None:
            lines.append(f"- {label}: {value.value:g} {value.unit} (`{variable}`; {value.source}; {value.status})")
    low, high = demographic_range_m()
    lines.append(
        f"- excess deaths: no single recorded value; demographers' estimates range from {low:g} to {high:g} "
        "million (`death_toll_estimates.csv`; the acceptance range of docs/model.md, section 8)"
    )
    return lines


def report_markdown(report: Report, command: str) -> str:
    """`docs/scenarios.md`: how it was produced, a summary table (one row per scenario), the record, then each
    scenario with its description, measures and paired changes against `historical`."""
    reference = report.reference
    header = "| scenario | " + " | ".join(f"{m.label} | vs {REFERENCE}" for m in METRICS) + " |"
    lines = [
        "# Scenarios beside `historical`",
        "",
        "<!-- generated by greatleap scenario-report: do not edit by hand, rerun the command -->",
        "",
        _provenance(report, command),
        "",
        "Each measure is the median over the replicates with its 90% interval in brackets (the 5th to 95th "
        "percentile, numpy's linear interpolation). The change against `historical` is the median of the "
        "per-seed differences (both scenarios on the same seed, so common random numbers), with their interval. "
        "Excess deaths are the deaths of 1959-61 above the 1957 crude death rate applied to each year's "
        "population; the model counts true deaths, which the registered series of the time missed in part. "
        "Total steel is modern and backyard steel together, usable or not.",
        "",
        "## Summary",
        "",
        header,
        "| --- |" + " ---: | ---: |" * len(METRICS),
    ]
    for s in report.summaries:
        cells = [f"{s.interval(m.key).text(m.digits)} | {_change_cell(s, reference, m)}" for m in METRICS]
        lines.append(f"| `{s.name}` | " + " | ".join(cells) + " |")
    lines += ["", "## The record", "", *_record_lines()]
    for s in report.summaries:
        lines += [
            "",
            f"## `{s.name}`",
            "",
            s.description,
            "",
            f"| measure | median | 90% interval | change vs `{REFERENCE}` | 90% interval |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for m in METRICS:
            value = s.interval(m.key)
            if s is reference:
                change_cells = "reference | "
            else:
                change = paired_change(s, reference, m.key)
                change_cells = (
                    f"{change.median:+.{m.digits}f} | {change.low:+.{m.digits}f} to {change.high:+.{m.digits}f}"
                )
            lines.append(
                f"| {m.label} | {value.median:.{m.digits}f} | {value.low:.{m.digits}f} to {value.high:.{m.digits}f} "
                f"| {change_cells} |"
            )
        lines += ["", f"Policies recalled: {s.recall_text()}."]
    return "\n".join(lines) + "\n"


def readme_block(report: Report, command: str) -> str:
    """The README's scenario section between its markers: how it was made, the table (first column the
    backticked scenario name, which tests/test_readme.py reads), and the record as a last row."""
    reference = report.reference
    record = history_row()
    low, high = demographic_range_m()
    excess, _, _ = METRICS
    lines = [
        f"Built-in scenarios against `historical`: the median of {len(report.seeds)} replicates ({_seed_text(report)}, "
        f"scale `{report.scale}`) with the 90% interval (5th-95th percentile) in brackets; the change against "
        "`historical` is the median of the per-seed differences (the same seeds for every scenario). Excess "
        "deaths are the deaths of 1959-61 above the 1957 death rate. Grain output and steel, with their "
        "intervals, are in [docs/scenarios.md](docs/scenarios.md). Regenerate both with",
        f"`{command}`.",
        "The model counts true deaths; the official registered series missed part of them (the 1960 CDR, "
        f"registered and Banister's adjusted: {record.cdr_cell()}), and demographers' estimates of excess deaths "
        f"range from {low:g} to {high:g} million (`death_toll_estimates.csv`; docs/model.md, section 8).",
        "",
        *TABLE_HEADER,
    ]
    for s in report.summaries:
        change = "" if s is reference else paired_change(s, reference, excess.key).text(1, signed=True)
        lines.append(
            f"| `{s.name}` | {s.description} | {s.interval(excess.key).text(1)} | {change} "
            f"| {s.interval('cdr_1960').median:.1f} | {s.interval('grain_output_1960_mt').median:.0f} "
            f"| {s.interval('procurement_ratio_1959').median:.2f} | {s.recall_text()} |"
        )
    lines.append(history_table_row("the record (NBS; Banister 1984)"))
    left_out = ", ".join(f"`{name}`" for name in EXCLUDED)
    lines += ["", f"{left_out} is left out: a test of the famine mechanism, not history."]
    return "\n".join(lines) + "\n"


def replace_between_markers(text: str, block: str) -> str:
    """`text` with everything between the README's scenario-table markers replaced by `block`; the markers and
    everything outside them are kept byte for byte."""
    if text.count(README_BEGIN) != 1 or text.count(README_END) != 1:
        raise ValueError(f"the README needs exactly one {README_BEGIN} and one {README_END}")
    begin = text.index(README_BEGIN) + len(README_BEGIN)
    end = text.index(README_END)
    if end < begin:
        raise ValueError(f"{README_END} comes before {README_BEGIN} in the README")
    return text[:begin] + "\n" + block + text[end:]


def check_readme(path: Path) -> None:
    """Refuse a README that cannot take the table (missing file or markers) before anything runs."""
    try:
        replace_between_markers(Path(path).read_text(encoding="utf-8"), "")
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror}") from err


def write_report(report: Report, command: str, out: Path, readme: Path | None = None) -> list[Path]:
    """Write the report to `out` and, if given, the table into `readme`, each atomically; the paths written."""
    new_readme = None
    if readme is not None:  # build everything before writing anything
        new_readme = replace_between_markers(Path(readme).read_text(encoding="utf-8"), readme_block(report, command))
    write_text_atomic(Path(out), report_markdown(report, command))
    written = [Path(out)]
    if readme is not None and new_readme is not None:
        write_text_atomic(Path(readme), new_readme)
        written.append(Path(readme))
    return written
