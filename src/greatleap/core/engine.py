"""The engine: owns time, the phase order and the random streams; imports no mechanism.

A run is a list of `Phase`s (the phase plan, defined in one place: `greatleap.plan`) applied every month,
followed by the engine's own phases: checks (under `check=True`) and compaction (dead persons dropped after
each December step). A province phase runs in every province shard; a nation phase runs once, at the state's
level, and reads and writes only the nation's tables (one row per province, one for the state), which the
province phases fill with their aggregates: that is the only way provinces meet. A stretch of consecutive
province phases therefore runs province by province (each province through the whole stretch, provinces in
code order), and every province has finished it before the next nation phase. Since a province's draws
come from its own streams, its results are recorded separately and the state sees only per-province rows,
the order or grouping of provinces never changes a result. That is also what lets the provinces run on
several threads (`threads`): each province has its own step context, and the compiled kernels and numpy's
array operations release the interpreter lock, so two cores share the work and the results are the same
bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from greatleap.core import kernels
from greatleap.core.calendar import Calendar
from greatleap.core.module import Module, Recorder, ResultSpec, StepContext
from greatleap.core.world import Nation, ProvinceShard, build_nation


@dataclass(frozen=True)
class Phase:
    """One step of the monthly loop: a named phase served by a module, either in every province
    (`scope = "province"`: `module.step(shard, ctx)`) or once for the state (`"nation"`:
    `module.step_nation(nation, ctx)`)."""

    name: str
    module: Module
    scope: Literal["province", "nation"] = "province"
    method: str = ""  # default: `step` (province) or `step_nation` (nation)

    def callable(self) -> Callable:
        return getattr(self.module, self.method or ("step_nation" if self.scope == "nation" else "step"))


ENGINE_PHASES = ("checks", "compaction")


class Engine:
    """Runs a phase plan over province shards on a monthly calendar."""

    def __init__(
        self,
        phases: Sequence[Phase],
        calendar: Calendar,
        shards: Sequence[ProvinceShard],
        check: bool = False,
        seed: int | None = None,
        modules: Sequence[Module] | None = None,
        threads: int = 1,
    ) -> None:
        self.phases = list(phases)
        self._modules = list(modules) if modules is not None else self._first_phase_order(self.phases)
        self.calendar = calendar
        self.shards = sorted(shards, key=lambda s: s.code)
        # The nation's streams share the provinces' seed: one seed for the whole run.
        seeds = {shard.streams.seed for shard in self.shards}
        if seed is None:
            seed = seeds.pop() if len(seeds) == 1 else 0
        elif seeds - {seed}:
            raise ValueError(f"the engine's seed {seed} differs from its provinces' seeds {sorted(seeds)}")
        self.nation: Nation = build_nation(self.shards, seed)
        self.check = check
        self.recorder = Recorder(calendar.n_months, self.result_specs(self.phases))

        self.timings: dict[str, float] = {p.name: 0.0 for p in self.phases}
        self.timings.update({name: 0.0 for name in ENGINE_PHASES})
        self.ctx = StepContext(calendar, self.recorder)
        self.t = 0
        self.threads = max(1, int(threads))
        self._pool: ThreadPoolExecutor | None = None
        self._declare_states()
        self._init_modules()
        # One step context per province (a province phase may run provinces on several threads), and the
        # provinces largest first, so that the threads finish a phase together.
        self._province_ctx = {shard.code: self._context_of(shard) for shard in self.shards}
        self._province_timings = {shard.code: {p.name: 0.0 for p in self.phases} for shard in self.shards}
        self._by_size = sorted(self.shards, key=lambda s: (-s.persons.count, s.code))
        self._stretches = self._group_phases(self.phases)

    @staticmethod
    def _group_phases(phases: Sequence[Phase]) -> list[tuple[str, list[Phase]]]:
        """The plan cut into stretches of consecutive phases of one scope."""
        stretches: list[tuple[str, list[Phase]]] = []
        for phase in phases:
            if stretches and stretches[-1][0] == phase.scope:
                stretches[-1][1].append(phase)
            else:
                stretches.append((phase.scope, [phase]))
        return stretches

    def _context_of(self, shard: ProvinceShard) -> StepContext:
        ctx = StepContext(self.calendar, self.recorder)
        ctx.shard, ctx.nation = shard, self.nation
        return ctx

    @staticmethod
    def result_specs(phases: Sequence[Phase]) -> dict[str, tuple[str, ResultSpec]]:
        specs: dict[str, tuple[str, ResultSpec]] = {}
        for phase in phases:
            for spec in phase.module.results:
                if spec.name in specs and specs[spec.name][0] != phase.module.name:
                    raise ValueError(f"result {spec.name!r} declared by two modules")
                specs[spec.name] = (phase.module.name, spec)
        return specs

    @staticmethod
    def _first_phase_order(phases: Sequence[Phase]) -> list[Module]:
        seen: dict[str, Module] = {}
        for phase in phases:
            seen.setdefault(phase.module.name, phase.module)
        return list(seen.values())

    def modules(self) -> list[Module]:
        """Each module once, in initialisation order (the plan's INIT_ORDER)."""
        return self._modules

    def _declare_states(self) -> None:
        nation_tables = self.nation.tables()
        for module in self.modules():
            for spec in module.states:
                if spec.level in nation_tables:
                    nation_tables[spec.level].declare(spec.for_run(self.calendar.n_months))
        for shard in self.shards:
            tables = shard.tables()
            for module in self.modules():
                for spec in module.states:
                    if spec.level not in nation_tables:
                        tables[spec.level].declare(spec.for_run(self.calendar.n_months))

    def _init_modules(self) -> None:
        self.ctx.t = 0
        self.ctx.nation = self.nation
        self.ctx.shard = None
        for module in self.modules():
            self.ctx.module = module
            module.init_nation(self.nation, self.ctx)
        # A module's init may hand a transient state to a later module's init, as its phases do in a stretch
        # (nutrition's planning need to the food needs): a province holds every transient state in its init.
        n_months = self.calendar.n_months
        transient = [spec.for_run(n_months) for m in self.modules() for spec in m.states if spec.transient]
        for shard in self.shards:
            self.recorder.add_province(shard.code)
            self.ctx.shard = shard
            shard.hold(transient)
            for module in self.modules():
                self.ctx.module = module
                module.init(shard, self.ctx)
            shard.release(transient)
            shard.release_caches()  # as after a stretch: only the province in progress holds them

    def plan_rows(self) -> list[tuple[str, str, float]]:
        """(phase, module, seconds spent) for every phase, in order: the `--profile` table."""
        seconds = {
            p.name: self.timings[p.name] + sum(t[p.name] for t in self._province_timings.values()) for p in self.phases
        }
        rows = [(p.name, p.module.name, seconds[p.name]) for p in self.phases]
        rows += [(name, "engine", self.timings[name]) for name in ENGINE_PHASES]
        return rows

    def step(self) -> None:
        """Advance one month: the phases in order; consecutive province phases run province by province
        (each province through the whole stretch; they meet only at the next nation phase)."""
        for index in range(len(self._stretches)):
            self.run_stretch(index)
        self.end_month()

    @property
    def stretches(self) -> list[tuple[str, list[Phase]]]:
        """The month's plan as stretches of consecutive phases of one scope ("province" or "nation")."""
        return self._stretches

    def run_stretch(self, index: int) -> None:
        """Run stretch `index` of this month (a sharded run calls this on its workers and on the state)."""
        self.ctx.t = self.t
        scope, stretch = self._stretches[index]
        if scope == "nation":
            ctx = self.ctx
            for phase in stretch:
                started = time.perf_counter()
                ctx.module, ctx.shard = phase.module, None
                with kernels.phase_workspace():
                    phase.callable()(self.nation, ctx)
                self.timings[phase.name] += time.perf_counter() - started
        else:
            self._each_province(stretch)

    def end_month(self) -> None:
        """The engine's own phases after the plan (checks, compaction in December); then the next month."""
        ctx = self.ctx
        started = time.perf_counter()
        if self.check:
            for shard in self.shards:
                shard.hold(())  # the households' communes, as in a stretch
                ctx.shard = shard
                for module in self.modules():
                    ctx.module = module
                    module.check(shard, ctx)
                shard.release(())
                shard.release_caches()
        self.timings["checks"] += time.perf_counter() - started
        started = time.perf_counter()
        if self.calendar.month(self.t) == 12:
            for shard in self.shards:
                shard.compact_persons()
        self.timings["compaction"] += time.perf_counter() - started
        self.t += 1

    def _each_province(self, stretch: list[Phase]) -> None:
        """Run a stretch of province phases in every province, on the engine's threads when it has more than
        one. Each province keeps its own phase timings (threads never add to the same counter). A province
        drops its per-person caches when it leaves the stretch, so that only the provinces in progress hold
        them (at full scale the caches of all provinces would be 2.4 GB; recomputing a month's person
        classes once more costs about 1 ns a person)."""

        # The transient states of the modules with a phase here: a province holds them only in the stretch.
        owners = {phase.module.name: phase.module for phase in stretch}
        transient = [
            spec.for_run(self.calendar.n_months)
            for module in owners.values()
            for spec in module.states
            if spec.transient
        ]

        def run_in(shard: ProvinceShard) -> None:
            ctx = self._province_ctx[shard.code]
            ctx.t = self.t
            timings = self._province_timings[shard.code]
            shard.hold(transient)
            for phase in stretch:
                started = time.perf_counter()
                ctx.module = phase.module
                with kernels.phase_workspace():
                    phase.callable()(shard, ctx)
                timings[phase.name] += time.perf_counter() - started
            shard.release(transient)
            shard.release_caches()

        if self._pool is None:
            for shard in self.shards:
                run_in(shard)
        else:
            for _ in self._pool.map(run_in, self._by_size):  # re-raises the first failure
                pass

    def run(self, on_month: Callable[[int], None] | None = None) -> Recorder:
        """Run to the end of the calendar; `on_month(t)` is called after each month (progress bars)."""
        if self.threads > 1 and len(self.shards) > 1:
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="greatleap")
        try:
            while self.t < self.calendar.n_months:
                self.step()
                if on_month is not None:
                    on_month(self.t)
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
        return self.recorder
