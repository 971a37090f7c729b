"""How the process hands the memory it frees back to the system (Linux with glibc; elsewhere nothing changes).

glibc's malloc takes a block above its mmap threshold straight from the system and returns it when the block
is freed; a smaller block comes from its heaps (one per thread), which keep freed memory for later blocks.
The threshold starts at 128 KiB but rises each time a larger block is freed, up to 32 MiB. At full scale a
province's arrays of 1 to 32 MiB (per-commune-and-class tables, samples of a province's rows, its
communes' households) thus end up in the heaps, and with two threads stepping provinces, in two heaps
that keep what they were given. A fixed threshold of 1 MiB (fixing it also stops it from rising) and a trim
threshold of 4 MiB return them instead: on the whole country, two threads, 1957-01 to 1957-05, the peak
fell from 14.50 to 13.84 GiB, with the same results. Blocks under 1 MiB (most of a run's allocations, and
every one a sample run makes per commune) are served by the heaps as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1 << 20
TRIM_THRESHOLD_BYTES = 4 << 20

_applied: list[bool] = []


def return_freed_memory() -> bool:
    """Make glibc return freed blocks of 1 MiB and more to the system at once (see the module's docstring).
    Once per process; True when in force (Linux with glibc), False elsewhere."""
    if not _applied:
        _applied.append(_set_thresholds())
    return _applied[0]


def _set_thresholds() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    mmap_set = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    return bool(mmap_set) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
