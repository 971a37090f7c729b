"""What the policy lab shows, as plain functions of results (no Streamlit here, so they are tested alone).

The national panels put the run beside the record (`greatleap.history`, each value with its source and
status); the province view maps and ranks excess mortality; the comparison overlays saved runs. Figures are plotly
(interactive in the page); tables are pandas.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from greatleap import history
from greatleap.compare import FAMINE_YEARS, HISTORY_CDR, HISTORY_CDR_ADJUSTED, HISTORY_GRAIN, excess_deaths, recall_date
from greatleap.core.data import provinces
from greatleap.core.results import NATION, Results

TRADE_TO_UNHUSKED = 1 / 0.85  # the record's procurement is in trade grain (food_system.csv conversion)
TEN_THOUSANDS = 1e4


@dataclass(frozen=True)
class Series:
    """One line of a panel: a model variable (times `scale`) or a recorded series (`recorded=True`)."""

    variable: str
    label: str
    scale: float = 1.0
    recorded: bool = False


# (panel title, lines); model lines first, then the record.
PANELS: tuple[tuple[str, tuple[Series, ...]], ...] = (
    (
        "Grain (Mt, unhusked)",
        (
            Series("grain_output_mt", "true output"),
            Series("grain_reported_mt", "reported by cadres"),
            Series("procurement_mt", "procured"),
            Series(HISTORY_GRAIN, "record: output (NBS)", recorded=True),
            Series("grain_output_claimed", "record: claimed", recorded=True),
            Series("procurement_gross", "record: procured (gross)", TRADE_TO_UNHUSKED, recorded=True),
        ),
    ),
    (
        "Steel (Mt)",
        (
            Series("steel_modern_mt", "modern"),
            Series("steel_backyard_mt", "backyard"),
            Series("steel_usable_mt", "usable"),
            Series("steel_output_official_usable", "record: usable", recorded=True),
        ),
    ),
    (
        "Births and deaths (million)",
        (
            Series("births", "births", 1e-6),
            Series("deaths_baseline", "deaths: usual causes", 1e-6),
            Series("deaths_starvation", "deaths: starvation", 1e-6),
            Series("deaths_injury", "deaths: injuries", 1e-6),
            Series("deaths_collapse", "deaths: collapses", 1e-6),
        ),
    ),
    (
        "Crude death rate (per mille)",
        (
            Series("cdr", "true"),
            Series("cdr_registered", "registered"),
            Series(HISTORY_CDR_ADJUSTED, "record: Banister (adjusted)", recorded=True),
            Series(HISTORY_CDR, "record: official (registered)", recorded=True),
        ),
    ),
    (
        "Population (million)",
        (
            Series("population", "total", 1e-6),
            Series("urban_population", "urban", 1e-6),
            Series("population_total_yearend", "record: total, year-end", TEN_THOUSANDS * 1e-6, recorded=True),
            Series("population_urban_yearend", "record: urban, year-end", TEN_THOUSANDS * 1e-6, recorded=True),
        ),
    ),
    (
        "The leadership's prestige (1 = full)",
        (
            Series("prestige", "prestige"),
            Series("campaign_intensity", "campaign intensity"),
        ),
    ),
)

HISTORY_NOTE = (
    "Record: NBS official series and Banister 1984 (shared/data/national_series.csv; each value with its "
    "source and verification status). The model's deaths are true deaths; the official death rate is "
    "registered (under-counted), Banister's corrects it."
)


def national_figure(results: Results, title: str = "") -> go.Figure:
    """The national panels: the run's annual series beside the record."""
    annual = results.annual_national()
    years = list(annual.index)
    figure = make_subplots(rows=3, cols=2, subplot_titles=[title for title, _ in PANELS], vertical_spacing=0.09)
    for i, (_, lines) in enumerate(PANELS):
        row, col = i // 2 + 1, i % 2 + 1
        for line in lines:
            if line.recorded:
                recorded = {y: v for y, v in history.national(line.variable).items() if years[0] <= y <= years[-1]}
                if not recorded:
                    continue
                x, y = zip(*sorted(recorded.items()), strict=True)
                trace = go.Scatter(
                    x=x, y=[v * line.scale for v in y], mode="markers", name=line.label, marker={"symbol": "x"}
                )
            elif line.variable in annual:
                trace = go.Scatter(
                    x=years, y=(annual[line.variable] * line.scale).tolist(), mode="lines", name=line.label
                )
            else:
                continue
            figure.add_trace(trace, row=row, col=col)
    figure.update_layout(height=900, title=title, legend={"font": {"size": 10}}, margin={"t": 80})
    return figure


def province_excess(results: Results) -> pd.DataFrame:
    """Excess mortality by province, 1959-61: deaths above the province's own 1957 death rate, per
    thousand of its 1958 population and in persons, ranked worst first."""
    frame = results.to_pandas("annual")
    frame = frame[(frame["province"] != NATION) & frame["variable"].isin(["deaths", "population", "cdr"])]
    table = frame.pivot_table(index=["province", "year"], columns="variable", values="value")
    names = {p.code: p.name for p in provinces()}
    rows = []
    for code, by_year in table.groupby(level="province"):
        by_year = by_year.droplevel("province")
        if not set(FAMINE_YEARS) <= set(by_year.index) or 1957 not in by_year.index:
            continue
        base = by_year.loc[1957, "cdr"] / 1000.0
        excess = sum(by_year.loc[y, "deaths"] - base * by_year.loc[y, "population"] for y in FAMINE_YEARS)
        population = by_year.loc[1958, "population"] if 1958 in by_year.index else by_year.loc[1957, "population"]
        rows.append(
            {
                "code": code,
                "province": names.get(code, code),
                "excess deaths 1959-61 (thousand)": excess / 1e3,
                "per 1,000 of the 1958 population": 1000.0 * excess / population if population else 0.0,
            }
        )
    ranked = pd.DataFrame(rows).sort_values("per 1,000 of the 1958 population", ascending=False)
    return ranked.reset_index(drop=True)


