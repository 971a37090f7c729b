"""The `greatleap` command line: run, validate, scenarios.

Bad input (an unknown key, a wrong type, an out-of-range value, a missing file) prints one line naming
the key and what is allowed, and exits with code 2; nothing is written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from greatleap.core.errors import ConfigError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="greatleap: simulate China's Great Leap Forward command economy (1957-1962).",
)
console = Console(width=None if sys.stdout.isatty() else 160)  # piped output keeps the table whole
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 1000)


def fail(message: str) -> None:
    errors.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _scale_override(scale: str) -> str:
    text = scale.strip()
    if text in ("sample", "full"):
        return f'run.scale="{text}"'
    if text.isdigit() and int(text) >= 1:
        return f"run.scale={int(text)}"
    fail(f"--scale: {scale!r} is not allowed (allowed: sample, full, or a number of communes per province >= 1)")
    raise AssertionError  # unreachable


@app.command()
def run(
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="built-in scenario name or TOML path")
    ] = "historical",
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a parameter: section.key=value")] = None,
    seed: Annotated[int | None, typer.Option(help="seed of every random stream")] = None,
    scale: Annotated[str | None, typer.Option(help="sample | full | communes per province")] = None,
    out: Annotated[Path | None, typer.Option(help="output folder (default runs/<scenario>-<seed>)")] = None,
    profile: Annotated[bool, typer.Option("--profile", help="print the phase plan with time per phase")] = False,
    check: Annotated[bool, typer.Option("--check", help="verify accounting identities every month")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar or summary")] = False,
) -> None:
    """Run a scenario and write monthly.parquet, annual.parquet, manifest.json and figures."""
    from greatleap.compare import recall_date
    from greatleap.output import default_out_dir, write_run
    from greatleap.report import summary_rows, summary_table_rows
    from greatleap.scenario import Scenario
    from greatleap.sim import Sim

    overrides = list(set_ or [])
    if seed is not None:
        if seed < 0:
            fail(f"--seed: {seed} is out of range (allowed: an integer >= 0)")
        overrides.append(f"run.seed={seed}")
    if scale is not None:
        overrides.append(_scale_override(scale))
    try:
        loaded = Scenario.load(scenario, overrides)
    except ConfigError as err:
        fail(str(err))
    out_dir = out or default_out_dir(loaded)
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out: {out_dir} exists and is not a folder")

    sim = Sim(loaded, check=check)
    show = not quiet
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not show,
        transient=True,
    ) as progress:
        task = progress.add_task(f"building {loaded.name}", total=sim.calendar.n_months)
        sim.build()
        progress.update(task, description=f"simulating {loaded.name}")
        results = sim.run(
            on_month=lambda t: progress.update(task, completed=t, description=str(sim.calendar.date(t - 1))[:7])
        )
    assert sim.info is not None
    written = write_run(results, loaded, sim.info, out_dir)

    if show:
        headers, cells = summary_table_rows(summary_rows(results))
        table = Table(title=f"{loaded.name}: national summary beside the official record", title_justify="left")
        for header in headers:
            table.add_column(header, justify="right")
        for row in cells:
            table.add_row(*row)
        console.print(table)
        info = sim.info
        console.print(
            f"{info.persons_initial:,} persons in {info.communes_simulated} simulated communes standing for "
            f"{info.communes_represented:,.0f}; {info.wall_seconds:.1f} s; "
            f"{info.person_months / max(info.wall_seconds, 1e-9) / 1e6:.1f} M person-months/s; "
            f"state {info.state_bytes_per_person:.0f} bytes/person; peak memory "
            f"{info.peak_memory_bytes / 2**20:,.0f} MiB ({info.peak_memory_bytes / max(info.persons_initial, 1):.0f} "
            f"bytes/person)"
        )
        recall = recall_date(results)
        console.print(f"policies recalled: {'never' if recall is None else f'{recall:%Y-%m}'}")
        console.print(f"wrote {len(written)} files to {out_dir}/")
    if profile:
        assert sim.info is not None
        table = Table(title="phase plan (per month, in order)", title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("phase")
        table.add_column("module")
        table.add_column("seconds", justify="right")
        table.add_column("share", justify="right")
        total = sum(s for _, _, s in sim.info.phase_seconds) or 1.0
        for i, (phase, module, seconds) in enumerate(sim.info.phase_seconds, 1):
            table.add_row(str(i), phase, module, f"{seconds:.3f}", f"{100 * seconds / total:.0f}%")
        console.print(table)


@app.command()
def compare(
    names: Annotated[list[str] | None, typer.Argument(help="scenarios (default: every built-in one)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override for every scenario: key=value")] = None,
    seed: Annotated[int | None, typer.Option(help="seed of every run")] = None,
    scale: Annotated[str | None, typer.Option(help="sample | full | communes per province")] = None,
    workers: Annotated[int, typer.Option(help="local worker processes")] = 2,
    markdown: Annotated[bool, typer.Option("--markdown", help="print the README's Markdown table")] = False,
) -> None:
    """Run scenarios side by side: excess deaths 1959-61, the 1960 death rate, grain, procurement."""
    from greatleap.compare import compare as run_compare
    from greatleap.compare import markdown_table
    from greatleap.scenario import Scenario, builtin_names

    chosen = list(names or builtin_names())
    overrides = list(set_ or [])
    if seed is not None:
        overrides.append(f"run.seed={seed}")
    if scale is not None:
        overrides.append(_scale_override(scale))
    if workers < 1:
        fail(f"--workers: {workers} is out of range (allowed: an integer >= 1)")
    try:
        for name in chosen:  # validate everything before running anything
            Scenario.load(name, overrides)
    except ConfigError as err:
        fail(str(err))
    rows = run_compare(chosen, overrides, workers=workers)
    if markdown:
        console.print(markdown_table(rows), markup=False, highlight=False, soft_wrap=True)
        return
    table = Table(title="scenarios side by side (excess deaths over the 1957 death rate)", title_justify="left")
    for header in (
        "scenario",
        "excess deaths 1959-61 (M)",
        "starved (M)",
        "CDR 1960 ‰",
        "grain 1960 Mt",
        "procurement/output 1959",
        "rural kcal 1960",
        "recall",
    ):
        table.add_column(header, justify="left" if header == "scenario" else "right")
    for r in rows:
        table.add_row(
            r.name,
            f"{r.excess_deaths_m:.1f}",
            f"{r.starvation_deaths_m:.1f}",
            f"{r.cdr_1960:.1f}",
            f"{r.grain_output_1960_mt:.0f}",
            f"{r.procurement_ratio_1959:.2f}",
            f"{r.kcal_rural_1960:.0f}",
            r.recall,
        )
    console.print(table)


@app.command()
def validate(file: Annotated[str, typer.Argument(help="scenario TOML file (or built-in name)")]) -> None:
    """Check a scenario without running it."""
    from greatleap.scenario import Scenario

    try:
        loaded = Scenario.load(file)
    except ConfigError as err:
        fail(str(err))
    console.print(f"ok: {file} is a valid scenario ({loaded.name}, config hash {loaded.config_hash()[:12]})")


@app.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    from greatleap.scenario import Scenario, builtin_names

    table = Table(title="built-in scenarios", title_justify="left")
    table.add_column("name")
    table.add_column("description")
    for name in builtin_names():
        table.add_row(name, Scenario.load(name).description)
    console.print(table)


def main() -> None:  # pragma: no cover - the console entry point
    try:
        app()
    except KeyboardInterrupt:
        errors.print("interrupted: no result was written for the unfinished run")
        sys.exit(130)
