"""The whole-country benchmark's report: its section of docs/performance.md, written and kept."""

import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def manifest(scale, persons, person_months, seconds, peak, threads=1, workers=1) -> dict:
    return {
        "scale": scale, "persons_initial": persons, "person_months": person_months, "wall_seconds": seconds,
        "peak_memory_bytes": peak, "threads": threads, "workers": workers, "created": "2026-11-30T16:00:00+00:00",
        "git_commit": "abcdef1234", "communes_simulated": 30376, "state_bytes_per_person": 16.0,
        "phase_seconds": [
            {"phase": "labour", "module": "labour", "seconds": 300.0},
            {"phase": "consumption and nutrition", "module": "nutrition", "seconds": 1200.0},
        ],
    }  # fmt: skip


def test_the_section_sets_the_run_beside_the_targets_and_the_sample(tmp_path):
    country = load("bench_country")
    gib = 1024**3
    full = manifest("full", 628_000_000, 45_000_000_000, 3600.0, int(17.6 * gib))
    sample = manifest("sample", 1_930_000, 140_000_000, 20.0, gib, workers=2)
    text = country.section(full, 3800.0, int(18.0 * gib), sample, threads=1)
    assert text.startswith(country.BEGIN) and text.rstrip().endswith(country.END)
    assert "| simulation time | 60.0 min (63.3 min in all (build included)) | 10 min | 6.00 |" in text
    assert "| peak resident memory | 18.00 GiB | 16 GiB | 1.12 |" in text  # the larger of the two peaks
    assert "12.5 M" in text and "1.79 times" in text  # 45e9 / 3600 s against 140e6 / 20 s
    assert text.index("consumption and nutrition") < text.index("| labour |")  # the costliest phase first

    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nthe peers' tables\n")
    country.write_section(text, doc)
    country.write_section(text.replace("60.0 min", "50.0 min"), doc)  # replaced, not appended twice
    written = doc.read_text()
    assert written.count(country.BEGIN) == 1 and "50.0 min" in written and "the peers' tables" in written


def test_the_peers_benchmark_keeps_the_country_section(tmp_path):
    peers = load("bench_peers")
    doc = tmp_path / "performance.md"
    doc.write_text("old peers\n\n<!-- country:begin -->\nthe country, an hour's run\n<!-- country:end -->\n")
    peers.write_keeping_country(doc, "# new peers\n")
    written = doc.read_text()
    assert written.startswith("# new peers") and "old peers" not in written
    assert "<!-- country:begin -->\nthe country, an hour's run\n<!-- country:end -->" in written


def test_the_memory_of_a_process_tree_counts_pages_shared_with_a_forked_child_once():
    import multiprocessing
    import os

    import numpy as np

    country = load("bench_country")
    held = np.ones(2**23)  # 64 MiB, resident here and, after the fork, shared with the child
    before = country.tree_memory_bytes(os.getpid())
    context = multiprocessing.get_context("fork")
    ready, stop = context.Event(), context.Event()
    child = context.Process(target=lambda: (ready.set(), stop.wait(30)), daemon=True)
    child.start()
    try:
        assert ready.wait(30)
        with_child = country.tree_memory_bytes(os.getpid())
    finally:
        stop.set()
        child.join()
    assert held.nbytes > 0 and with_child - before < held.nbytes / 4  # resident sizes would add 64 MiB more


def test_the_peers_benchmark_keeps_each_implementations_fastest_round(monkeypatch):
    """Rounds: the implementations take turns, each keeps its fastest run, and a long one is not repeated."""
    peers = load("bench_peers")
    seconds = {"greatleap": iter([0.03, 0.01, 0.02]), "mesa": iter([12.0, 1.0, 1.0])}
    calls = []

    def measure(implementation, path, months, seed):
        calls.append(implementation)
        return {"implementation": implementation, "seconds": next(seconds[implementation]), "months": months,
                "persons": 2000, "person_months": 24_000, "peak_increase_bytes": 0, "repeats": 1, "deaths": 0,
                "hunger_deaths": 0, "births": 0, "mean_reserve": 1.0}  # fmt: skip

    monkeypatch.setattr(peers, "measure", measure)
    rows = peers.run_sizes([2000], ["greatleap", "mesa"], 0.6, 2, 1, 300.0, rounds=3)
    assert calls == ["greatleap", "mesa", "greatleap", "greatleap"]  # in turns; Mesa's 12 s round not repeated
    fastest = {row["implementation"]: row for row in rows}
    assert fastest["greatleap"]["seconds"] == 0.01 and fastest["greatleap"]["rounds"] == 3
    assert fastest["mesa"]["seconds"] == 12.0 and fastest["mesa"]["rounds"] == 1
