"""The `greatleap` command line: run, compare, calibrate, sensitivity, validate, scenarios, dashboard.

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


@app.callback()
def _environment() -> None:
    """Check the environment the commands read (GREATLEAP_KERNELS) before any work starts."""
    from greatleap.core import kernels

    try:
        kernels.backend()
    except ConfigError as err:
        fail(str(err))


console = Console(width=None if sys.stdout.isatty() else 160)  # piped output keeps the table whole
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 1000)


def fail(message: str) -> None:
    errors.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _progress(disable: bool = False) -> Progress:
    """The progress bar every command shows (months of a run, runs of an ensemble, trials of a fit)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=disable,
        transient=True,
    )


def _require_at_least(option: str, value: int, minimum: int) -> None:
    """The one-line refusal of a count or seed below its minimum."""
    if value < minimum:
        fail(f"{option}: {value} is out of range (allowed: an integer >= {minimum})")


def _scale_override(scale: str) -> str:
    text = scale.strip()
    if text in ("sample", "full"):
        return f'run.scale="{text}"'
    if text.isdigit() and int(text) >= 1:
        return f"run.scale={int(text)}"
    fail(f"--scale: {scale!r} is not allowed (allowed: sample, full, or a number of communes per province >= 1)")
    raise AssertionError  # unreachable


def _sample_scale_override(scale: str) -> str:
    """`--scale` for commands that run a scenario many times: a sample, never every commune."""
    if scale.strip() == "full":
        fail("--scale: 'full' is not allowed here (allowed: sample, or a number of communes per province >= 1)")
    return _scale_override(scale)


