"""The contract of a mechanism: declared parameters, states, results and random streams; `init` and `step`.

A mechanism subclasses `Module` and declares, as class-level data:

- `name`: the section name in scenario files (`[nutrition]`);
- `Params`: a `ParamSection` (pydantic) whose fields carry ranges and sources;
- `states`: the arrays it owns (`StateSpec`), allocated by the engine in every province shard;
- `results`: the series it records (`ResultSpec`);
- `streams`: the names of the random streams it draws from.

The engine calls `init(shard, ctx)` once per province shard, then `step(shard, ctx)` every month in the
phase given by the phase plan. A module never modifies its parameters (they are frozen); it computes
per-step effective values from them and the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np

from greatleap.core.params import ParamSection
from greatleap.core.state import StateSpec

if TYPE_CHECKING:
    from greatleap.core.calendar import Calendar
    from greatleap.core.world import Nation, ProvinceShard

NATION_CODE = "CN"
ResultKind = Literal["stock", "flow", "ratio", "sum"]
ResultScope = Literal["province", "nation"]


@dataclass(frozen=True)
class ResultSpec:
    """A recorded series.

    - `stock`: a level at the end of the month (annual value: December's);
    - `flow`: an amount during the month (annual value: the sum);
    - `ratio`: `scale * numerator / denominator`, where a flow numerator is taken per year (x12 in a
      month, summed over a year) and a stock is taken at its level (its mean over a year). A ratio is
      computed from the other results, never recorded directly;
    - `sum`: the sum of `terms` (results of one kind, e.g. collective and private-plot output), computed.

    Series with `public=False` are intermediate (e.g. the numerator of a mean) and are not written.
    A `nation`-scope series (the state's grain stock, exports) is recorded once for the nation, with no
    province rows; a `province`-scope series is recorded per commune and summed up.
    """

    name: str
    kind: ResultKind
    unit: str
    description: str
    numerator: str | None = None
    denominator: str | None = None
    scale: float = 1.0
    public: bool = True
    scope: ResultScope = "province"
    terms: tuple[str, ...] = ()

    @property
    def computed(self) -> bool:
        return self.kind in ("ratio", "sum")


class Module:
    """Base class of every mechanism (see the module docstring for the contract)."""

    name: ClassVar[str]
    Params: ClassVar[type[ParamSection]]
    states: ClassVar[tuple[StateSpec, ...]] = ()
    results: ClassVar[tuple[ResultSpec, ...]] = ()
    streams: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: ParamSection | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def init(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """Set the initial values of the module's states in one province shard."""

    def init_nation(self, nation: Nation, ctx: StepContext) -> None:
        """Set the initial values of the module's province- and nation-level states."""

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """Advance one month in one province shard (a phase of scope `province`)."""

    def step_nation(self, nation: Nation, ctx: StepContext) -> None:
        """Advance one month at the level of the state (a phase of scope `nation`): reads and writes only
        the nation's tables, which province phases fill with per-province aggregates."""

    def check(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """Verify the module's accounting identities after a step (run under `--check` and in tests)."""


class StepContext:
    """What a module sees of the engine during `init`/`step`: time, its random streams, the recorder."""

    def __init__(self, calendar: Calendar, recorder: Recorder) -> None:
        self.calendar = calendar
        self.recorder = recorder
        self.t = 0
        self.module: Module | None = None
        self.shard: ProvinceShard | None = None
        self.nation: Nation | None = None

    @property
    def year(self) -> int:
        return self.calendar.year(self.t)

    @property
    def month(self) -> int:
        return self.calendar.month(self.t)

    @property
    def days(self) -> int:
        return self.calendar.days(self.t)

    @property
    def month_key(self) -> int:
        """Months since year 0 (see `greatleap.core.schedule.month_key`)."""
        return self.year * 12 + self.month - 1

    def rng(self, stream: str) -> np.random.Generator:
        """The generator of `stream` for the current module and province (or the nation, in a nation
        phase); the stream must be declared."""
        assert self.module is not None
        if stream not in self.module.streams:
            raise KeyError(f"module {self.module.name!r} draws from undeclared stream {stream!r}")
        owner = self.shard if self.shard is not None else self.nation
        assert owner is not None
        return owner.streams.get(self.module.name, stream)

    @property
    def province_index(self) -> int:
        """Row of the current province in the nation's province table."""
        assert self.shard is not None
        return self.shard.index

    def record(self, name: str, per_commune: np.ndarray) -> None:
        """Record this month's value of result `name`, one entry per simulated commune of the shard."""
        assert self.module is not None and self.shard is not None
        self.recorder.record(self.module.name, self.shard, self.t, name, per_commune)

    def record_total(self, name: str, value: float) -> None:
        """Record this month's value of result `name` as a real total for the whole province (a quantity the
        module computes at the province's level, not per simulated commune)."""
        assert self.module is not None and self.shard is not None
        self.recorder.record_total(self.module.name, self.shard, self.t, name, value)

    def record_nation(self, name: str, value: float) -> None:
        """Record this month's value of the nation-scope result `name`."""
        assert self.module is not None
        self.recorder.record_nation(self.module.name, self.t, name, value)


class Recorder:
    """Collects results: per province, per month, weighted up from the sampled communes.

    A commune's value counts `weight` times (the number of real communes it stands for), so province
    and national figures are estimates of the real totals whatever the scale.
    """

    def __init__(self, n_months: int, specs: dict[str, tuple[str, ResultSpec]]) -> None:
        self.n_months = n_months
        self.specs = specs  # result name -> (module name, spec)
        self.recorded = [n for n, (_, s) in specs.items() if not s.computed]
        self._column = {name: i for i, name in enumerate(self.recorded)}
        self._checked: dict[tuple[str, str, str], int] = {}  # (module, name, scope) -> column, once checked
        self.values: dict[str, np.ndarray] = {}  # province code (and NATION_CODE) -> [n_months, n_recorded]
        self.filled: dict[str, np.ndarray] = {}
        self.add_province(NATION_CODE)  # the nation-scope series

    @property
    def provinces(self) -> list[str]:
        return sorted(code for code in self.values if code != NATION_CODE)

    def add_province(self, code: str) -> None:
        self.values[code] = np.zeros((self.n_months, len(self.recorded)), dtype=np.float64)
        self.filled[code] = np.zeros((self.n_months, len(self.recorded)), dtype=bool)

    def _column_of(self, module: str, name: str, scope: str) -> int:
        column = self._checked.get((module, name, scope))
        if column is not None:
            return column
        owner = self.specs.get(name)
        if owner is None or owner[0] != module:
            raise KeyError(f"module {module!r} records undeclared result {name!r}")
        if owner[1].computed:
            raise KeyError(f"result {name!r} is a {owner[1].kind}: it is computed, not recorded")
        if owner[1].scope != scope:
            raise KeyError(f"result {name!r} has scope {owner[1].scope!r}, recorded as {scope!r}")
        column = self._checked[(module, name, scope)] = self._column[name]
        return column

    def record_nation(self, module: str, t: int, name: str, value: float) -> None:
        column = self._column_of(module, name, "nation")
        self.values[NATION_CODE][t, column] = float(value)
        self.filled[NATION_CODE][t, column] = True

    def record_total(self, module: str, shard: ProvinceShard, t: int, name: str, value: float) -> None:
        column = self._column_of(module, name, "province")
        self.values[shard.code][t, column] = float(value)
        self.filled[shard.code][t, column] = True

    def record(self, module: str, shard: ProvinceShard, t: int, name: str, per_commune: np.ndarray) -> None:
        # Called some eighty times per province and month: `ndarray.dot` is the same BLAS dot as `@`, with
        # less dispatch.
        column = self._column_of(module, name, "province")
        code = shard.code
        self.values[code][t, column] = float(np.asarray(per_commune, dtype=np.float64).dot(shard.commune_weight))
        self.filled[code][t, column] = True
