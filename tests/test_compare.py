"""`compare` beside history: the rows carry the yearly series for the figure, the table gets a history row
where the record has a value, and the figure is a PNG, the same bytes on a second identical call."""

import pytest
from typer.testing import CliRunner

from greatleap import history
from greatleap.cli import app
from greatleap.compare import FIGURE_VARIABLES, compare, history_row, markdown_table
from greatleap.compare_figure import compare_figure_png, write_compare_figure

SMALL = ["run.scale=1", 'run.end="1961-12"']  # excess deaths read 1959-61
PNG = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


@pytest.fixture(scope="module")
def rows():
    return compare(["historical", "honest_reports"], SMALL, workers=2)


def test_rows_carry_the_yearly_series_of_the_figure(rows):
    assert [r.name for r in rows] == ["historical", "honest_reports"]
    for row in rows:
        assert set(row.series) == set(FIGURE_VARIABLES)
        assert all(sorted(s) == list(range(1957, 1962)) for s in row.series.values())
        assert row.series["cdr"][1960] == pytest.approx(row.cdr_1960)
        assert row.series["grain_output_mt"][1960] == pytest.approx(row.grain_output_1960_mt)
        assert 50e6 < row.series["urban_population"][1957] < 200e6
    assert rows[1].excess_deaths_m < rows[0].excess_deaths_m


def test_history_row_holds_the_recorded_1960_values():
    record = history_row()
    assert record.cdr_1960 == history.national("crude_death_rate_official")[1960] == 25.43
    assert record.cdr_1960_adjusted == history.national("crude_death_rate_banister_adjusted")[1960] == 44.6
    assert record.grain_output_1960_mt == history.national("grain_output_official_1980s_vintage")[1960] == 143.5
    assert record.cdr_cell() == "25.4 (Banister 44.6)" and record.grain_cell() == "144"


def test_markdown_table_adds_history_last_and_keeps_the_scenario_rows(rows):
    plain = markdown_table(rows)
    with_history = markdown_table(rows, with_history=True)
    assert with_history.startswith(plain.rstrip("\n"))
    last = with_history.splitlines()[-1]
    cells = [c.strip() for c in last.split("|")[1:-1]]
    assert cells[0] == "history" and cells[2:4] == ["", ""]  # no recorded excess deaths: blank
    assert cells[4:6] == ["25.4 (Banister 44.6)", "144"]


def test_compare_figure_is_a_png_with_the_same_bytes_on_a_second_call(rows, tmp_path):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    write_compare_figure(rows, first)
    write_compare_figure(rows, second)
    assert first.read_bytes()[:8] == PNG and first.read_bytes() == second.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]  # no temporary file left
    assert compare_figure_png(rows[:1]) != first.read_bytes()
    with pytest.raises(ValueError, match="no scenario"):
        compare_figure_png([])


def test_cli_compare_prints_history_and_writes_the_figure(rows, tmp_path, monkeypatch):
    calls = []

    def fake_compare(names, overrides, workers):  # the module's runs, not a second set
        calls.append((names, overrides, workers))
        return rows

    monkeypatch.setattr("greatleap.compare.compare", fake_compare)
    figure = tmp_path / "compare.png"
    args = ["compare", "historical", "honest_reports", "--scale", "1", "--set", 'run.end="1961-12"']
    result = runner.invoke(app, [*args, "--workers", "1", "--figure", str(figure)])
    assert result.exit_code == 0, result.output
    assert calls == [(["historical", "honest_reports"], ['run.end="1961-12"', "run.scale=1"], 1)]
    history_line = next(line for line in result.output.splitlines() if "history" in line and "Banister" in line)
    assert "25.4 (Banister 44.6)" in history_line and "144" in history_line
    assert figure.read_bytes() == compare_figure_png(rows)


def test_cli_compare_refuses_a_folder_as_figure_before_running(tmp_path):
    result = runner.invoke(app, ["compare", "historical", "--figure", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith("error: --figure:") and len(result.output.strip().splitlines()) == 1