# A tile map of the 29 provinces of 1957-58: one square each, placed by (row from the north, column from
# the west) so that neighbours stay neighbours; a schematic map that needs no boundary data.
PROVINCE_TILES: dict[str, tuple[int, int]] = {
    "HL": (0, 6),
    "NM": (1, 3), "BJ": (1, 4), "TJ": (1, 5), "JL": (1, 6),
    "XJ": (2, 1), "GS": (2, 2), "NX": (2, 3), "SX": (2, 4), "HE": (2, 5), "LN": (2, 6),
    "XZ": (3, 0), "QH": (3, 1), "SN": (3, 2), "HA": (3, 3), "SD": (3, 4), "JS": (3, 5), "SH": (3, 6),
    "SC": (4, 2), "HB": (4, 3), "AH": (4, 4), "ZJ": (4, 5),
    "YN": (5, 1), "GZ": (5, 2), "HN": (5, 3), "JX": (5, 4), "FJ": (5, 5),
    "GX": (6, 2), "GD": (6, 3),
}  # fmt: skip


def province_map(ranked: pd.DataFrame) -> go.Figure:
    """Excess deaths per 1,000 on a tile map of the provinces (darker: worse), each tile labelled."""
    value_of = dict(zip(ranked["code"], ranked["per 1,000 of the 1958 population"], strict=True))
    name_of = dict(zip(ranked["code"], ranked["province"], strict=True))
    rows = 1 + max(r for r, _ in PROVINCE_TILES.values())
    columns = 1 + max(c for _, c in PROVINCE_TILES.values())
    z: list[list[float | None]] = [[None] * columns for _ in range(rows)]
    text = [[""] * columns for _ in range(rows)]
    names = [[""] * columns for _ in range(rows)]
    for code, (row, column) in PROVINCE_TILES.items():
        if code in value_of:
            z[row][column] = round(float(value_of[code]), 1)
            text[row][column] = f"{code}<br>{value_of[code]:.0f}"
            names[row][column] = name_of[code]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            text=text,
            customdata=names,
            texttemplate="%{text}",
            textfont={"size": 14},
            hovertemplate="%{customdata}: %{z} per 1,000<extra></extra>",
            colorscale="Reds",
            colorbar={"title": "per 1,000"},
            xgap=3,
            ygap=3,
        )
    )
    figure.update_layout(
        height=640,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        title="Excess deaths 1959-61 per 1,000 persons: a tile map of the provinces (hover for names)",
        xaxis={"visible": False},
        yaxis={"visible": False, "autorange": "reversed", "scaleanchor": "x"},
        plot_bgcolor="white",
    )
    return figure


def province_figure(ranked: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=ranked["per 1,000 of the 1958 population"].tolist(),
            y=ranked["province"].tolist(),
            orientation="h",
            name="excess",
        )
    )
    figure.update_layout(
        height=700,
        title="Excess deaths 1959-61 per 1,000 persons, by province",
        yaxis={"autorange": "reversed"},
        margin={"l": 120},
    )
    return figure


def headline(results: Results) -> dict[str, float | str]:
    """The numbers a run is judged by first (with the record beside them on the page)."""
    annual = results.annual_national()
    recall = recall_date(results)
    return {
        "excess deaths 1959-61 (M)": excess_deaths(results) / 1e6,
        "death rate 1960 (per mille)": float(annual.loc[1960, "cdr"]) if 1960 in annual.index else float("nan"),
        "grain 1960 (Mt)": float(annual.loc[1960, "grain_output_mt"]) if 1960 in annual.index else float("nan"),
        "steel 1958 (Mt)": float(annual.loc[1958, "steel_total_mt"]) if 1958 in annual.index else float("nan"),
        "recall": recall.strftime("%Y-%m") if recall else "none",
    }


def comparison_table(runs: dict[str, Results]) -> pd.DataFrame:
    """One row per saved run: its headline numbers."""
    return pd.DataFrame([{"run": name, **headline(results)} for name, results in runs.items()])


def comparison_figure(runs: dict[str, Results]) -> go.Figure:
    """Death rate and grain output of the saved runs, side by side, with the record."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=["Crude death rate (per mille)", "Grain output (Mt)"])
    annuals = {name: results.annual_national() for name, results in runs.items()}
    for col, (variable, recorded) in enumerate((("cdr", HISTORY_CDR_ADJUSTED), ("grain_output_mt", HISTORY_GRAIN)), 1):
        for name, annual in annuals.items():
            figure.add_trace(
                go.Scatter(
                    x=list(annual.index),
                    y=annual[variable].tolist(),
                    mode="lines",
                    name=f"{name}",
                    legendgroup=name,
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
        record = sorted(history.national(recorded).items())
        record = [(y, v) for y, v in record if 1957 <= y <= 1962]
        figure.add_trace(
            go.Scatter(
                x=[y for y, _ in record],
                y=[v for _, v in record],
                mode="markers",
                name="record",
                marker={"symbol": "x", "color": "black"},
                showlegend=col == 1,
            ),
            row=1,
            col=col,
        )
    figure.update_layout(height=420)
    return figure


def annual_csv(results: Results) -> bytes:
    """Every annual series of every province and the nation, tidy, as CSV."""
    buffer = io.StringIO()
    results.to_pandas("annual").to_csv(buffer, index=False)
    return buffer.getvalue().encode()
