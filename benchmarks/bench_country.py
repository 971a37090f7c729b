"""The whole country at full scale: every commune and every person (about 628 million in 1957-01), 1957-01 to
1962-12, measured against the issue's targets (10 minutes, 16 GiB) and against the default sample run
measured in the same invocation.

`greatleap run --scale full` runs in a child process while this one samples the memory of the child's
process tree every second: the sum of each process's proportional set size (PSS: a page shared by several
processes counted once in all, so that the forked children that draw the figures at the end do not count
their parent's pages twice), the peak the system saw; the run's manifest records the child's own
`ru_maxrss` too. The section it writes into docs/performance.md, between the markers below, is kept when
`bench_peers.py` regenerates the rest of that file. Usage:

    python benchmarks/bench_country.py [--threads 1] [--workers 1] [--end 1962-12]   # about an hour here
    python benchmarks/bench_country.py --from-run DIR --peak-gib G   # a finished full run's manifest

Whether the run fits is the machine's business: on a machine with less than about 20 GiB the system may
stop it. One thread holds one province's temporaries at a time; each further thread or worker adds those
of another province (about 1.5 GB for the largest).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from greatleap.core.io import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- country:begin -->", "<!-- country:end -->"
TARGET_SECONDS, TARGET_GIB = 600.0, 16.0
GIB = 1024**3


def tree_memory_bytes(pid: int) -> int:
    """Memory of process `pid` and its descendants (processes, not threads): their proportional set sizes
    (/proc/PID/smaps_rollup), which split each shared page among its sharers, summed."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            with open(f"/proc/{current}/smaps_rollup") as handle:
                total += next(int(line.split()[1]) * 1024 for line in handle if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total


def run_greatleap(arguments: list[str]) -> tuple[dict, float, int]:
    """Run `greatleap run` with `arguments` into a fresh folder: its manifest, the wall time of the whole
    command (build included) and the peak resident memory of its process tree."""
    out = Path(tempfile.mkdtemp(prefix="greatleap-country-"))
    command = [sys.executable, "-m", "greatleap", "run", *arguments, "--quiet", "--out", str(out)]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT)
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_memory_bytes(child.pid))
        time.sleep(1.0)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"greatleap run {' '.join(arguments)} failed with exit code {child.returncode}")
    return json.loads((out / "manifest.json").read_text()), seconds, peak


def rate(manifest: dict) -> float:
    """Person-months per second of the simulation (build excluded)."""
    return manifest["person_months"] / manifest["wall_seconds"]


def section(full: dict, full_seconds: float | None, full_peak: int, sample: dict, threads: int) -> str:
    """The docs/performance.md section: the run beside the targets and beside the sample run."""
    peak = max(full_peak, int(full["peak_memory_bytes"]))
    total = f"{full_seconds / 60:.1f} min in all (build included)" if full_seconds else "build time not recorded"
    phases = sorted(full["phase_seconds"], key=lambda row: -row["seconds"])[:8]
    # A phase's seconds add up its provinces' times, on whichever thread stepped them: with several threads
    # they sum to more than the wall time, so a share is of the phases' sum.
    phase_total = sum(row["seconds"] for row in full["phase_seconds"]) or 1.0
    person_months = full["person_months"]
    lines = [
        BEGIN,
        "## The whole country at full scale",
        "",
        f"Measured {full['created'][:10]} at commit {full['git_commit'][:7]} by `benchmarks/bench_country.py`: "
        f"`greatleap run --scale full` with {threads} thread(s) and {full['workers']} worker process(es), "
        f"{full['persons_initial'] / 1e6:.1f} million persons at the start in "
        f"{full['communes_simulated']:,} communes and urban districts, 1957-01 to 1962-12, on "
        f"{_machine_text(full)}.",
        "",
        "| | measured | target | ratio to the target |",
        "|---|---:|---:|---:|",
        f"| simulation time | {full['wall_seconds'] / 60:.1f} min ({total}) | {TARGET_SECONDS / 60:.0f} min "
        f"| {full['wall_seconds'] / TARGET_SECONDS:.2f} |",
        f"| peak resident memory | {peak / GIB:.2f} GiB | {TARGET_GIB:.0f} GiB | {peak / GIB / TARGET_GIB:.2f} |",
        f"| person-months per second | {rate(full) / 1e6:.1f} M | {person_months / TARGET_SECONDS / 1e6:.0f} M "
        f"| {rate(full) * TARGET_SECONDS / person_months:.2f} |",
        f"| state per person | {full['state_bytes_per_person']:g} B in the person table; peak "
        f"{peak / full['persons_initial']:.1f} B a person in all | | |",
        "",
        f"Beside the default sample run measured in the same invocation ({sample['persons_initial']:,} persons, "
        f"{rate(sample) / 1e6:.1f} M person-months per second on {sample['threads']} thread(s) and "
        f"{sample['workers']} worker(s)), the full run does {rate(full) / rate(sample):.2f} times its "
        "person-months per second per run; the sample's months are dominated by fixed costs, the full run's by "
        "memory traffic.",
        "",
        "Where the full run's time went (seconds of its threads, added up; share of all phases' seconds):",
        "",
        "| phase | seconds | share |",
        "|---|---:|---:|",
        *(f"| {row['phase']} | {row['seconds']:.0f} | {row['seconds'] / phase_total:.0%} |" for row in phases),
        END,
    ]
    return "\n".join(lines) + "\n"


def _machine_text(manifest: dict) -> str:
    """The machine a run's manifest names (manifests before 2026-12-01 do not)."""
    machine = manifest.get("machine")
    if not machine:
        return "a machine its manifest does not record"
    return f"{machine['cores']} cores ({machine['cpu']}), {machine['system']}"


def write_section(text: str, doc: Path) -> None:
    """Replace the marked section of `doc` (or append it), atomically."""
    current = doc.read_text() if doc.exists() else ""
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        updated = head + text + tail
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    write_text_atomic(doc, updated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--end", default="1962-12")
    parser.add_argument("--from-run", type=Path, help="a finished full run's folder instead of a new run")
    parser.add_argument("--peak-gib", type=float, default=0.0, help="with --from-run: the peak seen from outside")
    parser.add_argument("--seconds", type=float, default=0.0, help="with --from-run: the command's wall time")
    parser.add_argument("--no-doc", action="store_true", help="print only; do not write docs/performance.md")
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args()

    sample, _, _ = run_greatleap(["--set", f'run.end="{args.end}"'])
    if args.from_run:
        full = json.loads((args.from_run / "manifest.json").read_text())
        full_seconds, full_peak, threads = args.seconds or None, int(args.peak_gib * GIB), full["threads"]
    else:
        threads = args.threads
        full, full_seconds, full_peak = run_greatleap(
            [
                "--scale",
                "full",
                "--threads",
                str(args.threads),
                "--workers",
                str(args.workers),
                "--set",
                f'run.end="{args.end}"',
            ]
        )
    if full["scale"] != "full":
        raise SystemExit(f"{args.from_run}: not a full-scale run (scale {full['scale']!r})")
    text = section(full, full_seconds, full_peak, sample, threads)
    print(text)
    if not args.no_doc:
        write_section(text, args.doc)
        print(f"wrote the section into {args.doc} ({date.today()})")


if __name__ == "__main__":
    main()