def _report_run(loaded, info, results, reps, written: list[Path], out_dir: Path, show: bool, profile: bool) -> None:
    """The summary beside the record (and the phase plan under --profile) after a run or a resumed run."""
    from greatleap.compare import recall_date
    from greatleap.report import summary_rows, summary_table_rows

    replicates = 1 if reps is None else len(reps.seeds)

    if show:
        headers, cells = summary_table_rows(summary_rows(results)) if reps is None else reps.summary_table_rows()
        title = f"{loaded.name}: national summary beside the official record"
        if reps is not None:
            title += f"; median [5-95%] of {replicates} replicates ({reps.seed_text()})"
        table = Table(title=title, title_justify="left")
        for header in headers:
            table.add_column(header, justify="right")
        for row in cells:
            table.add_row(*row)
        if reps is not None:
            table.caption = "simulated: medians over the replicates; deaths, starved, CDR, grain: median [5-95%]"
            table.caption_justify = "left"
        if reps is not None and not console.is_terminal:  # piped: the table with intervals whole, at its own width
            Console(width=console.measure(table, options=console.options.update_width(1000)).maximum).print(table)
        else:
            console.print(table)
        if reps is not None and reps.excess_text() is not None:
            console.print(reps.excess_text(), markup=False, highlight=False)
        console.print(
            f"{info.persons_initial:,} persons in {info.communes_simulated} simulated communes standing for "
            f"{info.communes_represented:,.0f}; {info.wall_seconds:.1f} s; "
            f"{info.person_months / max(info.wall_seconds, 1e-9) / 1e6:.1f} M person-months/s; "
            f"state {info.state_bytes_per_person:.0f} bytes/person; peak memory "
            f"{info.peak_memory_bytes / 2**20:,.0f} MiB ({info.peak_memory_bytes / max(info.persons_initial, 1):.0f} "
            f"bytes/person)" + ("" if reps is None else f" (the first replicate, seed {loaded.run.seed})")
        )
        recall = recall_date(results)
        first = "" if reps is None else f" (seed {loaded.run.seed})"
        console.print(f"policies recalled{first}: {'never' if recall is None else f'{recall:%Y-%m}'}")
        console.print(f"wrote {len(written)} files to {out_dir}/")
    if profile:
        table = Table(title="phase plan (per month, in order)", title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("phase")
        table.add_column("module")
        table.add_column("seconds", justify="right")
        table.add_column("share", justify="right")
        total = sum(s for _, _, s in info.phase_seconds) or 1.0
        for i, (phase, module, seconds) in enumerate(info.phase_seconds, 1):
            table.add_row(str(i), phase, module, f"{seconds:.3f}", f"{100 * seconds / total:.0f}%")
        console.print(table)


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
    replicates: Annotated[
        int, typer.Option(help="runs on seeds S, S+1, ...: medians and 5-95% bands beside the first seed's run")
    ] = 1,
    workers: Annotated[
        int | None,
        typer.Option(
            help="processes sharing the provinces (same results for any number; default: the cores, 1 with "
            "--checkpoint-every); with --replicates: processes for the replicates (default 2)"
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(help="run the workers on Ray: local (started here, on 127.0.0.1), auto or HOST:PORT"),
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="threads sharing the provinces (same results for any number; default: cores)")
    ] = None,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(help="save the state every K months into OUT/checkpoint/ (continue with `greatleap resume OUT`)"),
    ] = None,
) -> None:
    """Run a scenario and write monthly.parquet, annual.parquet, manifest.json and figures (with --replicates N,
    also replicates.parquet and annual_quantiles.parquet, and the figures and summary over the replicates)."""
    from greatleap.core import checkpoint
    from greatleap.core.calendar import Calendar
    from greatleap.ensemble import Job, run_jobs, seeds
    from greatleap.scenario import Scenario
    from greatleap.sim import Sim, available_cores

    _require_at_least("--replicates", replicates, 1)
    if workers is not None:
        _require_at_least("--workers", workers, 1)
    if replicates == 1 and workers is None:  # a single run uses the machine's cores; a checkpointed one, one
        workers = 1 if checkpoint_every is not None else available_cores()
    sharded = replicates == 1 and ((workers or 1) > 1 or address is not None)
    if threads is not None:
        _require_at_least("--threads", threads, 1)
    if checkpoint_every is not None:
        _require_at_least("--checkpoint-every", checkpoint_every, 1)
        if replicates > 1:
            fail("--checkpoint-every: not with --replicates (allowed: checkpoints of a single run)")
        if sharded:
            fail("--checkpoint-every: not with --workers or --address (allowed: checkpoints of a one-process run)")
    if address is not None:
        from greatleap.ensemble import require_ray

        try:
            require_ray()
        except ConfigError as err:
            fail(str(err))
    overrides = list(set_ or [])
    if seed is not None:
        _require_at_least("--seed", seed, 0)
        overrides.append(f"run.seed={seed}")
    if scale is not None:
        overrides.append(_scale_override(scale))
    try:
        loaded = Scenario.load(scenario, overrides)
        replicate_seeds = seeds(loaded.run.seed, replicates)
        jobs = [Job(scenario, (*overrides, f"run.seed={s}")) for s in replicate_seeds[1:]]  # the first runs here
        for job in jobs:  # validate every seed before running anything
            job.load()
    except ConfigError as err:
        fail(str(err))
    out_dir = out or loaded.default_out_dir()
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out: {out_dir} exists and is not a folder")

    show = not quiet
    if sharded:
        from greatleap.distributed import run_sharded

        n_workers = workers or 2
        where = "Ray workers" if address is not None else "processes"
        with _progress(disable=not show) as progress:
            n_months = Calendar.parse(loaded.run.start, loaded.run.end).n_months
            task = progress.add_task(f"simulating {loaded.name} on {n_workers} {where}", total=n_months)
            try:
                results, info = run_sharded(
                    loaded, n_workers, backend="processes" if address is None else "ray", address=address,
                    check=check, on_month=lambda t: progress.update(task, completed=t),
                    while_building=_import_output,
                )  # fmt: skip
            except ConfigError as err:
                fail(str(err))
        from greatleap.output import write_run

        written = write_run(results, loaded, info, out_dir, processes=available_cores())
        _report_run(loaded, info, results, None, written, out_dir, show, profile)
        return
    sim = Sim(loaded, check=check, threads=threads or available_cores())
    reps = None
    with _progress(disable=not show) as progress:
        if replicates > 1:
            runs_task = progress.add_task(f"replicates of {loaded.name}", total=replicates)
        task = progress.add_task(f"building {loaded.name}", total=sim.calendar.n_months)
        sim.build()
        progress.update(task, description=f"simulating {loaded.name}")
        results = sim.run(
            on_month=lambda t: progress.update(task, completed=t, description=str(sim.calendar.date(t - 1))[:7]),
            checkpoint_every=checkpoint_every,
            checkpoint_to=out_dir,
        )
        if replicates > 1:  # the first seed ran here (its monthly series and figures); the others in workers
            from greatleap.replicates import Replicates, replicate_values

            progress.update(task, visible=False)
            progress.advance(runs_task)
            others = run_jobs(
                jobs, replicate_values, workers=workers or 2, address=address,
                on_done=lambda _: progress.advance(runs_task),
            )  # fmt: skip
            reps = Replicates.collect(replicate_seeds, [replicate_values(results), *others])
    assert sim.info is not None
    from greatleap.output import write_run

    written = write_run(results, loaded, sim.info, out_dir, reps, processes=available_cores())
    if checkpoint_every is not None:
        checkpoint.discard(out_dir)
    _report_run(loaded, sim.info, results, reps, written, out_dir, show, profile)


