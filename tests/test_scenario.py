import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greatleap.core.errors import ConfigError
from greatleap.scenario import Scenario, ScenarioSchema, builtin_names, parse_override


def test_builtin_scenarios_load_and_describe_themselves():
    assert {"historical", "ration_cut"} <= set(builtin_names())
    for name in builtin_names():
        scenario = Scenario.load(name)
        assert scenario.name == name and scenario.description


def test_base_inheritance_overrides_only_what_it_names():
    cut = Scenario.load("ration_cut")
    historical = Scenario.load("historical")
    assert cut.section("nutrition").intake_scale == 0.85
    assert cut.section("demography") == historical.section("demography")
    assert cut.run == historical.run


def test_overrides_are_typed_by_toml_and_applied_by_path():
    scenario = Scenario.load(
        "historical", ["nutrition.intake_scale=0.8", 'run.scale="full"', "agriculture.weather_by_year.1960=0.5"]
    )
    assert scenario.section("nutrition").intake_scale == 0.8
    assert scenario.run.scale == "full"
    assert scenario.section("agriculture").weather_by_year[1960] == 0.5
    assert scenario.section("agriculture").weather_by_year[1959] == 0.969
    assert parse_override("a.b=hello") == (["a", "b"], "hello")


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("nutrition.intake_scale=7", "nutrition.intake_scale: 7 is out of range (allowed: 0.0 <= float <= 2.0)"),
        ("nutrition.intake_scale=-1", "nutrition.intake_scale: -1 is out of range (allowed: 0.0 <= float <= 2.0)"),
        ("nutrition.rations=1", "nutrition.rations: unknown key (allowed: intake_scale,"),
        ("weather.drought=1", "weather: unknown key (allowed: name, description, base, run, world, campaign,"),
        ('nutrition.intake_scale="lots"', "nutrition.intake_scale: 'lots' is invalid"),
        ('messhalls.rule="lottery"', "messhalls.rule: 'lottery' is not allowed"),
        ("procurement.flexible=3", "procurement.flexible: 3 is invalid"),
        ('nutrition.sharing="random"', "nutrition.sharing: 'random' is not allowed"),
        ("run.scale=0", "run.scale"),
        ('run.start="1957/01"', "run.start: '1957/01' is invalid: Value error, expected a month written YYYY-MM"),
        ("demography.gestation_months=9.5", "demography.gestation_months: 9.5 is invalid"),
    ],
)
def test_bad_values_give_one_line_naming_the_key_and_what_is_allowed(override, expected):
    with pytest.raises(ConfigError) as raised:
        Scenario.load("historical", [override])
    message = str(raised.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_scenario_files_are_validated_and_base_loops_refused(tmp_path):
    loop_a, loop_b = tmp_path / "a.toml", tmp_path / "b.toml"
    loop_a.write_text(f'base = "{loop_b}"\n')
    loop_b.write_text(f'base = "{loop_a}"\n')
    with pytest.raises(ConfigError, match="base: scenario inheritance loops"):
        Scenario.load(str(loop_a))
    broken = tmp_path / "broken.toml"
    broken.write_text("[nutrition\nintake_scale = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Scenario.load(str(broken))
    with pytest.raises(ConfigError, match="neither a built-in scenario"):
        Scenario.load(str(tmp_path / "missing.toml"))


def test_written_toml_reloads_to_the_same_scenario(tmp_path):
    scenario = Scenario.load("ration_cut", ["demography.mortality_scale=0.8"])
    path = tmp_path / "copy.toml"
    path.write_text(scenario.to_toml())
    assert tomllib.loads(path.read_text())["nutrition"]["intake_scale"] == 0.85
    again = Scenario.load(str(path))
    assert again.config_hash() == scenario.config_hash()


def test_parameters_are_frozen():
    scenario = Scenario.load("historical")
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        scenario.section("nutrition").intake_scale = 0.1


def test_every_parameter_declares_a_source():
    for section_name, field in ScenarioSchema.model_fields.items():
        model = field.annotation
        if not hasattr(model, "model_fields"):
            continue
        for name, info in model.model_fields.items():
            extra = info.json_schema_extra or {}
            assert extra.get("source"), f"{section_name}.{name} has no source"
            assert info.description, f"{section_name}.{name} has no description"


@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=32), st.integers(-10, 10), st.text(max_size=5)))
def test_fuzzed_values_either_validate_within_bounds_or_name_the_key(value):
    text = repr(value) if not isinstance(value, str) else '"' + value.replace("\\", "").replace('"', "") + '"'
    try:
        scenario = Scenario.load("historical", [f"nutrition.intake_scale={text}"])
    except ConfigError as err:
        assert str(err).startswith("nutrition.intake_scale")
    else:
        assert 0.0 <= scenario.section("nutrition").intake_scale <= 2.0
