"""The page's levers come from the parameter schema, never re-declared by hand."""

import typing

import pytest

from greatleap.core.params import field_bounds
from greatleap.dashboard.levers import LEVER_KEYS, levers, overrides_for
from greatleap.scenario import Scenario, ScenarioSchema


@pytest.fixture(scope="module")
def all_levers():
    return levers()


def test_every_lever_takes_its_bounds_and_options_from_the_schema(all_levers):
    assert [lever.key for lever in all_levers] == [key for key, _, _ in LEVER_KEYS]
    for lever in all_levers:
        section, name = lever.key.split(".")
        model = ScenarioSchema.model_fields[section].annotation
        field = model.model_fields[name]
        if lever.kind == "slider":
            bounds = field_bounds(model, name)
            assert (lever.low, lever.high) == (bounds["ge"], bounds["le"])
        if lever.kind == "choice":
            assert lever.options == typing.get_args(field.annotation)
    by_key = {lever.key: lever for lever in all_levers}
    assert by_key["industry.steel_target_scale"].kind == "slider"
    assert (by_key["reports.inflation"].low, by_key["reports.inflation"].high) == (0.0, 5.0)
    assert by_key["migration.passports"].options == ("strict", "lax", "free")
    assert by_key["campaign.recall_date"].options[0] == "1957-01"
    assert by_key["campaign.recall_date"].options[-1] == "1962-12"


def test_the_historical_value_is_the_shipped_scenarios(all_levers):
    historical = Scenario.load("historical")
    by_key = {lever.key: lever for lever in all_levers}
    assert by_key["migration.passports"].historical == "strict"
    assert by_key["furnaces.enabled"].historical is True
    assert by_key["campaign.recall_date"].historical == historical.section("campaign").recall_date == "1960-11"
    assert by_key["procurement.rate"].historical == historical.section("procurement").rate


def test_only_moved_levers_become_overrides_and_every_one_validates(all_levers):
    choices = {lever.key: lever.historical for lever in all_levers}
    assert overrides_for(choices, all_levers) == []
    moved = {
        **choices,
        "furnaces.enabled": False,
        "migration.passports": "free",
        "campaign.recall_date": "1959-08",
        "industry.steel_target_scale": 2.5,
    }
    overrides = overrides_for(moved, all_levers)
    assert overrides == [
        "industry.steel_target_scale=2.5",
        "furnaces.enabled=false",
        'migration.passports="free"',
        'campaign.recall_date="1959-08"',
    ]
    scenario = Scenario.load("historical", overrides)
    assert scenario.section("furnaces").enabled is False
    assert scenario.section("migration").passports == "free"
    assert scenario.section("industry").steel_target_scale == 2.5


@pytest.fixture(scope="module")
def small_lever_runs():
    """Eighteen months at one commune per province: history and the three scalar levers moved."""
    from tests.conftest import run, small_scenario

    settings = {
        "history": (),
        "ambition": ("industry.steel_target_scale=2.0",),
        "no_exports": ("state_grain.exports_scale=0.0",),
        "double_exports": ("state_grain.exports_scale=2.0",),
        "normal_weather": ('agriculture.weather="normal"',),
    }
    return {name: run(small_scenario(*overrides), check=False) for name, overrides in settings.items()}


def test_the_scalar_levers_act_on_the_model(small_lever_runs):
    value = {name: results.value for name, results in small_lever_runs.items()}
    # Twice the plan's ambition: the enterprises rush (more modern steel in 1958).
    assert value["ambition"]("steel_modern_mt", 1958) > 1.05 * value["history"]("steel_modern_mt", 1958)
    # Exports follow the scale exactly while the stock allows (1957: 2.09 Mt of trade grain, unhusked / 0.85).
    assert value["no_exports"]("grain_exports_mt", 1957) == 0.0
    assert value["history"]("grain_exports_mt", 1957) == pytest.approx(2.09 / 0.85, rel=1e-6)
    assert value["double_exports"]("grain_exports_mt", 1957) == pytest.approx(2 * 2.09 / 0.85, rel=1e-6)
    # Normal weather in 1958 (the record's 1.04 was a good year): a smaller summer harvest.
    assert value["normal_weather"]("grain_output_mt", 1958) < value["history"]("grain_output_mt", 1958)
    assert value["normal_weather"]("grain_output_mt", 1957) == value["history"]("grain_output_mt", 1957)
