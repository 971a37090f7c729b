import subprocess
import sys

import pytest

from greatleap.core import memory

# Ten 8 MiB arrays filled and freed, after a 16 MiB one has raised glibc's dynamic mmap threshold, below a small
# array that keeps them off the top of the heap: the resident memory the process keeps afterwards, in MiB.
KEPT_AFTER_FREEING = """
import sys
import numpy as np
from greatleap.core import memory

def resident_mib():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "on":
    assert memory.return_freed_memory()
big = np.ones(1 << 21)  # 16 MiB, freed at once: glibc raises its threshold to it (not beyond 32 MiB)
del big
before = resident_mib()
blocks = [np.ones(1 << 20) for _ in range(10)]  # 8 MiB each
guard = np.ones(1 << 14)  # 128 KiB, from the heap, above the blocks
del blocks
print(resident_mib() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_blocks_of_a_few_mib_go_back_to_the_system_once_the_thresholds_are_set():
    """Without the setting glibc keeps the freed 8 MiB blocks in its heap (about 80 MiB stays resident); with it
    they were mapped on their own and are returned at once."""
    kept = {}
    for mode in ("off", "on"):
        done = subprocess.run([sys.executable, "-c", KEPT_AFTER_FREEING, mode], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        kept[mode] = float(done.stdout)
    assert kept["off"] > 60
    assert kept["on"] < 5
    assert memory.return_freed_memory() is memory.return_freed_memory()  # once per process, then the same answer
