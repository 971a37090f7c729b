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
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h

_applied: list[bool] = []


def share_freed_memory() -> bool:
    """Make every thread of the process allocate from one glibc heap (see the module's docstring). Once per
    process, before the engine's threads start; True when in force (Linux with glibc), False elsewhere."""
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
    return bool(mallopt(M_ARENA_MAX, 1))
