"""Checkpoints: an engine's whole state between two months, saved as arrays and generator states.

A long run saves its state every K months into `<run folder>/checkpoint/`: `state-<t>.npz` holds every
array (each shard's tables, its labour claims and grants and posted hazards, the nation's tables, the
recorder's results so far), and `checkpoint.json`, written last, holds the month reached, the scenario as
TOML, every random generator's state, the counts that the run's summary needs, the greatleap version and
the SHA-256 of the arrays file. A checkpoint is therefore complete or absent: a run killed while saving
leaves the previous one. To resume, a fresh engine is built from the saved scenario and every saved array
and generator state is put back; caches (per-person gathers that are pure functions of the state) are
dropped and recomputed. A resumed run equals an unbroken one, byte for byte (tests/core/test_checkpoint.py).

Arrays are saved as `.npz` (no pickle: a checkpoint from elsewhere cannot run code when loaded).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from greatleap.core.engine import Engine
from greatleap.core.errors import ConfigError
from greatleap.core.io import atomic_path, write_text_atomic
from greatleap.core.state import Table
from greatleap.core.world import KEPT_MEMBERS, PERSON_CACHES
from greatleap.version import __version__

FOLDER = "checkpoint"
INDEX = "checkpoint.json"
# What `ProvinceShard.extra` caches (the per-person caches and the household bounds): pure functions of the
# state, recomputed after a resume.
CACHE_KEYS = frozenset({*PERSON_CACHES, KEPT_MEMBERS, "household_bounds"})
SHARD_DICTS = ("labour_claims", "labour_granted", "hazards")


@dataclass(frozen=True)
class Checkpoint:
    """What `checkpoint.json` says: where the run stands and how to rebuild it."""

    folder: Path
    months_done: int
    scenario_toml: str
    counters: dict[str, float]


def _table_arrays(prefix: str, table: Table) -> dict[str, np.ndarray]:
    return {f"{prefix}/{name}": table.values(name) for name in table.resident_names}


def engine_arrays(engine: Engine) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every array of the engine's state by name, and what is not an array (generator states, scalars)."""
    arrays: dict[str, np.ndarray] = {}
    other: dict[str, Any] = {"streams": {}, "scalars": []}
    for shard in engine.shards:
        leftover = set(shard.extra) - CACHE_KEYS
        if leftover:  # a module kept state between months outside the tables: a checkpoint would lose it
            raise AssertionError(f"{shard.code}: state kept outside the tables: {sorted(leftover)}")
        for level, table in shard.tables().items():
            arrays.update(_table_arrays(f"shard/{shard.code}/{level}", table))
        for kind in SHARD_DICTS:
            for key, value in getattr(shard, kind).items():
                name = f"dict/{shard.code}/{kind}/{key}"
                if not isinstance(value, np.ndarray):
                    other["scalars"].append(name)  # restored as a Python number (its dtype rules differ)
                arrays[name] = np.asarray(value)
        other["streams"][shard.code] = shard.streams.state()
    nation = engine.nation
    if nation.outbox or nation.inbox:
        raise AssertionError("persons in transit at the end of a month: the migration phases left them")
    for level, table in nation.tables().items():
        arrays.update(_table_arrays(f"nation/{level}", table))
    other["streams"]["nation"] = nation.streams.state()
    for code in engine.recorder.values:
        arrays[f"recorder/values/{code}"] = engine.recorder.values[code]
        arrays[f"recorder/filled/{code}"] = engine.recorder.filled[code]
    return arrays, other


def save(engine: Engine, run_folder: Path, scenario_toml: str, counters: dict[str, float]) -> Path:
    """Save the engine's state after `engine.t` months into `run_folder/checkpoint/`; returns the folder.

    The arrays go to a new file first; the index that names it is replaced last, then older array files
    are removed, so that a checkpoint is never half-written."""
    folder = Path(run_folder) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    arrays, other = engine_arrays(engine)
    name = f"state-{engine.t:04d}.npz"
    with atomic_path(folder / name) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays)
    index = {
        "greatleap_version": __version__,
        "months_done": engine.t,
        "arrays": name,
        "arrays_sha256": _sha256(folder / name),
        "counters": counters,
        "scenario_toml": scenario_toml,
        **other,
    }
    write_text_atomic(folder / INDEX, json.dumps(index, indent=1) + "\n")
    for old in folder.glob("state-*.npz"):
        if old.name != name:
            old.unlink(missing_ok=True)
    return folder


def discard(run_folder: Path) -> None:
    """Remove the checkpoint of a run that has completed (it is spent; nothing to resume)."""
    shutil.rmtree(Path(run_folder) / FOLDER, ignore_errors=True)


def read(run_folder: Path) -> tuple[Checkpoint, dict[str, Any]]:
    """The checkpoint in `run_folder` (checked: present, same greatleap version, arrays intact); a one-line
    ConfigError otherwise."""
    folder = Path(run_folder) / FOLDER
    index_path = folder / INDEX
    if not index_path.is_file():
        raise ConfigError(
            f"resume: {run_folder} holds no checkpoint (allowed: the folder of a run saved with --checkpoint-every)"
        )
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"resume: {index_path} is not a readable checkpoint index ({err})") from None
    if index.get("greatleap_version") != __version__:
        raise ConfigError(
            f"resume: the checkpoint was saved by greatleap {index.get('greatleap_version')} "
            f"(allowed: this version, {__version__})"
        )
    arrays_path = folder / index["arrays"]
    if not arrays_path.is_file() or _sha256(arrays_path) != index["arrays_sha256"]:
        raise ConfigError(f"resume: {arrays_path} is missing or damaged (its SHA-256 differs from the index)")
    checkpoint = Checkpoint(folder, int(index["months_done"]), index["scenario_toml"], index["counters"])
    return checkpoint, index


def restore(engine: Engine, checkpoint: Checkpoint, index: dict[str, Any]) -> None:
    """Put a checkpoint's state into `engine`, freshly built from the checkpoint's scenario."""
    scalars = set(index["scalars"])
    with np.load(checkpoint.folder / index["arrays"], allow_pickle=False) as saved:
        names = set(saved.files)
        for shard in engine.shards:
            for level, table in shard.tables().items():
                _restore_table(table, saved, f"shard/{shard.code}/{level}")
            for kind in SHARD_DICTS:
                target = getattr(shard, kind)
                target.clear()
                prefix = f"dict/{shard.code}/{kind}/"
                for name in sorted(n for n in names if n.startswith(prefix)):
                    value = saved[name]
                    target[name[len(prefix) :]] = value.item() if name in scalars else value
            shard.extra.clear()
            shard.streams.set_state(index["streams"][shard.code])
        for level, table in engine.nation.tables().items():
            _restore_table(table, saved, f"nation/{level}")
        engine.nation.streams.set_state(index["streams"]["nation"])
        for code in engine.recorder.values:
            engine.recorder.values[code][...] = saved[f"recorder/values/{code}"]
            engine.recorder.filled[code][...] = saved[f"recorder/filled/{code}"]
    engine.t = checkpoint.months_done


def _restore_table(table: Table, saved: Any, prefix: str) -> None:
    columns = {name: saved[f"{prefix}/{name}"] for name in table.resident_names if f"{prefix}/{name}" in saved.files}
    if set(columns) != set(table.resident_names):
        missing = sorted(set(table.resident_names) - set(columns))
        raise ConfigError(f"resume: the checkpoint lacks {prefix} columns {missing} (saved by another model)")
    table.restore(columns)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
