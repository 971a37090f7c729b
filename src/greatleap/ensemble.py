"""Many runs at once: replicates, comparisons, calibration, sensitivity and sweeps.

A `Job` names a scenario and its overrides; `run_jobs` runs them on `workers` local processes and returns, in
the jobs' order, what `reduce` makes of each run's results (a picklable, top-level function, so that a worker
sends back a few numbers instead of every series). Each run is deterministic in its scenario and seed, so
the list returned does not depend on the number of workers.

With `address` the same jobs run as Ray tasks instead (`"local"` starts a Ray instance on this machine bound to
127.0.0.1; anything else is handed to `ray.init(address=...)`: `auto`, `ray://host:10001`, `host:6379`). Ray is
an optional dependency (`pip install 'greatleap[distributed]'`) imported only on that path, so the default path
never imports or starts it. A Ray task gets the scenario's validated parameters, not its name or file, so a
cluster's nodes need greatleap installed but not the driver's scenario files.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, TypeVar

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
    *,
    address: str | None = None,
    on_result: Callable[[int, T], None] | None = None,
) -> list[T]:
    """Run every job and return `reduce(results)` for each, in the jobs' order. Every job is loaded (validated)
    before any runs. As job `i` finishes, `on_result(i, value)` is called in this process (a sweep saves the run
    there, so that a finished run is kept whatever happens to the others) and then `on_done(i)` (progress bars).
    `address` runs the jobs on Ray (see the module docstring); `workers` is then the local instance's CPUs."""
    for job in jobs:
        job.load()

    def finished(i: int, value: T) -> T:
        if on_result is not None:
            on_result(i, value)
        if on_done is not None:
            on_done(i)
        return value

    if address is not None:
        return _run_on_ray(jobs, reduce, workers, address, finished)
    if workers <= 1 or len(jobs) <= 1:
        return [finished(i, _run(job, reduce)) for i, job in enumerate(jobs)]
    results: list[T | None] = [None] * len(jobs)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = {pool.submit(_run, job, reduce): i for i, job in enumerate(jobs)}
        try:
            for future in as_completed(futures):
                i = futures[future]
                results[i] = finished(i, future.result())
        except BaseException:  # a failed run (or Ctrl-C) stops the jobs not yet started
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return results  # type: ignore[return-value]


RAY_MISSING = (
    "--address: Ray is not installed (allowed: install it with pip install 'greatleap[distributed]', "
    "or leave --address out to run on local processes)"
)


def require_ray() -> None:
    """Refuse `--address` (one line, before anything runs or is written) when Ray is not installed."""
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(RAY_MISSING)


def _run_scenario(data: dict[str, Any], reduce: Callable[[Results], T]) -> T:
    """A Ray task: the scenario from its validated parameters (no file needed on the node), run and reduced."""
    return reduce(run_one(Scenario.from_dict(data)))


def connect_ray(address: str, workers: int) -> bool:
    """Connect to Ray (or start a local instance); True when this call started it and must shut it down."""
    if address == "local":
        # On Linux Ray takes the machine's outward address as the node's and then listens on every interface;
        # with the node at 127.0.0.1 (what Ray does on a laptop, switched by this variable) every server it
        # starts listens on the loopback only. Read when ray is imported, so set before the import (a process
        # that imported ray earlier keeps Ray's default).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"logging_level": "error", "log_to_driver": False}
    try:
        if address == "local":  # no dashboard: one server fewer, and nothing for anyone else to see
            ray.init(address="local", num_cpus=workers, include_dashboard=False, **options)
        else:  # a running cluster keeps its own settings (ray.init refuses them when connecting)
            ray.init(address=address, **options)
    except Exception as err:  # a wrong address, no cluster there, a version mismatch
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(
            f"--address: cannot connect to Ray at {address!r} ({message}) (allowed: local, auto, "
            "ray://HOST:PORT or HOST:PORT of a running cluster)"
        ) from None
    return True


def _run_on_ray(
    jobs: Sequence[Job],
    reduce: Callable[[Results], T],
    workers: int,
    address: str,
    finished: Callable[[int, T], T],
) -> list[T]:
    """The jobs as Ray tasks (one CPU each: a run is single-threaded in a worker), collected as they finish."""
    started = connect_ray(address, workers)
    import ray

    try:
        task = ray.remote(num_cpus=1, max_retries=0)(_run_scenario)
        refs = {task.remote(job.load().to_dict(), reduce): i for i, job in enumerate(jobs)}
        results: list[T | None] = [None] * len(jobs)
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    i = refs[ref]
                    try:
                        value = ray.get(ref)
                    except ray.exceptions.RayTaskError as err:  # the run's own error, as the local pool gives it
                        cause = getattr(err, "cause", None)
                        raise (cause if isinstance(cause, Exception) else err) from None
                    results[i] = finished(i, value)
        except BaseException:  # a failed run (or Ctrl-C) cancels the tasks not yet finished
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return results  # type: ignore[return-value]
    finally:
        if started:
            ray.shutdown()


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
