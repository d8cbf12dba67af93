"""Keeping large freed buffers for reuse in a process that serves MAST pages (glibc only).

A 50,000-row json page is some 50 MB of text, built from Arrow buffers of similar sizes, once per
request. glibc's ``malloc`` gives blocks over 32 MiB their own ``mmap`` and returns them to the
kernel when freed, and it trims freed memory at the top of the heap beyond twice its (adaptive)
mmap threshold: so every page costs fresh memory, which the kernel must fault in and zero page by
page. Measured on a 204,314-row query in 50,000-row pages, that is about a sixth of the server's
CPU time (1.50 CPU-s per query; 1.27 with the thresholds below).

:func:`keep_large_buffers` raises both thresholds with ``mallopt``, so blocks up to
:data:`MMAP_THRESHOLD` come from the heap and up to :data:`TRIM_THRESHOLD` of freed heap stays
mapped for the next request; and it makes Arrow allocate from that same heap (pyarrow's default
pool, mimalloc, hands freed pages back to the kernel after a few milliseconds, and the server's
take and join kernels then fault in fresh ones: another sixth of the CPU of a product list).
Buffers already allocated keep their own pool. The cost: a server that once answered a large
page keeps up to that much memory mapped while idle. The local server applies it when it starts
(:class:`~mastkit.server.local.BackgroundServer`, ``mastkit serve``); the client library never
changes its host's allocator. ``MASTKIT_SERVER_MALLOC_TUNING=0`` turns it off. Elsewhere than
glibc (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys
import threading

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_large_buffers"]

logger = logging.getLogger("mastkit.server")

#: Blocks up to this size come from the heap, not from a fresh ``mmap`` each.
MMAP_THRESHOLD = 256 << 20
#: Freed memory kept at the top of the heap before it is returned to the kernel.
TRIM_THRESHOLD = 512 << 20
_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_ENV = "MASTKIT_SERVER_MALLOC_TUNING"
_lock = threading.Lock()
_applied: bool | None = None


def keep_large_buffers() -> bool:
    """Raise glibc's mmap and trim thresholds for this process, once (see the module doc).

    Returns
    -------
    bool
        Whether the thresholds are in effect (False off glibc, or when turned off).
    """
    global _applied
    with _lock:
        if _applied is None:
            _applied = _apply()
        return _applied


def _apply() -> bool:
    if os.environ.get(_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - glibc always has it
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done: bool = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    done = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and done
    if not done:  # pragma: no cover - glibc accepts these values
        logger.info("glibc refused the malloc thresholds; large pages cost fresh memory")
        return False
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    return True
