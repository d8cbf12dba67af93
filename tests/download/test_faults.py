"""The engine and the sync facade against real misbehaving servers on loopback.

Every test checks the files on disk at the end: complete and verified, or absent (no file under
its final name) with a manifest row that says why.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mastkit.download import DownloadOptions, adownload, download, plan_downloads
from mastkit.download._transfer import describe_os_error
from tests.download.faultserver import FaultServer

BODY = os.urandom(300_000)
OTHER = os.urandom(120_000)
FILES = {"mast:T/a.fits": BODY, "mast:T/b.fits": OTHER}
FAST = {
    "backoff": 0.05,
    "backoff_cap": 0.2,
    "read_timeout": 2.0,
    "connect_timeout": 1.0,
    "chunk_size": 16384,
}


def go(mode: str, plan: Any, **kw: Any) -> Any:
    options = DownloadOptions(**{**FAST, **kw.pop("opts", {})})
    if mode == "async":
        return asyncio.run(adownload(plan, options=options, **kw))
    return download(plan, options=options, **kw)


def plan_for(server: FaultServer, root: Path, uris: list[str] | None = None) -> Any:
    return plan_downloads(uris or ["mast:T/a.fits"], root, server=server.url)


def assert_complete(root: Path, name: str, body: bytes) -> None:
    assert (root / name).read_bytes() == body
    assert not (root / (name + ".part")).exists()


def only_row(manifest: Any) -> dict[str, Any]:
    assert len(manifest) == 1
    return dict(manifest[0])


MODES = pytest.mark.parametrize("mode", ["async", "sync"])


@MODES
def test_clean_download_writes_file_manifest_and_index(tmp_path, mode, size_class):
    with FaultServer(FILES) as srv:
        m = go(mode, plan_for(srv, tmp_path, list(FILES)))
    assert m["status"].to_pylist() == ["COMPLETE", "COMPLETE"]
    assert_complete(tmp_path, "a.fits", BODY)
    assert_complete(tmp_path, "b.fits", OTHER)
    assert m[0]["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert (tmp_path / "manifest.csv").read_text().count("COMPLETE") == 2
    assert srv.requests[0]["accept-encoding"] == "identity"


@MODES
def test_reset_mid_file_resumes_with_range(tmp_path, mode, size_class):
    with FaultServer(FILES, ["reset"]) as srv:
        row = only_row(go(mode, plan_for(srv, tmp_path)))
    assert row["status"] == "COMPLETE" and row["attempts"] == 2
    assert srv.requests[1]["range"].startswith("bytes=") and srv.requests[1]["range"] != "bytes=0-"
    assert_complete(tmp_path, "a.fits", BODY)


def test_server_killed_and_restarted_resumes_from_part(tmp_path):
    srv = FaultServer(FILES, ["die"]).__enter__()
    port = srv.port
    holder: dict[str, FaultServer] = {}

    def restart() -> None:
        srv.died.wait(10)
        time.sleep(0.4)
        holder["srv"] = FaultServer(FILES, port=port).__enter__()

    thread = threading.Thread(target=restart)
    thread.start()
    try:
        row = only_row(
            go(
                "async",
                plan_for(srv, tmp_path),
                opts={"max_retries": 8, "backoff": 0.2, "backoff_cap": 0.4},
            )
        )
    finally:
        thread.join()
        holder["srv"].stop()
    assert row["status"] == "COMPLETE"
    first = holder["srv"].requests[0]
    assert first["range"] != "bytes=0-" and int(first["range"][6:-1]) > 0  # resumed
    assert_complete(tmp_path, "a.fits", BODY)


@MODES
def test_truncated_body_with_correct_length_is_completed(tmp_path, mode, size_class):
    with FaultServer(FILES, ["truncate"]) as srv:
        row = only_row(go(mode, plan_for(srv, tmp_path)))
    assert row["status"] == "COMPLETE" and row["attempts"] == 2
    assert_complete(tmp_path, "a.fits", BODY)


@MODES
def test_wrong_content_is_retried_then_verified(tmp_path, mode, size_class):
    with FaultServer(FILES, ["wrong"]) as srv:
        row = only_row(go(mode, plan_for(srv, tmp_path)))
    assert row["status"] == "COMPLETE" and row["attempts"] == 2
    assert_complete(tmp_path, "a.fits", BODY)


def test_always_wrong_content_is_reported_and_never_under_final_name(tmp_path):
    with FaultServer(FILES, ["wrong"] * 10) as srv:
        row = only_row(go("async", plan_for(srv, tmp_path), opts={"max_retries": 2}))
    assert row["status"] == "ERROR" and "checksum mismatch" in row["message"]
    assert not (tmp_path / "a.fits").exists() and not (tmp_path / "a.fits.part").exists()


@MODES
@pytest.mark.parametrize("code", [429, 503])
def test_rate_limits_honour_retry_after(tmp_path, mode, code):
    with FaultServer(FILES, [("status", code, "1")]) as srv:
        started = time.monotonic()
        row = only_row(go(mode, plan_for(srv, tmp_path)))
        elapsed = time.monotonic() - started
    assert row["status"] == "COMPLETE" and elapsed >= 0.9
    assert_complete(tmp_path, "a.fits", BODY)


def test_stalled_connection_times_out_and_resumes(tmp_path, size_class):
    with FaultServer(FILES, ["stall"]) as srv:
        row = only_row(go("async", plan_for(srv, tmp_path), opts={"read_timeout": 0.5}))
    assert row["status"] == "COMPLETE"
    assert srv.requests[1].get("range", "").startswith("bytes=")
    assert_complete(tmp_path, "a.fits", BODY)


def test_one_failure_never_aborts_the_others(tmp_path):
    with FaultServer(FILES) as srv:
        plan = plan_for(srv, tmp_path, ["mast:T/a.fits", "mast:T/missing.fits", "mast:T/b.fits"])
        m = go("async", plan)
    assert m["status"].to_pylist() == ["COMPLETE", "ERROR", "COMPLETE"]
    assert "HTTP 404" in m[1]["message"]
    assert not (tmp_path / "missing.fits").exists()
    assert_complete(tmp_path, "b.fits", OTHER)


@MODES
def test_destination_that_cannot_be_created_is_a_clear_error(tmp_path, mode):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with FaultServer(FILES) as srv:
        row = only_row(go(mode, plan_for(srv, blocker / "sub")))
    assert row["status"] == "ERROR" and "Cannot write" in row["message"]
    assert srv.requests == []


def test_disk_full_message():
    text = describe_os_error(OSError(errno.ENOSPC, "No space"), Path("/d/a.fits.part"))
    assert "disk full" in text
    text = describe_os_error(OSError(errno.EROFS, "Read-only"), Path("/d/a.fits.part"))
    assert "not writable" in text


@MODES
def test_skip_existing_makes_no_request_and_force_refetches(tmp_path, mode):
    with FaultServer(FILES) as srv:
        go(mode, plan_for(srv, tmp_path))
        again = only_row(go(mode, plan_for(srv, tmp_path)))
        assert again["status"] == "SKIPPED" and len(srv.requests) == 1
        forced = only_row(go(mode, plan_for(srv, tmp_path), opts={"force": True}))
        assert forced["status"] == "COMPLETE" and len(srv.requests) == 2
        # A changed file is not trusted any more.
        (tmp_path / "a.fits").write_bytes(b"tampered")
        fixed = only_row(go(mode, plan_for(srv, tmp_path)))
        assert fixed["status"] == "COMPLETE" and len(srv.requests) == 3
    assert_complete(tmp_path, "a.fits", BODY)


def test_a_file_that_merely_exists_is_not_trusted(tmp_path):
    (tmp_path / "a.fits").write_bytes(BODY[:1000])  # what a crashed astroquery run leaves
    with FaultServer(FILES) as srv:
        assert only_row(go("async", plan_for(srv, tmp_path)))["status"] == "COMPLETE"
    assert_complete(tmp_path, "a.fits", BODY)


def test_token_goes_only_to_the_mast_host(tmp_path):
    with FaultServer(FILES) as mast, FaultServer(FILES) as other:
        plan = plan_downloads(["mast:T/a.fits"], tmp_path / "1", server=mast.url)
        go("async", plan, token="secret", server=mast.url)
        plan = plan_downloads(["mast:T/a.fits"], tmp_path / "2", server=other.url)
        go("sync", plan, token="secret", server=mast.url)
    assert mast.requests[0]["authorization"] == "token secret"
    assert "authorization" not in other.requests[0]


def test_concurrency_is_bounded(tmp_path):
    files = {f"mast:T/f{i}.fits": os.urandom(50_000) for i in range(12)}
    with FaultServer(files) as srv:
        plan = plan_downloads(list(files), tmp_path, server=srv.url)
        active = 0
        peak = 0
        lock = threading.Lock()

        class Hook(httpx.AsyncHTTPTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                nonlocal active, peak
                with lock:
                    active += 1
                    peak = max(peak, active)
                try:
                    await asyncio.sleep(0.02)
                    return await super().handle_async_request(request)
                finally:
                    with lock:
                        active -= 1

        async def main() -> Any:
            async with httpx.AsyncClient(transport=Hook()) as client:
                return await adownload(plan, client=client, concurrency=3)

        m = asyncio.run(main())
    assert set(m["status"].to_pylist()) == {"COMPLETE"} and peak <= 3
    for uri, body in files.items():
        assert_complete(tmp_path, uri.rsplit("/", 1)[1], body)


def test_cancelled_download_stops_its_writer_and_keeps_the_part(tmp_path, size_class):
    with FaultServer(FILES, ["stall"]) as srv:
        plan = plan_for(srv, tmp_path)

        async def main() -> None:
            options = DownloadOptions(**{**FAST, "read_timeout": 30.0})
            task = asyncio.ensure_future(adownload(plan, options=options))
            while not (tmp_path / "a.fits.part").exists() or not srv.requests:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # the half body has arrived; the server stalls
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(main())
    assert not any(t.name == "mastkit-part-writer" for t in threading.enumerate())
    part = (tmp_path / "a.fits.part").read_bytes()
    assert 0 < len(part) < len(BODY) and BODY.startswith(part)
    assert not (tmp_path / "a.fits").exists()


@MODES
@pytest.mark.parametrize("durable", [False, True])
def test_durable_runs_fsync_files_and_directories(tmp_path, mode, durable, monkeypatch):
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if Path("/proc/self").exists() else "?")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with FaultServer(FILES) as srv:
        m = go(mode, plan_for(srv, tmp_path / "d", list(FILES)), opts={"durable": durable})
    assert m["status"].to_pylist() == ["COMPLETE", "COMPLETE"]
    assert_complete(tmp_path / "d", "a.fits", BODY)
    if not durable:
        assert synced == []
    elif Path("/proc/self").exists():
        assert sorted(synced) == sorted(
            [
                str(tmp_path / "d" / "a.fits.part"),
                str(tmp_path / "d" / "b.fits.part"),
                str(tmp_path / "d"),
            ]
        )
    else:
        assert len(synced) == 3


def test_a_torn_index_keeps_its_good_lines(tmp_path):
    with FaultServer(FILES) as srv:
        go("sync", plan_for(srv, tmp_path, list(FILES)))
        index = tmp_path / ".mastkit" / "verified.jsonl"
        good, other = index.read_text().splitlines()
        index.write_text(f"{good}\n{other[: len(other) // 2]}")  # a crash mid-append
        seen = len(srv.requests)
        again = go("sync", plan_for(srv, tmp_path, list(FILES)))
        statuses = dict(zip(again["uri"].to_pylist(), again["status"].to_pylist(), strict=True))
        fetched = [r["target"] for r in srv.requests[seen:]]
    kept = "a.fits" if "a.fits" in good else "b.fits"
    assert statuses[f"mast:T/{kept}"] == "SKIPPED"
    assert len(fetched) == 1 and kept not in fetched[0]  # only the torn one is fetched again
    assert len(index.read_text().splitlines()) == 2  # compacted: one whole line per file
