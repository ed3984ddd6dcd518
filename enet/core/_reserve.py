"""Buffers that cost memory only where they are written.

A solver that does not know its output's size in advance (the nonzeros of a coefficient path)
either grows a buffer, holding an old and a new copy at once at each growth, or reserves the
largest size it could need. :func:`reserve` gives such a reserve: a private anonymous mapping,
whose pages the system commits only when they are first written (and in 4 KiB pages, not the
2 MiB transparent huge pages numpy asks for on large arrays, which would commit up to 2 MiB
past the last entry written). :func:`trimmed` turns its first entries into an array of their
own, returning the reserve's pages as they are copied, so that the two never coexist.

Where the platform has no private mappings with ``madvise`` (Windows), the reserve is a plain
``numpy.empty`` array (lazily committed as well) shrunk in place at the end.
"""

from __future__ import annotations

import mmap

import numpy as np

__all__ = ["reserve", "trimmed"]

_MAPPED = hasattr(mmap, "MAP_PRIVATE") and hasattr(mmap, "MADV_DONTNEED")
_COPY_BLOCK = 1 << 20       # bytes copied between two releases of the reserve's pages


def reserve(n: int, dtype) -> np.ndarray:
    """An uninitialised 1-d array of ``n`` entries that costs memory only where written."""
    dtype = np.dtype(dtype)
    if not _MAPPED:
        return np.empty(n, dtype)
    mm = mmap.mmap(-1, max(n * dtype.itemsize, 1), flags=mmap.MAP_PRIVATE)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        mm.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(mm, dtype=dtype, count=n)


def trimmed(buf: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` entries of a :func:`reserve` as an array of their own.

    The reserve must not be used afterwards: its pages are returned to the system as they
    are copied (a plain array is shrunk in place, so no view of it may exist).
    """
    mm = getattr(buf.base, "obj", None)        # frombuffer's view of the mapping
    if not isinstance(mm, mmap.mmap):
        buf.resize(n, refcheck=False)
        return buf
    out = np.empty(n, buf.dtype)
    step = max(_COPY_BLOCK // buf.itemsize, 1)
    released = 0
    for start in range(0, n, step):
        stop = min(start + step, n)
        out[start:stop] = buf[start:stop]
        done = stop * buf.itemsize // mmap.PAGESIZE * mmap.PAGESIZE
        if done > released:
            mm.madvise(mmap.MADV_DONTNEED, released, done - released)
            released = done
    if len(mm) > released:
        mm.madvise(mmap.MADV_DONTNEED, released, len(mm) - released)
    return out
