"""The policy lab: pull the levers of the Great Leap and see what happens, beside the record.

Started by `greatleap dashboard` (which runs `streamlit run` on this file, bound to 127.0.0.1). The levers
come from the parameter schema (`greatleap.dashboard.levers`); a run is validated and capped in size by
`greatleap.dashboard.runs`, and drawn by `greatleap.dashboard.views`. Nothing typed into the page is
evaluated: it becomes `section.key=value` overrides that the scenario schema validates.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from greatleap.core.errors import ConfigError
from greatleap.dashboard import runs, views
from greatleap.dashboard.levers import Lever, levers, overrides_for
from greatleap.output import parquet_bytes

MAX_SAVED = 4


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _widget(lever: Lever) -> Any:
    """The lever's widget, its label marked with the historical value."""
    label = f"{lever.label} (history: {_format(lever.historical)})"
    key = f"lever:{lever.key}"
    if lever.kind == "toggle":
        return st.toggle(label, value=bool(lever.historical), key=key, help=lever.help)
    if lever.kind in ("choice", "month"):
        options = list(lever.options)
        return st.selectbox(label, options, index=options.index(lever.historical), key=key, help=lever.help)
    if lever.kind == "slider":
        assert lever.low is not None and lever.high is not None
        step = 0.01 if lever.high - lever.low <= 5 else 0.1
        return st.slider(label, lever.low, lever.high, float(lever.historical), step=step, key=key, help=lever.help)
    # integers (the seed): typed, then validated by the schema like everything else
    return st.number_input(label, value=int(lever.historical), step=1, key=key, help=lever.help)


def _sidebar(all_levers: list[Lever]) -> tuple[list[str], int, bool]:
    st.sidebar.header("Levers")
    choices: dict[str, Any] = {}
    group = None
    for lever in all_levers:
        if lever.group != group:
            group = lever.group
            st.sidebar.subheader(group)
        with st.sidebar:
            choices[lever.key] = _widget(lever)
    st.sidebar.subheader("Size")
    largest = runs.largest_page_size()
    communes = st.sidebar.number_input(
        f"Simulated communes per province (the page runs up to {largest}, about a minute)",
        value=runs.DEFAULT_COMMUNES,
        step=1,
        key="scale",
        help="Each simulated commune stands for many real ones; more communes, less sampling noise, longer runs.",
    )
    extra = st.sidebar.text_area(
        "Other parameters, one `section.key=value` per line",
        key="extra",
        help="Any parameter of the scenario schema, e.g. procurement.floor_kg_per_capita_year=220",
    )
    overrides = overrides_for(choices, all_levers) + [line.strip() for line in extra.splitlines() if line.strip()]
    run_clicked = st.sidebar.button("Run", type="primary", key="run")
    return overrides, int(communes), run_clicked


# How a change in each headline number reads: fewer deaths are good news, more grain too; steel is neither.
DELTA_COLORS = {
    "excess deaths 1959-61 (M)": "inverse",
    "death rate 1960 (per mille)": "inverse",
    "grain 1960 (Mt)": "normal",
}


def _headline(results, reference) -> None:
    numbers = views.headline(results)
    base = views.headline(reference) if reference is not None and reference is not results else None
    columns = st.columns(len(numbers))
    for column, (name, value) in zip(columns, numbers.items(), strict=True):
        if isinstance(value, float):
            delta = f"{value - base[name]:+.1f} vs history" if base is not None else None
            column.metric(name, f"{value:.1f}", delta=delta, delta_color=DELTA_COLORS.get(name, "off"))
        else:
            column.metric(name, value)


def main() -> None:
    st.set_page_config(page_title="greatleap: the policy lab", layout="wide")
    st.title("The Great Leap Forward: a policy lab")
    st.caption(
        "Move a lever, press Run, and compare with history. Every run is the simulated economy of 1957-62 "
        "(greatleap); the record's values carry their sources."
    )
    all_levers = levers()
    overrides, communes, run_clicked = _sidebar(all_levers)
    try:
        request = runs.page_run(overrides, communes)
    except ConfigError as err:
        st.error(f"Refused: {err}")
        st.stop()
        return
    results = runs.cached(request)
    if results is None and (run_clicked or "shown" not in st.session_state):
        bar = st.progress(0.0, text="Running...")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total, text=f"Running: month {done} of {total}")

        results = runs.run(request, progress)
        bar.empty()
    if results is None:
        st.info("Levers moved: press Run to simulate them.")
        results = runs.run(runs.page_run(*st.session_state["shown"]))
    else:
        st.session_state["shown"] = (list(request.overrides), request.communes_per_province)
    shown_overrides, shown_communes = st.session_state["shown"]
    reference = runs.cached(runs.page_run([], shown_communes))
    label = "; ".join(shown_overrides) or "history (no lever moved)"
    st.markdown(f"**This run:** {label} · {shown_communes} communes per province")
    _headline(results, reference)

    tab_national, tab_provinces, tab_compare, tab_download = st.tabs(
        ["National series", "Provinces", "Compare saved runs", "Download"]
    )
    with tab_national:
        st.plotly_chart(views.national_figure(results), width="stretch", key="national")
        st.caption(views.HISTORY_NOTE)
    with tab_provinces:
        ranked = views.province_excess(results)
        st.plotly_chart(views.province_map(ranked), width="stretch", key="province_map")
        st.plotly_chart(views.province_figure(ranked), width="stretch", key="provinces")
        st.dataframe(ranked.drop(columns="code"), hide_index=True)
    with tab_compare:
        saved: dict[str, tuple[list[str], int]] = st.session_state.setdefault("saved", {})
        name = st.text_input("Name for this run", value=f"run {len(saved) + 1}", key="save_name")
        if st.button("Save this run for comparison", key="save"):
            if len(saved) >= MAX_SAVED and name not in saved:
                st.warning(f"At most {MAX_SAVED} saved runs: remove one first.")
            else:
                saved[name] = (shown_overrides, shown_communes)
        if saved:
            remove = st.selectbox("Remove a saved run", ["(none)", *saved], key="remove")
            if remove != "(none)" and st.button("Remove", key="remove_button"):
                saved.pop(remove)
                st.rerun()
            compared = {n: runs.run(runs.page_run(*saved[n])) for n in saved}
            st.dataframe(views.comparison_table(compared), hide_index=True)
            st.plotly_chart(views.comparison_figure(compared), width="stretch", key="comparison")
        else:
            st.info("Save up to four runs to see them side by side.")
    with tab_download:
        scenario = runs.page_run(shown_overrides, shown_communes).scenario()
        st.download_button(
            "Annual results (CSV)",
            views.annual_csv(results),
            "greatleap_annual.csv",
            "text/csv",
            key="csv",
            on_click="ignore",
        )
        st.download_button(
            "Annual results (Parquet)",
            parquet_bytes(results.annual),
            "greatleap_annual.parquet",
            "application/octet-stream",
            key="parquet",
            on_click="ignore",
        )
        st.download_button(
            "Scenario (TOML)",
            scenario.to_toml().encode(),
            "greatleap_scenario.toml",
            "application/toml",
            key="toml",
            on_click="ignore",
        )
        st.caption(
            "Rerun the page's experiment from the command line: `greatleap run --scenario greatleap_scenario.toml`"
        )


main()
