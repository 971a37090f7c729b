"""Checkpoints: a run saved midway and resumed equals an unbroken run, array for array and byte for byte."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from greatleap.core import checkpoint
from greatleap.core.errors import ConfigError
from greatleap.sim import Sim
from tests.conftest import small_scenario

GREATLEAP = [sys.executable, "-m", "greatleap"]
SMALL = ["--set", "run.scale=1", "--set", 'run.end="1958-06"']


def engine_state(sim: Sim) -> dict[str, np.ndarray]:
    assert sim.engine is not None
    arrays, other = checkpoint.engine_arrays(sim.engine)
    arrays["streams"] = np.frombuffer(json.dumps(other["streams"], sort_keys=True).encode(), dtype=np.uint8)
    return arrays


@pytest.fixture(scope="module")
def unbroken():
    sim = Sim(small_scenario())
    return sim, sim.run()


def test_a_resumed_run_ends_in_the_same_state_with_the_same_results(unbroken, tmp_path):
    unbroken_sim, unbroken_results = unbroken
    first = Sim(small_scenario())
    first.run(checkpoint_every=9, checkpoint_to=tmp_path)  # saves after month 9 only (18 months in all)
    resumed = Sim.resume(tmp_path)
    assert resumed.resumed_at == 9
    results = resumed.run()
    end, expected = engine_state(resumed), engine_state(unbroken_sim)
    assert end.keys() == expected.keys()
    assert all(end[name].tobytes() == expected[name].tobytes() for name in expected), "state differs"
    assert results.monthly.equals(unbroken_results.monthly) and results.annual.equals(unbroken_results.annual)
    assert resumed.info is not None and resumed.info.person_months == unbroken_sim.info.person_months


def test_resuming_restores_the_generators_not_just_the_arrays(tmp_path):
    """Negative control: the same arrays with the generators at their start give another run."""
    short = small_scenario('run.end="1957-09"')
    Sim(short).run(checkpoint_every=4, checkpoint_to=tmp_path)
    saved, index = checkpoint.read(tmp_path)
    good = Sim.resume(tmp_path)
    good.run()
    fresh = {code: {} for code in index["streams"]}  # every generator recreated at its start
    bad = Sim(short)
    checkpoint.restore(bad.build(), saved, {**index, "streams": fresh})
    bad.run()
    assert engine_state(good)["shard/AH/person/alive"].tobytes() != engine_state(bad)["shard/AH/person/alive"].tobytes()


def test_a_run_killed_midway_and_resumed_writes_the_bytes_of_an_unbroken_run(tmp_path):
    broken, whole = tmp_path / "broken", tmp_path / "whole"
    process = subprocess.Popen([*GREATLEAP, "run", *SMALL, "-q", "--checkpoint-every", "4", "--out", str(broken)])
    index = broken / "checkpoint" / "checkpoint.json"
    deadline = time.monotonic() + 120
    while not index.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert index.exists() and not (broken / "monthly.parquet").exists(), "the run ended before it was killed"
    done = subprocess.run([*GREATLEAP, "resume", str(broken), "-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    subprocess.run([*GREATLEAP, "run", *SMALL, "-q", "--out", str(whole)], check=True)
    for name in ("monthly.parquet", "annual.parquet"):
        assert (broken / name).read_bytes() == (whole / name).read_bytes(), name
    assert not (broken / "checkpoint").exists()  # spent once the run is complete
    assert json.loads((broken / "manifest.json").read_text())["resumed_at_month"] in range(4, 18, 4)


def test_a_folder_without_a_usable_checkpoint_is_refused_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"^resume: .* holds no checkpoint"):
        Sim.resume(tmp_path)
    Sim(small_scenario('run.end="1957-06"')).run(checkpoint_every=3, checkpoint_to=tmp_path)
    arrays = next((tmp_path / "checkpoint").glob("state-*.npz"))
    arrays.write_bytes(arrays.read_bytes()[:-10])
    with pytest.raises(ConfigError, match=r"^resume: .*state-0003\.npz is missing or damaged"):
        Sim.resume(tmp_path)
    for arguments in (["resume", str(tmp_path)], ["run", *SMALL, "--checkpoint-every", "0"]):
        done = subprocess.run([*GREATLEAP, *arguments], capture_output=True, text=True, env={**os.environ})
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    done = subprocess.run(
        [*GREATLEAP, "run", *SMALL, "--replicates", "2", "--checkpoint-every", "3"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "--checkpoint-every: not with --replicates" in done.stderr
