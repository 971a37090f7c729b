"""Results: tidy monthly and annual tables (date or year, province, variable, value), national = `CN`.

Province figures are the weighted sums recorded by the modules (see `Recorder`); national figures are
the sums over provinces in code order; ratios (rates per mille, per-capita means) are computed last from
the aggregated numerators and denominators, never averaged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from greatleap.core.calendar import Calendar
from greatleap.core.module import NATION_CODE, Recorder, ResultSpec

NATION = NATION_CODE


def _scope(spec: ResultSpec, specs: dict[str, ResultSpec]) -> str:
    """A computed series is national-only when any of its terms is."""
    if spec.kind == "ratio":
        parts = [spec.numerator, spec.denominator]
    elif spec.kind == "sum":
        parts = [term.lstrip("-") for term in spec.terms]
    else:
        return spec.scope
    return "nation" if any(_scope(specs[p], specs) == "nation" for p in parts) else "province"


def _is_flow(spec: ResultSpec, specs: dict[str, ResultSpec]) -> bool:
    if spec.kind == "sum":
        return _is_flow(specs[spec.terms[0].lstrip("-")], specs)
    return spec.kind == "flow"


def _signed_sum(spec: ResultSpec, values: dict[str, np.ndarray]) -> np.ndarray:
    """Sum of a `sum` result's terms taken from `values`; a term written '-name' is subtracted."""
    total = 0.0
    for term in spec.terms:
        sign, name = (-1.0, term[1:]) if term.startswith("-") else (1.0, term)
        total = total + sign * values[name]
    return total


def _ratio_monthly(spec: ResultSpec, values: dict[str, np.ndarray], specs: dict[str, ResultSpec]) -> np.ndarray:
    numerator = values[spec.numerator]
    if _is_flow(specs[spec.numerator], specs) and not _is_flow(specs[spec.denominator], specs):
        numerator = numerator * 12.0  # a monthly flow over a stock: per year
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values[spec.denominator] > 0, spec.scale * numerator / values[spec.denominator], np.nan)


def _annual(spec: ResultSpec, values: dict[str, np.ndarray], specs: dict[str, ResultSpec], years: np.ndarray):
    """Annual values of one series for the years in `years` (the calendar's year of each month)."""
    unique = np.unique(years)
    if spec.kind == "sum":
        return unique, _signed_sum(
            spec, {t.lstrip("-"): _annual(specs[t.lstrip("-")], values, specs, years)[1] for t in spec.terms}
        )
    out = np.empty(unique.size)
    for i, year in enumerate(unique):
        in_year = years == year
        if spec.kind == "stock":
            out[i] = values[spec.name][in_year][-1]
        elif spec.kind == "flow":
            out[i] = values[spec.name][in_year].sum()
        else:
            num = values[spec.numerator][in_year]
            num_total = num.sum() if _is_flow(specs[spec.numerator], specs) else num.mean()
            den_values = values[spec.denominator][in_year]
            den = den_values.sum() if _is_flow(specs[spec.denominator], specs) else den_values.mean()
            out[i] = spec.scale * num_total / den if den > 0 else np.nan
    return unique, out


@dataclass
class Results:
    """The outcome of a run: tidy tables in Arrow, plus what is needed to describe them."""

    monthly: pa.Table
    annual: pa.Table
    specs: dict[str, ResultSpec]

    @classmethod
    def from_recorder(cls, recorder: Recorder, calendar: Calendar) -> Results:
        specs = {name: spec for name, (_, spec) in recorder.specs.items()}
        public = [name for name, spec in specs.items() if spec.public]
        provinces = recorder.provinces
        series: dict[str, dict[str, np.ndarray]] = {}
        for code in [*provinces, NATION]:
            matrix = recorder.values[code]
            series[code] = {name: matrix[:, i] for i, name in enumerate(recorder.recorded)}
        national = dict(series[NATION])  # nation-scope series; province-scope ones are zero here
        for code in provinces:
            for name in recorder.recorded:
                national[name] = national[name] + series[code][name]
        series[NATION] = national

        dates = np.array(calendar.dates, dtype="datetime64[D]")
        m_date, m_prov, m_var, m_val = [], [], [], []
        a_year, a_prov, a_var, a_val = [], [], [], []
        for code in [NATION, *provinces]:
            values = dict(series[code])
            for name in specs:  # sums first: ratios may divide by them
                if specs[name].kind == "sum":
                    values[name] = _signed_sum(specs[name], values)
            for name in specs:
                if specs[name].kind == "ratio":
                    values[name] = _ratio_monthly(specs[name], values, specs)
            for name in public:
                if code != NATION and _scope(specs[name], specs) == "nation":
                    continue
                m_date.append(dates)
                m_prov.append(np.full(dates.size, code, dtype=object))
                m_var.append(np.full(dates.size, name, dtype=object))
                m_val.append(values[name])
                years, annual = _annual(specs[name], values, specs, calendar.years)
                a_year.append(years)
                a_prov.append(np.full(years.size, code, dtype=object))
                a_var.append(np.full(years.size, name, dtype=object))
                a_val.append(annual)
        monthly = pa.table(
            {
                "date": pa.array(np.concatenate(m_date), type=pa.date32()),
                "province": pa.array(np.concatenate(m_prov), type=pa.string()),
                "variable": pa.array(np.concatenate(m_var), type=pa.string()),
                "value": pa.array(np.concatenate(m_val), type=pa.float64()),
            }
        )
        annual = pa.table(
            {
                "year": pa.array(np.concatenate(a_year), type=pa.int32()),
                "province": pa.array(np.concatenate(a_prov), type=pa.string()),
                "variable": pa.array(np.concatenate(a_var), type=pa.string()),
                "value": pa.array(np.concatenate(a_val), type=pa.float64()),
            }
        )
        return cls(monthly=monthly, annual=annual, specs=specs)

    # --- views ---------------------------------------------------------------------------------------
    def to_pandas(self, frequency: str = "annual"):
        """The tidy table as a pandas DataFrame (`frequency` = 'annual' or 'monthly')."""
        return (self.annual if frequency == "annual" else self.monthly).to_pandas()

    def annual_national(self):
        """National annual values, one column per variable, indexed by year."""
        frame = self.annual.to_pandas()
        frame = frame[frame["province"] == NATION]
        return frame.pivot(index="year", columns="variable", values="value")

    def monthly_national(self):
        frame = self.monthly.to_pandas()
        frame = frame[frame["province"] == NATION]
        return frame.pivot(index="date", columns="variable", values="value")

    def series(self, variable: str, province: str = NATION, frequency: str = "annual") -> dict:
        """{year or date: value} of one variable."""
        table = self.annual if frequency == "annual" else self.monthly
        key = "year" if frequency == "annual" else "date"
        frame = table.to_pandas()
        frame = frame[(frame["variable"] == variable) & (frame["province"] == province)]
        return dict(zip(frame[key], frame["value"], strict=True))

    def value(self, variable: str, year: int, province: str = NATION) -> float:
        return float(self.series(variable, province)[year])

    def first_month(self) -> dt.date:
        return self.monthly.column("date")[0].as_py()
