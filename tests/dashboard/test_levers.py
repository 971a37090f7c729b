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
