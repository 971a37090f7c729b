"""`greatleap run --replicates N`: the first seed written as a single run, every replicate's annual values, their
quantiles, medians with intervals in the summary and bands in the figures; deterministic whatever the workers."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from greatleap.cli import app
from greatleap.replicates import Replicates, ReplicateValues
from greatleap.report import NationalQuantiles, grain_figure_png, industry_figure_png, national_figure_png
from tests.conftest import RUN_FILES

runner = CliRunner()
SHORT = ["--scale", "1", "--set", 'run.end="1959-12"']  # reaches the famine: excess deaths of 1959
TINY = ["--scale", "1", "--set", 'run.end="1957-06"']
TIMING = ("created", "wall_seconds", "peak_memory_bytes", "peak_memory_bytes_per_person", "phase_seconds")


def invoke(*args: str):
    result = runner.invoke(app, ["run", *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """Seeds 4, 5, 6 to the end of 1959 on 2 workers: the folder and the printed output."""
    out = tmp_path_factory.mktemp("three") / "run"
    return out, invoke(*SHORT, "--seed", "4", "--replicates", "3", "--workers", "2", "--out", str(out)).output


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The same scenario and first seed as a plain single run."""
    out = tmp_path_factory.mktemp("single") / "run"
    invoke(*SHORT, "--seed", "4", "--out", str(out))
    return out


def national(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["province"] == "CN"]


