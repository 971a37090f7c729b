"""Writing a run to its folder: Parquet tables, a JSON manifest and PNG figures, each atomically.

The manifest is written last: a folder with a manifest holds a complete run. With replicates
(`greatleap.replicates`) the folder holds the first seed's run as a single run would, plus every replicate's
annual values and their quantiles; the figures then draw medians with 5-95% bands.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import multiprocessing
import platform
import subprocess
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from greatleap.compare import recall_date
from greatleap.core.data import file_sha256
from greatleap.core.io import write_bytes_atomic, write_text_atomic
from greatleap.core.results import Results
from greatleap.replicates import Replicates
from greatleap.report import age_pattern_figure_png, grain_figure_png, industry_figure_png, national_figure_png
from greatleap.scenario import Scenario
from greatleap.sim import RunInfo, machine
from greatleap.version import __version__

DATA_FILES = (
    "provinces_1957.csv",
    "age_sex_1953.csv",
    "life_table_1950s.csv",
    "fertility_1957.csv",
    "nutrition.csv",
    "national_series.csv",
    "national_series_added.csv",
    "death_toll_estimates.csv",
    "provincial_leaders.csv",
    "food_system.csv",
)
REPLICATE_FILES = ("replicates.parquet", "annual_quantiles.parquet")
PACKAGES = ("numpy", "pyarrow", "pydantic", "matplotlib", "typer", "rich")


def parquet_bytes(table: pa.Table) -> bytes:
    """A table as Parquet bytes; deterministic for equal tables (no timestamps in the metadata)."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# The commit the code was loaded from, read when this module is imported: a full-scale run takes an hour,
# and the checkout may move on before its manifest is written.
GIT_COMMIT_AT_START = _git_commit()


def _package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def manifest(
    scenario: Scenario, info: RunInfo, results: Results | None = None, replicates: Replicates | None = None
) -> dict:
    """What the run was and what it cost (`info`: the first seed's run); with replicates, their seeds too."""
    run = scenario.run
    recall = recall_date(results) if results is not None else None
    entries = {
        "scenario": scenario.name,
        "description": scenario.description,
        "seed": run.seed,
        "scale": run.scale,
        "parameters": scenario.to_dict(),
        "config_hash": scenario.config_hash(),
        "recall_date": None if recall is None else f"{recall:%Y-%m}",
        "greatleap_version": __version__,
        "git_commit": GIT_COMMIT_AT_START,
        "packages": _package_versions(),
        "machine": machine(),
        "input_data_sha256": {name: file_sha256(name) for name in DATA_FILES},
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(info.wall_seconds, 3),
        "threads": info.threads,
        "workers": info.workers,
        "kernels": info.kernels,
        "resumed_at_month": info.resumed_at,
        "peak_memory_bytes": info.peak_memory_bytes,
        "persons_initial": info.persons_initial,
        "person_months": info.person_months,
        "state_bytes_per_person": info.state_bytes_per_person,
        "peak_memory_bytes_per_person": round(info.peak_memory_bytes / max(info.persons_initial, 1), 1),
        "communes_simulated": info.communes_simulated,
        "communes_represented": round(info.communes_represented, 3),
        "phase_seconds": [{"phase": p, "module": m, "seconds": round(s, 4)} for p, m, s in info.phase_seconds],
        "files": [
            "monthly.parquet",
            "annual.parquet",
            "national.png",
            "grain.png",
            "industry.png",
            "starvation_by_age.png",
        ],
    }
    if replicates is not None:
        entries["replicate_seeds"] = list(replicates.seeds)
        entries["files"] += list(REPLICATE_FILES)
    return entries


REPLICATE_FILES = ("replicates.parquet", "annual_quantiles.parquet")


