"""Sharded runs: the provinces spread over workers that meet the state between stretches of the month.

A month is a sequence of stretches (`Engine.stretches`): runs of province phases, which touch only a
province's own shard and its own row of the nation's tables, separated by nation phases, which read every
province's row. A sharded run gives each worker an ordinary `Engine` over some of the provinces, and keeps
the state (an `Engine` over no province) in the calling process. For a province stretch the state sends
every worker its nation tables and the persons routed to its provinces; the workers run the stretch and
send back their provinces' rows and the persons leaving them; the state then runs the next nation stretch.
Every number crosses the wire unchanged and every draw comes from its province's (or the nation's) own
stream, so N workers give the bytes of one process (tests/test_distributed.py).

Workers are local processes (`greatleap run --workers N`, the default for a single run being the machine's
cores: forked, each answering requests on a pipe, so both cores work even where Python holds its lock),
Ray actors (`--address`: `local` starts a Ray bound to 127.0.0.1, or a cluster's address), or plain
in-process objects (`backend="local"`, the same protocol in one process, for tests and debugging).
Provinces are dealt to workers largest first, each to the least loaded worker.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from greatleap.core import kernels
from greatleap.core.data import provinces
from greatleap.core.errors import ConfigError
from greatleap.core.results import Results
from greatleap.core.world import start_population
from greatleap.scenario import Scenario
from greatleap.sim import RunInfo, build_engine, peak_memory_bytes, world_summary

Columns = dict[str, np.ndarray]


class ShardWorker:
    """A worker: an engine over some provinces, driven stretch by stretch by the state."""

    def __init__(self, scenario: dict[str, Any], codes: list[str], check: bool, kernel_backend: str) -> None:
        self._backend = kernel_backend
        with kernels.use(kernel_backend):  # type: ignore[arg-type]
            self.engine = build_engine(Scenario.from_dict(scenario), codes, check)
        self.codes = [shard.code for shard in self.engine.shards]
        self.rows = np.array([shard.index for shard in self.engine.shards], dtype=np.int64)

    def province_rows(self) -> Columns:
        """This worker's rows of the nation's province table (every column)."""
        provinces = self.engine.nation.provinces
        return {name: provinces.column(name)[self.rows] for name in provinces.names}

    def run_stretch(
        self, index: int, province_table: Columns, state_table: Columns, inbox: dict[str, list[Columns]]
    ) -> tuple[Columns, dict[str, Columns]]:
        """Take the state's tables and the persons routed here, run stretch `index` in every province of this
        worker; return this worker's province rows and the persons its provinces post for other provinces."""
        nation = self.engine.nation
        for name, values in province_table.items():
            nation.provinces.column(name)[:] = values
        for name, values in state_table.items():
            nation.state.column(name)[:] = values
        nation.inbox.clear()
        nation.inbox.update(inbox)
        with kernels.use(self._backend):  # type: ignore[arg-type]
            self.engine.run_stretch(index)
        outbox = {code: nation.outbox.pop(code) for code in list(nation.outbox)}
        return self.province_rows(), outbox

    def end_month(self) -> int:
        self.engine.end_month()
        return sum(int(shard.persons.count) for shard in self.engine.shards)

    def recorded(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[tuple[str, str, float]]]:
        """The results of this worker's provinces (values and filled flags by province code) and its timings."""
        recorder = self.engine.recorder
        codes = self.codes
        return (
            {c: recorder.values[c] for c in codes},
            {c: recorder.filled[c] for c in codes},
            self.engine.plan_rows(),
        )

    def summary(self) -> dict[str, float]:
        return world_summary(self.engine.shards)


def deal_provinces(scenario: Scenario, workers: int) -> list[list[str]]:
    """Provinces dealt to `workers` groups: largest population first, each to the least loaded group (ties to
    the lowest group), so that the groups finish a stretch together. Deterministic."""
    loads = [0.0] * workers
    groups: list[list[str]] = [[] for _ in range(workers)]
    sizes = {p.code: sum(start_population(p, scenario.world)) for p in provinces()}
    for code in sorted(sizes, key=lambda c: (-sizes[c], c)):
        lightest = min(range(workers), key=lambda i: (loads[i], i))
        groups[lightest].append(code)
        loads[lightest] += sizes[code]
    return [sorted(group) for group in groups if group]


