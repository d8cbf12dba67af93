"""The local server's malloc tuning (mastkit.server.memory), checked in fresh processes.

glibc's ``mallinfo2`` says how many bytes live in blocks of their own ``mmap``: with the tuning a
50 MB buffer comes from the heap (and can be reused without fresh pages), without it it does not.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

_PROBE = r"""
import ctypes, json, sys
from mastkit.server.memory import keep_large_buffers

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
applied = keep_large_buffers()
before = mallinfo2().hblkhd
buffer = bytes(50_000_000)
during = mallinfo2().hblkhd
import pyarrow as pa
print(json.dumps({"applied": applied, "again": keep_large_buffers(),
                  "mmapped": during - before, "arrow_pool": pa.default_memory_pool().backend_name}))
"""

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="malloc tuning exists only on glibc",
)


def _probe(**env: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@glibc
def test_large_buffers_come_from_the_heap_once_tuned() -> None:
    tuned = _probe()
    assert tuned["applied"] is True and tuned["again"] is True
    assert tuned["mmapped"] == 0  # the 50 MB block is a heap block, reusable when freed
    assert tuned["arrow_pool"] == "system"  # Arrow allocates from the same heap


@glibc
def test_the_tuning_can_be_turned_off() -> None:
    plain = _probe(MASTKIT_SERVER_MALLOC_TUNING="0")
    assert plain["applied"] is False
    assert int(plain["mmapped"]) >= 50_000_000  # glibc's default: a mapping of its own
    assert plain["arrow_pool"] != "system"
