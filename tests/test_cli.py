import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from greatleap.cli import app
from greatleap.output import DATA_FILES
from tests.conftest import RUN_FILES

runner = CliRunner()
SMALL = ["--scale", "1", "--set", 'run.end="1957-06"']


def test_run_writes_tidy_results_manifest_and_figures(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", *SMALL, "--seed", "3", "--out", str(out), "--profile"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES
    monthly = pq.read_table(out / "monthly.parquet")
    annual = pq.read_table(out / "annual.parquet")
    assert monthly.column_names == ["date", "province", "variable", "value"]
    assert annual.column_names == ["year", "province", "variable", "value"]
    national = {
        v for v, p in zip(annual["variable"].to_pylist(), annual["province"].to_pylist(), strict=True) if p == "CN"
    }
    required = {"population", "births", "deaths", "deaths_baseline", "deaths_starvation", "cbr", "cdr"}
    assert required | {"kcal_per_capita"} <= national
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["scale"] == 1 and manifest["scenario"] == "historical"
    assert manifest["recall_date"] is None and "policies recalled: never" in result.output  # ends in 1958
    assert manifest["parameters"]["nutrition"]["intake_scale"] == 1.0
    assert manifest["wall_seconds"] > 0 and manifest["peak_memory_bytes"] > 0
    assert manifest["machine"]["cores"] >= 1 and manifest["machine"]["cpu"] not in ("", "unknown")
    assert 0 < manifest["state_bytes_per_person"] <= 20
    assert set(manifest["input_data_sha256"]) == set(DATA_FILES)
    assert (out / "national.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "national summary beside the official record" in result.output
    assert "phase plan" in result.output and "demography" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "nutrition.intake_scale=7"], "error: nutrition.intake_scale: 7 is out of range"),
        (["--set", "nutrition.no_such_key=1"], "error: nutrition.no_such_key: unknown key (allowed:"),
        (["--set", "demography.mortality_scale=abc"], "error: demography.mortality_scale: 'abc' is invalid"),
        (["--scale", "huge"], "error: --scale: 'huge' is not allowed (allowed: sample, full,"),
        (["--seed", "-4"], "error: --seed: -4 is out of range"),
        (["--scenario", "no_such_scenario"], "error: scenario: 'no_such_scenario' is neither a built-in"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "never"
    result = runner.invoke(app, ["run", *args, "--out", str(out)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_console_script_error_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "greatleap", "run", "--set", "run.scale=-3", "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: run.scale: -3 is invalid: Value error, an integer scale must be between 1 and 100000 communes per "
        "province (allowed: 'sample' or 'full' or int)"
    ]
    assert not (tmp_path / "x").exists()


def test_validate_accepts_good_files_and_refuses_bad_ones(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('base = "historical"\nname = "good"\n[nutrition]\nintake_scale = 0.9\n')
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0 and "ok:" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text('base = "historical"\n[demography]\nstarvation_onset = 3\n')
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: demography.starvation_onset: 3 is out of range (allowed: 0.6 <= float <= 1.0)"
    )


def test_scenarios_lists_builtins_with_descriptions():
    result = runner.invoke(app, ["scenarios"])
    assert result.exit_code == 0
    assert "historical" in result.output and "ration_cut" in result.output
    assert "as it happened" in result.output


def test_compare_puts_scenarios_side_by_side_with_excess_deaths():
    result = runner.invoke(
        app,
        [
            "compare",
            "historical",
            "honest_reports",
            "--scale",
            "1",
            "--set",
            'run.end="1961-12"',
            "--markdown",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == ["historical", "honest_reports"]
    excess = [float(row.split("|")[3]) for row in rows]
    assert excess[1] < excess[0]  # honest reports: fewer excess deaths
    assert float(rows[1].split("|")[4]) < 0  # the difference against historical is printed


def test_compare_refuses_an_unknown_scenario_before_running_anything():
    result = runner.invoke(app, ["compare", "historical", "utopia"])
    assert result.exit_code == 2
    assert result.output.startswith("error: scenario: 'utopia' is neither a built-in scenario")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--port", "0"], "error: --port: 0 is out of range (allowed: an integer from 1 to 65535)"),
        (["--port", "70000"], "error: --port: 70000 is out of range (allowed: an integer from 1 to 65535)"),
        (["--host", " "], "error: --host: ' ' is not allowed (allowed: an address or host name, e.g. 127.0.0.1)"),
    ],
)
def test_dashboard_refuses_a_bad_port_or_host_in_one_line(arguments, message):
    result = runner.invoke(app, ["dashboard", *arguments])
    assert result.exit_code == 2
    assert result.output.strip() == message