class _Local:
    """Workers as plain objects in this process: the protocol without Ray."""

    def __init__(self, groups: list[list[str]], scenario: dict[str, Any], check: bool) -> None:
        self.workers = [ShardWorker(scenario, group, check, kernels.backend()) for group in groups]

    def ready(self) -> None:
        """Built in the constructor."""

    def call(self, method: str, arguments: list[tuple] | None = None) -> list[Any]:
        arguments = arguments or [()] * len(self.workers)
        return [getattr(w, method)(*a) for w, a in zip(self.workers, arguments, strict=True)]

    def close(self) -> None:
        self.workers = []


def _serve(connection, scenario: dict[str, Any], codes: list[str], check: bool, kernel_backend: str) -> None:
    """A worker process: build the worker, then answer (method, arguments) requests until told to stop.
    Ctrl-C is the calling process's to handle (it closes the workers), so the worker ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        worker = ShardWorker(scenario, codes, check, kernel_backend)
        connection.send(("ready", None))
    except BaseException as err:  # the build failed: say so, then stop
        connection.send(("error", f"{type(err).__name__}: {err}"))
        return
    while True:
        request = connection.recv()
        if request is None:
            return
        method, arguments = request
        try:
            connection.send(("ok", getattr(worker, method)(*arguments)))
        except BaseException as err:
            connection.send(("error", f"{type(err).__name__}: {err}"))
            return


class _Processes:
    """Workers as local processes (forked where the platform allows), one pipe each: both cores of a machine
    without Ray. The requests go out to every worker before any answer is read, so the workers run at once."""

    def __init__(self, groups: list[list[str]], scenario: dict[str, Any], check: bool) -> None:
        import multiprocessing

        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.connections = []
        self.processes = []
        for group in groups:
            parent, child = context.Pipe()
            process = context.Process(
                target=_serve, args=(child, scenario, group, check, kernels.backend()), daemon=True
            )
            process.start()
            child.close()
            self.connections.append(parent)
            self.processes.append(process)
        self._building = True  # until `ready`: this process may work meanwhile

    def ready(self) -> None:
        """Wait until every worker has built its engine (at once, or raise if one failed)."""
        if self._building:
            self._building = False
            self._answers()

    def _answers(self) -> list[Any]:
        answers = []
        for connection in self.connections:
            status, value = connection.recv()
            if status == "error":
                raise RuntimeError(f"a worker process failed: {value}")
            answers.append(value)
        return answers

    def call(self, method: str, arguments: list[tuple] | None = None) -> list[Any]:
        self.ready()
        arguments = arguments or [()] * len(self.connections)
        for connection, args in zip(self.connections, arguments, strict=True):
            connection.send((method, args))
        return self._answers()

    def close(self) -> None:
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.send(None)
            connection.close()
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        self.connections, self.processes = [], []


class _Ray:
    """Workers as Ray actors (one CPU each)."""

    def __init__(self, groups: list[list[str]], scenario: dict[str, Any], check: bool, address: str) -> None:
        from greatleap.ensemble import connect_ray

        self._started = connect_ray(address, len(groups))
        import ray

        actor = ray.remote(num_cpus=1, max_restarts=0)(ShardWorker)
        self.workers = [actor.remote(scenario, group, check, kernels.backend()) for group in groups]

    def ready(self) -> None:
        """Ray builds the actors in the background; their first call waits for them."""

    def call(self, method: str, arguments: list[tuple] | None = None) -> list[Any]:
        import ray

        arguments = arguments or [()] * len(self.workers)
        return ray.get([getattr(w, method).remote(*a) for w, a in zip(self.workers, arguments, strict=True)])

    def close(self) -> None:
        import ray

        for worker in self.workers:
            ray.kill(worker)
        self.workers = []
        if self._started:
            ray.shutdown()


def run_sharded(
    scenario: Scenario,
    workers: int,
    backend: str = "processes",
    address: str | None = None,
    check: bool = False,
    on_month: Callable[[int], None] | None = None,
    while_building: Callable[[], None] | None = None,
) -> tuple[Results, RunInfo]:
    """Run `scenario` with its provinces spread over `workers` workers; the results equal a one-process run's.
    `while_building` is work of the caller's (such as imports for the output) done here while the workers build
    their engines."""
    if workers < 1:
        raise ConfigError(f"--workers: {workers} is out of range (allowed: an integer >= 1)")
    started = time.perf_counter()
    groups = deal_provinces(scenario, workers)
    parameters = scenario.to_dict()  # every parameter, validated again where the worker builds its engine
    if backend == "local":
        pool: Any = _Local(groups, parameters, check)
    elif backend == "processes":
        pool = _Processes(groups, parameters, check)
    else:
        pool = _Ray(groups, parameters, check, address or "local")
    try:
        state = build_engine(scenario, [], check)  # while the workers build theirs
        if while_building is not None:
            while_building()
        pool.ready()
        nation = state.nation
        codes = [code for group in groups for code in group]
        rows_of = [np.array([nation.row(code) for code in group], dtype=np.int64) for group in groups]
        for code in codes:
            state.recorder.add_province(code)

        def merge(province_rows: list[Columns]) -> None:
            for rows, columns in zip(rows_of, province_rows, strict=True):
                for name, values in columns.items():
                    nation.provinces.column(name)[rows] = values

        # The provinces' initialisation wrote their own rows of the province table.
        merge(pool.call("province_rows"))
        persons_initial = sum(s["persons"] for s in pool.call("summary"))
        person_months = 0
        for _ in range(state.calendar.n_months):
            for index, (scope, _phases) in enumerate(state.stretches):
                if scope == "nation":
                    state.run_stretch(index)
                    continue
                province_table = nation.provinces.snapshot()
                state_table = nation.state.snapshot()
                arguments = []
                for group in groups:
                    inbox = {code: nation.inbox.pop(code) for code in group if code in nation.inbox}
                    arguments.append((index, province_table, state_table, inbox))
                replies = pool.call("run_stretch", arguments)
                merge([rows for rows, _ in replies])
                for _, outbox in replies:
                    nation.outbox.update(outbox)
            person_months += sum(pool.call("end_month"))
            state.end_month()
            if on_month is not None:
                on_month(state.t)
        recorder = state.recorder
        plan = state.plan_rows()  # the state's own time (nation phases), then each worker's added
        modules = {name: module for name, module, _ in plan}
        timings = {name: seconds for name, _, seconds in plan}
        for values, filled, rows in pool.call("recorded"):
            for code in values:
                recorder.values[code][...] = values[code]
                recorder.filled[code][...] = filled[code]
            for name, _, seconds in rows:
                timings[name] += seconds
        summaries = pool.call("summary")
    finally:
        pool.close()
    results = Results.from_recorder(recorder, state.calendar)
    info = RunInfo(
        wall_seconds=time.perf_counter() - started,
        # Each process's own peak, summed (an upper bound: the processes need not peak at once).
        peak_memory_bytes=peak_memory_bytes()
        + (0 if backend == "local" else int(sum(s["peak_bytes"] for s in summaries))),
        persons_initial=int(persons_initial),
        person_months=person_months,
        state_bytes_per_person=summaries[0]["bytes_per_person"],
        state_bytes_total=int(sum(s["state_bytes"] for s in summaries)),
        communes_simulated=int(sum(s["communes"] for s in summaries)),
        communes_represented=float(sum(s["represented"] for s in summaries)),
        phase_seconds=[(name, modules[name], seconds) for name, seconds in timings.items()],
        threads=1,
        kernels=kernels.backend(),
        workers=len(groups),
    )
    return results, info
