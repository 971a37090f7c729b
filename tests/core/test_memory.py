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


# Ten 4 MiB arrays filled and freed, twice. Printed: the resident memory kept once the first ten are freed, and
# what the second ten added, in MiB.
KEPT_FOR_THE_NEXT_MONTH = """
import sys
import numpy as np
from greatleap.core import memory

def resident_mib():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "on":
    assert memory.share_freed_memory()
before = resident_mib()
blocks = [np.ones(1 << 19) for _ in range(10)]
del blocks
kept = resident_mib() - before
before = resident_mib()
blocks = [np.ones(1 << 19) for _ in range(10)]
print(kept, resident_mib() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_heap_keeps_a_months_freed_arrays_for_the_next():
    """Without the settings the freed arrays go back to the system and the next ones are fresh pages (40 MiB
    faulted in again); with them the heap keeps them and the next ones reuse them."""
    measured = {}
    for mode in ("off", "on"):
        done = subprocess.run([sys.executable, "-c", KEPT_FOR_THE_NEXT_MONTH, mode], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        measured[mode] = [float(value) for value in done.stdout.split()]
    kept_off, added_off = measured["off"]
    kept_on, added_on = measured["on"]
    assert kept_off < 5 and added_off > 35
    assert kept_on > 35 and added_on < 5
