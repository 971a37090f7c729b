"""Backyard furnaces: steel of little use, labour taken from the 1958 harvest, pots and tools, collapses."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greatleap.compare import excess_deaths
from greatleap.modules.furnaces import pots_compiled, pots_reference
from greatleap.scenario import Scenario
from tests.conftest import run


@pytest.fixture(scope="module")
def no_furnaces():
    return run(Scenario.load("no_furnaces"), check=False)


def test_backyard_steel_rises_in_1958_and_is_mostly_unusable(historical_run):
    value = historical_run.value
    assert value("steel_backyard_mt", 1957) == 0.0
    assert 1.5 < value("steel_backyard_mt", 1958) < 6.0  # ~3 Mt of native steel in 1958
    assert value("steel_backyard_usable_mt", 1958) < 0.5 * value("steel_backyard_mt", 1958)
    assert value("steel_backyard_reported_mt", 1958) > value("steel_backyard_mt", 1958)
    assert value("furnace_labour_share", 1958) > 0.05 and value("furnace_labour_share", 1960) == 0.0


def test_the_furnaces_cost_grain_in_autumn_1958(historical_run, no_furnaces):
    assert historical_run.value("grain_output_mt", 1958) < no_furnaces.value("grain_output_mt", 1958) - 3.0
    assert historical_run.value("grain_left_in_field_mt", 1958) > no_furnaces.value("grain_left_in_field_mt", 1958)
    assert excess_deaths(no_furnaces) < excess_deaths(historical_run)


def test_scrap_takes_pots_and_tools_and_bad_steel_brings_buildings_down(historical_run, no_furnaces):
    assert historical_run.value("pots_share", 1959) < 0.5 and no_furnaces.value("pots_share", 1959) == 1.0
    assert historical_run.value("tools_index", 1959) < 0.9 and no_furnaces.value("tools_index", 1959) == 1.0
    assert historical_run.value("deaths_collapse", 1959) > 0 and no_furnaces.value("deaths_collapse", 1959) == 0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_communes=st.integers(1, 6), collecting=st.booleans())
def test_compiled_pots_give_the_reference_bytes(seed, n_communes, collecting):
    """Households stored commune by commune (some communes empty, some urban) lose or regain their pots."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 40, n_communes)
    commune = np.repeat(np.arange(n_communes, dtype=np.int32), sizes)
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    rural, n = rng.random(n_communes) < 0.7, commune.size
    u, in_messhall, has_pots = rng.random(n), rng.random(n) < 0.7, rng.random(n) < 0.6
    counts, pots = [], []
    for kernel in (pots_compiled, pots_reference):
        after = has_pots.copy()
        counts.append(kernel(bounds, commune, rural, u, collecting, 0.4, in_messhall, after))
        pots.append(after)
    assert counts[0].tobytes() == counts[1].tobytes() and counts[0].dtype == np.float64
    assert pots[0].tobytes() == pots[1].tobytes()
