"""The decode benchmark's data and runner work (``python -m benchmarks decode`` runs it)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from benchmarks import available
from benchmarks.__main__ import main as run_benchmarks
from benchmarks.bench_decode import make_reply, worker

from mastkit.protocol import decode_response
from mastkit.tables import decode_reply


def test_generated_reply_is_a_valid_varied_caom_reply() -> None:
    body = make_reply(200, seed=1)
    table = decode_reply(decode_response(body))
    assert table.shape == (200, 37)
    assert table.schema.field("obsid").type == pa.int64()
    assert len(table.column("obsid").unique()) == 200
    assert len(table.column("obs_id").unique()) == 200
    assert make_reply(200, seed=1) == body


def test_worker_measures(tmp_path: Path) -> None:
    path = tmp_path / "reply.json"
    path.write_bytes(make_reply(50))
    result = worker("mastkit", path, 2)
    assert result["shape"] == [50, 37] and len(result["times"]) == 2 and result["peak_mb"] > 0
    assert worker("msgspec", path, 1)["shape"] == [50, 38]


def test_runner_lists_benchmarks(capsys: object) -> None:
    assert "decode" in available()
    assert run_benchmarks(["--list"]) == 0
    assert run_benchmarks(["no-such-benchmark"]) == 2
