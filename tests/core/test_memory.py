import subprocess
import sys

import pytest

from greatleap.core import memory

# The main thread fills and frees ten 8 MiB arrays (served by glibc's heap once a freed 16 MiB block has raised
# its mmap threshold; a small array above them keeps them off the heap's top); then a new thread asks for as
# much. Printed: the resident memory the new thread's arrays added, in MiB.
ADDED_BY_A_SECOND_THREAD = """
import sys
import threading
import numpy as np
from greatleap.core import memory

def resident_mib():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "on":
    assert memory.share_freed_memory()
big = np.ones(1 << 21)  # 16 MiB, freed at once: glibc raises its threshold to it (not beyond 32 MiB)
del big
blocks = [np.ones(1 << 20) for _ in range(10)]
guard = np.ones(1 << 14)
del blocks
before = resident_mib()
added = []

def second_thread():
    blocks = [np.ones(1 << 20) for _ in range(10)]
    added.append(resident_mib() - before)

thread = threading.Thread(target=second_thread)
thread.start()
thread.join()
print(added[0])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_thread_reuses_what_another_freed_once_they_share_one_heap():
    """Without the setting the second thread's arrays come from a heap of its own (80 MiB more resident);
    with it, from the memory the main thread freed."""
    added = {}
    for mode in ("off", "on"):
        done = subprocess.run([sys.executable, "-c", ADDED_BY_A_SECOND_THREAD, mode], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        added[mode] = float(done.stdout)
    assert added["off"] > 60
    assert added["on"] < 10
    assert memory.share_freed_memory() is memory.share_freed_memory()  # once per process, then the same answer
