"""A simulation: a scenario turned into a world, a phase plan and an engine; `run()` returns `Results`.

`run_one(scenario)` is the pure entry point that workers call: it returns compact results, never a
simulation object.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

from greatleap.core import kernels
from greatleap.core.calendar import Calendar
from greatleap.core.engine import Engine
from greatleap.core.results import Results
from greatleap.core.world import build_world
from greatleap.plan import build_phases, module_classes
from greatleap.scenario import Scenario


@dataclass
class RunInfo:
    """What a run cost and how big it was."""

    wall_seconds: float
    peak_memory_bytes: int
    persons_initial: int
    person_months: int
    state_bytes_per_person: float
    state_bytes_total: int
    communes_simulated: int
    communes_represented: float
    phase_seconds: list[tuple[str, str, float]]
    threads: int = 1
    kernels: str = "numba"


def available_cores() -> int:
    """Cores this process may run on (the default number of threads of a single run)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def peak_memory_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Sim:
    """Build and run one scenario. `threads` share the provinces of each phase (the results are the same
    bytes for any number; see `Engine`): a single run may use the machine's cores, while runs that already
    run side by side in worker processes keep one each."""

    def __init__(self, scenario: Scenario, check: bool = False, threads: int = 1) -> None:
        self.scenario = scenario
        self.check = check
        self.threads = threads
        run = scenario.run
        self.calendar = Calendar.parse(run.start, run.end)
        self.engine: Engine | None = None
        self.info: RunInfo | None = None

    def build(self) -> Engine:
        run = self.scenario.run
        shards = build_world(self.scenario.world, run.scale, run.seed)
        sections = {cls.name: self.scenario.section(cls.name) for cls in module_classes()}
        phases, modules = build_phases(sections)
        self.engine = Engine(
            phases, self.calendar, shards, check=self.check, seed=run.seed, modules=modules, threads=self.threads
        )
        return self.engine

    def run(self, on_month: Callable[[int], None] | None = None) -> Results:
        started = time.perf_counter()
        engine = self.engine or self.build()
        persons_initial = sum(int(s.persons.alive.sum()) for s in engine.shards)
        person_months = 0

        def count_and_report(t: int) -> None:
            nonlocal person_months
            person_months += sum(int(s.persons.count) for s in engine.shards)
            if on_month is not None:
                on_month(t)

        recorder = engine.run(count_and_report)
        results = Results.from_recorder(recorder, self.calendar)
        state_bytes = sum(t.nbytes for s in engine.shards for t in s.tables().values())
        self.info = RunInfo(
            wall_seconds=time.perf_counter() - started,
            peak_memory_bytes=peak_memory_bytes(),
            persons_initial=persons_initial,
            person_months=person_months,
            state_bytes_per_person=float(sum(s.persons.nbytes_per_row for s in engine.shards[:1])),
            state_bytes_total=state_bytes,
            communes_simulated=sum(s.communes.count for s in engine.shards),
            communes_represented=float(sum(s.communes.weight.sum() for s in engine.shards)),
            phase_seconds=engine.plan_rows(),
            threads=engine.threads,
            kernels=kernels.backend(),
        )
        return results


def run_one(scenario: Scenario) -> Results:
    """Run a scenario and return only its results (what a worker process sends back)."""
    return Sim(scenario).run()
