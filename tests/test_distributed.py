"""Sharded runs: provinces spread over N workers give the bytes of one process."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pyarrow as pa
import pytest

from greatleap.core.data import provinces
from greatleap.core.world import start_population
from greatleap.distributed import deal_provinces, run_sharded
from greatleap.sim import Sim, available_cores
from tests.conftest import small_scenario

GREATLEAP = [sys.executable, "-m", "greatleap"]
SMALL = ["--set", "run.scale=1", "--set", 'run.end="1958-06"']


def table_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


@pytest.fixture(scope="module")
def one_process() -> tuple[bytes, bytes]:
    results = Sim(small_scenario()).run()
    return table_bytes(results.monthly), table_bytes(results.annual)


@pytest.mark.parametrize(("backend", "workers"), [("local", 1), ("local", 3), ("processes", 2)])
def test_n_workers_give_the_bytes_of_one_process(one_process, backend, workers):
    months_at_call = []
    results, info = run_sharded(
        small_scenario(),
        workers,
        backend=backend,
        on_month=months_at_call.append,
        while_building=lambda: months_at_call.append("building"),
    )
    assert (table_bytes(results.monthly), table_bytes(results.annual)) == one_process
    assert info.workers == workers
    assert months_at_call[:2] == ["building", 1] and months_at_call.count("building") == 1  # before any month


def test_another_seed_differs(one_process):
    """Negative control: the comparison above can fail."""
    results, _ = run_sharded(small_scenario("run.seed=2"), 2, backend="local")
    assert table_bytes(results.monthly) != one_process[0]


def test_provinces_are_dealt_once_each_and_evenly():
    scenario = small_scenario()
    groups = deal_provinces(scenario, 4)
    codes = [code for group in groups for code in group]
    assert sorted(codes) == sorted(p.code for p in provinces())
    size = {p.code: sum(start_population(p, scenario.world)) for p in provinces()}
    loads = [sum(size[c] for c in group) for group in groups]
    assert max(loads) < 1.15 * min(loads)  # largest first, to the least loaded
    assert deal_provinces(scenario, 4) == groups


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (extra: distributed)")
def test_two_ray_workers_give_the_bytes_of_one_process(one_process):
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, '.');"
            "from greatleap.distributed import run_sharded; from tests.conftest import small_scenario;"
            "from tests.test_distributed import table_bytes; import hashlib;"
            "r, info = run_sharded(small_scenario(), 2, backend='ray');"
            "print(hashlib.sha256(table_bytes(r.monthly) + table_bytes(r.annual)).hexdigest(), info.workers)",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    import hashlib

    expected = hashlib.sha256(one_process[0] + one_process[1]).hexdigest()
    assert done.stdout.split() == [expected, "2"]


def test_a_plain_run_never_imports_ray():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, '.'); from greatleap.sim import Sim;"
            "from tests.conftest import small_scenario;"
            "Sim(small_scenario('run.end=\"1957-03\"')).run(); print('ray' in sys.modules)",
        ],
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == "False", done.stderr[-2000:]


def test_a_plain_run_on_the_cores_writes_the_bytes_of_one_process(tmp_path):
    """`greatleap run` spreads the provinces over worker processes by default; `--workers 1` is one process."""
    for name, workers in (("default", []), ("one", ["--workers", "1"])):
        subprocess.run([*GREATLEAP, "run", *SMALL, "-q", "--out", str(tmp_path / name), *workers], check=True)
    for name in ("monthly.parquet", "annual.parquet"):
        assert (tmp_path / "default" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    manifests = [json.loads((tmp_path / name / "manifest.json").read_text()) for name in ("default", "one")]
    assert manifests[1]["workers"] == 1 and manifests[0]["workers"] == min(available_cores(), 29)


def test_bad_worker_options_are_refused_in_one_line():
    for arguments in (["--workers", "0"], ["--workers", "2", "--checkpoint-every", "3"]):
        done = subprocess.run([*GREATLEAP, "run", *SMALL, *arguments], capture_output=True, text=True)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