def _import_output() -> None:
    """Import the output's modules (matplotlib, pyarrow: half a second) while a sharded run's workers build:
    they are needed only at the end, and the workers, forked before, do without them."""
    import greatleap.output  # noqa: F401


@app.command()
def resume(
    folder: Annotated[Path, typer.Argument(help="the folder of a run saved with --checkpoint-every")],
    threads: Annotated[
        int | None, typer.Option(help="threads sharing the provinces (same results for any number; default: cores)")
    ] = None,
    checkpoint_every: Annotated[int | None, typer.Option(help="go on saving the state every K months")] = None,
    profile: Annotated[bool, typer.Option("--profile", help="print the phase plan with time per phase")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar or summary")] = False,
) -> None:
    """Continue a run from its last checkpoint and write its results into FOLDER, the same bytes an unbroken
    run writes."""
    from greatleap.core import checkpoint
    from greatleap.output import write_run
    from greatleap.sim import Sim, available_cores

    if threads is not None:
        _require_at_least("--threads", threads, 1)
    if checkpoint_every is not None:
        _require_at_least("--checkpoint-every", checkpoint_every, 1)
    try:
        sim = Sim.resume(folder, threads=threads or available_cores())
    except ConfigError as err:
        fail(str(err))
    show = not quiet
    with _progress(disable=not show) as progress:
        n_months = sim.calendar.n_months
        task = progress.add_task(f"resuming {sim.scenario.name}", total=n_months, completed=sim.resumed_at)
        results = sim.run(
            on_month=lambda t: progress.update(task, completed=t, description=str(sim.calendar.date(t - 1))[:7]),
            checkpoint_every=checkpoint_every,
            checkpoint_to=folder,
        )
    assert sim.info is not None
    written = write_run(results, sim.scenario, sim.info, folder, processes=available_cores())
    checkpoint.discard(folder)
    _report_run(sim.scenario, sim.info, results, None, written, folder, show, profile)


@app.command()
def compare(
    names: Annotated[list[str] | None, typer.Argument(help="scenarios (default: every built-in one)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override for every scenario: key=value")] = None,
    seed: Annotated[int | None, typer.Option(help="seed of every run")] = None,
    scale: Annotated[str | None, typer.Option(help="sample | full | communes per province")] = None,
    workers: Annotated[int, typer.Option(help="local worker processes")] = 2,
    markdown: Annotated[bool, typer.Option("--markdown", help="print the README's Markdown table")] = False,
    figure: Annotated[
        Path | None, typer.Option(help="also write a PNG: grain, death rate, steel, cities by year, beside history")
    ] = None,
) -> None:
    """Run scenarios side by side: excess deaths 1959-61, the 1960 death rate, grain, procurement; history beside
    them where the record has a value."""
    from greatleap.compare import compare as run_compare
    from greatleap.compare import history_row, markdown_table
    from greatleap.scenario import Scenario, builtin_names

    chosen = list(names or builtin_names())
    overrides = list(set_ or [])
    if seed is not None:
        overrides.append(f"run.seed={seed}")
    if scale is not None:
        overrides.append(_scale_override(scale))
    _require_at_least("--workers", workers, 1)
    try:
        for name in chosen:  # validate everything before running anything
            Scenario.load(name, overrides)
    except ConfigError as err:
        fail(str(err))
    if figure is not None and figure.is_dir():
        fail(f"--figure: {figure} is a folder (allowed: a PNG file path)")
    rows = run_compare(chosen, overrides, workers=workers)
    if figure is not None:
        from greatleap.compare_figure import write_compare_figure

        write_compare_figure(rows, figure)
    if markdown:
        console.print(markdown_table(rows, with_history=True), markup=False, highlight=False, soft_wrap=True)
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
    record = history_row()  # the record where it has a value; excess deaths have only estimates, left blank
    table.add_row("history", "", "", record.cdr_cell(), record.grain_cell(), "", "", "", style="bold")
    table.caption = "history: NBS registered CDR (Banister 1984's adjusted CDR); NBS grain output, 1980s vintage"
    table.caption_justify = "left"
    console.print(table)
    if figure is not None:
        console.print(f"wrote {figure}")


@app.command("scenario-report")
def scenario_report(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="scenarios (default: every built-in counterfactual; a subset leaves the README alone)"),
    ] = None,
    replicates: Annotated[int, typer.Option(help="seeds per scenario, the same for every scenario")] = 5,
    seed: Annotated[int, typer.Option(help="first seed: seeds S, S+1, ...")] = 1,
    scale: Annotated[str | None, typer.Option(help="sample | full | communes per province")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override for every run: section.key=value")] = None,
    workers: Annotated[int, typer.Option(help="local worker processes")] = 2,
    out: Annotated[Path, typer.Option(help="the report (Markdown)")] = Path("docs/scenarios.md"),
    readme: Annotated[
        Path | None, typer.Option(help="README whose scenario table is regenerated (default README.md for all)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Every built-in counterfactual over replicate seeds: docs/scenarios.md (medians, 90% intervals, paired
    changes against historical) and the README's scenario table, from the same runs."""
    from greatleap import scenario_report as sr

    _require_at_least("--replicates", replicates, 1)
    _require_at_least("--seed", seed, 0)
    _require_at_least("--workers", workers, 1)
    overrides = list(set_ or [])
    if scale is not None:
        overrides.append(_scale_override(scale))
    if readme is None and not names:
        readme = Path("README.md")
    if out.is_dir():
        fail(f"--out: {out} is a folder (allowed: a Markdown file path)")
    try:
        jobs = sr.report_jobs(names or sr.report_names(), replicates, seed, overrides)
        for job in {j.scenario: j for j in jobs}.values():  # validate everything before running anything
            job.load()
        if readme is not None:
            sr.check_readme(readme)
    except ConfigError as err:
        fail(str(err))
    except ValueError as err:
        fail(f"--readme: {err}")
    command = sr.command_line(names, replicates, seed, scale, set_ or [], out, readme)
    with _progress(disable=quiet) as progress:
        task = progress.add_task("scenario runs", total=len(jobs))
        report = sr.run_report(
            names, replicates, seed, overrides, workers=workers, on_done=lambda _: progress.advance(task)
        )
    for path in sr.write_report(report, command, out, readme):
        console.print(f"wrote {path}")


@app.command()
def sensitivity(
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="built-in scenario name or TOML path")
    ] = "historical",
    set_: Annotated[list[str] | None, typer.Option("--set", help="override for every run: section.key=value")] = None,
    trajectories: Annotated[int, typer.Option(help="Morris trajectories r: r x (parameters + 1) + 1 runs")] = 10,
    levels: Annotated[int, typer.Option(help="grid levels across each parameter's range (even)")] = 4,
    seed: Annotated[int, typer.Option(help="seed of the Morris design (the model's: --set run.seed=N)")] = 1,
    scale: Annotated[str | None, typer.Option(help="sample | communes per province")] = None,
    parameters: Annotated[str | None, typer.Option(help="free parameters to vary: key,key (default all)")] = None,
    workers: Annotated[int, typer.Option(help="local worker processes")] = 2,
    out: Annotated[Path | None, typer.Option(help="output folder (default runs/sensitivity-<scenario>)")] = None,
) -> None:
    """Morris screening of the free parameters on excess deaths 1959-61, grain 1960 and steel 1958."""
    from greatleap import sensitivity as sa
    from greatleap.scenario import Scenario

    overrides = list(set_ or [])
    if scale is not None:
        overrides.append(_sample_scale_override(scale))
    _require_at_least("--seed", seed, 0)
    keys = None if parameters is None else [key.strip() for key in parameters.split(",") if key.strip()]
    try:
        chosen = sa.validate(scenario, overrides, trajectories, levels, keys, workers)
        loaded = Scenario.load(scenario, overrides)
    except ConfigError as err:
        fail(str(err))
    out_dir = out or Path("runs") / f"sensitivity-{loaded.name}"
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out: {out_dir} exists and is not a folder")

    total = sa.run_count(trajectories, len(chosen))
    with _progress() as progress:
        task = progress.add_task(f"{loaded.name}: runs", total=total)
        rows = sa.sensitivity(
            scenario, overrides, trajectories, levels, seed, keys, workers, on_done=lambda _: progress.advance(task)
        )
    title = (
        f"{loaded.name}, scale {loaded.run.scale}, {len(chosen)} parameters, r={trajectories}, levels={levels}, "
        f"seed={seed}, {total} runs"
    )
    sa.write_sensitivity(rows, out_dir, title)
    table = Table(title=f"Morris sensitivity: {title}", title_justify="left")
    for header in ("output", "rank", "parameter", "mu*", "± 95%", "sigma", "mu", "mu* / base"):
        table.add_column(header, justify="left" if header in ("output", "parameter") else "right")
    for r in rows:
        label, unit = sa.output_label(r.output)
        table.add_row(
            f"{label} ({unit})" if r.rank == 1 else "",
            str(r.rank),
            r.parameter,
            f"{r.mu_star:.4g}",
            f"{r.mu_star_conf:.2g}",
            f"{r.sigma:.4g}",
            f"{r.mu:.4g}",
            f"{r.relative:.1%}",
        )
    console.print(table)
    console.print(f"wrote {', '.join(sa.FILES)} to {out_dir}/")