def test_the_first_seed_is_written_as_a_single_run_plus_the_replicates(three, single):
    out, _ = three
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*RUN_FILES, "replicates.parquet", "annual_quantiles.parquet"]
    )
    for name in ("monthly.parquet", "annual.parquet"):  # the first seed's run, byte for byte
        assert (out / name).read_bytes() == (single / name).read_bytes(), name
    for name in ("national.png", "grain.png", "industry.png"):  # medians with bands instead of one run's lines
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / name).read_bytes() != (single / name).read_bytes(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["replicate_seeds"] == [4, 5, 6]
    assert manifest["files"][-2:] == ["replicates.parquet", "annual_quantiles.parquet"]
    assert "replicate_seeds" not in json.loads((single / "manifest.json").read_text())

    replicates = pq.read_table(out / "replicates.parquet").to_pandas()
    annual = pq.read_table(out / "annual.parquet").to_pandas()
    assert list(replicates.columns) == ["year", "province", "variable", "seed", "value"]
    assert len(replicates) == 3 * len(annual)
    assert set(replicates["province"]) == set(annual["province"]) and len(set(replicates["province"])) > 20
    first = replicates[replicates["seed"] == 4].reset_index(drop=True)
    pd.testing.assert_frame_equal(first.drop(columns="seed"), annual, check_dtype=False)


def test_quantiles_are_numpys_percentiles_over_the_replicates_and_ordered(three):
    out, _ = three
    quantiles = pq.read_table(out / "annual_quantiles.parquet").to_pandas()
    assert list(quantiles.columns) == ["year", "province", "variable", "median", "q05", "q95"]
    replicates = pq.read_table(out / "replicates.parquet").to_pandas()
    values = replicates["value"].to_numpy().reshape(-1, 3)
    low, median, high = np.percentile(values, [5, 50, 95], axis=1)
    np.testing.assert_array_equal(quantiles["q05"], low)
    np.testing.assert_array_equal(quantiles["median"], median)
    np.testing.assert_array_equal(quantiles["q95"], high)
    finite = np.isfinite(quantiles[["q05", "median", "q95"]].to_numpy()).all(axis=1)
    assert finite.mean() > 0.95
    q = quantiles[finite]
    assert (q["q05"] <= q["median"]).all() and (q["median"] <= q["q95"]).all()
    deaths = national(quantiles).set_index(["variable", "year"]).loc[("deaths", 1959)]
    assert 5e6 < deaths["q05"] < deaths["q95"] < 60e6  # a spread, in the famine's range


def test_replicates_differ_from_each_other(three):
    out, _ = three
    replicates = national(pq.read_table(out / "replicates.parquet").to_pandas())
    for variable in ("deaths", "deaths_starvation", "grain_output_mt", "population"):
        by_seed = replicates[(replicates["variable"] == variable) & (replicates["year"] == 1959)]
        assert by_seed["seed"].tolist() == [4, 5, 6]
        assert by_seed["value"].nunique() == 3, variable


def test_summary_shows_medians_with_intervals_and_excess_deaths(three):
    out, output = three
    assert "median [5-95%] of 3 replicates (seeds 4-6)" in output
    quantiles = national(pq.read_table(out / "annual_quantiles.parquet").to_pandas())
    quantiles = quantiles.set_index(["variable", "year"])[["median", "q05", "q95"]]
    deaths = quantiles.loc[("deaths", 1959)] / 1e6
    assert f"{deaths['median']:,.2f} [{deaths['q05']:,.2f}-{deaths['q95']:,.2f}]" in output
    cdr = quantiles.loc[("cdr", 1959)]
    assert f"{cdr['median']:,.1f} [{cdr['q05']:,.1f}-{cdr['q95']:,.1f}]" in output
    grain = quantiles.loc[("grain_output_mt", 1958)]
    assert f"{grain['median']:,.0f} [{grain['q05']:,.0f}-{grain['q95']:,.0f}]" in output

    replicates = national(pq.read_table(out / "replicates.parquet").to_pandas())
    value = replicates.set_index(["variable", "year", "seed"])["value"]
    excess = [value["deaths", 1959, s] - value["cdr", 1957, s] / 1000 * value["population", 1959, s] for s in (4, 5, 6)]
    low, median, high = np.percentile(excess, [5, 50, 95]) / 1e6
    line = next(x for x in output.splitlines() if x.startswith("excess deaths"))
    assert line == (
        f"excess deaths 1959 (over the 1957 death rate): {median:.1f} M [{low:.1f}-{high:.1f}] "
        "(median [5-95%] of 3 replicates)"
    )
    assert median > 1.0  # the famine has begun by 1959


def test_one_replicate_is_todays_single_run(tmp_path):
    plain, one = tmp_path / "plain", tmp_path / "one"
    invoke(*TINY, "--out", str(plain))
    invoke(*TINY, "--replicates", "1", "--out", str(one))
    assert sorted(p.name for p in one.iterdir()) == RUN_FILES
    for name in RUN_FILES:
        if name != "manifest.json":
            assert (one / name).read_bytes() == (plain / name).read_bytes(), name
    manifests = [json.loads((d / "manifest.json").read_text()) for d in (plain, one)]
    for manifest in manifests:
        for key in TIMING:
            manifest.pop(key)
    assert manifests[0] == manifests[1]


def test_same_command_and_any_number_of_workers_give_identical_bytes(tmp_path):
    folders = {}
    for label, workers in (("first", "2"), ("again", "2"), ("serial", "1")):
        folders[label] = tmp_path / label
        invoke(*TINY, "--seed", "9", "--replicates", "2", "--workers", workers, "--out", str(folders[label]), "-q")
    for name in ("replicates.parquet", "annual_quantiles.parquet", "national.png", "grain.png", "industry.png"):
        reference = (folders["first"] / name).read_bytes()
        assert (folders["again"] / name).read_bytes() == reference, name
        assert (folders["serial"] / name).read_bytes() == reference, name
    assert pq.read_table(folders["first"] / "replicates.parquet").column("seed").unique().to_pylist() == [9, 10]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replicates", "0"], "error: --replicates: 0 is out of range (allowed: an integer >= 1)"),
        (["--replicates", "-2"], "error: --replicates: -2 is out of range (allowed: an integer >= 1)"),
        (["--replicates", "2", "--workers", "0"], "error: --workers: 0 is out of range (allowed: an integer >= 1)"),
        (["--replicates", "3", "--seed", str(2**63 - 2)], "error: run.seed: 9223372036854775808 is out of range"),
    ],
)
def test_bad_replicates_exit_2_with_one_line_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "never"
    result = runner.invoke(app, ["run", *TINY, *args, "--out", str(out)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), result.output
    assert not out.exists()


# --- the replicates' tables and the figures' bands, on small made-up values ---------------------------------------


def made_up(values: list[float], years=(1957, 1958)) -> ReplicateValues:
    keys = [(y, p, v) for p in ("CN", "11") for v in ("deaths", "cdr") for y in years]
    return ReplicateValues(
        pa.table(
            {
                "year": pa.array([k[0] for k in keys], type=pa.int32()),
                "province": [k[1] for k in keys],
                "variable": [k[2] for k in keys],
                "value": pa.array(values, type=pa.float64()),
            }
        ),
        None,
        (),
    )


def test_replicates_stack_in_seed_order_and_refuse_mismatched_runs():
    runs = [made_up([float(8 * s + i) for i in range(8)]) for s in range(4)]
    replicates = Replicates.collect([3, 4, 5, 6], runs)
    long = replicates.long_table().to_pandas()
    assert long["seed"].tolist()[:8] == [3, 4, 5, 6, 3, 4, 5, 6]
    assert long["value"].tolist()[:8] == [0.0, 8.0, 16.0, 24.0, 1.0, 9.0, 17.0, 25.0]
    quantiles = replicates.quantile_table().to_pandas()
    assert quantiles.loc[0, ["median", "q05", "q95"]].tolist() == pytest.approx([12.0, 1.2, 22.8])
    assert replicates.excess_interval() is None and replicates.seed_text() == "seeds 3-6"
    with pytest.raises(ValueError, match="seed 4 has other years"):
        Replicates.collect([3, 4], [runs[0], made_up([0.0] * 8, years=(1957, 1959))])


def test_figures_draw_bands_only_when_given_quantiles(small_results):
    annual = small_results.annual.to_pandas()
    frame = annual.rename(columns={"value": "median"}).assign(q05=annual["value"] * 0.9, q95=annual["value"] * 1.1)
    quantiles = NationalQuantiles.from_frame(frame, (1, 2, 3))
    assert quantiles.median.index.tolist() == [1957, 1958]
    for figure in (national_figure_png, grain_figure_png, industry_figure_png):
        alone = figure(small_results, "t")
        assert figure(small_results, "t", None) == alone  # the single run's figure is unchanged
        banded = figure(small_results, "t", quantiles)
        assert banded[:8] == b"\x89PNG\r\n\x1a\n" and banded != alone
        assert figure(small_results, "t", quantiles) == banded  # deterministic
    assert quantiles.seed_note() == " (seed 1)"
