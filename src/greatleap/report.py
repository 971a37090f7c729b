"""What a run shows a person: the summary beside history, and figures.

History comes from `greatleap.history`. The official vital rates of the time under-registered deaths and
births, so the model's true rates (`cdr`, `cbr`) are shown beside Banister's adjusted series and its
registered rates (`cdr_registered`, `cbr_registered`: true events times the registration completeness
declared in `demography`) beside the official ones.

Given replicate runs (`greatleap run --replicates N`), the figures draw each simulated yearly series as the median
over the replicates with the 5-95% band shaded; the monthly panels stay those of the first seed. Without
replicates the figures are those of the one run, unchanged.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no screen: figures are files
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from greatleap import history
from greatleap.core.results import NATION, Results

HISTORY_SOURCE = "official NBS series (shared/data/national_series.csv; sources per value)"
BAND_ALPHA = 0.25  # the shading of a 5-95% band over replicates
QUANTILE_COLUMNS = ("median", "q05", "q95")


@dataclass(frozen=True)
class NationalQuantiles:
    """National yearly values over replicate runs: the median and the 5th and 95th percentiles (frames indexed by
    year, one column per variable), and the seeds they come from (the first is the run whose monthly series the
    figures show)."""

    median: pd.DataFrame
    q05: pd.DataFrame
    q95: pd.DataFrame
    seeds: tuple[int, ...]

    @classmethod
    def from_frame(cls, quantiles: pd.DataFrame, seeds: tuple[int, ...]) -> NationalQuantiles:
        """From the tidy quantile table (year, province, variable, median, q05, q95): its national rows."""
        national = quantiles[quantiles["province"] == NATION]
        frames = [national.pivot(index="year", columns="variable", values=c).sort_index() for c in QUANTILE_COLUMNS]
        return cls(*frames, seeds=tuple(seeds))

    def seed_note(self) -> str:
        """The monthly panels' provenance: the first seed's run."""
        return f" (seed {self.seeds[0]})"


def _annual_line(ax, x, national, quantiles: NationalQuantiles | None, column: str, style: str, per: float = 1.0, **kw):
    """One simulated yearly series (divided by `per`): the run's values, or with replicates their median with the
    5-95% band shaded in the line's colour."""
    if quantiles is None:
        return ax.plot(x, national[column] / per, style, **kw)
    (line,) = ax.plot(x, quantiles.median[column] / per, style, **kw)
    low, high = quantiles.q05[column] / per, quantiles.q95[column] / per
    ax.fill_between(x, low, high, color=line.get_color(), alpha=BAND_ALPHA, linewidth=0)
    return [line]


def _annual_bars(ax, x, national, quantiles: NationalQuantiles | None, column: str, per: float = 1.0, **kw):
    """Yearly bars (divided by `per`): the run's values, or with replicates their median with the 5-95% interval
    as an error bar."""
    if quantiles is None:
        return ax.bar(x, national[column] / per, **kw)
    median, low, high = (q[column].to_numpy() / per for q in (quantiles.median, quantiles.q05, quantiles.q95))
    return ax.bar(x, median, yerr=[median - low, high - median], ecolor="dimgray", capsize=2, **kw)


def _history(
    ax, years: np.ndarray, variable: str, label: str, scale: float = 1.0, style: str = "o--", window=(2, 1)
) -> None:
    """The official series of `variable` (times `scale`) as black points, over the simulated years widened by
    `window` (years before, years after)."""
    series = history.national(variable)
    xs = sorted(y for y in series if years.min() - window[0] <= y <= years.max() + window[1])
    if xs:
        ax.plot(xs, [series[y] * scale for y in xs], style, color="black", label=label, markersize=4)


def _legend_with_twin(ax, twin, **kwargs) -> None:
    """One legend for an axis and its twin."""
    handles, labels = ax.get_legend_handles_labels()
    twin_handles, twin_labels = twin.get_legend_handles_labels()
    ax.legend(handles + twin_handles, labels + twin_labels, **kwargs)


def _panels(results: Results, title: str):
    """What every run figure starts from: the national annual table, its years, and a titled 2 x 2 figure."""
    national = results.annual_national()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), constrained_layout=True)
    fig.suptitle(title)
    return national, national.index.to_numpy(), fig, axes


