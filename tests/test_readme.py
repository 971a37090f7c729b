"""The README's examples stay true: every `--set` in its commands is a valid override, and the scenario
table lists every built-in counterfactual."""

import re
from pathlib import Path

import pytest

from greatleap.core.errors import ConfigError
from greatleap.scenario import Scenario, builtin_names

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_override_in_the_readme_is_valid_except_the_documented_error():
    overrides = re.findall(r"--set ([\w.]+=[^\s`]+)", README)
    assert len(overrides) >= 3
    for override in overrides:
        if override.endswith("=7"):  # the README's example of a refused value
            with pytest.raises(ConfigError, match="out of range"):
                Scenario.load("historical", [override])
        else:
            Scenario.load("historical", [override])
    for name, value in re.findall(r'Scenario.load\("historical", \["([\w.]+)=([\w.]+)"\]\)', README):
        Scenario.load("historical", [f"{name}={value}"])


def test_the_scenario_table_lists_every_counterfactual():
    table = README[README.index("<!-- scenario-table:begin -->") : README.index("<!-- scenario-table:end -->")]
    listed = set(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))
    assert listed == set(builtin_names()) - {"ration_cut"}  # ration_cut is a test of the mechanism
