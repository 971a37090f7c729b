"""Scenarios side by side: excess deaths 1959-61 and the food system's key figures, against `historical`.

Excess deaths are the deaths of 1959-1961 above what the 1957 crude death rate (the pre-famine baseline)
would have given the population of each year. Runs go to a local process pool (never Ray).
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from greatleap.core.results import Results
from greatleap.scenario import Scenario
from greatleap.sim import run_one

FAMINE_YEARS = (1959, 1960, 1961)
BASELINE_YEAR = 1957


def excess_deaths(results: Results, years: tuple[int, ...] = FAMINE_YEARS) -> float:
    """Deaths in `years` above the baseline year's crude death rate applied to each year's population."""
    baseline = results.value("cdr", BASELINE_YEAR) / 1000.0
    return sum(results.value("deaths", y) - baseline * results.value("population", y) for y in years)


def recall_date(results: Results) -> dt.date | None:
    """The month the leadership recalled the policies (the first with `recalled` = 1), or None."""
    recalled = results.series("recalled", frequency="monthly")
    return next((date for date, value in sorted(recalled.items()) if value >= 1.0), None)


@dataclass(frozen=True)
class ScenarioRow:
    name: str
    description: str
    excess_deaths_m: float
    starvation_deaths_m: float
    cdr_1960: float
    grain_output_1960_mt: float
    procurement_ratio_1959: float
    kcal_rural_1960: float
    recall: str


def _row(name: str, overrides: tuple[str, ...]) -> ScenarioRow:
    scenario = Scenario.load(name, list(overrides))
    results = run_one(scenario)
    return ScenarioRow(
        name=scenario.name,
        description=scenario.description,
        excess_deaths_m=excess_deaths(results) / 1e6,
        starvation_deaths_m=sum(results.value("deaths_starvation", y) for y in FAMINE_YEARS) / 1e6,
        cdr_1960=results.value("cdr", 1960),
        grain_output_1960_mt=results.value("grain_output_mt", 1960),
        procurement_ratio_1959=results.value("procurement_ratio", 1959),
        kcal_rural_1960=results.value("kcal_per_capita_rural", 1960),
        recall=_month(recall_date(results)),
    )


def _month(date: dt.date | None) -> str:
    return "none" if date is None else f"{date:%Y-%m}"


def compare(names: list[str], overrides: list[str] | None = None, workers: int = 2) -> list[ScenarioRow]:
    """Run the scenarios (with the same overrides, e.g. seed and scale) and return one row each."""
    args = [(name, tuple(overrides or [])) for name in names]
    if workers <= 1:
        return [_row(*a) for a in args]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_row, *zip(*args, strict=True)))


def markdown_table(rows: list[ScenarioRow], reference: str = "historical") -> str:
    """The README's scenario table: each scenario's excess deaths against the reference's."""
    base = next((r for r in rows if r.name == reference), None)
    lines = [
        "| scenario | what changes | excess deaths 1959-61 (M) | vs historical | CDR 1960 (‰) | grain 1960 (Mt) "
        "| procurement / output 1959 | recall |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        delta = "" if base is None or r is base else f"{r.excess_deaths_m - base.excess_deaths_m:+.1f}"
        lines.append(
            f"| `{r.name}` | {r.description} | {r.excess_deaths_m:.1f} | {delta} | {r.cdr_1960:.1f} "
            f"| {r.grain_output_1960_mt:.0f} | {r.procurement_ratio_1959:.2f} | {r.recall} |"
        )
    return "\n".join(lines) + "\n"
