"""Livestock: herds that hunger shrinks and that grow back slowly; they plough and manure the fields."""

import numpy as np
import pytest

from greatleap.modules.livestock import PIG_STOCK_CHANGE_1960
from greatleap.scenario import Scenario
from tests.conftest import run
from tests.modules.helpers import module, run_module_step, tiny_engine


@pytest.fixture(scope="module")
def herds_kept():
    return run(Scenario.load("historical", ["livestock.enabled=false"]), check=False)


def test_hunger_and_neglect_shrink_the_herds_and_fed_people_rebuild_them():
    livestock = module(tiny_engine(), "livestock")
    p = livestock.params  # historical's: onset 0.95, desperate 0.8 (the reserves below sit on these)
    herds = np.array([1.0, 0.5, 0.5, 0.5])
    reserve = np.array([0.7, 1.0, 0.875, 0.7])
    after = livestock.monthly_change(herds, reserve, campaign=0.0)
    assert after[0] == pytest.approx(1.0 - p.hunger_loss_max)  # desperate: the full loss
    assert after[1] == pytest.approx(0.5 + p.regrowth * 0.5)  # fed: a share of the gap comes back
    half = 0.5 * (1 - 0.5 * p.hunger_loss_max) + 0.5 * p.regrowth * 0.5  # halfway: half the loss and regrowth
    assert after[2] == pytest.approx(half)
    assert after[3] == pytest.approx(0.5 * (1.0 - p.hunger_loss_max))  # no regrowth when desperate
    neglected = livestock.monthly_change(herds, np.ones(4), campaign=1.0)
    assert neglected[0] == pytest.approx(1.0 - p.neglect_loss)


def test_the_factors_the_fields_read_follow_the_herds():
    engine = tiny_engine()
    shard = engine.shards[0]
    communes = shard.communes
    communes.mean_reserve[:] = 0.8
    run_module_step(engine, "livestock")
    p = module(engine, "livestock").params
    rural = ~communes.is_urban
    assert rural.any()
    herds = communes.livestock_index[rural].astype(np.float64)
    assert herds == pytest.approx(np.full(herds.size, 1.0 - p.hunger_loss_max), rel=1e-6)
    assert communes.draught_factor[rural] == pytest.approx(herds**p.draught_elasticity, rel=1e-6)
    assert communes.manure_factor[rural] == pytest.approx(herds**p.manure_elasticity, rel=1e-6)


def test_the_famine_halves_the_herds_and_they_are_still_short_in_1962(historical_run):
    value = historical_run.value
    assert value("livestock_index", 1957) > 0.99
    # The pig stock of 1960 was 43.6% below 1957's (verified); draught animals fell less.
    assert 1.0 + PIG_STOCK_CHANGE_1960 - 0.15 < value("livestock_index", 1960) < 1.0 + PIG_STOCK_CHANGE_1960 + 0.25
    assert value("livestock_index", 1962) < 0.85  # herds come back slowly after the famine


def test_lost_animals_keep_the_sown_area_and_the_harvest_down_after_the_famine(historical_run, herds_kept):
    assert herds_kept.value("livestock_index", 1961) == 1.0
    for year in (1961, 1962):
        assert historical_run.value("sown_area_mha", year) < 0.97 * herds_kept.value("sown_area_mha", year)
        assert historical_run.value("grain_output_mt", year) < 0.97 * herds_kept.value("grain_output_mt", year)
