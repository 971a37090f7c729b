"""How the process's threads share the memory they free (Linux with glibc; elsewhere nothing changes).

glibc's malloc gives each thread that allocates its own heap (an arena), and a heap keeps what is freed into
it for the next blocks of the threads using it. Blocks above the mmap threshold come straight from the
system and go back to it when freed; the threshold rises, up to 32 MiB, each time a larger block is freed.
At full scale a province's arrays of 1 to 32 MiB (tables per commune and class, samples of its rows) thus
come from the heaps, and with two threads stepping provinces each heap kept what its thread had freed,
beside the other's. One heap for every thread (`M_ARENA_MAX` = 1) lets a thread reuse what the other freed.
On the whole country, two threads, 1957-01 to 1957-05, the peak was 14.50 GiB before it and before the
energy balance's three rows, 13.72 GiB with both (the heap's part alone was not measured), with as many
page faults and the same results. (Returning every block of 1 MiB and more to the system instead, with a
fixed mmap threshold, gave 13.34 GiB there but faulted in fresh pages for each of them: ten times the page
faults, and a tenth more time, on the whole run.)

The heap also keeps what is freed at its top, up to 256 MiB (`M_TRIM_THRESHOLD`), where glibc would give back
all beyond twice its mmap threshold; and blocks up to 32 MiB come from it from the start (`M_MMAP_THRESHOLD`,
the highest the threshold would rise to). A month's working arrays are freed and asked for again every month:
given back, each came back as fresh pages the system must fault in and zero (numpy's larger arrays as huge
pages of 2 MiB). Gansu alone at full scale, 1957-01 to 1958-12, one thread: 17.65 s without these two
settings, 16.22 s with them, the same peak (1.10 GiB) and 42% fewer page faults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt's parameter numbers, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
KEPT_AT_TOP = 256 << 20  # bytes freed at the heap's top that it keeps
FROM_HEAP_BELOW = 32 << 20  # blocks smaller than this come from the heap

_applied: list[bool] = []


def share_freed_memory() -> bool:
    """Make every thread of the process allocate from one glibc heap, which keeps what is freed for the next
    months (see the module's docstring). Once per process, before the engine's threads start; True when in
    force (Linux with glibc), False elsewhere."""
    if not _applied:
        _applied.append(_one_arena())
    return _applied[0]


def _one_arena() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    settings = ((M_ARENA_MAX, 1), (M_MMAP_THRESHOLD, FROM_HEAP_BELOW), (M_TRIM_THRESHOLD, KEPT_AT_TOP))
    return all([bool(mallopt(parameter, value)) for parameter, value in settings])
