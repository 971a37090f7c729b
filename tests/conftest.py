"""Shared fixtures: small, fast configurations and one cached default-scale run."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from greatleap.core.results import Results
from greatleap.scenario import Scenario
from greatleap.sim import Sim

# On a cold CI clone hypothesis can trip its "input generation is slow" check: a CI profile without it.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
if os.environ.get("CI"):
    settings.load_profile("ci")


def small_scenario(*overrides: str, name: str = "historical") -> Scenario:
    """One commune per province for 18 months: ~700k persons, about a second."""
    return Scenario.load(name, ["run.scale=1", 'run.end="1958-06"', *overrides])


# What one `greatleap run` writes, sorted.
RUN_FILES = [
    "annual.parquet",
    "grain.png",
    "industry.png",
    "manifest.json",
    "monthly.parquet",
    "national.png",
    "starvation_by_age.png",
]


def run(scenario: Scenario, check: bool = True) -> Results:
    return Sim(scenario, check=check).run()


@pytest.fixture(scope="session")
def small_results() -> Results:
    return run(small_scenario())


@pytest.fixture(scope="session")
def baseline_1957() -> Results:
    """The default scale (sample) over 1957: the baseline year."""
    return run(Scenario.load("historical", ['run.end="1957-12"']))


@pytest.fixture(scope="session")
def historical_run() -> Results:
    """The default historical run, 1957-1962, at the default scale (about 25 s)."""
    return run(Scenario.load("historical"), check=False)
