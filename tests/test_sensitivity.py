"""Morris sensitivity: known effects recovered from a model with known answers, determinism, the real model's
effects where they must be zero and where they must not, the files, and the CLI's refusals."""

import csv

import numpy as np
import pytest
from typer.testing import CliRunner

from greatleap import sensitivity as sa
from greatleap.cli import app
from greatleap.free_parameters import FREE_PARAMETERS, chosen_parameters
from greatleap.scenario import Scenario

runner = CliRunner()
DISPERSION = "household_food.access_dispersion"  # range 0.05-0.35: decides who starves
CAPACITY_1962 = "industry.capacity_growth_by_year.1962"  # range -0.4-0: cannot act before 1962
PAIR = [DISPERSION, CAPACITY_1962]
BASE = {DISPERSION: 0.2, CAPACITY_1962: -0.2}  # the known model's values in the base run


def known_model(values: dict[str, float]) -> dict[str, float]:
    """Excess deaths linear in the dispersion (100 M per unit), grain falling with 1962 capacity (20 Mt per unit),
    steel their product (an interaction)."""
    a, b = values[DISPERSION], values[CAPACITY_1962]
    return {"excess_deaths_m": 100 * a, "grain_output_1960_mt": 50 - 20 * b, "steel_total_1958_mt": 10 * a * b}


def fake_run_jobs(jobs, reduce, workers, on_done=None):
    """`run_jobs` with the known model in place of the simulator: reads the free parameters from the overrides."""
    out = []
    for i, job in enumerate(jobs):
        assigned = dict(o.split("=", 1) for o in job.overrides)
        out.append(known_model({k: float(assigned[k]) if k in assigned else v for k, v in BASE.items()}))
        if on_done is not None:
            on_done(i)
    return out


def indices(rows):
    return {(r.output, r.parameter): r for r in rows}


def test_morris_recovers_the_known_models_effects(monkeypatch):
    monkeypatch.setattr(sa, "run_jobs", fake_run_jobs)
    done = []
    rows = sa.sensitivity(overrides=["run.scale=1"], parameters=PAIR, trajectories=3, seed=5, on_done=done.append)
    assert sorted(done) == list(range(3 * 3 + 1)) == list(range(sa.run_count(3, 2)))
    got = indices(rows)
    # an elementary effect is the change over the whole range: 100 x 0.3 and -20 x 0.4
    assert got["excess_deaths_m", DISPERSION].mu_star == pytest.approx(30.0)
    assert got["excess_deaths_m", DISPERSION].mu == pytest.approx(30.0)
    assert got["excess_deaths_m", DISPERSION].sigma == pytest.approx(0.0, abs=1e-9)
    assert got["excess_deaths_m", DISPERSION].rank == 1
    assert got["excess_deaths_m", DISPERSION].base_value == pytest.approx(20.0)
    assert got["excess_deaths_m", DISPERSION].relative == pytest.approx(1.5)
    assert got["excess_deaths_m", CAPACITY_1962].mu_star == 0.0 and got["excess_deaths_m", CAPACITY_1962].rank == 2
    assert got["grain_output_1960_mt", CAPACITY_1962].mu == pytest.approx(-8.0)
    assert got["grain_output_1960_mt", CAPACITY_1962].mu_star == pytest.approx(8.0)
    assert got["grain_output_1960_mt", DISPERSION].mu_star == 0.0
    assert got["steel_total_1958_mt", DISPERSION].sigma > 0  # the product's effects depend on the other factor
    assert [r.output for r in rows] == [name for name, _, _ in sa.OUTPUTS for _ in PAIR]


def test_the_design_has_r_times_k_plus_1_rows_and_one_parameter_moves_per_step():
    chosen = chosen_parameters([*PAIR, "labour.effort_egalitarian"])
    x = sa.design(chosen, trajectories=4, levels=4, seed=2)
    assert x.shape == (4 * (3 + 1), 3)
    for trajectory in x.reshape(4, 4, 3):
        assert (np.count_nonzero(np.diff(trajectory, axis=0), axis=1) == 1).all()
    lows, highs = np.array([p.low for p in chosen]), np.array([p.high for p in chosen])
    assert ((x >= lows - 1e-12) & (x <= highs + 1e-12)).all()
    jobs = sa.jobs("historical", ["run.scale=1"], chosen, x)
    assert len(jobs) == sa.run_count(4, 3) == 17
    assert jobs[0].overrides == ("run.scale=1",)  # the base run
    assert jobs[1].overrides == ("run.scale=1", *(p.override(v) for p, v in zip(chosen, x[0], strict=True)))