def _png(fig) -> bytes:
    """The figure as PNG bytes (no software tag: same run, same bytes), and closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


@dataclass(frozen=True)
class SummaryRow:
    year: int
    population_m: float
    population_official_m: float | None
    births_m: float
    deaths_m: float
    deaths_starvation_m: float
    cbr: float
    cbr_banister: float | None
    cbr_registered: float
    cbr_official: float | None
    cdr: float
    cdr_banister: float | None
    cdr_registered: float
    cdr_official: float | None
    kcal_per_capita: float
    grain_output_mt: float
    grain_output_official_mt: float | None
    grain_reported_mt: float
    procurement_ratio: float


def summary_rows(results: Results) -> list[SummaryRow]:
    """One row per simulated year: national figures beside the official series."""
    return national_summary_rows(results.annual_national())


def national_summary_rows(national: pd.DataFrame) -> list[SummaryRow]:
    """`summary_rows` of a frame of national yearly values (indexed by year, one column per variable): one run's,
    or a quantile over replicates (`NationalQuantiles.median`)."""
    official_pop = history.national("population_total_yearend")  # 10k persons
    official_cbr = history.national("crude_birth_rate_official")
    official_cdr = history.national("crude_death_rate_official")
    banister_cbr = history.national("crude_birth_rate_banister_adjusted")
    banister_cdr = history.national("crude_death_rate_banister_adjusted")
    official_grain = history.national("grain_output_official_revised_vintage")
    rows = []
    for year, row in national.iterrows():
        year = int(year)
        rows.append(
            SummaryRow(
                year=year,
                population_m=row["population"] / 1e6,
                population_official_m=official_pop[year] / 100.0 if year in official_pop else None,
                births_m=row["births"] / 1e6,
                deaths_m=row["deaths"] / 1e6,
                deaths_starvation_m=row["deaths_starvation"] / 1e6,
                cbr=row["cbr"],
                cbr_banister=banister_cbr.get(year),
                cbr_registered=row["cbr_registered"],
                cbr_official=official_cbr.get(year),
                cdr=row["cdr"],
                cdr_banister=banister_cdr.get(year),
                cdr_registered=row["cdr_registered"],
                cdr_official=official_cdr.get(year),
                kcal_per_capita=row["kcal_per_capita"],
                grain_output_mt=row["grain_output_mt"],
                grain_output_official_mt=official_grain.get(year),
                grain_reported_mt=row["grain_reported_mt"],
                procurement_ratio=row["procurement_ratio"],
            )
        )
    return rows


def national_figure_png(results: Results, title: str, quantiles: NationalQuantiles | None = None) -> bytes:
    """A four-panel PNG: population, crude death rate, crude birth rate, food and deaths by cause. With
    `quantiles` (replicates) the yearly series are medians with 5-95% bands."""
    national, years, fig, axes = _panels(results, title)
    q = quantiles

    ax = axes[0, 0]
    _annual_line(ax, years, national, q, "population", "o-", 1e6, label="simulated (year-end)")
    _history(ax, years, "population_total_yearend", "official", 0.01, window=(5, 3))
    ax.set_title("Population (million)")
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    _annual_line(ax, years, national, q, "cdr", "o-", label="simulated, true")
    _annual_line(ax, years, national, q, "cdr_registered", "s:", color="tab:blue", label="simulated, registered")
    _history(ax, years, "crude_death_rate_banister_adjusted", "Banister 1984 (adjusted)", window=(5, 3))
    _history(ax, years, "crude_death_rate_official", "official (registered)", style="x--", window=(5, 3))
    ax.set_title("Crude death rate (per mille)")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    _annual_line(ax, years, national, q, "cbr", "o-", label="simulated, true")
    _annual_line(ax, years, national, q, "cbr_registered", "s:", color="tab:blue", label="simulated, registered")
    _history(ax, years, "crude_birth_rate_banister_adjusted", "Banister 1984 (adjusted)", window=(5, 3))
    _history(ax, years, "crude_birth_rate_official", "official (registered)", style="x--", window=(5, 3))
    ax.set_title("Crude birth rate (per mille)")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    monthly = results.monthly_national()
    ax.plot(monthly.index, monthly["kcal_per_capita"], color="tab:green", label="kcal eaten / person / day")
    ax.plot(
        monthly.index, monthly["kcal_need_per_capita"], color="tab:olive", ls=":", label="kcal needed (at current mass)"
    )
    ax.set_ylabel("kcal per person per day")
    ax.set_title("Food and deaths by cause" + ("" if q is None else q.seed_note()))
    twin = ax.twinx()
    width = 20
    twin.bar(
        monthly.index,
        monthly["deaths_baseline"] / 1e3,
        width=width,
        color="tab:gray",
        alpha=0.5,
        label="deaths, baseline (thousand/month)",
    )
    twin.bar(
        monthly.index,
        monthly["deaths_starvation"] / 1e3,
        width=width,
        bottom=monthly["deaths_baseline"] / 1e3,
        color="tab:red",
        alpha=0.6,
        label="deaths, starvation",
    )
    twin.set_ylabel("deaths (thousand per month)")
    _legend_with_twin(ax, twin, fontsize=7, loc="lower left")

    fig.supxlabel(f"History: {HISTORY_SOURCE}", fontsize=7, color="gray", x=0.01, ha="left")
    return _png(fig)


TRADE_TO_UNHUSKED = 1.0 / 0.85  # nutrition.csv unhusked_to_trade_grain (estimated)


def grain_figure_png(results: Results, title: str, quantiles: NationalQuantiles | None = None) -> bytes:
    """A four-panel PNG of the food system: output true, reported and official; procurement; stocks; food. With
    `quantiles` (replicates) the yearly series are medians with 5-95% bands."""
    national, years, fig, axes = _panels(results, title)
    q = quantiles
    monthly = results.monthly_national()

    ax = axes[0, 0]
    _annual_line(ax, years, national, q, "grain_output_mt", "o-", label="simulated, true")
    _annual_line(
        ax, years, national, q, "grain_reported_mt", "s:", color="tab:red", label="simulated, reported by cadres"
    )
    _history(ax, years, "grain_output_official_revised_vintage", "official (revised)")
    _history(ax, years, "grain_output_claimed", "claimed at the time", style="x")
    ax.set_title("Grain output (Mt, unhusked)")
    ax.legend(fontsize=7)

    ax = axes[0, 1]
    _annual_line(ax, years, national, q, "procurement_mt", "o-", label="simulated procurement")
    _history(ax, years, "procurement_net_of_resales", "official net (trade grain / 0.85)", TRADE_TO_UNHUSKED)
    _history(ax, years, "procurement_gross", "official gross (trade grain / 0.85)", TRADE_TO_UNHUSKED, "x:")
    twin = ax.twinx()
    _annual_line(twin, years, national, q, "procurement_ratio", "d-", color="tab:purple", label="procurement / output")
    highest = national["procurement_ratio"] if q is None else q.q95["procurement_ratio"]
    twin.set_ylim(0, max(0.8, float(highest.max()) * 1.1))
    ax.set_title("Procurement (Mt) and its share of output")
    _legend_with_twin(ax, twin, fontsize=7, loc="upper left")

    ax = axes[1, 0]
    for column, label in (
        ("state_stock_mt", "state pool"),
        ("granary_mt", "collective granaries"),
        ("private_stock_mt", "households' stores"),
    ):
        ax.plot(monthly.index, monthly[column], label=label)
    ax.set_title("Grain stocks at the month's end (Mt)" + ("" if q is None else q.seed_note()))
    ax.legend(fontsize=7)

    ax = axes[1, 1]
    ax.plot(monthly.index, monthly["kcal_per_capita_rural"], label="rural kcal / person / day")
    ax.plot(monthly.index, monthly["kcal_per_capita_urban"], label="urban kcal / person / day")
    ax.set_ylabel("kcal per person per day")
    twin = ax.twinx()
    twin.fill_between(
        monthly.index, monthly["messhall_share"], color="tab:orange", alpha=0.2, label="share eating in mess halls"
    )
    twin.set_ylim(0, 1.05)
    ax.set_title("Food eaten, and the mess halls" + ("" if q is None else q.seed_note()))
    _legend_with_twin(ax, twin, fontsize=7, loc="lower left")
    fig.supxlabel(
        f"History: {HISTORY_SOURCE}; trade grain converted at 0.85", fontsize=7, color="gray", x=0.01, ha="left"
    )
    return _png(fig)


def industry_figure_png(results: Results, title: str, quantiles: NationalQuantiles | None = None) -> bytes:
    """A four-panel PNG of industry, the cities and politics: steel beside the official series, the state's
    industry and workers, the urban population with the recruits, prestige and the recall. With `quantiles`
    (replicates) the yearly series are medians with 5-95% bands."""
    national, years, fig, axes = _panels(results, title)
    q = quantiles
    monthly = results.monthly_national()

    ax = axes[0, 0]
    _annual_line(ax, years, national, q, "steel_modern_mt", "o-", label="simulated, modern")
    _annual_line(ax, years, national, q, "steel_backyard_mt", "s-", color="tab:brown", label="simulated, backyard")
    _annual_line(ax, years, national, q, "steel_usable_mt", "d:", color="tab:green", label="simulated, usable")
    _history(ax, years, "steel_output_official_usable", "official (usable)")
    _history(ax, years, "steel_output_claimed_total", "claimed in 1958 (all)", style="x")
    ax.set_title("Steel and iron (Mt)")
    ax.legend(fontsize=7)

    ax = axes[0, 1]
    _annual_line(ax, years, national, q, "soe_workers", "o-", 1e6, label="simulated state workers (M)")
    _history(ax, years, "state_sector_employees", "official state employees (M)", 1e4 / 1e6)
    twin = ax.twinx()
    _annual_line(
        twin, years, national, q, "industrial_output_index", "d-", color="tab:purple", label="output index (1957=1)"
    )
    twin.set_ylim(bottom=0)
    ax.set_title("State industry: workers, and output over 1957's")
    _legend_with_twin(ax, twin, fontsize=7, loc="upper left")

    ax = axes[1, 0]
    _annual_line(ax, years, national, q, "urban_population", "o-", 1e6, label="simulated urban population (M)")
    _history(ax, years, "population_urban_yearend", "official, year-end (M)", 1e4 / 1e6)
    _annual_bars(ax, years - 0.2, national, q, "recruits", 1e6, width=0.4, alpha=0.4, label="recruited (M)")
    _annual_bars(ax, years + 0.2, national, q, "workers_sent_back", 1e6, width=0.4, alpha=0.4, label="sent back (M)")
    ax.set_title("The cities: growth with the recruits, and the sending-down")
    ax.legend(fontsize=7)

    ax = axes[1, 1]
    ax.plot(monthly.index, monthly["prestige"], label="the leadership's prestige")
    ax.plot(monthly.index, monthly["campaign_intensity"], label="campaign intensity")
    recalled = monthly.index[monthly["recalled"] >= 1]
    if len(recalled):
        ax.axvline(recalled[0], color="black", linestyle=":", label=f"recall ({recalled[0]:%Y-%m})")
    twin = ax.twinx()
    mid_year = [dt.date(int(y), 7, 1) for y in years]
    _annual_line(
        twin, mid_year, national, q, "injuries", "x--", 1e6, color="tab:red", label="injuries at work (M a year)"
    )
    twin.set_ylim(bottom=0)
    ax.set_ylim(0, 1.05)
    ax.set_title("Politics" + ("" if q is None else q.seed_note()) + ", and injuries at work")
    _legend_with_twin(ax, twin, fontsize=7, loc="lower left")
    fig.supxlabel(f"History: {HISTORY_SOURCE}", fontsize=7, color="gray", x=0.01, ha="left")
    return _png(fig)


def age_pattern_figure_png(results: Results, title: str) -> bytes:
    """Starvation death rates by age group over time: who dies first."""
    national = results.annual_national()
    years = national.index.to_numpy()
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    for group, label in (("0_4", "0-4"), ("5_14", "5-14"), ("15_59", "15-59"), ("60_plus", "60+")):
        ax.plot(years, national[f"starvation_death_rate_{group}"], "o-", label=f"aged {label}")
    ax.set_title(f"{title}: starvation deaths per 1000 a year, by age")
    ax.legend(fontsize=8)
    ax.set_ylim(bottom=0)
    return _png(fig)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:,.{digits}f}"


def _with_interval(rows: list[SummaryRow], low: list[SummaryRow] | None, high: list[SummaryRow] | None):
    """A cell formatter for the main columns: the value, and with replicates `median [q05-q95]`."""

    def cell(i: int, field: str, digits: int) -> str:
        text = _fmt(getattr(rows[i], field), digits)
        if low is None or high is None:
            return text
        return f"{text} [{_fmt(getattr(low[i], field), digits)}-{_fmt(getattr(high[i], field), digits)}]"

    return cell


def summary_table_rows(
    rows: list[SummaryRow], low: list[SummaryRow] | None = None, high: list[SummaryRow] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted cells of the summary (used by the CLI's rich table). With replicates, `rows` are the
    medians and `low`, `high` the 5th and 95th percentiles: deaths, starved, CDR and grain then read
    `median [q05-q95]`."""
    main = _with_interval(rows, low, high)
    headers = [
        "year",
        "pop. (M)",
        "official",
        "deaths (M)",
        "starved (M)",
        "CBR ‰",
        "Banister",
        "registered",
        "official",
        "CDR ‰",
        "Banister",
        "registered",
        "official",
        "grain (Mt)",
        "official",
        "reported",
        "procured",
        "kcal/day",
    ]
    cells = [
        [
            str(r.year),
            _fmt(r.population_m),
            _fmt(r.population_official_m),
            main(i, "deaths_m", 2),
            main(i, "deaths_starvation_m", 2),
            _fmt(r.cbr),
            _fmt(r.cbr_banister),
            _fmt(r.cbr_registered),
            _fmt(r.cbr_official),
            main(i, "cdr", 1),
            _fmt(r.cdr_banister),
            _fmt(r.cdr_registered),
            _fmt(r.cdr_official),
            main(i, "grain_output_mt", 0),
            _fmt(r.grain_output_official_mt, 0),
            _fmt(r.grain_reported_mt, 0),
            f"{100 * r.procurement_ratio:.0f}%",
            _fmt(r.kcal_per_capita, 0),
        ]
        for i, r in enumerate(rows)
    ]
    return headers, cells
