"""Sweeps: a design of parameter values x replicate seeds, every run saved as it finishes, resumable.

`greatleap sweep --param procurement.rate=0.2:0.5 --design latin --points 16 --seeds 3 --out runs/sweep-x` runs
each point of a design (a grid, scrambled Sobol points or a Latin hypercube over the ranges given) on seeds
S, S+1, ... and writes, in the output folder:
- `design.json`: the arguments, every point's values and every run, written first;
- `runs/<id>.parquet`: one file per run (a tidy table of its national annual results with its parameter values
  and seed); `pandas.read_parquet("<out>/runs")` reads them all as one table;
- `summary.csv` and `summary.png`: per point, the median and 5-95% interval over its seeds of a few outputs, and
  each output against each parameter.

Why it is built this way:
- One file per run, written to a temporary name and renamed (`greatleap.core.io.atomic_path`), is the unit of
  progress: a sweep killed at any moment (SIGKILL included) keeps every run it finished and never a half-written
  one, and a restart runs only the runs whose file is missing. There is no journal to get out of step with the
  files.
- The design is written before any run, with the arguments that made it. A restart compares the arguments and
  reuses the stored points rather than drawing them again (another scipy may draw other Sobol points); a restart
  with other arguments into the same folder is refused, so a folder never mixes two sweeps. A run's id is its
  place in the design (`p0003-s2`: point 3, seed 2), stable because the design is.
- The driver writes the files, not the workers: the same path serves the local process pool and Ray (whose nodes
  may not share this file system), and a worker orphaned by a killed driver writes nothing.
- The summary is read back from the files on disk, so it aggregates exactly the runs that finished.
- Every run of a point uses the same seeds as every other point (common random numbers), so differences between
  points come from the parameters, and the seeds give the noise around each.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import itertools
import json
import math
import tomllib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from greatleap.compare import BASELINE_YEAR, FAMINE_YEARS, excess_deaths
from greatleap.core.errors import ConfigError
from greatleap.core.io import atomic_path, write_bytes_atomic
from greatleap.core.params import field_bounds
from greatleap.core.results import NATION, Results
from greatleap.core.streams import make_generator
from greatleap.ensemble import Job, run_jobs, seeds
from greatleap.replicates import Interval, seed_text
from greatleap.scenario import Scenario, ScenarioSchema, _describe_allowed, parse_override, toml_value

DESIGNS = ("grid", "sobol", "latin")
DESIGN_FILE = "design.json"
RUNS_DIR = "runs"
SUMMARY_FILES = ("summary.csv", "summary.png")
LOCK_FILE = ".sweep.lock"
FORMAT = 1  # of design.json
RESERVED = {"run.seed": "--seed and --seeds", "run.scale": "--scale"}


# --- parameters ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepParameter:
    """One varied parameter: a range `low:high` (continuous, or integers for an int parameter) or a list of
    `values` (any type the parameter takes: options, booleans, numbers). `levels` is this range's own number of
    grid levels (None: the sweep's `--levels`)."""

    key: str
    low: float | None = None
    high: float | None = None
    levels: int | None = None
    values: tuple[Any, ...] = ()
    integer: bool = False

    def text(self) -> str:
        """As given on the command line (and in error messages)."""
        if self.values:
            return f"{self.key}={','.join(toml_value(v) for v in self.values)}"
        extra = f":{self.levels}" if self.levels is not None else ""
        return f"{self.key}={_number(self.low)}:{_number(self.high)}{extra}"

    def grid(self, levels: int) -> list[Any]:
        """The grid's values: the list, or `levels` evenly spaced values from low to high (ends included)."""
        if self.values:
            return list(self.values)
        assert self.low is not None and self.high is not None
        points = np.linspace(self.low, self.high, self.levels or levels)
        if self.integer:
            return list(dict.fromkeys(math.floor(float(v) + 0.5) for v in points))  # halves up, not to even
        return [self._tidy(v) for v in points]

    def at(self, u: float) -> Any:
        """The value at `u` in [0, 1) of the unit interval (Sobol and Latin points): uniform over the range or
        over the list's entries, so that every entry or integer gets an equal share."""
        if self.values:
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        assert self.low is not None and self.high is not None
        if self.integer:
            return int(min(self.low + math.floor(u * (self.high - self.low + 1)), self.high))
        return self._tidy(self.low + u * (self.high - self.low))

    def _tidy(self, value: float) -> float:
        """Six significant digits (readable overrides and tables; far finer than any effect), kept in range."""
        assert self.low is not None and self.high is not None
        return min(max(float(f"{value:.6g}"), self.low), self.high)

    def override(self, value: Any) -> str:
        return f"{self.key}={toml_value(value)}"

    def arrow_type(self) -> pa.DataType:
        """The column type of this parameter in the run files (one type for every run, so they read as one)."""
        if not self.values:
            return pa.int64() if self.integer else pa.float64()
        if all(isinstance(v, bool) for v in self.values):
            return pa.bool_()
        if all(isinstance(v, int) and not isinstance(v, bool) for v in self.values):
            return pa.int64()
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in self.values):
            return pa.float64()
        return pa.string()

    def column_value(self, value: Any) -> Any:
        kind = self.arrow_type()
        return toml_value(value) if kind == pa.string() and not isinstance(value, str) else value

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "low": self.low,
            "high": self.high,
            "levels": self.levels,
            "values": list(self.values),
            "integer": self.integer,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SweepParameter:
        return cls(data["key"], data["low"], data["high"], data["levels"], tuple(data["values"]), data["integer"])


