"""A simulation: a scenario turned into a world, a phase plan and an engine; `run()` returns `Results`.

`run_one(scenario)` is the pure entry point that workers call: it returns compact results, never a
simulation object.
"""

from __future__ import annotations

import os
import platform
import resource
import time
import tomllib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from greatleap.core import checkpoint, kernels
from greatleap.core.calendar import Calendar
from greatleap.core.engine import Engine
from greatleap.core.errors import ConfigError
from greatleap.core.memory import share_freed_memory
from greatleap.core.results import Results
from greatleap.core.world import ProvinceShard, build_world
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
    resumed_at: int | None = None
    workers: int = 1  # processes the provinces were spread over (see greatleap.distributed)


def available_cores() -> int:
    """Cores this process may run on (the default number of threads of a single run)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine() -> dict[str, object]:
    """What a run's timings were measured on (its manifest's `machine`): the processor (Linux's /proc/cpuinfo,
    else the platform's word), the cores this process may use, the operating system."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": available_cores(), "system": f"{platform.system()} {platform.release()}"}


def peak_memory_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def build_engine(
    scenario: Scenario, codes: Collection[str] | None = None, check: bool = False, threads: int = 1
) -> Engine:
    """The engine of `scenario`: its world (or only the provinces `codes`; none at all: the state alone, as a
    sharded run keeps it), the phase plan and the calendar. From here on, the process's threads allocate from
    one heap (`share_freed_memory`)."""
    share_freed_memory()
    run = scenario.run
    shards = build_world(scenario.world, run.scale, run.seed, codes)
    phases, modules = build_phases({cls.name: scenario.section(cls.name) for cls in module_classes()})
    calendar = Calendar.parse(run.start, run.end)
    return Engine(phases, calendar, shards, check=check, seed=run.seed, modules=modules, threads=threads)


def world_summary(shards: Sequence[ProvinceShard]) -> dict[str, float]:
    """How big a world is: living persons, simulated communes and the real communes they stand for, bytes of
    state (allocated, and per person row), and this process's peak memory (a run's info, or a worker's share)."""
    return {
        "persons": float(sum(int(s.persons.alive.sum()) for s in shards)),
        "communes": float(sum(s.communes.count for s in shards)),
        "represented": float(sum(s.communes.weight.sum() for s in shards)),
        "state_bytes": float(sum(t.nbytes for s in shards for t in s.tables().values())),
        "bytes_per_person": float(shards[0].persons.nbytes_per_row) if shards else 0.0,
        "peak_bytes": float(peak_memory_bytes()),
    }


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
        self._counters: dict | None = None  # what the run info counts, carried over a resume
        self.resumed_at: int | None = None  # months done when this run was resumed from a checkpoint

    def build(self) -> Engine:
        self.engine = build_engine(self.scenario, check=self.check, threads=self.threads)
        return self.engine

    def run(
        self,
        on_month: Callable[[int], None] | None = None,
        checkpoint_every: int | None = None,
        checkpoint_to: Path | None = None,
    ) -> Results:
        """Run to the end of the calendar (from where a resumed run stands). With `checkpoint_every` K, the
        state is saved after every K-th month (except the last) into `checkpoint_to`/checkpoint/."""
        started = time.perf_counter()
        engine = self.engine or self.build()
        counters = self._counters or {
            "persons_initial": world_summary(engine.shards)["persons"],
            "person_months": 0,
            "wall_seconds": 0.0,
            "config_hash": self.scenario.config_hash(),
        }
        self._counters = counters
        if checkpoint_every is not None and (checkpoint_every < 1 or checkpoint_to is None):
            raise ValueError("checkpoints need checkpoint_every >= 1 and a folder")

        def count_and_report(t: int) -> None:
            counters["person_months"] += sum(int(s.persons.count) for s in engine.shards)
            if checkpoint_every and t % checkpoint_every == 0 and t < self.calendar.n_months:
                saved = {**counters, "wall_seconds": counters["wall_seconds"] + time.perf_counter() - started}
                checkpoint.save(engine, checkpoint_to, self.scenario.to_toml(), saved)
            if on_month is not None:
                on_month(t)

        recorder = engine.run(count_and_report)
        results = Results.from_recorder(recorder, self.calendar)
        world = world_summary(engine.shards)
        self.info = RunInfo(
            wall_seconds=counters["wall_seconds"] + time.perf_counter() - started,
            peak_memory_bytes=peak_memory_bytes(),
            persons_initial=int(counters["persons_initial"]),
            person_months=int(counters["person_months"]),
            state_bytes_per_person=world["bytes_per_person"],
            state_bytes_total=int(world["state_bytes"]),
            communes_simulated=int(world["communes"]),
            communes_represented=world["represented"],
            phase_seconds=engine.plan_rows(),
            threads=engine.threads,
            kernels=kernels.backend(),
            resumed_at=self.resumed_at,
        )
        return results

    @classmethod
    def resume(cls, run_folder: Path, check: bool = False, threads: int = 1) -> Sim:
        """A simulation rebuilt from the checkpoint in `run_folder` (see `greatleap.core.checkpoint`), ready to
        `run()` the remaining months; a one-line ConfigError if the folder holds no usable checkpoint."""
        saved, index = checkpoint.read(run_folder)
        scenario = Scenario.from_dict(tomllib.loads(saved.scenario_toml))
        if scenario.config_hash() != saved.counters.get("config_hash"):
            raise ConfigError(f"resume: the checkpoint's scenario in {run_folder} does not match its own hash")
        sim = cls(scenario, check=check, threads=threads)
        checkpoint.restore(sim.build(), saved, index)
        sim._counters = dict(saved.counters)
        sim.resumed_at = saved.months_done
        return sim


def run_one(scenario: Scenario) -> Results:
    """Run a scenario and return only its results (what a worker process sends back)."""
    return Sim(scenario).run()
