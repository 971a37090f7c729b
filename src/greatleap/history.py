"""The historical record shipped in the package.

`data/national_series.csv` is shared/data's file, byte for byte; `data/national_series_added.csv` holds the
few series greatleap read at their sources itself (same columns; no (variable, year) of the shared file
repeated). Each value keeps its source and verification status; `greatleap.history.national(variable)`
returns {year: value} for the numeric rows of one series.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from greatleap.core.data import read_rows

ADDED_FILE = "national_series_added.csv"


@dataclass(frozen=True)
class HistoricalValue:
    year: int
    value: float
    unit: str
    status: str
    source: str


@cache
def _series() -> dict[str, dict[int, HistoricalValue]]:
    table: dict[str, dict[int, HistoricalValue]] = {}
    rows = [*read_rows("national_series.csv"), *read_rows(ADDED_FILE)]
    for row in rows:
        try:
            value = float(row["value"])
            year = int(row["year"])
        except ValueError:
            continue  # ranges and prose ("<1/3 of normal") are kept in the file, not as numbers
        table.setdefault(row["variable"], {})[year] = HistoricalValue(
            year, value, row["unit"], row["status"], row["source"]
        )
    return table


def national(variable: str) -> dict[int, float]:
    """{year: value} of a national series (empty if the series is unknown)."""
    return {year: v.value for year, v in _series().get(variable, {}).items()}


def national_detail(variable: str) -> dict[int, HistoricalValue]:
    return dict(_series().get(variable, {}))


def variables() -> list[str]:
    return sorted(_series())
