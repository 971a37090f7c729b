import subprocess
import sys

import pytest

from greatleap.core import memory

# What every measuring script starts with: resident memory in MiB, and the settings on when asked ("on").
PRELUDE = """
import sys
import threading
import numpy as np
from greatleap.core import memory

def resident_mib():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "on":
    assert memory.share_freed_memory()
"""

# The main thread fills and frees ten 8 MiB arrays (served by glibc's heap once a freed 16 MiB block has raised
# its mmap threshold; a small array above them keeps them off the heap's top); then a new thread asks for as
# much. Printed: the resident memory the new thread's arrays added, in MiB.
ADDED_BY_A_SECOND_THREAD = """
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

# Ten 4 MiB arrays filled and freed, twice. Printed: the resident memory kept once the first ten are freed, and
# what the second ten added, in MiB.
KEPT_FOR_THE_NEXT_MONTH = """
before = resident_mib()
blocks = [np.ones(1 << 19) for _ in range(10)]
del blocks
kept = resident_mib() - before
before = resident_mib()
blocks = [np.ones(1 << 19) for _ in range(10)]
print(kept, resident_mib() - before)
"""


def measured(script: str) -> dict[str, list[float]]:
    """The numbers `script` prints, run after the prelude in a fresh process without the settings ("off") and
    with them ("on")."""
    printed = {}
    for mode in ("off", "on"):
        done = subprocess.run([sys.executable, "-c", PRELUDE + script, mode], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        printed[mode] = [float(value) for value in done.stdout.split()]
    return printed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_thread_reuses_what_another_freed_once_they_share_one_heap():
    """Without the setting the second thread's arrays come from a heap of its own (80 MiB more resident);
    with it, from the memory the main thread freed."""
    added = measured(ADDED_BY_A_SECOND_THREAD)
    assert added["off"][0] > 60
    assert added["on"][0] < 10
    assert memory.share_freed_memory() is memory.share_freed_memory()  # once per process, then the same answer


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_heap_keeps_a_months_freed_arrays_for_the_next():
    """Without the settings the freed arrays go back to the system and the next ones are fresh pages (40 MiB
    faulted in again); with them the heap keeps them and the next ones reuse them."""
    printed = measured(KEPT_FOR_THE_NEXT_MONTH)
    kept_off, added_off = printed["off"]
    kept_on, added_on = printed["on"]
    assert kept_off < 5 and added_off > 35
    assert kept_on > 35 and added_on < 5
