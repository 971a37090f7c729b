import os
import stat

import pytest

from greatleap.core.io import atomic_path, write_text_atomic


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out" / "manifest.json"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    assert target.read_text() == "two"
    assert os.listdir(target.parent) == ["manifest.json"]
    assert stat.S_IMODE(target.stat().st_mode) & 0o044  # readable by others, not a private temp file


def test_an_interrupted_write_keeps_the_previous_file_and_no_partial_one(tmp_path):
    target = tmp_path / "annual.parquet"
    write_text_atomic(target, "complete")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half-writ")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "complete"
    assert os.listdir(tmp_path) == ["annual.parquet"]