@app.command()
def calibrate(
    trials: Annotated[int, typer.Option(help="runs of the model (the first at the declared defaults)")] = 40,
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="scenario to fit")] = "historical",
    set_: Annotated[list[str] | None, typer.Option("--set", help="fixed override: section.key=value")] = None,
    seed: Annotated[int, typer.Option(help="seed of the sampler and of every run")] = 1,
    scale: Annotated[str | None, typer.Option(help="sample | communes per province")] = None,
    parameters: Annotated[
        str | None, typer.Option(help="comma-separated free parameters to fit (default: all)")
    ] = None,
    workers: Annotated[int, typer.Option(help="local worker processes (trials run in batches of this size)")] = 2,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("runs/calibration"),
) -> None:
    """Fit the free parameters to the national series (Optuna) and write fitted.toml, report.md and the loss
    history."""
    import shlex

    from greatleap.calibration import calibrate as run_calibration
    from greatleap.calibration import criteria, write_calibration
    from greatleap.ensemble import require_years
    from greatleap.free_parameters import chosen_parameters, refuse_overrides_of
    from greatleap.scenario import Scenario

    _require_at_least("--trials", trials, 1)
    _require_at_least("--workers", workers, 1)
    _require_at_least("--seed", seed, 0)
    overrides = [*(set_ or []), f"run.seed={seed}"]
    if scale is not None:
        overrides.append(_sample_scale_override(scale))
    try:
        keys = None if parameters is None else [key.strip() for key in parameters.split(",") if key.strip()]
        chosen = tuple(chosen_parameters(keys))
        refuse_overrides_of(chosen, set_ or [])
        require_years(Scenario.load(scenario, overrides), 1957, 1962)
    except ConfigError as err:
        fail(str(err))
    if out.exists() and not out.is_dir():
        fail(f"--out: {out} exists and is not a folder")
    # The command as it can be rerun (the output folder left out: it does not change the fit).
    words = ["greatleap", "calibrate", "--trials", str(trials), "--seed", str(seed), "--workers", str(workers)]
    if scenario != "historical":
        words += ["--scenario", scenario]
    if scale is not None:
        words += ["--scale", scale]
    if parameters is not None:
        words += ["--parameters", ",".join(p.key for p in chosen)]
    for assignment in set_ or []:
        words += ["--set", assignment]
    command = shlex.join(words)
    with _progress() as progress:
        task = progress.add_task("calibrating", total=trials)
        best = [float("inf")]

        def on_trial(done: int, value: float) -> None:
            best[0] = min(best[0], value)
            progress.update(task, completed=done, description=f"calibrating (best loss {best[0]:.4f})")

        result = run_calibration(
            trials, scenario, tuple(overrides), chosen, seed=seed, workers=workers, on_trial=on_trial
        )
    written = write_calibration(result, out, command)
    values, value, output = result.best
    table = Table(title=f"fitted free parameters (loss {value:.5f})", title_justify="left")
    table.add_column("parameter")
    table.add_column("fitted", justify="right")
    for key, fitted in values.items():
        table.add_row(key, f"{fitted:.4g}")
    console.print(table)
    for c in criteria(output):
        console.print(f"{'PASS' if c.passed else 'FAIL'}  {c.name}: {c.detail}", markup=False, highlight=False)
    console.print(f"wrote {len(written)} files to {out}/")


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


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(help="port to serve the page on")] = 8501,
    host: Annotated[str, typer.Option(help="address to bind (127.0.0.1: this machine only)")] = "127.0.0.1",
) -> None:
    """Start the policy lab in the browser (Streamlit) at http://HOST:PORT; stop it with Ctrl-C."""
    import importlib.util
    import subprocess

    if not 1 <= port <= 65535:
        fail(f"--port: {port} is out of range (allowed: an integer from 1 to 65535)")
    if not host.strip() or any(c.isspace() for c in host):
        fail(f"--host: {host!r} is not allowed (allowed: an address or host name, e.g. 127.0.0.1)")
    if importlib.util.find_spec("streamlit") is None:
        fail("dashboard: Streamlit is not installed (allowed: install the extra, pip install 'greatleap[dashboard]')")
    app_path = Path(__file__).parent / "dashboard" / "app.py"
    command = [
        sys.executable, "-m", "streamlit", "run", str(app_path),
        "--server.address", host, "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    console.print(f"the policy lab: http://{host}:{port} (Ctrl-C stops it)")
    raise typer.Exit(subprocess.call(command))


@app.command()
def sweep(
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", help="a parameter to vary: KEY=LOW:HIGH (grid: KEY=LOW:HIGH:LEVELS) or KEY=V1,V2,..."
        ),
    ] = None,
    scenario: Annotated[
        str | None, typer.Option("--scenario", "-s", help="built-in scenario name or TOML path (default historical)")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="fixed override for every run: key=value")] = None,
    design: Annotated[str | None, typer.Option(help="grid | sobol | latin (default grid)")] = None,
    points: Annotated[int | None, typer.Option(help="points of a sobol or latin design (Sobol: best 2^k)")] = None,
    levels: Annotated[int | None, typer.Option(help="grid levels of each range (default 3)")] = None,
    seeds: Annotated[int | None, typer.Option(help="replicate seeds per point: S, S+1, ... (default 1)")] = None,
    seed: Annotated[int | None, typer.Option(help="first seed S, also the sobol or latin design's (default 1)")] = None,
    scale: Annotated[str | None, typer.Option(help="sample | communes per province")] = None,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            help="a summary output: VARIABLE:YEAR or excess_deaths (default: excess deaths 1959-61, cdr 1960, "
            "grain 1960, steel 1958)",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="local worker processes (with --address local: Ray's CPUs)")] = 2,
    address: Annotated[
        str | None,
        typer.Option(help="run on Ray: local (started here, bound to 127.0.0.1), auto, or a cluster's address"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="output folder (default runs/sweep-<scenario>); a sweep's folder resumes it")
    ] = None,
    summary_only: Annotated[
        bool, typer.Option("--summary-only", help="summarize the runs finished so far; run nothing")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar or table")] = False,
) -> None:
    """Run a design of parameter values x seeds, one Parquet file per run (resumable: a rerun of the same command,
    or `--out FOLDER` alone, runs only the missing runs), then summary.csv and summary.png over the finished
    runs."""
    from greatleap import sweep as sw
    from greatleap.ensemble import require_ray
    from greatleap.scenario import Scenario

    _require_at_least("--workers", workers, 1)
    try:
        if address is not None and not summary_only:
            require_ray()
        if not param:  # resume (or summarize) the sweep stored in --out, from its own arguments
            given = {"--scenario": scenario, "--set": set_, "--design": design, "--points": points}
            given |= {"--levels": levels, "--seeds": seeds, "--seed": seed, "--scale": scale}
            named = [option for option, value in given.items() if value is not None]
            if named:
                fail(f"{named[0]}: needs --param (allowed: the sweep's full arguments, or --out FOLDER alone)")
            stored = None if out is None else sw.load_sweep(out)
            if stored is None:
                where = "" if out is None else f" and {out} holds no sweep"
                fail(f"--param: none given{where} (allowed: KEY=LOW:HIGH or KEY=V1,V2,..., or a sweep's --out)")
            assert stored is not None
            planned = stored
            sw.check_scenario(planned)
        else:
            overrides = list(set_ or [])
            if scale is not None:
                overrides.append(_sample_scale_override(scale))
            first, count = 1 if seed is None else seed, 1 if seeds is None else seeds
            planned = sw.plan(
                scenario or "historical", overrides, param, design or "grid", points, levels, count, first, output
            )
        outputs = sw.outputs_for(output, planned)
        out_dir = out or Path("runs") / f"sweep-{Scenario.load(planned.scenario, list(planned.overrides)).name}"
        if out_dir.exists() and not out_dir.is_dir():
            fail(f"--out: {out_dir} exists and is not a folder")
        total = len(planned.runs())
        if summary_only:
            stored = sw.load_sweep(out_dir)
            if stored is None:
                fail(f"--out: {out_dir} holds no sweep to summarize (allowed: a sweep's folder)")
            assert stored is not None
            sw.check_same(out_dir, planned, stored)
            planned = stored
        else:
            with sw.locked(out_dir):
                planned = sw.prepare(out_dir, planned)
                todo = sw.missing_runs(out_dir, planned)
                if not quiet:
                    console.print(f"{out_dir}: {total - len(todo)} of {total} runs done; running {len(todo)}")
                with _progress(disable=quiet) as progress:
                    task = progress.add_task(f"sweep of {planned.scenario}", total=len(todo))
                    try:
                        sw.execute(out_dir, planned, todo, workers, address, lambda _: progress.advance(task))
                    except ConfigError:
                        raise
                    except Exception as err:  # a failed run: the finished ones are saved; one line, no traceback
                        line = str(err).strip().splitlines()[0] if str(err).strip() else ""
                        progress.stop()
                        errors.print(
                            f"error: a run failed ({type(err).__name__}: {line}); the finished runs are saved in "
                            f"{out_dir}/{sw.RUNS_DIR}/, and the same command resumes",
                            markup=False,
                            highlight=False,
                            soft_wrap=True,
                        )
                        raise typer.Exit(1) from None
        outputs = sw.outputs_for(output, planned)  # the stored sweep's outputs when --output is not given
    except ConfigError as err:
        fail(str(err))

    summary = sw.summarize(out_dir, planned, outputs)
    if summary.finished == 0:
        console.print(f"{out_dir}: no run has finished yet; no summary written")
        return
    sw.write_summary(summary, out_dir)
    if quiet:
        return
    shown = 40
    table = Table(
        title=f"sweep: {sw.title(planned, summary.finished)}; median [5-95%] over seeds", title_justify="left"
    )
    for header in ("point", *(p.key for p in planned.parameters), "runs", *(o.label for o in outputs)):
        table.add_column(header, justify="right")
    for point in sorted(summary.per_point)[:shown]:
        values = [sw.value_text(v) for v in planned.values[point]]
        cells = []
        for o in outputs:
            interval = summary.per_point[point][o.name]
            cell = sw.number(interval.median)
            if summary.runs_per_point[point] > 1:
                cell += f" [{sw.number(interval.low)}, {sw.number(interval.high)}]"
            cells.append(cell)
        table.add_row(str(point), *values, f"{summary.runs_per_point[point]}/{planned.seed_count}", *cells)
    if len(summary.per_point) > shown:
        table.caption = f"the first {shown} of {len(summary.per_point)} points; every one is in summary.csv"
        table.caption_justify = "left"
    if not console.is_terminal:  # piped: the table whole, at its own width
        Console(width=console.measure(table, options=console.options.update_width(1000)).maximum).print(table)
    else:
        console.print(table)
    console.print(
        f"wrote {sw.RUNS_DIR}/ ({summary.finished} of {total} runs), {', '.join(sw.SUMMARY_FILES)} to {out_dir}/"
    )


def main() -> None:  # pragma: no cover - the console entry point
    try:
        app()
    except KeyboardInterrupt:
        errors.print("interrupted: no result was written for the unfinished run")
        sys.exit(130)
