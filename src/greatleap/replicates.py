"""Replicates of one run: the same scenario on seeds S, S+1, ..., S+N-1 (`greatleap run --replicates N`).

One seed's run mixes the scenario with the noise of that seed; replicates show how wide the noise is. A worker
sends back only what the replicate outputs need, `replicate_values`: the run's annual table (national and
provincial, a few hundred kilobytes) and its excess deaths, never the monthly table or a `Results` object (the
monthly table is ten times the annual one). `Replicates` stacks them: `long_table()` is every replicate's value
(`replicates.parquet`), `quantile_table()` the median and the 5th and 95th percentiles over the replicates
(`annual_quantiles.parquet`; numpy's percentile, linear interpolation); with few replicates the interval is rough.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from greatleap.compare import BASELINE_YEAR, FAMINE_YEARS, excess_deaths
from greatleap.core.results import Results
from greatleap.report import NationalQuantiles, national_summary_rows, summary_table_rows

PERCENTILES = (5.0, 50.0, 95.0)  # the 90% interval and the median
KEYS = ("year", "province", "variable")


@dataclass(frozen=True)
class ReplicateValues:
    """What one replicate sends back: its annual table and its excess deaths over the famine years it covers
    (None when it does not reach both the baseline year and a famine year)."""

    annual: pa.Table
    excess_deaths: float | None
    excess_years: tuple[int, ...]


def replicate_values(results: Results) -> ReplicateValues:
    """The reduce run in a worker (top level, so a process pool can pickle it)."""
    years = set(results.annual.column("year").to_pylist())
    famine = tuple(y for y in FAMINE_YEARS if y in years)
    if BASELINE_YEAR not in years or not famine:
        return ReplicateValues(results.annual, None, ())
    return ReplicateValues(results.annual, excess_deaths(results, famine), famine)


@dataclass(frozen=True)
class Interval:
    """A median with its 90% interval over replicates."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Interval:
        low, median, high = np.percentile(np.asarray(values, dtype=float), PERCENTILES)
        return cls(float(median), float(low), float(high))

    def text(self, digits: int, signed: bool = False) -> str:
        sign = "+" if signed else ""
        return f"{self.median:{sign}.{digits}f} [{self.low:{sign}.{digits}f}, {self.high:{sign}.{digits}f}]"


def seed_text(seeds: Sequence[int]) -> str:
    """'seed 1' or 'seeds 1-5'."""
    return f"seeds {seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}"


@dataclass(frozen=True)
class Replicates:
    """The annual values of every replicate: `keys` (year, province, variable: the annual table's rows, the same
    in every replicate) and `values`, one row per key and one column per seed."""

    seeds: tuple[int, ...]
    keys: pa.Table
    values: np.ndarray
    excess_deaths: tuple[float, ...] | None
    excess_years: tuple[int, ...]

    @classmethod
    def collect(cls, seeds: Sequence[int], runs: Sequence[ReplicateValues]) -> Replicates:
        """Stack the replicates (in seed order); they must cover the same years, provinces and variables."""
        if len(seeds) != len(runs) or not runs:
            raise ValueError(f"replicates: {len(runs)} runs for {len(seeds)} seeds")
        keys = runs[0].annual.select(list(KEYS))
        for seed, run in zip(seeds, runs, strict=True):
            if not run.annual.select(list(KEYS)).equals(keys):
                raise ValueError(f"replicates: seed {seed} has other years, provinces or variables than the first")
        values = np.column_stack([run.annual.column("value").to_numpy() for run in runs])
        excess = None if runs[0].excess_deaths is None else tuple(float(run.excess_deaths) for run in runs)
        return cls(tuple(int(s) for s in seeds), keys, values, excess, runs[0].excess_years)

    def long_table(self) -> pa.Table:
        """year, province, variable, seed, value: the replicates of each value together, in seed order."""
        n = len(self.seeds)
        rows = np.repeat(np.arange(self.keys.num_rows), n)
        return pa.table(
            {
                **{key: self.keys.column(key).take(pa.array(rows)) for key in KEYS},
                "seed": pa.array(np.tile(np.asarray(self.seeds, dtype=np.int64), self.keys.num_rows)),
                "value": pa.array(self.values.ravel(), type=pa.float64()),
            }
        )

    def quantile_table(self) -> pa.Table:
        """year, province, variable, median, q05, q95 over the replicates (NaN where a replicate's value is)."""
        low, median, high = np.percentile(self.values, PERCENTILES, axis=1)
        return pa.table(
            {
                **{key: self.keys.column(key) for key in KEYS},
                "median": pa.array(median, type=pa.float64()),
                "q05": pa.array(low, type=pa.float64()),
                "q95": pa.array(high, type=pa.float64()),
            }
        )

    def national(self) -> NationalQuantiles:
        """The national rows of the quantiles, for the figures and the summary."""
        return NationalQuantiles.from_frame(self.quantile_table().to_pandas(), self.seeds)

    def excess_interval(self) -> Interval | None:
        """Excess deaths over the famine years covered: median and 90% interval, or None."""
        return None if self.excess_deaths is None else Interval.of(self.excess_deaths)

    def seed_text(self) -> str:
        return seed_text(self.seeds)

    def summary_table_rows(self) -> tuple[list[str], list[list[str]]]:
        """The run summary over the replicates: medians, and `median [q05-q95]` for the main columns."""
        q = self.national()
        rows, low, high = (national_summary_rows(frame) for frame in (q.median, q.q05, q.q95))
        return summary_table_rows(rows, low, high)

    def excess_text(self) -> str | None:
        """One line: excess deaths over the famine years covered, median and 90% interval, or None."""
        interval = self.excess_interval()
        if interval is None:
            return None
        years = self.excess_years
        span = f"{years[0]}" if len(years) == 1 else f"{years[0]}-{str(years[-1])[2:]}"
        return (
            f"excess deaths {span} (over the {BASELINE_YEAR} death rate): {interval.median / 1e6:.1f} M "
            f"[{interval.low / 1e6:.1f}-{interval.high / 1e6:.1f}] (median [5-95%] of {len(self.seeds)} replicates)"
        )
