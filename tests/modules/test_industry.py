"""State industry under the steel plan: modern steel, rushed output, defects and injuries."""

import pytest

from greatleap.compare import excess_deaths
from greatleap.scenario import Scenario
from tests.conftest import run


def test_steel_rises_sharply_in_1958_with_the_backyard_share_mostly_unusable(historical_run):
    value = historical_run.value
    assert value("steel_modern_mt", 1957) == pytest.approx(5.35, rel=0.01)  # 1957 output (national_series.csv)
    assert value("steel_total_mt", 1958) > 1.8 * value("steel_total_mt", 1957)  # the doubling campaign
    backyard, usable_backyard = value("steel_backyard_mt", 1958), value("steel_backyard_usable_mt", 1958)
    assert usable_backyard < 0.5 * backyard
    assert value("steel_usable_mt", 1958) < value("steel_total_mt", 1958) - 0.5 * backyard
    assert value("steel_modern_mt", 1961) < value("steel_modern_mt", 1960)  # the retrenchment


def test_injuries_and_defects_rise_with_the_pressure_of_the_targets(historical_run):
    value = historical_run.value
    assert value("soe_defect_rate", 1959) > 2 * value("soe_defect_rate", 1957)
    assert value("injuries", 1959) > 2 * value("injuries", 1957)
    assert value("deaths_injury", 1959) > value("deaths_injury", 1957) > 0


def test_incentives_cut_defects_and_deaths(historical_run):
    incentives = run(Scenario.load("incentives"), check=False)
    assert incentives.value("soe_defect_rate", 1959) < historical_run.value("soe_defect_rate", 1959)
    # Careful work in the factories (the fields and furnaces injure as before).
    assert incentives.value("injuries_factories", 1959) < 0.8 * historical_run.value("injuries_factories", 1959)
    assert excess_deaths(incentives) < excess_deaths(historical_run)


def test_industry_rises_with_the_plan_and_falls_with_the_retrenchment(historical_run):
    value = historical_run.value
    index = {y: value("industrial_output_index", y) for y in range(1957, 1963)}
    assert index[1957] == pytest.approx(1.0, abs=0.01)
    assert index[1958] > 1.2 and index[1960] > index[1958]
    assert index[1962] < index[1960]
    # The soft budget constraint: rushed, defective output makes losses the state covers.
    assert value("soe_subsidy_byuan", 1957) < 0.1 * value("soe_subsidy_byuan", 1959)
    assert value("soe_workers", 1960) > 1.15 * value("soe_workers", 1957)  # the recruits


def test_enterprise_welfare_lowers_urban_baseline_mortality():
    base = ['run.end="1957-12"']
    with_welfare = run(Scenario.load("historical", base), check=False)
    without = run(Scenario.load("historical", [*base, "industry.welfare_mortality_cut=0.0"]), check=False)
    assert with_welfare.value("deaths_baseline", 1957) < 0.99 * without.value("deaths_baseline", 1957)
