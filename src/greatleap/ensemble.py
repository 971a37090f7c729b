"""Many runs at once on a local process pool (never Ray): replicates, comparisons, calibration, sensitivity.

A `Job` names a scenario and its overrides; `run_jobs` runs them on `workers` processes and returns, in the
jobs' order, what `reduce` makes of each run's results (a picklable, top-level function, so that a worker
sends back a few numbers instead of every series). Each run is deterministic in its scenario and seed, so
the list returned does not depend on the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TypeVar

from greatleap.core.errors import ConfigError
from greatleap.core.results import Results
from greatleap.scenario import Scenario
from greatleap.sim import run_one

T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """One run: a built-in scenario name or TOML path, and `section.key=value` overrides."""

    scenario: str = "historical"
    overrides: tuple[str, ...] = ()

    def load(self) -> Scenario:
        return Scenario.load(self.scenario, list(self.overrides))


def _keep(results: Results) -> Results:
    return results


def _run(job: Job, reduce: Callable[[Results], T]) -> T:
    return reduce(run_one(job.load()))


def run_jobs(
    jobs: Sequence[Job],
    reduce: Callable[[Results], T] = _keep,  # type: ignore[assignment]
    workers: int = 2,
    on_done: Callable[[int], None] | None = None,
) -> list[T]:
    """Run every job and return `reduce(results)` for each, in the jobs' order. `on_done(i)` is called as job
    `i` finishes (progress bars). Every job is loaded (validated) before any runs."""
    for job in jobs:
        job.load()
    if workers <= 1 or len(jobs) <= 1:
        out = []
        for i, job in enumerate(jobs):
            out.append(_run(job, reduce))
            if on_done is not None:
                on_done(i)
        return out
    results: list[T | None] = [None] * len(jobs)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = {pool.submit(_run, job, reduce): i for i, job in enumerate(jobs)}
        try:
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if on_done is not None:
                    on_done(i)
        except BaseException:  # a failed run (or Ctrl-C) stops the jobs not yet started
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return results  # type: ignore[return-value]


def require_years(scenario: Scenario, first: int, last: int) -> None:
    """Refuse (one line, before anything runs) a run window that misses years a command reads."""
    if int(scenario.run.start[:4]) > first or scenario.run.end < f"{last}-12":
        raise ConfigError(
            f"run.start/run.end: {scenario.run.start} to {scenario.run.end} does not cover {first}-{last} "
            f"(allowed: start <= {first}-01 and end >= {last}-12)"
        )


def seeds(first: int, count: int) -> list[int]:
    """The seeds of `count` replicates: `first`, `first + 1`, ..."""
    return [first + i for i in range(count)]
