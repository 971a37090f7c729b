"""Runs requested from the page: validated, capped in size, cached.

The page may ask only for sample sizes that finish in about a minute on this machine; the cap is enforced
here, in the request's own validation, not only by the widget (a request that bypasses the widget is
refused the same way). Results are kept in a small in-process cache keyed by the scenario's configuration
hash, so the same levers never run twice.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from greatleap.core.errors import ConfigError
from greatleap.core.results import Results
from greatleap.core.world import WorldParams
from greatleap.scenario import Scenario
from greatleap.sim import Sim, available_cores

# Wall time of a page run (1957-62, the machine's cores, compiled kernels) on this machine, 2 cores, measured
# 2026-11-30 after a warm-up run: 10.6 s at one simulated commune per province, 12.8 s at two, 16.3 s at
# four and 24.6 s at eight, i.e. about FIXED + PER_COMMUNE x communes (least squares over the four).
FIXED_SECONDS = 8.6
SECONDS_PER_COMMUNE = 2.0
PAGE_LIMIT_SECONDS = 60.0
# The page opens on the sample the shipped fit was made at: with fewer communes the famine is noisier
# (one commune per province gives 35.8 M excess deaths on seed 1, against 27.4 M at the sample).
DEFAULT_COMMUNES = WorldParams().sample_communes_per_province
CACHE_SIZE = 8


def estimated_seconds(communes_per_province: int) -> float:
    return FIXED_SECONDS + SECONDS_PER_COMMUNE * communes_per_province


def largest_page_size() -> int:
    return int((PAGE_LIMIT_SECONDS - FIXED_SECONDS) // SECONDS_PER_COMMUNE)


class PageRun(BaseModel):
    """A run the page asks for: the levers' overrides of `historical` and a sample size."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    overrides: tuple[str, ...] = ()
    communes_per_province: int = Field(DEFAULT_COMMUNES, ge=1, description="simulated communes per province")

    @model_validator(mode="after")
    def _within_a_minute(self) -> PageRun:
        seconds = estimated_seconds(self.communes_per_province)
        if seconds > PAGE_LIMIT_SECONDS:
            raise ValueError(
                f"run.scale: {self.communes_per_province} communes per province would take about {seconds:.0f} s "
                f"here; the page runs at most about {PAGE_LIMIT_SECONDS:.0f} s (at most {largest_page_size()} "
                f"communes per province). Larger runs: greatleap run --set run.scale={self.communes_per_province}"
            )
        return self

    def scenario(self) -> Scenario:
        """The scenario to run; a bad override raises ConfigError with a one-line message."""
        return Scenario.load("historical", [*self.overrides, f"run.scale={self.communes_per_province}"])


def page_run(overrides: list[str], communes_per_province: int) -> PageRun:
    """Validate a request (size cap and every override); ConfigError with a one-line message if refused."""
    try:
        request = PageRun(overrides=tuple(overrides), communes_per_province=communes_per_province)
    except ValidationError as err:
        first = err.errors()[0]
        if first["type"] == "value_error":  # the size cap: its message is already one line
            raise ConfigError(str(first["ctx"]["error"])) from None
        raise ConfigError(
            f"run.scale: {communes_per_province!r} is not allowed (allowed: 1 to {largest_page_size()} "
            "communes per province)"
        ) from None
    request.scenario()  # raises ConfigError naming the key and what is allowed
    return request


_cache: OrderedDict[str, Results] = OrderedDict()


def cached(request: PageRun) -> Results | None:
    return _cache.get(request.scenario().config_hash())


def run(request: PageRun, on_month: Callable[[int, int], None] | None = None) -> Results:
    """The results for `request`, from the cache or from a new run (`on_month(done, total)` reports progress)."""
    scenario = request.scenario()
    key = scenario.config_hash()
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    sim = Sim(scenario, threads=available_cores())
    total = sim.calendar.n_months
    results = sim.run(on_month=(lambda t: on_month(t, total)) if on_month else None)  # t: months done
    _cache[key] = results
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return results
