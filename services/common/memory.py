"""Native memory of the inference process: the oneDNN kernel cache and glibc's heap.

Two things grow a CPU inference process that serves messages of every length, and neither is a Python object:

* **oneDNN's per-shape cache.** bfloat16 (and int8) matrix products on CPU go through oneDNN, and PyTorch's
  ideep layer keeps, per operation and input shape, a compiled primitive with its buffers in an LRU of
  ``LRU_CACHE_CAPACITY`` entries (default 1024). Every new token count is a new shape, so a real mix of
  message lengths fills it for minutes: hundreds of MB (``bench/inference_memory_probe.py``).
  :func:`limit_kernel_cache` bounds it; the library reads the variable once, so call it before torch loads.
* **glibc's free lists.** Activations are plain ``malloc`` blocks whose sizes follow each message's length;
  freed ones leave holes that glibc keeps, and it returns memory to the OS only from the top of a heap.
  :func:`trim` (``malloc_trim(0)``) releases the free pages anywhere in every arena.

The glibc functions are no-ops (returning ``False`` / ``None``) where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import MutableMapping
from dataclasses import dataclass
from functools import cache

#: the variable PyTorch's ideep layer reads (once) for its per-shape oneDNN primitive cache
KERNEL_CACHE_VARIABLE = "LRU_CACHE_CAPACITY"
#: ``mallopt`` parameter numbers (glibc ``malloc.h``)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@dataclass(frozen=True)
class HeapStats:
    """glibc's view of the heap, in bytes: ``in_use`` is live memory, ``free`` is held but unused."""

    arena: int  # bytes obtained with brk/sbrk-style heaps, all arenas
    mmapped: int  # bytes in chunks served by their own mmap
    in_use: int
    free: int


def limit_kernel_cache(capacity: int | None, environ: MutableMapping[str, str] | None = None) -> str | None:
    """Bound oneDNN's per-shape primitive cache to ``capacity`` entries unless the environment already sets it.

    Returns the value in force (None: the library's default). Must run before torch first multiplies.
    """
    env = os.environ if environ is None else environ
    if capacity is not None:
        env.setdefault(KERNEL_CACHE_VARIABLE, str(capacity))
    return env.get(KERNEL_CACHE_VARIABLE)


@cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()
    except (OSError, AttributeError):
        return None
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc


def available() -> bool:
    """True where the C library is glibc (trimming and tuning do something)."""
    return _glibc() is not None


def trim() -> bool:
    """Give every free page of every malloc arena back to the OS; True if memory was released."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def tune(*, mmap_threshold: int | None = None, trim_threshold: int | None = None, arena_max: int | None = None) -> bool:
    """Set glibc malloc parameters (``mallopt``) for the rest of the process; True if every one was accepted.

    Call it before the model loads. A fixed ``mmap_threshold`` also stops glibc from raising the threshold
    each time a large block is freed (its default dynamic behaviour), which would pull later large tensors
    into the fragmenting heap.
    """
    libc = _glibc()
    if libc is None:
        return False
    settings = ((M_MMAP_THRESHOLD, mmap_threshold), (M_TRIM_THRESHOLD, trim_threshold), (M_ARENA_MAX, arena_max))
    ok = True
    for param, value in settings:
        if value is not None:
            ok = bool(libc.mallopt(param, value)) and ok
    return ok


def heap_stats() -> HeapStats | None:
    """Live versus held-free heap bytes (``mallinfo2``, glibc ≥ 2.33); None where unavailable."""
    libc = _glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return HeapStats(arena=info.arena, mmapped=info.hblkhd, in_use=info.uordblks + info.hblkhd, free=info.fordblks)