def draw_figures(drawers: dict[str, Callable[[], bytes]], processes: int = 1) -> dict[str, bytes]:
    """Each figure's PNG bytes, by name. With `processes` > 1 where processes can be forked, the figures are
    dealt out in turn (the first to this process, the second to a forked child, ...) and drawn at once: a
    child inherits the results, draws its figures and sends their bytes back on a pipe. The bytes are those
    drawn here; a figure whose child failed, or could not be forked (a full-scale run's process is large), is
    drawn here (and raises here if it fails again)."""
    names = list(drawers)
    n_groups = max(1, min(processes, len(names)))
    if n_groups == 1 or "fork" not in multiprocessing.get_all_start_methods():
        return {name: drawers[name]() for name in names}
    groups = [names[i::n_groups] for i in range(n_groups)]
    context = multiprocessing.get_context("fork")
    children = []
    for group in groups[1:]:
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_draw_and_send, args=(sender, {n: drawers[n] for n in group}), daemon=True)
        try:
            child.start()
        except OSError:  # no fork (memory, process limits): this group is drawn here, below
            receiver.close()
            continue
        finally:
            sender.close()
        children.append((receiver, child))
    drawn: dict[str, bytes] = {}
    try:
        drawn.update((name, drawers[name]()) for name in groups[0])
        for receiver, _ in children:
            with contextlib.suppress(EOFError, OSError):
                drawn.update(receiver.recv())
    finally:  # also when a figure here raised: no child is left behind
        for receiver, child in children:
            receiver.close()
            child.join(timeout=60)
            if child.is_alive():
                child.kill()
    return {name: drawn[name] if name in drawn else drawers[name]() for name in names}


def _draw_and_send(sender, drawers: dict[str, Callable[[], bytes]]) -> None:
    """A forked child of `draw_figures`: draw, send the bytes, stop. If a figure fails, nothing is sent and
    nothing printed: the parent draws the figures again and reports the error itself."""
    try:
        sender.send({name: draw() for name, draw in drawers.items()})
    except Exception:  # the parent's second attempt raises it where the user sees it
        pass
    finally:
        sender.close()


def write_run(
    results: Results,
    scenario: Scenario,
    info: RunInfo,
    out_dir: Path,
    replicates: Replicates | None = None,
    processes: int = 1,
) -> list[Path]:
    """Write every output of a run; returns the paths written. `results` and `info` are the first seed's run;
    `replicates` (more than one seed) adds their tables and draws the figures' yearly series as medians with bands.
    `processes` > 1 draws the figures in that many processes at once (`draw_figures`)."""
    out_dir = Path(out_dir)
    title = f"greatleap: {scenario.name} (seed {scenario.run.seed}, scale {scenario.run.scale})"
    quantiles = None
    if replicates is not None:
        quantiles = replicates.national()
        title = (
            f"greatleap: {scenario.name} (median of {len(replicates.seeds)} replicates, {replicates.seed_text()}, "
            f"shaded 5-95%; scale {scenario.run.scale})"
        )
    age_title = scenario.name if replicates is None else f"{scenario.name} (seed {scenario.run.seed})"
    figures = {  # in this order two processes share them evenly (national and age; grain and industry)
        "national.png": lambda: national_figure_png(results, title, quantiles),
        "grain.png": lambda: grain_figure_png(results, title, quantiles),
        "starvation_by_age.png": lambda: age_pattern_figure_png(results, age_title),
        "industry.png": lambda: industry_figure_png(results, title, quantiles),
    }
    files = {
        "monthly.parquet": parquet_bytes(results.monthly),
        "annual.parquet": parquet_bytes(results.annual),
        **draw_figures(figures, processes),
    }
    if replicates is not None:
        files["replicates.parquet"] = parquet_bytes(replicates.long_table())
        files["annual_quantiles.parquet"] = parquet_bytes(replicates.quantile_table())
    written = []
    for name, data in files.items():
        write_bytes_atomic(out_dir / name, data)
        written.append(out_dir / name)
    for name in REPLICATE_FILES:  # a single run into a folder an ensemble wrote: its tables no longer apply
        if name not in files:
            (out_dir / name).unlink(missing_ok=True)
    entries = manifest(scenario, info, results, replicates)
    write_text_atomic(out_dir / "manifest.json", json.dumps(entries, indent=2) + "\n")
    written.append(out_dir / "manifest.json")
    return written
