"""The comparison figure: every scenario's path beside the record, one panel per quantity.

A table gives one number per scenario; the figure shows when the paths part (the year a counterfactual stops
the fall of grain output, or the rise of the death rate), and how far each stays from the record. Each scenario
is a line, history is black points (the official series, and Banister's adjusted death rate), so a reader sees
at once which counterfactuals the model lets diverge from history and when.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from greatleap.compare import HISTORY_CDR, HISTORY_CDR_ADJUSTED, HISTORY_GRAIN, ScenarioRow
from greatleap.core.io import write_bytes_atomic
from greatleap.report import HISTORY_SOURCE, _history, _png

URBAN_TO_MILLIONS = 1e4 / 1e6  # the official urban population is in 10k persons

# (model variable, title, scale applied to the model's values, recorded series as (variable, label, scale, style))
PANELS = (
    ("grain_output_mt", "Grain output (Mt, unhusked)", 1.0, ((HISTORY_GRAIN, "official (1980s vintage)", 1.0, "o"),)),
    (
        "cdr",
        "Crude death rate (per mille)",
        1.0,
        (
            (HISTORY_CDR, "official (registered)", 1.0, "o"),
            (HISTORY_CDR_ADJUSTED, "Banister 1984 (adjusted)", 1.0, "s"),
        ),
    ),
    (
        "steel_total_mt",
        "Steel, modern and backyard (Mt)",
        1.0,
        (
            ("steel_output_official_usable", "official (usable)", 1.0, "o"),
            ("steel_output_claimed_total", "claimed for 1958 (all, incl. native)", 1.0, "x"),
        ),
    ),
    (
        "urban_population",
        "Urban population (million)",
        1e-6,
        (("population_urban_yearend", "official, year-end", URBAN_TO_MILLIONS, "o"),),
    ),
)


def compare_figure_png(rows: list[ScenarioRow], title: str = "Scenarios beside the record") -> bytes:
    """A four-panel PNG: grain output, crude death rate, steel and the urban population by year, one line per
    scenario and the record as black points. Same rows, same bytes (no timestamp or software tag)."""
    if not rows:
        raise ValueError("compare_figure_png: no scenario to draw")
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), constrained_layout=True)
    fig.suptitle(title)
    colors = plt.get_cmap("tab10" if len(rows) <= 10 else "tab20")
    for ax, (variable, panel_title, scale, recorded) in zip(axes.flat, PANELS, strict=True):
        years_seen: list[int] = []
        for i, row in enumerate(rows):
            series = row.series.get(variable, {})
            years = sorted(series)
            years_seen.extend(years)
            ax.plot(
                years,
                [series[y] * scale for y in years],
                color=colors(i % colors.N),
                linestyle=("-", "--", ":")[i // 10 % 3],
                label=row.name,
                linewidth=1.6,
            )
        if years_seen:
            span = np.array([min(years_seen), max(years_seen)])
            for history_variable, label, history_scale, style in recorded:
                _history(ax, span, history_variable, label, history_scale, style=style, window=(0, 0))
        ax.set_title(panel_title)
        ax.set_ylim(bottom=0)
        ax.legend(*_history_handles(ax, len(rows)), fontsize=7, loc="best")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles[: len(rows)], labels[: len(rows)], loc="outside right upper", fontsize=8, title="scenario")
    fig.supxlabel(f"History: {HISTORY_SOURCE}", fontsize=7, color="gray", x=0.01, ha="left")
    return _png(fig)


def _history_handles(ax, n_scenarios: int) -> tuple[list, list[str]]:
    """The panel's own legend lists only the record; the scenarios share one legend beside the figure."""
    handles, labels = ax.get_legend_handles_labels()
    return handles[n_scenarios:], labels[n_scenarios:]


def write_compare_figure(rows: list[ScenarioRow], path: Path, title: str = "Scenarios beside the record") -> None:
    """Write the comparison figure to `path` atomically (a temporary file beside it, then renamed)."""
    write_bytes_atomic(Path(path), compare_figure_png(rows, title))
