"""Scenarios side by side: excess deaths 1959-61 and the food system's key figures, against `historical`.

Excess deaths are the deaths of 1959-1961 above what the 1957 crude death rate (the pre-famine baseline)
would have given the population of each year. Runs go to a local process pool (`greatleap.ensemble`, never
Ray). History sits beside the scenarios wherever the package holds a recorded value (`history_row`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from greatleap import history
from greatleap.core.results import Results
from greatleap.ensemble import Job, run_jobs

FAMINE_YEARS = (1959, 1960, 1961)
BASELINE_YEAR = 1957
# The yearly national series kept for the comparison figure (a few numbers per run, not every series).
FIGURE_VARIABLES = ("grain_output_mt", "cdr", "steel_total_mt", "urban_population")
# The recorded series set beside the model (data/national_series.csv, each value with its source).
HISTORY_CDR = "crude_death_rate_official"  # registered deaths, NBS
HISTORY_CDR_ADJUSTED = "crude_death_rate_banister_adjusted"  # Banister 1984, Table 5: the true deaths
HISTORY_GRAIN = "grain_output_official_1980s_vintage"  # NBS, unhusked grain incl. tubers at 5:1


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
    # {variable: {year: value}} of FIGURE_VARIABLES, for the comparison figure
    series: dict[str, dict[int, float]] = field(default_factory=dict, repr=False)


def _row_values(results: Results) -> dict:
    """What a worker sends back for one scenario: the row's numbers and a few yearly series."""
    national = results.annual_national()
    return {
        "excess_deaths_m": excess_deaths(results) / 1e6,
        "starvation_deaths_m": sum(results.value("deaths_starvation", y) for y in FAMINE_YEARS) / 1e6,
        "cdr_1960": results.value("cdr", 1960),
        "grain_output_1960_mt": results.value("grain_output_mt", 1960),
        "procurement_ratio_1959": results.value("procurement_ratio", 1959),
        "kcal_rural_1960": results.value("kcal_per_capita_rural", 1960),
        "recall": _month(recall_date(results)),
        "series": {v: {int(y): float(x) for y, x in national[v].items()} for v in FIGURE_VARIABLES if v in national},
    }


def _month(date: dt.date | None) -> str:
    return "none" if date is None else f"{date:%Y-%m}"


def compare(names: list[str], overrides: list[str] | None = None, workers: int = 2) -> list[ScenarioRow]:
    """Run the scenarios (with the same overrides, e.g. seed and scale) and return one row each."""
    jobs = [Job(name, tuple(overrides or [])) for name in names]
    values = run_jobs(jobs, _row_values, workers=workers)
    rows = []
    for job, row in zip(jobs, values, strict=True):
        scenario = job.load()
        rows.append(ScenarioRow(name=scenario.name, description=scenario.description, **row))
    return rows


@dataclass(frozen=True)
class HistoryRow:
    """The recorded values the comparison can show beside the scenarios (None where none is recorded)."""

    cdr_1960: float | None
    cdr_1960_adjusted: float | None
    grain_output_1960_mt: float | None

    def cdr_cell(self) -> str:
        """The registered 1960 death rate, with Banister's adjusted one (the model counts true deaths)."""
        official = "" if self.cdr_1960 is None else f"{self.cdr_1960:.1f}"
        if self.cdr_1960_adjusted is None:
            return official
        return f"{official} (Banister {self.cdr_1960_adjusted:.1f})".strip()

    def grain_cell(self) -> str:
        return "" if self.grain_output_1960_mt is None else f"{self.grain_output_1960_mt:.0f}"


def history_row() -> HistoryRow:
    """The record of 1960 from the package's national series. Excess deaths have no single recorded value
    (demographers' estimates range widely and are not in the package), so the comparison leaves them blank."""
    return HistoryRow(
        cdr_1960=history.national(HISTORY_CDR).get(1960),
        cdr_1960_adjusted=history.national(HISTORY_CDR_ADJUSTED).get(1960),
        grain_output_1960_mt=history.national(HISTORY_GRAIN).get(1960),
    )


HISTORY_DESCRIPTION = "The record: NBS registered CDR and Banister's adjusted one, NBS grain (1980s vintage)"


# The scenario table's columns (the README's table and `compare --markdown`).
TABLE_HEADER = (
    "| scenario | what changes | excess deaths 1959-61 (M) | vs historical | CDR 1960 (‰) | grain 1960 (Mt) "
    "| procurement / output 1959 | recall |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
)


def history_table_row(description: str) -> str:
    """The scenario table's last row: the recorded values (its first cell is not backticked: not a scenario)."""
    record = history_row()
    return f"| history | {description} |  |  | {record.cdr_cell()} | {record.grain_cell()} |  |  |"


def markdown_table(rows: list[ScenarioRow], reference: str = "historical", with_history: bool = False) -> str:
    """The README's scenario table: each scenario's excess deaths against the reference's; `with_history`
    adds a last row with the recorded values (its first cell is not backticked: it is not a scenario)."""
    base = next((r for r in rows if r.name == reference), None)
    lines = list(TABLE_HEADER)
    for r in rows:
        delta = "" if base is None or r is base else f"{r.excess_deaths_m - base.excess_deaths_m:+.1f}"
        lines.append(
            f"| `{r.name}` | {r.description} | {r.excess_deaths_m:.1f} | {delta} | {r.cdr_1960:.1f} "
            f"| {r.grain_output_1960_mt:.0f} | {r.procurement_ratio_1959:.2f} | {r.recall} |"
        )
    if with_history:
        lines.append(history_table_row(HISTORY_DESCRIPTION))
    return "\n".join(lines) + "\n"
