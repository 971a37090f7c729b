"""Loading the historical data shipped in the package (`greatleap/data/*.csv`).

Every file keeps, on every row, the source of the value and its verification status as in
`shared/data/` (`verified`, `verified_1dp`, `partly_verified`, `derived`, `unverified`, `estimated`).
Loaders return plain arrays and dataclasses; they are cached, since the files never change during a run.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

VARIABLES = ("population", "urban_share", "grain_output", "cultivated_land")


def data_path(name: str) -> Path:
    """Path of a data file shipped in the package."""
    return Path(str(resources.files("greatleap") / "data" / name))


def read_rows(name: str) -> list[dict[str, str]]:
    with data_path(name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def file_sha256(name: str) -> str:
    """Hash of a data file, recorded in the run manifest."""
    return hashlib.sha256(data_path(name).read_bytes()).hexdigest()


@dataclass(frozen=True)
class Province:
    """A province-level unit of 1957-58 with its 1957 inputs (and each value's source and status)."""

    code: str
    name: str
    name_zh: str
    population: float  # persons, year-end 1957
    urban_share: float  # fraction of the population
    grain_output_t: float  # tonnes of unhusked grain, 1957
    cultivated_land_ha: float  # hectares, 1957
    provenance: dict[str, tuple[str, str]] = field(default_factory=dict, compare=False)

    @property
    def grain_per_capita_kg(self) -> float:
        return 1000.0 * self.grain_output_t / self.population

    @property
    def rural_population(self) -> float:
        return self.population * (1.0 - self.urban_share)

    @property
    def urban_population(self) -> float:
        return self.population * self.urban_share


_UNIT_FACTORS = {
    "persons": 1.0,
    "10k persons": 1e4,
    "percent": 0.01,
    "10k tonnes": 1e4,
    "tonnes": 1.0,
    "thousand ha": 1e3,
    "ha": 1.0,
}


@cache
def provinces() -> tuple[Province, ...]:
    """The 1957 provinces, sorted by code (the order never matters for results)."""
    by_code: dict[str, dict[str, object]] = {}
    for row in read_rows("provinces_1957.csv"):
        if row["variable"] not in VARIABLES:
            continue
        entry = by_code.setdefault(
            row["code"],
            {"code": row["code"], "name": row["province"], "name_zh": row["province_zh"], "prov": {}},
        )
        factor = _UNIT_FACTORS[row["unit"]]
        entry[row["variable"]] = float(row["value"]) * factor
        entry["prov"][row["variable"]] = (row["status"], row["source"])  # type: ignore[index]
    result = []
    for code in sorted(by_code):
        e = by_code[code]
        missing = [v for v in VARIABLES if v not in e]
        if missing:
            raise ValueError(f"provinces_1957.csv: {code} lacks {', '.join(missing)}")
        result.append(
            Province(
                code=code,
                name=str(e["name"]),
                name_zh=str(e["name_zh"]),
                population=float(e["population"]),  # type: ignore[arg-type]
                urban_share=float(e["urban_share"]),  # type: ignore[arg-type]
                grain_output_t=float(e["grain_output"]),  # type: ignore[arg-type]
                cultivated_land_ha=float(e["cultivated_land"]),  # type: ignore[arg-type]
                provenance=dict(e["prov"]),  # type: ignore[arg-type]
            )
        )
    return tuple(result)


@dataclass(frozen=True)
class AgeSexStructure:
    """Population shares by single-year age (0..max_age) and sex (0 male, 1 female); sums to 1."""

    shares: np.ndarray  # shape (n_ages, 2)
    source: str


@cache
def age_sex_1953() -> AgeSexStructure:
    """The 1953 census age-sex structure, spread evenly within each published age group.

    The open-ended last group (e.g. 85+) is spread over ten years.
    """
    # The file also holds the census totals and broad age shares; the 5-year groups in persons are used.
    rows = [r for r in read_rows("age_sex_1953.csv") if r["unit"] == "persons" and int(r["age_lo"]) % 5 == 0]
    rows = [r for r in rows if int(r["age_hi"] or 999) - int(r["age_lo"]) < 40]
    groups = []
    for row in rows:
        lo = int(row["age_lo"])
        hi = int(row["age_hi"]) if row["age_hi"].strip() else lo + 9
        if hi - lo > 20:  # the open-ended last group (85-120 in the file)
            hi = lo + 9
        groups.append((lo, hi, float(row["males"]), float(row["females"])))
    max_age = max(hi for _, hi, _, _ in groups)
    shares = np.zeros((max_age + 1, 2))
    for lo, hi, males, females in groups:
        width = hi - lo + 1
        shares[lo : hi + 1, 0] += males / width
        shares[lo : hi + 1, 1] += females / width
    shares /= shares.sum()
    return AgeSexStructure(shares=shares, source=rows[0]["source"])


def urban_population_shares(codes: tuple[str, ...]) -> list[float]:
    """Each province's share of the nation's 1957 urban population, in the order of `codes` (0 for a code
    not in the data): where the cities, and the state's enterprises, were."""
    urban = {p.code: p.urban_share * p.population for p in provinces()}
    total = sum(urban.values())
    return [urban.get(code, 0.0) / total for code in codes]
