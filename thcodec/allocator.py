"""Large freed blocks kept in the process's heap for the next batch (glibc's malloc).

The networks allocate and free the same tensors of several MB for every batch. glibc serves a
block above its mmap threshold (a few MB, raised as such blocks are freed, at most 32 MiB) with a
fresh mapping and returns it to the kernel when freed, and it gives the top of the heap back
above its trim threshold. Either way the next batch's block is new memory, which the kernel
faults in and zeroes page by page as it is first written: on some machines that cost more than
the arithmetic (docs/speed.md, "Freed memory kept"). With both thresholds raised, freed blocks
stay in the heap and the next batch reuses them. The working set is the same every batch, so
the heap stops growing after the first. `thc decode` sets them; the sender does not (its gain was
small, and its peak memory rose by a few MB).
"""

from __future__ import annotations

import os

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_KEEP = 1 << 30  # bytes: above the tensors of every output size but the largest, which are mapped as before


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # no confstr, or not this name: not glibc
        return False


def keep_freed_memory() -> bool:
    """Raise glibc's thresholds (a no-op elsewhere: other C libraries' allocators differ). True
    when they were set; THC_MALLOC=default keeps glibc's defaults."""
    setting = os.environ.get("THC_MALLOC", "keep").strip().lower() or "keep"
    if setting not in ("keep", "default"):
        import warnings

        warnings.warn(f"THC_MALLOC={setting!r}: choose keep or default; keeping freed memory", RuntimeWarning, stacklevel=2)
    if setting == "default" or not _glibc():
        return False
    import ctypes

    libc = ctypes.CDLL(None)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _KEEP)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP))
