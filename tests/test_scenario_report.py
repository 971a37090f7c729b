"""The scenario report: medians and intervals over replicates, paired changes against `historical`, the report
and the README table written from the same runs, and the CLI refusing bad input before running anything."""

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from greatleap import scenario_report as sr
from greatleap.cli import app
from greatleap.scenario import Scenario, builtin_names
from greatleap.version import __version__

SMALL = ("run.scale=1", 'run.end="1961-12"')  # the last year the report reads is 1961
NAMES = ["historical", "honest_reports"]
COMMAND = "greatleap scenario-report historical honest_reports --replicates 2 --seed 1 --scale 1"
README = Path(__file__).parents[1] / "README.md"
ROW = re.compile(r"^\| `(\w+)` \|", flags=re.MULTILINE)  # as tests/test_readme.py reads the table
runner = CliRunner()


@pytest.fixture(scope="module")
def report() -> sr.Report:
    """Two scenarios on two seeds at one commune per province: four runs."""
    return sr.run_report(NAMES, replicates=2, first_seed=1, overrides=SMALL, workers=2)


def test_interval_is_numpys_linear_percentile():
    interval = sr.Interval.of([0.0, 10.0])
    assert (interval.low, interval.median, interval.high) == (0.5, 5.0, 9.5)
    assert sr.Interval.of([3.0]) == sr.Interval(3.0, 3.0, 3.0)  # one replicate: no spread
    assert interval.text(1) == "5.0 [0.5, 9.5]" and interval.text(0, signed=True) == "+5 [+0, +10]"


def test_report_names_are_every_builtin_but_the_thought_experiment():
    names = sr.report_names()
    assert names[0] == "historical" and set(names) == set(builtin_names()) - {"ration_cut"}
    assert "test of the famine mechanism" in Scenario.load("ration_cut").description


def test_jobs_run_every_scenario_on_the_same_seeds_with_the_reference_first():
    jobs = sr.report_jobs(["no_exports"], replicates=3, first_seed=7, overrides=["run.scale=1"])
    assert [(j.scenario, j.overrides) for j in jobs] == [
        (name, ("run.scale=1", f"run.seed={seed}")) for name in ("historical", "no_exports") for seed in (7, 8, 9)
    ]
    with pytest.raises(ValueError, match="replicates: 0 is out of range"):
        sr.report_jobs(NAMES, replicates=0, first_seed=1)


def test_medians_lie_inside_their_intervals_and_changes_are_paired(report):
    assert [s.name for s in report.summaries] == NAMES
    assert report.seeds == (1, 2) and report.scale == "1"
    for summary in report.summaries:
        for metric in (*sr.METRICS, *sr.EXTRA):
            values = summary.values[metric.key]
            interval = summary.interval(metric.key)
            assert len(values) == 2 and np.isfinite(values).all()
            assert interval.low <= interval.median <= interval.high
            assert interval.median == pytest.approx(np.mean(values))  # two replicates: the median is the mean
        assert summary.values["excess_deaths_m"][0] != summary.values["excess_deaths_m"][1]  # seeds differ
    reference, honest = report.summaries
    for metric in sr.METRICS:
        assert sr.paired_change(reference, reference, metric.key) == sr.Interval(0.0, 0.0, 0.0)
    change = sr.paired_change(honest, reference, "excess_deaths_m")
    per_seed = np.subtract(honest.values["excess_deaths_m"], reference.values["excess_deaths_m"])
    assert change.median == pytest.approx(float(np.median(per_seed)))
    assert change.high < 0  # honest reports: fewer excess deaths on every seed
    assert 5 < reference.interval("excess_deaths_m").median < 80  # millions, 1959-61
    assert 50 < reference.interval("grain_output_1960_mt").median < 250
    assert 1 < reference.interval("steel_total_1958_mt").median < 30
    assert reference.recall_text() == "1960-11"  # the Twelve Articles, in every replicate


