"""`greatleap sweep`: deterministic designs within the schema's bounds, one-line refusals, a sweep killed with
SIGKILL and restarted that ends with exactly the files of an uninterrupted one, and a summary of finished runs."""

import csv
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from greatleap import sweep as sw
from greatleap.cli import app
from greatleap.core.errors import ConfigError

runner = CliRunner()
FIXED = ["run.scale=1", 'run.end="1957-06"']
# Three points x two seeds of six-month runs at one commune per province: about a second a run.
SWEEP = [
    "sweep",
    *("--param", "nutrition.intake_scale=0.6:1.0", "--levels", "3", "--seeds", "2", "--seed", "1"),
    *("--scale", "1", "--set", 'run.end="1957-06"', "--output", "deaths:1957", "--output", "cdr:1957"),
]
TOTAL = 6
HOLD_LOCK = (
    "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); fcntl.lockf(f, fcntl.LOCK_EX); "
    "print('locked', flush=True); time.sleep(60)"
)


def files(folder):
    return {p.name: p.read_bytes() for p in sorted((folder / sw.RUNS_DIR).iterdir())}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The sweep run once without interruption on the local pool, with Ray made unimportable: the plain path
    must never import it."""
    out = tmp_path_factory.mktemp("sweep") / "reference"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "ray", None)  # `import ray` now fails
        result = runner.invoke(app, [*SWEEP, "--workers", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"0 of {TOTAL} runs done; running {TOTAL}" in result.output
    return out


@pytest.mark.parametrize("design", sw.DESIGNS)
def test_each_design_is_deterministic_in_its_seed_and_within_the_ranges(design):
    parameters = [
        "nutrition.intake_scale=0.6:1.0",
        "messhalls.close_after_recall=0:12",
        "migration.passports=strict,free",
    ]
    size = {"levels": 3} if design == "grid" else {"points": 8}
    first = sw.plan("historical", FIXED, parameters, design, seed_count=2, seed=5, **size)
    again = sw.plan("historical", FIXED, parameters, design, seed_count=2, seed=5, **size)
    assert first.values == again.values and first.runs() == again.runs()
    assert len(first.values) == (3 * 3 * 2 if design == "grid" else 8)
    for scale, months, passports in first.values:
        assert 0.6 <= scale <= 1.0 and isinstance(scale, float)
        assert 0 <= months <= 12 and isinstance(months, int)
        assert passports in ("strict", "free")
    runs = first.runs()
    assert len({r.id for r in runs}) == len(runs) == 2 * len(first.values)
    assert runs[0].id == "p0000-s5" and {r.seed for r in runs} == {5, 6}
    scales = np.array([v[0] for v in first.values])
    if design == "grid":
        assert sorted(set(scales)) == [0.6, 0.8, 1.0]
        assert first.values[0] == (0.6, 0, "strict") and first.values[-1] == (1.0, 12, "free")
    else:
        other = sw.plan("historical", FIXED, parameters, design, seed_count=2, seed=6, **size)
        assert other.values != first.values  # another seed, another design
        strata = np.floor((scales - 0.6) / 0.4 * 8).astype(int)
        if design == "latin":  # one point in each eighth of the range
            assert sorted(strata) == list(range(8))
        else:  # Sobol: balanced halves and quarters at a power of 2
            assert np.bincount(strata // 4, minlength=2).tolist() == [4, 4]
            assert np.bincount(strata // 2, minlength=4).tolist() == [2, 2, 2, 2]


def test_a_grid_range_can_carry_its_own_levels_and_an_integer_range_gives_integers():
    planned = sw.plan("historical", FIXED, ["nutrition.intake_scale=0.5:1:5", "messhalls.close_after_recall=0:3"])
    assert sorted({v[0] for v in planned.values}) == [0.5, 0.625, 0.75, 0.875, 1.0]
    assert sorted({v[1] for v in planned.values}) == [0, 2, 3]  # 0, 1.5, 3 rounded


SMALL = ["--scale", "1", "--set", 'run.end="1957-06"']
RATE = ["--param", "procurement.rate=0:1", *SMALL]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "nutrition.intake_scale=0.5:7", *SMALL], "nutrition.intake_scale: 0.5:7 is out of range (allowed"),
        (["--param", "procurement.rate=-0.1:0.5", *SMALL], "procurement.rate: -0.1:0.5 is out of range (allowed: 0.0"),
        (["--param", "messhalls.close_after_recall=0:40", *SMALL], "messhalls.close_after_recall: 0:40 is out of"),
        (["--param", "procurement.no_such_key=0:1", *SMALL], "procurement.no_such_key: unknown key (allowed: rate,"),
        (["--param", "no_such_section.key=0:1", *SMALL], "no_such_section.key: not a parameter (allowed: section"),
        (["--param", "procurement.flexible=0:1", *SMALL], "procurement.flexible: a range is not allowed for bool"),
        (["--param", "migration.passports=strict,nope", *SMALL], "migration.passports: 'nope' is not allowed"),
        (["--param", "procurement.rate=0.5:0.2", *SMALL], "procurement.rate: 0.5:0.2 is not allowed (allowed: LOW"),
        (["--param", "procurement.rate=0.3", *SMALL], "procurement.rate: one value is not a sweep"),
        (["--param", "run.seed=1:5", *SMALL], "run.seed: set by --seed and --seeds"),
        (["--param", "industry.capacity_growth_by_year.1970=0:1", *SMALL], "industry.capacity_growth_by_year.1970: no"),
        ([*RATE, "--set", "procurement.rate=0.3"], "procurement.rate: set with --set and varied with --param"),
        ([*RATE, "--design", "sobol"], "--points: required by --design sobol"),
        ([*RATE, "--design", "halton"], "--design: 'halton' is not allowed (allowed: grid, sobol, latin)"),
        ([*RATE, "--points", "4"], "--points: not used by --design grid"),
        ([*RATE, "--seeds", "0"], "--seeds: 0 is out of range"),
        ([*RATE, "--workers", "0"], "--workers: 0 is out of range"),
        ([*RATE, "--output", "nope:1957"], "--output nope:1957: unknown variable (allowed: excess_deaths,"),
        ([*RATE, "--output", "cdr:1960"], "--output cdr:1960: outside the run's years 1957-1957"),
        ([*RATE], "--output: 1957-01 to 1957-06 covers none of the default outputs"),
        (["--param", "procurement.rate=0:1", "--scale", "full"], "--scale: 'full' is not allowed here"),
        (["--seeds", "3"], "--seeds: needs --param"),
        ([], "--param: none given"),
    ],
)
def test_bad_input_is_refused_with_one_line_and_exit_2_before_anything_is_written(tmp_path, args, message):
    out = tmp_path / "never"
    result = runner.invoke(app, ["sweep", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), result.output
    assert not out.exists()


def test_ray_missing_is_refused_with_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    result = runner.invoke(app, [*SWEEP, "--address", "local", "--out", str(tmp_path / "never")])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: --address: Ray is not installed (allowed: install it with pip")
    assert "greatleap[distributed]" in result.output and not (tmp_path / "never").exists()


def test_the_run_files_hold_the_national_annual_results_with_parameters_and_seed(reference):
    design = json.loads((reference / sw.DESIGN_FILE).read_text())
    assert [r["id"] for r in design["runs"]] == [f"p000{p}-s{s}" for s in (1, 2) for p in range(3)]
    table = pq.read_table(reference / sw.RUNS_DIR / "p0002-s2.parquet")
    assert table.column_names == ["run_id", "point", "seed", "nutrition.intake_scale", "year", "variable", "value"]
    assert set(table["nutrition.intake_scale"].to_pylist()) == {1.0} and set(table["seed"].to_pylist()) == {2}
    assert {"deaths", "cdr", "grain_output_mt"} <= set(table["variable"].to_pylist())
    about = json.loads(table.schema.metadata[b"greatleap.sweep"])
    assert about["overrides"][-2:] == ["nutrition.intake_scale=1.0", "run.seed=2"]
    everything = pq.read_table(reference / sw.RUNS_DIR)  # the folder reads as one table
    assert len(set(everything["run_id"].to_pylist())) == TOTAL and everything.num_rows == TOTAL * table.num_rows


def test_a_sweep_killed_with_sigkill_resumes_the_missing_runs_and_ends_as_an_uninterrupted_one(tmp_path, reference):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "greatleap", *SWEEP, "--workers", "2", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not list((out / sw.RUNS_DIR).glob("*.parquet")):
            assert process.poll() is None, "the sweep ended before saving a run"
            assert time.monotonic() < deadline, "no run saved in 120 s"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the sweep and its worker processes, as a crash would
        process.wait()
    kept = {p.name: p.stat().st_ino for p in (out / sw.RUNS_DIR).glob("*.parquet")}
    assert 1 <= len(kept) < TOTAL and not (out / "summary.csv").exists()
    (out / sw.RUNS_DIR / ".p0001-s2.parquet.x1y2.tmp").write_bytes(b"half a file")  # as a kill mid-write leaves

    result = runner.invoke(app, ["sweep", "--out", str(out)])  # the folder alone resumes its sweep
    assert result.exit_code == 0, result.output
    assert f"{len(kept)} of {TOTAL} runs done; running {TOTAL - len(kept)}" in result.output
    assert {name: (out / sw.RUNS_DIR / name).stat().st_ino for name in kept} == kept  # not run again
    assert files(out) == files(reference)  # every run byte for byte, and no temporary left
    for name in (sw.DESIGN_FILE, "summary.csv"):
        assert (out / name).read_bytes() == (reference / name).read_bytes()

    other = [arg if arg != "3" else "2" for arg in SWEEP]  # --levels 2: another sweep
    result = runner.invoke(app, [*other, "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: --out: {out} holds another sweep (levels: 3 there, 2 here) (allowed: the same arguments to "
        "resume it, or another folder)"
    )
    assert files(out) == files(reference)


def test_the_summary_aggregates_only_the_finished_runs(tmp_path, reference):
    out = tmp_path / "partial"
    shutil.copytree(reference, out)
    removed = {name: (out / sw.RUNS_DIR / name).read_bytes() for name in ("p0001-s1.parquet", "p0001-s2.parquet")}
    removed["p0002-s1.parquet"] = (out / sw.RUNS_DIR / "p0002-s1.parquet").read_bytes()
    for name in removed:
        (out / sw.RUNS_DIR / name).unlink()
    result = runner.invoke(app, ["sweep", "--out", str(out), "--summary-only"])
    assert result.exit_code == 0, result.output
    assert f"3 of {TOTAL} runs finished" in result.output
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [(r["point"], r["runs"], r["seeds"]) for r in rows] == [("0", "2", "2"), ("2", "1", "2")]
    kept = pq.read_table(out / sw.RUNS_DIR / "p0002-s2.parquet").to_pandas()
    deaths = kept.loc[(kept["variable"] == "deaths") & (kept["year"] == 1957), "value"].item()
    assert float(rows[1]["deaths_1957_median"]) == float(rows[1]["deaths_1957_q95"]) == deaths
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not any(p.name.startswith(".") and p.name.endswith(".tmp") for p in out.iterdir())

    result = runner.invoke(app, ["sweep", "--out", str(out), "--workers", "1"])  # the missing three, the same bytes
    assert result.exit_code == 0 and f"3 of {TOTAL} runs done; running 3" in result.output
    assert files(out) == files(reference)


def test_a_folder_without_a_sweep_or_with_a_live_one_is_refused(tmp_path):
    result = runner.invoke(app, ["sweep", "--out", str(tmp_path), "--summary-only"])
    assert result.exit_code == 2 and "holds no sweep" in result.output
    (tmp_path / "notes.txt").write_text("mine")
    planned = sw.plan("historical", FIXED, ["procurement.rate=0.2:0.5"], levels=2)
    with pytest.raises(ConfigError, match="is not empty and holds no sweep"):
        sw.prepare(tmp_path, planned)
    holder = subprocess.Popen(  # another process holding the folder's lock, as a live sweep does
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / sw.LOCK_FILE)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match="another sweep is writing to"), sw.locked(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with sw.locked(tmp_path):  # free again once that process is gone
        pass


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (greatleap[distributed])")
def test_the_same_sweep_on_a_local_ray_gives_the_same_files(tmp_path, reference):
    out = tmp_path / "ray"
    result = runner.invoke(app, [*SWEEP, "--address", "local", "--workers", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert files(out) == files(reference)
