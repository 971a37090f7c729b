"""What the page draws: the run beside the record, provinces ranked, saved runs compared."""

import io

import pandas as pd
import pytest

from greatleap.compare import excess_deaths
from greatleap.dashboard import views


def test_province_excess_adds_up_to_about_the_nations(historical_run):
    ranked = views.province_excess(historical_run)
    assert len(ranked) == 29  # every simulated province
    per_mille = ranked["per 1,000 of the 1958 population"]
    assert per_mille.is_monotonic_decreasing
    # Each province against its own 1957 rate: the total differs from the national figure only by the
    # mix of rates, a few per cent.
    total = ranked["excess deaths 1959-61 (thousand)"].sum() * 1e3
    assert total == pytest.approx(excess_deaths(historical_run), rel=0.05)


def test_the_province_map_puts_every_province_on_its_own_tile_with_its_value(historical_run):
    ranked = views.province_excess(historical_run)
    assert set(views.PROVINCE_TILES) == set(ranked["code"])  # every province of the data has a tile
    assert len(set(views.PROVINCE_TILES.values())) == len(views.PROVINCE_TILES)  # one province per tile
    heatmap = views.province_map(ranked).data[0]
    for code, value in zip(ranked["code"], ranked["per 1,000 of the 1958 population"], strict=True):
        row, column = views.PROVINCE_TILES[code]
        assert heatmap.z[row][column] == pytest.approx(value, abs=0.05)
    assert heatmap.z[0][0] is None  # the sea and the deserts stay empty
    sichuan, beijing = views.PROVINCE_TILES["SC"], views.PROVINCE_TILES["BJ"]
    assert sichuan[0] > beijing[0] and sichuan[1] < beijing[1]  # Sichuan lies south-west of Beijing


def test_the_national_figure_puts_the_record_beside_the_run(historical_run):
    figure = views.national_figure(historical_run)
    names = {trace.name for trace in figure.data}
    assert {"true output", "reported by cadres", "record: output (NBS)", "record: Banister (adjusted)"} <= names
    record = next(trace for trace in figure.data if trace.name == "record: output (NBS)")
    assert dict(zip(record.x, record.y, strict=True))[1960] == pytest.approx(143.5)
    model = next(trace for trace in figure.data if trace.name == "true output")
    assert list(model.x) == list(range(1957, 1963))


def test_headline_and_downloads(historical_run):
    numbers = views.headline(historical_run)
    assert numbers["excess deaths 1959-61 (M)"] == pytest.approx(excess_deaths(historical_run) / 1e6)
    assert numbers["recall"] == "1960-11"
    table = pd.read_csv(io.BytesIO(views.annual_csv(historical_run)))
    assert list(table.columns) == ["year", "province", "variable", "value"]
    assert len(table) == historical_run.annual.num_rows
    compared = views.comparison_table({"a": historical_run, "b": historical_run})
    assert list(compared["run"]) == ["a", "b"]