def test_same_seed_same_indices_another_seed_another_design(monkeypatch):
    monkeypatch.setattr(sa, "run_jobs", fake_run_jobs)
    chosen = chosen_parameters(PAIR)
    assert np.array_equal(sa.design(chosen, 3, 4, seed=9), sa.design(chosen, 3, 4, seed=9))
    assert not np.array_equal(sa.design(chosen, 3, 4, seed=9), sa.design(chosen, 3, 4, seed=10))
    first = sa.sensitivity(parameters=PAIR, trajectories=3, seed=9)
    assert first == sa.sensitivity(parameters=PAIR, trajectories=3, seed=9)
    steel = [r.sigma for r in first if r.output == "steel_total_1958_mt"]
    other = sa.sensitivity(parameters=PAIR, trajectories=3, seed=10)
    assert steel != [r.sigma for r in other if r.output == "steel_total_1958_mt"]


@pytest.fixture(scope="module")
def real_rows():
    """The real model at one commune per province: 2 trajectories over 2 parameters (7 runs, ~1 min on 2 cores)."""
    done = []
    rows = sa.sensitivity(overrides=["run.scale=1"], parameters=PAIR, trajectories=2, seed=1, on_done=done.append)
    return rows, done


@pytest.mark.slow
def test_real_model_dispersion_matters_and_1962_capacity_cannot(real_rows):
    rows, done = real_rows
    assert sorted(done) == list(range(2 * (2 + 1) + 1))
    got = indices(rows)
    for name, _, _ in sa.OUTPUTS:  # nothing before 1962 can depend on 1962's capacity
        assert got[name, CAPACITY_1962].mu_star == 0.0 and got[name, CAPACITY_1962].sigma == 0.0
    deaths = got["excess_deaths_m", DISPERSION]
    assert 10 < deaths.base_value < 80  # excess deaths (M) in the base run: a famine
    assert deaths.rank == 1 and deaths.mu_star > 1.0  # more than a million deaths across its range
    assert deaths.mu > 0  # more unequal access, more deaths
    assert 80 < got["grain_output_1960_mt", DISPERSION].base_value < 200
    assert 3 < got["steel_total_1958_mt", DISPERSION].base_value < 30


def test_write_sensitivity_writes_the_table_markdown_and_figure(tmp_path, monkeypatch):
    monkeypatch.setattr(sa, "run_jobs", fake_run_jobs)
    rows = sa.sensitivity(parameters=PAIR, trajectories=3, seed=5)
    written = sa.write_sensitivity(rows, tmp_path / "out", title="known model")
    assert [p.name for p in written] == list(sa.FILES)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(sa.FILES)  # no temporary left
    with open(tmp_path / "out" / "sensitivity.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 6
    first = table[0]
    assert (first["output"], first["rank"], first["parameter"]) == ("excess_deaths_m", "1", DISPERSION)
    assert float(first["mu_star"]) == pytest.approx(30.0) and float(first["relative"]) == pytest.approx(1.5)
    text = (tmp_path / "out" / "sensitivity.md").read_text()
    assert text.count("| rank | parameter |") == 3
    assert f"| 1 | `{DISPERSION}` | 30 |" in text and "## grain output 1960 (Mt; base run 54)" in text
    png = (tmp_path / "out" / "sensitivity.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and b"Software" not in png and b"matplotlib" not in png


def test_cli_runs_writes_and_prints_the_ranked_table(tmp_path, monkeypatch):
    monkeypatch.setattr(sa, "run_jobs", fake_run_jobs)
    out = tmp_path / "sens"
    args = ["sensitivity", "--scale", "1", "--trajectories", "2", "--parameters", ",".join(PAIR), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(sa.FILES)
    assert "Morris sensitivity: historical, scale 1, 2 parameters, r=2" in result.output
    assert "excess deaths 1959-61 (M)" in result.output and "150.0%" in result.output  # 30 / 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--parameters", "no.such_key"], "error: no.such_key: not a free parameter (allowed:"),
        (["--parameters", f"{DISPERSION},{DISPERSION}"], f"error: --parameters: {DISPERSION} named more than once"),
        (["--parameters", ","], "error: --parameters: no parameter given"),
        (["--trajectories", "0"], "error: --trajectories: 0 is out of range"),
        (["--levels", "3"], "error: --levels: 3 is not allowed"),
        (["--workers", "0"], "error: --workers: 0 is out of range"),
        (["--set", "nutrition.intake_scale=7"], "error: nutrition.intake_scale: 7 is out of range"),
        (["--set", f"{DISPERSION}=0.1"], f"error: {DISPERSION}: set with --set and varied"),
        (["--scale", "full"], "error: --scale: 'full' is not allowed here"),
        (["--scale", "huge"], "error: --scale: 'huge' is not allowed"),
        (["--scenario", "no_such_scenario"], "error: scenario: 'no_such_scenario' is neither a built-in"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line_runs_and_writes_nothing(tmp_path, monkeypatch, args, message):
    def refuse(*args, **kwargs):
        raise AssertionError("a run started")

    monkeypatch.setattr(sa, "run_jobs", refuse)
    out = tmp_path / "never"
    result = runner.invoke(app, ["sensitivity", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), result.output
    assert not out.exists()


def test_every_free_parameter_accepts_both_ends_of_its_range():
    for parameter in FREE_PARAMETERS:
        Scenario.load("historical", [parameter.override(parameter.low), parameter.override(parameter.high)])
