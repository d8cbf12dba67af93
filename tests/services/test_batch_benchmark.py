"""The scale benchmark's worker runs for real (``python -m benchmarks scale`` runs it all)."""

from __future__ import annotations

from benchmarks import available
from benchmarks.bench_scale import _targets


def test_scale_benchmark_is_listed_and_its_mastkit_worker_measures(server_url: str) -> None:
    assert "scale" in available()
    result = _targets("mastkit", server_url, ["M101", "M31", "no such object 3"], 0.2, 2)
    assert result["rows"] > 0 and result["failures"] == 1
    assert result["time"] > 0 and result["peak_mb"] > 0