def _number(value: float | None) -> str:
    return "" if value is None else (str(int(value)) if float(value).is_integer() else repr(float(value)))


def _current_value(data: dict[str, Any], parts: list[str]) -> tuple[bool, Any]:
    node: Any = data
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _describe(key: str, base: Scenario) -> tuple[Any, dict[str, float], str]:
    """A parameter's type, declared bounds and what is allowed (for messages); refuses (one line) keys that
    are not parameters, with the schema's own message for unknown keys."""
    parts = key.split(".")
    if len(parts) < 2 or parts[0] not in ScenarioSchema.model_fields or parts[0] in ("name", "description", "base"):
        with contextlib.suppress(ConfigError):
            base.with_overrides([f"{key}=0"])
        sections = ", ".join(n for n in ScenarioSchema.model_fields if n not in ("name", "description", "base"))
        raise ConfigError(f"{key}: not a parameter (allowed: section.key, with a section among {sections})")
    if key in RESERVED:
        raise ConfigError(f"{key}: set by {RESERVED[key]}, not varied by --param (allowed: any other parameter)")
    if parts[0] == "run":
        raise ConfigError(f"{key}: the run's window is fixed for a sweep (allowed: --set {key}=..., not --param)")
    found, current = _current_value(base.to_dict(), parts)
    if not found:
        base.with_overrides([f"{key}=0"])  # the schema's one-line message (unknown key, wrong type)
        parent = _current_value(base.to_dict(), parts[:-1])[1]
        entries = ", ".join(map(str, parent)) if isinstance(parent, dict) else ""
        raise ConfigError(f"{key}: no such entry (allowed: {entries})")
    if isinstance(current, dict):
        first = next(iter(current), "ENTRY")
        raise ConfigError(f"{key}: a table, not one parameter (allowed: one of its entries, e.g. {key}.{first})")
    section = ScenarioSchema.model_fields[parts[0]].annotation
    annotation = section.model_fields[parts[1]].annotation  # type: ignore[union-attr]
    if len(parts) == 2:
        return annotation, field_bounds(section, parts[1]), _describe_allowed(section, parts[1])  # type: ignore[arg-type]
    value_type = get_args(annotation)[1] if get_origin(annotation) is dict else type(current)
    return value_type, {}, getattr(value_type, "__name__", str(value_type))