def test_the_report_has_one_row_per_scenario_and_says_how_it_was_made(report):
    text = sr.report_markdown(report, COMMAND)
    assert text == sr.report_markdown(report, COMMAND)  # deterministic: no timestamp
    summary = text[text.index("## Summary") : text.index("## The record")]
    assert ROW.findall(summary) == NAMES
    assert f"`{COMMAND}`" in text and f"greatleap {__version__}" in text and "seeds 1-2" in text
    assert "scale `1`" in text and '`run.end="1961-12"`' in text
    honest = text[text.index("## `honest_reports`") :]
    assert Scenario.load("honest_reports").description in honest
    excess = next(line for line in honest.splitlines() if line.startswith("| excess deaths"))
    cells = [c.strip() for c in excess.split("|")[1:-1]]
    median = report.summaries[1].interval("excess_deaths_m").median
    assert float(cells[1]) == pytest.approx(median, abs=0.05)
    assert float(cells[3]) < 0  # the paired change
    assert "143.5 Mt" in text and "44.6 per mille" in text  # the record beside the measures


def test_the_readme_table_replaces_only_the_text_between_the_markers(report, tmp_path):
    original = README.read_text(encoding="utf-8")
    block = sr.readme_block(report, COMMAND)
    updated = sr.replace_between_markers(original, block)
    head, tail = original.split(sr.README_BEGIN)[0], original.split(sr.README_END)[1]
    assert updated.startswith(head + sr.README_BEGIN + "\n" + block + sr.README_END)
    assert updated.endswith(sr.README_END + tail)
    assert sr.replace_between_markers(updated, block) == updated  # idempotent
    table = updated[updated.index(sr.README_BEGIN) : updated.index(sr.README_END)]
    assert ROW.findall(table) == NAMES
    assert "| history |" in table and "25.4 (Banister 44.6)" in table
    honest = next(line for line in table.splitlines() if line.startswith("| `honest_reports`"))
    assert re.search(r"\| -\d+\.\d \[-\d+\.\d, -\d+\.\d\] \|", honest)  # the paired change with its interval
    with pytest.raises(ValueError, match="exactly one"):
        sr.replace_between_markers("no markers here", block)

    readme = tmp_path / "README.md"
    readme.write_text(original, encoding="utf-8")
    out = tmp_path / "docs" / "scenarios.md"
    assert sr.write_report(report, COMMAND, out, readme) == [out, readme]
    first = (out.read_bytes(), readme.read_bytes())
    sr.write_report(report, COMMAND, out, readme)
    assert (out.read_bytes(), readme.read_bytes()) == first  # same runs, same bytes
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["README.md", "docs", "scenarios.md"]  # no temp files


def test_cli_writes_the_report_and_the_readme_table(report, tmp_path, monkeypatch):
    calls = []

    def fake_run_report(names, replicates, first_seed, overrides, workers, on_done):  # the module's runs
        calls.append((names, replicates, first_seed, overrides, workers))
        return report

    monkeypatch.setattr(sr, "run_report", fake_run_report)
    readme = tmp_path / "README.md"
    readme.write_text(README.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "scenarios.md"
    args = ["scenario-report", *NAMES, "--replicates", "2", "--scale", "1", "--set", 'run.end="1961-12"']
    result = runner.invoke(app, [*args, "--workers", "1", "--out", str(out), "--readme", str(readme), "-q"])
    assert result.exit_code == 0, result.output
    assert calls == [(NAMES, 2, 1, ['run.end="1961-12"', "run.scale=1"], 1)]
    text = out.read_text(encoding="utf-8")
    assert "--replicates 2 --seed 1 --scale 1 --set 'run.end=\"1961-12\"'" in text and "--workers" not in text
    table = readme.read_text(encoding="utf-8").split(sr.README_BEGIN)[1].split(sr.README_END)[0]
    assert ROW.findall(table) == NAMES


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replicates", "0"], "error: --replicates: 0 is out of range (allowed: an integer >= 1)"),
        (["historical", "utopia"], "error: scenario: 'utopia' is neither a built-in scenario"),
        (["--scale", "huge"], "error: --scale: 'huge' is not allowed"),
        (["--set", "nutrition.intake_scale=7"], "error: nutrition.intake_scale: 7 is out of range"),
        (["--workers", "0"], "error: --workers: 0 is out of range"),
        (["historical", "--readme", "{tmp}/no_such_README.md"], "error: --readme: cannot read"),
        (["historical", "--readme", "{tmp}/plain.md"], "error: --readme: the README needs exactly one"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, message):
    plain = tmp_path / "plain.md"
    plain.write_text("# no markers\n", encoding="utf-8")
    out = tmp_path / "out" / "scenarios.md"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = runner.invoke(app, ["scenario-report", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith(message) and len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.md"]
