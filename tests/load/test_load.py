"""Load on loopback: 200 concurrent AsyncClient tasks against the local server, faults injected.

One bounded run of :mod:`benchmarks.bench_load` (``MASTKIT_LOAD_SECONDS``, default 60: tasks
start operations for three quarters of it, and the operations in flight then finish; before it,
a warm-up of one operation per task), with the server in its own process and rare transient faults
injected (503, 429, resets, truncated bodies, slow replies, EXECUTING, dropped jobs). It checks:

* no client-visible error: every operation returned, and paged queries and counts match the
  archive (no partial table);
* no retry beyond the injected faults: each injected 503, 429, reset or truncation costs the
  client exactly one retry, so any other transport error (a keep-alive race, a stray reset)
  shows up as an excess;
* no memory growth in the server: once idle jobs expire, the job table and result cache are
  back to empty, Python's allocated blocks are back to the warm-up baseline, and the resident
  size has not grown beyond allocator noise.

The clean variant, and throughput and latency figures, are in ``python -m benchmarks load``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from benchmarks.bench_load import FAULTS, RETRIED_KINDS, WEIGHTS, run_load

from ..server.conftest import small_archive

SECONDS = float(os.environ.get("MASTKIT_LOAD_SECONDS", "60"))


@pytest.mark.slow
def test_two_hundred_tasks_with_faults(tmp_path_factory: pytest.TempPathFactory) -> None:
    archive = Path(small_archive(tmp_path_factory))
    report = run_load(archive, duration=SECONDS * 0.75, faults=FAULTS, tasks=200)
    print("\n".join(report.lines()))  # shown with -s; the figures of the run
    tally = report.tally

    assert not report.warmup.errors and not tally.errors, tally.errors[:5]
    assert set(tally.latencies) == set(WEIGHTS)  # every kind of operation ran
    assert tally.done > 200

    injected = {
        kind: report.after["faults"].get(kind, 0) - report.before["faults"].get(kind, 0)
        for kind in RETRIED_KINDS
    }
    assert sum(injected.values()) > 0
    assert tally.retries == sum(injected.values()), (injected, dict(tally.retry_causes))

    before, after = report.before, report.after
    assert before["jobs"] == after["jobs"] == 0
    assert before["cached_bytes"] == after["cached_bytes"] == 0
    assert after["blocks"] <= before["blocks"] * 1.02 + 5_000
    assert after["rss"] <= before["rss"] * 1.10 + 32 * 2**20