def _toml(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return None


def parse_parameter(text: str, base: Scenario) -> SweepParameter:
    """`KEY=LOW:HIGH`, `KEY=LOW:HIGH:LEVELS` or `KEY=V1,V2,...` -> a parameter, checked against the schema: the
    key must exist and a range lie within the parameter's declared bounds. Raises ConfigError (one line)."""
    if "=" not in text:
        raise ConfigError(f"--param {text}: expected KEY=LOW:HIGH or KEY=V1,V2,... (e.g. procurement.rate=0.2:0.5)")
    key, _, spec = (part.strip() for part in text.partition("="))
    kind, bounds, allowed = _describe(key, base)
    if ":" in spec:
        parts = spec.split(":")
        ends = [_toml(p) for p in parts[:2]]
        if len(parts) not in (2, 3) or any(not isinstance(e, int | float) or isinstance(e, bool) for e in ends):
            raise ConfigError(f"{key}: {spec!r} is not a range (allowed: LOW:HIGH or LOW:HIGH:LEVELS, numbers)")
        if kind not in (int, float):
            raise ConfigError(f"{key}: a range is not allowed for {allowed} (allowed: a list, {key}=V1,V2,...)")
        low, high = ends
        integer = kind is int
        if integer and not (isinstance(low, int) and isinstance(high, int)):
            raise ConfigError(f"{key}: {spec} is not allowed (allowed: whole numbers, {allowed})")
        if not low < high:
            raise ConfigError(f"{key}: {spec} is not allowed (allowed: LOW below HIGH)")
        too_low = ("ge" in bounds and low < bounds["ge"]) or ("gt" in bounds and low <= bounds["gt"])
        too_high = ("le" in bounds and high > bounds["le"]) or ("lt" in bounds and high >= bounds["lt"])
        if too_low or too_high:
            raise ConfigError(f"{key}: {low}:{high} is out of range (allowed: {allowed})")
        levels = None
        if len(parts) == 3:
            levels = _toml(parts[2])
            if not isinstance(levels, int) or isinstance(levels, bool) or levels < 2:
                raise ConfigError(f"{key}: {parts[2]!r} levels are not allowed (allowed: an integer >= 2)")
        if not integer:
            low, high = float(low), float(high)
        parameter = SweepParameter(key, low, high, levels, integer=integer)
        checked = [parameter.low, parameter.high]
    else:
        values = tuple(parse_override(f"{key}={item}")[1] for item in spec.split(","))
        if len(values) < 2:
            raise ConfigError(
                f"{key}: one value is not a sweep (allowed: LOW:HIGH, V1,V2,...; a fixed value goes in --set)"
            )
        if len(set(map(toml_value, values))) < len(values):
            raise ConfigError(f"{key}: {spec} names a value twice (allowed: distinct values)")
        parameter = SweepParameter(key, values=values)
        checked = list(values)
    for value in checked:  # the schema's own check of each end or entry (types, validators)
        base.with_overrides([parameter.override(value)])
    return parameter


# --- the design ---------------------------------------------------------------------------------------------
def _unit_sample(design: str, dimensions: int, points: int, seed: int) -> np.ndarray:
    """`points` x `dimensions` values in [0, 1): scrambled Sobol or Latin hypercube, deterministic in `seed`."""
    from scipy.stats import qmc

    cls = qmc.Sobol if design == "sobol" else qmc.LatinHypercube
    generator = make_generator(seed, "sweep", design)  # a named stream, like every draw of greatleap's
    try:
        sampler = cls(dimensions, scramble=True, rng=generator)
    except TypeError:  # scipy < 1.15 calls it `seed`
        sampler = cls(dimensions, scramble=True, seed=generator)
    with warnings.catch_warnings():  # Sobol points are best balanced in powers of 2; any count is allowed
        warnings.simplefilter("ignore", UserWarning)
        return sampler.random(points)


def design_points(
    parameters: Sequence[SweepParameter], design: str, points: int | None, levels: int, seed: int
) -> list[tuple[Any, ...]]:
    """Every point of the design, in order: the grid's product (the first parameter varying slowest), or
    `points` Sobol or Latin points mapped onto each parameter's range or list."""
    if design == "grid":
        return list(itertools.product(*(p.grid(levels) for p in parameters)))
    assert points is not None
    sample = _unit_sample(design, len(parameters), points, seed)
    return [tuple(p.at(float(u)) for p, u in zip(parameters, row, strict=True)) for row in sample]


@dataclass(frozen=True)
class SweepRun:
    """One run: a design point on one seed. `id` names its file."""

    id: str
    point: int
    seed: int


@dataclass(frozen=True)
class Sweep:
    """A planned sweep: its arguments and its design (`values`, one tuple per point)."""

    scenario: str
    overrides: tuple[str, ...]
    parameters: tuple[SweepParameter, ...]
    design: str
    points: int | None
    levels: int | None
    seed: int
    seed_count: int
    config_hash: str  # of the scenario with the fixed overrides: a changed scenario file is another sweep
    values: tuple[tuple[Any, ...], ...] = field(repr=False)
    outputs: tuple[str, ...] = ()  # the summary's --output as the sweep began: a resume's default, not an argument

    @property
    def seeds(self) -> list[int]:
        return seeds(self.seed, self.seed_count)

    def arguments(self) -> dict[str, Any]:
        """What decides the runs (not where or how fast they run): two sweeps with equal arguments are one."""
        return {
            "scenario": self.scenario,
            "overrides": list(self.overrides),
            "config_hash": self.config_hash,  # after the two above: the same name and overrides, a changed file
            "parameters": [p.text() for p in self.parameters],
            "design": self.design,
            "points": self.points,
            "levels": self.levels,
            "seed": self.seed,
            "seeds": self.seed_count,
        }

    def runs(self) -> list[SweepRun]:
        """Every run, seed by seed (a first pass over every point comes first, so a sweep stopped early is still
        spread over the design)."""
        width = max(4, len(str(len(self.values) - 1)))
        return [SweepRun(f"p{i:0{width}d}-s{s}", i, s) for s in self.seeds for i in range(len(self.values))]

    def run_overrides(self, run: SweepRun) -> tuple[str, ...]:
        point = self.values[run.point]
        varied = (p.override(v) for p, v in zip(self.parameters, point, strict=True))
        return (*self.overrides, *varied, f"run.seed={run.seed}")

    def job(self, run: SweepRun) -> Job:
        return Job(self.scenario, self.run_overrides(run))

    def to_json(self) -> dict[str, Any]:
        from greatleap import __version__

        return {
            "format": FORMAT,
            "greatleap": __version__,
            "arguments": self.arguments(),
            "parameters": [p.to_json() for p in self.parameters],
            "outputs": list(self.outputs),
            "points": [list(point) for point in self.values],
            "runs": [{"id": r.id, "point": r.point, "seed": r.seed} for r in self.runs()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sweep:
        a = data["arguments"]
        return cls(
            a["scenario"],
            tuple(a["overrides"]),
            tuple(SweepParameter.from_json(p) for p in data["parameters"]),
            a["design"],
            a["points"],
            a["levels"],
            a["seed"],
            a["seeds"],
            a["config_hash"],
            tuple(tuple(point) for point in data["points"]),
            tuple(data.get("outputs", ())),
        )


def plan(
    scenario: str,
    overrides: Sequence[str],
    parameters: Sequence[str],
    design: str = "grid",
    points: int | None = None,
    levels: int | None = None,
    seed_count: int = 1,
    seed: int = 1,
    outputs: Sequence[str] | None = None,
) -> Sweep:
    """Check every argument (one-line ConfigError naming the culprit) and draw the design. Nothing runs."""
    if design not in DESIGNS:
        raise ConfigError(f"--design: {design!r} is not allowed (allowed: {', '.join(DESIGNS)})")
    if design == "grid":
        if points is not None:
            raise ConfigError("--points: not used by --design grid (allowed: --levels K, or KEY=LOW:HIGH:K)")
        levels = 3 if levels is None else levels
        if levels < 2:
            raise ConfigError(f"--levels: {levels} is out of range (allowed: an integer >= 2)")
    else:
        if levels is not None:
            raise ConfigError(f"--levels: only for --design grid (allowed: --points N with --design {design})")
        if points is None:
            raise ConfigError(f"--points: required by --design {design} (allowed: an integer >= 1; Sobol: best 2^k)")
        if points < 1:
            raise ConfigError(f"--points: {points} is out of range (allowed: an integer >= 1)")
    if seed_count < 1:
        raise ConfigError(f"--seeds: {seed_count} is out of range (allowed: an integer >= 1)")
    if seed < 0:
        raise ConfigError(f"--seed: {seed} is out of range (allowed: an integer >= 0)")
    if not parameters:
        raise ConfigError("--param: none given (allowed: KEY=LOW:HIGH or KEY=V1,V2,..., once per parameter)")
    base = Scenario.load(scenario, list(overrides))
    parsed = tuple(parse_parameter(text, base) for text in parameters)
    keys = [p.key for p in parsed]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ConfigError(f"--param: {', '.join(repeated)} given more than once (allowed: each parameter once)")
    fixed = {assignment.split("=", 1)[0].strip() for assignment in overrides}
    for key in keys:
        if key in fixed:
            raise ConfigError(f"{key}: set with --set and varied with --param (allowed: one or the other)")
    if design != "grid" and any(p.levels is not None for p in parsed):
        raise ConfigError(f"--param: LOW:HIGH:LEVELS is only for --design grid (allowed: LOW:HIGH with {design})")
    values = tuple(design_points(parsed, design, points, levels or 0, seed))
    sweep = Sweep(
        scenario,
        tuple(overrides),
        parsed,
        design,
        points,
        levels,
        seed,
        seed_count,
        base.config_hash(),
        values,
        tuple(outputs or ()),
    )
    for run in sweep.runs():  # every run valid before anything is written
        sweep.job(run).load()
    return sweep


# --- the output folder ----------------------------------------------------------------------------------------
def run_path(out: Path, run: SweepRun) -> Path:
    return Path(out) / RUNS_DIR / f"{run.id}.parquet"


def load_sweep(out: Path) -> Sweep | None:
    """The sweep stored in `out`, or None when there is none."""
    path = Path(out) / DESIGN_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        return Sweep.from_json(data)
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"--out: {path} is not a sweep's design ({err}) (allowed: a sweep's folder)") from None


def check_scenario(sweep: Sweep) -> None:
    """Refuse to go on when the scenario no longer gives the parameters the sweep was made with."""
    now = Scenario.load(sweep.scenario, list(sweep.overrides)).config_hash()
    if now != sweep.config_hash:
        raise ConfigError(
            f"scenario: {sweep.scenario!r} has changed since the sweep began (config hash {now[:12]}, was "
            f"{sweep.config_hash[:12]}) (allowed: the scenario as it was, or another --out)"
        )


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the folder's lock while a sweep writes to it: two sweeps writing one folder would each run the other's
    missing runs. A POSIX record lock (`lockf`), not `flock`: the kernel drops it when the process ends, however it
    ends, and the worker processes forked while it is held do not inherit it, so workers orphaned by a killed sweep
    (which write nothing) do not hold up its restart."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK_FILE, "a+") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            message = f"--out: another sweep is writing to {out} (allowed: wait for it, or another folder)"
            raise ConfigError(message) from None
        yield


def prepare(out: Path, sweep: Sweep) -> Sweep:
    """Write the design to a new folder, or check it against the one stored there and return the stored one
    (its points, not new ones). Removes temporaries left by a killed sweep (call with the lock held)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {out} exists and is not a folder")
    stored = load_sweep(out)
    if stored is None:
        if out.exists() and any(p.name != LOCK_FILE for p in out.iterdir()):
            raise ConfigError(f"--out: {out} is not empty and holds no sweep (allowed: a new or empty folder)")
        write_bytes_atomic(out / DESIGN_FILE, (json.dumps(sweep.to_json(), indent=1) + "\n").encode())
        stored = sweep
    else:
        check_same(out, sweep, stored)
    runs = out / RUNS_DIR
    runs.mkdir(exist_ok=True)
    for temporary in runs.glob(".*.tmp"):  # a run killed between write and rename; the lock says none is live
        temporary.unlink(missing_ok=True)
    return stored


def check_same(out: Path, sweep: Sweep, stored: Sweep) -> None:
    """Refuse (one line naming the first argument that differs) a sweep other than the one stored in `out`."""
    new, old = sweep.arguments(), stored.arguments()
    for name in old:
        if new[name] != old[name]:
            raise ConfigError(
                f"--out: {out} holds another sweep ({name}: {_show(old[name])} there, {_show(new[name])} here) "
                "(allowed: the same arguments to resume it, or another folder)"
            )


def _show(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def missing_runs(out: Path, sweep: Sweep) -> list[SweepRun]:
    return [run for run in sweep.runs() if not run_path(out, run).exists()]


def national_annual(results: Results) -> pa.Table:
    """The reduce run in a worker: the national annual rows (year, variable, value), a few kilobytes."""
    annual = results.annual
    return annual.filter(pc.equal(annual.column("province"), NATION)).select(["year", "variable", "value"])


def save_run(out: Path, sweep: Sweep, run: SweepRun, national: pa.Table) -> Path:
    """Write one run's file atomically: run_id, point, seed, the parameters' values, year, variable, value."""
    n = national.num_rows
    columns: dict[str, pa.Array] = {
        "run_id": pa.array([run.id] * n, pa.string()),
        "point": pa.array([run.point] * n, pa.int32()),
        "seed": pa.array([run.seed] * n, pa.int64()),
    }
    for parameter, value in zip(sweep.parameters, sweep.values[run.point], strict=True):
        columns[parameter.key] = pa.array([parameter.column_value(value)] * n, parameter.arrow_type())
    table = pa.table({**columns, **{name: national.column(name) for name in ("year", "variable", "value")}})
    about = {"id": run.id, "point": run.point, "seed": run.seed, "scenario": sweep.scenario}
    about["overrides"] = list(sweep.run_overrides(run))
    table = table.replace_schema_metadata({"greatleap.sweep": json.dumps(about)})
    path = run_path(out, run)
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)
    return path


def execute(
    out: Path,
    sweep: Sweep,
    runs: Sequence[SweepRun],
    workers: int = 2,
    address: str | None = None,
    on_done: Callable[[int], None] | None = None,
) -> None:
    """Run `runs` (on the local process pool, or on Ray with `address`), each saved as soon as it finishes."""

    def save(i: int, national: pa.Table) -> None:
        save_run(out, sweep, runs[i], national)

    if not runs:  # nothing to do: in particular, no Ray to start
        return
    jobs = [sweep.job(run) for run in runs]
    run_jobs(jobs, national_annual, workers=workers, on_done=on_done, address=address, on_result=save)


# --- outputs and the summary ------------------------------------------------------------------------------------
EXCESS = "excess_deaths"


@dataclass(frozen=True)
class Output:
    """A number read from a run's national annual table: `variable` in `years[0]`, or excess deaths (in millions)
    over `years`, as `greatleap compare` counts them."""

    variable: str
    years: tuple[int, ...]

    @property
    def name(self) -> str:
        if self.variable == EXCESS:
            return f"{EXCESS}_{self.years[0]}_{str(self.years[-1])[2:]}_m"
        return f"{self.variable}_{self.years[0]}"

    @property
    def label(self) -> str:
        if self.variable == EXCESS:
            return f"excess deaths {self.years[0]}-{str(self.years[-1])[2:]} (M)"
        return f"{self.variable} {self.years[0]}"

    def value(self, national: pa.Table) -> float:
        results = Results(monthly=pa.table({}), annual=national, specs={})
        if self.variable == EXCESS:
            return excess_deaths(results, self.years) / 1e6
        return results.value(self.variable, self.years[0])


DEFAULT_OUTPUTS = (
    Output(EXCESS, FAMINE_YEARS),
    Output("cdr", (1960,)),
    Output("grain_output_mt", (1960,)),
    Output("steel_total_mt", (1958,)),
)


def _variables() -> list[str]:
    from greatleap.plan import module_classes

    return sorted({spec.name for cls in module_classes() for spec in cls.results if spec.public})


def outputs_for(texts: Sequence[str] | None, sweep: Sweep) -> tuple[Output, ...]:
    """`VARIABLE:YEAR` or `excess_deaths` -> outputs, within the run's years; default: those the sweep began with,
    else the headline outputs the run's years cover. Raises ConfigError (one line)."""
    texts = texts or sweep.outputs
    run = Scenario.load(sweep.scenario, list(sweep.overrides)).run
    years = range(int(run.start[:4]), int(run.end[:4]) + 1)

    def covered(output: Output) -> bool:
        needed = (BASELINE_YEAR, *output.years) if output.variable == EXCESS else output.years
        return all(y in years for y in needed)

    if not texts:
        chosen = tuple(o for o in DEFAULT_OUTPUTS if covered(o))
        if not chosen:
            raise ConfigError(
                f"--output: {run.start} to {run.end} covers none of the default outputs (allowed: --output "
                f"VARIABLE:YEAR with a year from {years[0]} to {years[-1]}, e.g. cdr:{years[-1]})"
            )
        return chosen
    variables = _variables()
    chosen_list = []
    for text in texts:
        name, _, year = text.strip().partition(":")
        if name == EXCESS and not year:
            output = Output(EXCESS, FAMINE_YEARS)
        elif name not in variables:
            raise ConfigError(f"--output {text}: unknown variable (allowed: {EXCESS}, {', '.join(variables)})")
        elif not year.strip().isdigit():
            raise ConfigError(f"--output {text}: expected VARIABLE:YEAR (e.g. cdr:1960)")
        else:
            output = Output(name, (int(year),))
        if not covered(output):
            needs = f", {BASELINE_YEAR} and {FAMINE_YEARS[0]}-{FAMINE_YEARS[-1]} for {EXCESS}" if name == EXCESS else ""
            raise ConfigError(
                f"--output {text}: outside the run's years {years[0]}-{years[-1]} (allowed: years the run covers"
                f"{needs})"
            )
        chosen_list.append(output)
    return tuple(dict.fromkeys(chosen_list))


@dataclass(frozen=True)
class Summary:
    """The finished runs' outputs (`per_run`, in the design's run order) and, per point with at least one, the
    median and 5-95% interval over its seeds (`per_point`: point -> output name -> interval)."""

    sweep: Sweep
    outputs: tuple[Output, ...]
    per_run: list[tuple[SweepRun, dict[str, float]]]
    per_point: dict[int, dict[str, Interval]]
    runs_per_point: dict[int, int]

    @property
    def finished(self) -> int:
        return len(self.per_run)


def summarize(out: Path, sweep: Sweep, outputs: Sequence[Output]) -> Summary:
    """Read back every run file that exists (and only those) and aggregate each point over its seeds."""
    per_run = []
    for run in sweep.runs():
        path = run_path(out, run)
        if not path.exists():
            continue
        table = pq.read_table(path, columns=["year", "variable", "value"])
        national = table.append_column("province", pa.array([NATION] * table.num_rows, pa.string()))
        per_run.append((run, {o.name: o.value(national) for o in outputs}))
    grouped: dict[int, list[dict[str, float]]] = {}
    for run, values in sorted(per_run, key=lambda item: (item[0].point, item[0].seed)):
        grouped.setdefault(run.point, []).append(values)
    per_point = {
        point: {o.name: Interval.of([v[o.name] for v in rows]) for o in outputs} for point, rows in grouped.items()
    }
    return Summary(sweep, tuple(outputs), per_run, per_point, {p: len(rows) for p, rows in grouped.items()})


def summary_csv(summary: Summary) -> str:
    """One row per point with a finished run: its values, runs finished, and each output's median, q05, q95."""
    sweep = summary.sweep
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    stats = [f"{o.name}_{s}" for o in summary.outputs for s in ("median", "q05", "q95")]
    writer.writerow(["point", *(p.key for p in sweep.parameters), "runs", "seeds", *stats])
    for point, intervals in summary.per_point.items():
        row: list[Any] = [
            point,
            *(p.column_value(v) for p, v in zip(sweep.parameters, sweep.values[point], strict=True)),
        ]
        row += [summary.runs_per_point[point], sweep.seed_count]
        for o in summary.outputs:
            row += [intervals[o.name].median, intervals[o.name].low, intervals[o.name].high]
        writer.writerow(row)
    return buffer.getvalue()


def value_text(value: Any) -> str:
    """A parameter's value in a table or on an axis: floats to four digits, options as they are written."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return value if isinstance(value, str) else toml_value(value)


def number(value: float) -> str:
    """A table cell: four significant digits, or whole numbers with separators from 10,000 up (deaths)."""
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def title(sweep: Sweep, finished: int | None = None) -> str:
    runs = len(sweep.runs())
    done = f", {finished} of {runs} runs finished" if finished is not None and finished < runs else f", {runs} runs"
    count = "1 seed" if sweep.seed_count == 1 else f"{sweep.seed_count} seeds"
    points = f"{len(sweep.values)} points" if len(sweep.values) > 1 else "1 point"
    return f"{sweep.scenario}: {sweep.design} design, {points} x {count} ({seed_text(sweep.seeds)}){done}"


def figure_png(summary: Summary) -> bytes:
    """Each output (rows) against each parameter (columns): every finished run as a dot, each point's median with
    its 5-95% interval over seeds. A list parameter's values are spread along the axis in their order."""
    import matplotlib.pyplot as plt

    from greatleap.report import _png  # also selects the Agg backend

    sweep = summary.sweep
    rows, cols = len(summary.outputs), len(sweep.parameters)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols + 0.6, 2.7 * rows + 0.8), squeeze=False)

    def position(parameter: SweepParameter, value: Any) -> float:
        return float(parameter.values.index(value)) if parameter.values else float(value)

    for c, parameter in enumerate(sweep.parameters):
        for r, output in enumerate(summary.outputs):
            ax = axes[r][c]
            xs = [position(parameter, sweep.values[run.point][c]) for run, _ in summary.per_run]
            ax.plot(xs, [v[output.name] for _, v in summary.per_run], ".", color="tab:gray", alpha=0.4, ms=4)
            points = sorted(summary.per_point)
            x = np.array([position(parameter, sweep.values[p][c]) for p in points])
            median = np.array([summary.per_point[p][output.name].median for p in points])
            low = np.array([summary.per_point[p][output.name].low for p in points])
            high = np.array([summary.per_point[p][output.name].high for p in points])
            ax.errorbar(x, median, yerr=[median - low, high - median], fmt="o", color="tab:blue", ms=3, capsize=2)
            if parameter.values:
                ax.set_xticks(range(len(parameter.values)), [value_text(v) for v in parameter.values])
                ax.set_xlim(-0.5, len(parameter.values) - 0.5)
            if r == rows - 1:
                ax.set_xlabel(parameter.key, fontsize=8)
            if c == 0:
                ax.set_ylabel(output.label, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    fig.suptitle(f"{title(sweep, summary.finished)}\nmedian and 5-95% over seeds (blue), each run (grey)", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def write_summary(summary: Summary, out: Path) -> list[Path]:
    """summary.csv and summary.png, each made before either is written, each written atomically."""
    contents = {"summary.csv": summary_csv(summary).encode(), "summary.png": figure_png(summary)}
    for name, data in contents.items():
        write_bytes_atomic(Path(out) / name, data)
    return [Path(out) / name for name in SUMMARY_FILES]
