"""A full disk and a read-only destination, for real: the kernel's answers, not mocks.

* Disk full: one file's ``.part`` is a symlink to ``/dev/full``, whose every write fails with
  ``ENOSPC``; and a child process whose file sizes are capped (``RLIMIT_FSIZE``) gets ``EFBIG``
  in the middle of a file.
* Read-only: a directory the process may not write to. Root ignores permissions, so under root
  the download runs in a child process that first drops to the ``nobody`` user.

Each test checks the disk at the end: no file under a final name that is not complete and
verified, the other files unaffected, a manifest row that says why.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.download.faultserver import FaultServer
from tests.download.test_faults import BODY, FAST, MODES, assert_complete, go, plan_for

SMALL = os.urandom(40_000)
FILES = {"mast:T/a.fits": BODY, "mast:T/c.fits": SMALL}
CHILD = Path(__file__).with_name("child.py")


def in_child(server: FaultServer, root: Path, mode: str, **spec: Any) -> list[dict[str, Any]]:
    """The manifest rows of a download of FILES run by ``child.py`` with ``spec``'s limits."""
    spec = {
        "url": server.url,
        "root": str(root),
        "uris": list(FILES),
        "mode": mode,
        "options": FAST,
        **spec,
    }
    done = subprocess.run(
        [sys.executable, str(CHILD), json.dumps(spec, default=str)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return rows


def by_uri(rows: Any) -> dict[str, dict[str, Any]]:
    return {row["uri"]: dict(row) for row in rows}


@pytest.mark.skipif(sys.platform != "linux", reason="/dev/full is a Linux device")
@MODES
def test_disk_full_is_a_clear_error_and_spares_the_other_files(tmp_path, mode, size_class):
    (tmp_path / "a.fits.part").symlink_to("/dev/full")  # every write: ENOSPC
    with FaultServer(FILES) as srv:
        rows = by_uri(go(mode, plan_for(srv, tmp_path, list(FILES))))
        full = rows["mast:T/a.fits"]
        assert full["status"] == "ERROR" and full["attempts"] == 1  # not retried
        assert "No space left on the device" in full["message"]
        assert "a.fits.part" in full["message"] and "disk full" in full["message"]
        assert not (tmp_path / "a.fits").exists()
        assert not os.path.lexists(tmp_path / "a.fits.part")  # the space is given back
        assert rows["mast:T/c.fits"]["status"] == "COMPLETE"
        assert_complete(tmp_path, "c.fits", SMALL)
        assert "disk full" in (tmp_path / "manifest.csv").read_text()
        index = (tmp_path / ".mastkit" / "verified.jsonl").read_text()
        assert "c.fits" in index and "a.fits" not in index
        # Space freed: the next run fetches the missing file and trusts the verified one.
        again = by_uri(go(mode, plan_for(srv, tmp_path, list(FILES))))
    assert again["mast:T/a.fits"]["status"] == "COMPLETE", again["mast:T/a.fits"]["message"]
    assert again["mast:T/c.fits"]["status"] == "SKIPPED"
    assert_complete(tmp_path, "a.fits", BODY)


def test_file_size_limit_mid_file_keeps_a_resumable_part(tmp_path):
    limit = 100_000  # a.fits is 300,000 bytes; c.fits 40,000
    with FaultServer(FILES) as srv:
        rows = by_uri(in_child(srv, tmp_path, "sync", fsize=limit))
        capped = rows["mast:T/a.fits"]
        assert capped["status"] == "ERROR" and "File too large" in capped["message"]
        assert not (tmp_path / "a.fits").exists()
        part = (tmp_path / "a.fits.part").read_bytes()
        assert 0 < len(part) <= limit and BODY.startswith(part)  # a true prefix
        assert rows["mast:T/c.fits"]["status"] == "COMPLETE"
        assert_complete(tmp_path, "c.fits", SMALL)
        # Without the cap, the next run resumes from the .part and verifies the whole file.
        seen = len(srv.requests)
        again = by_uri(go("sync", plan_for(srv, tmp_path, list(FILES))))
        assert srv.requests[seen]["range"] == f"bytes={len(part)}-"
    assert again["mast:T/a.fits"]["status"] == "COMPLETE", again["mast:T/a.fits"]["message"]
    assert again["mast:T/c.fits"]["status"] == "SKIPPED"
    assert_complete(tmp_path, "a.fits", BODY)


@MODES
def test_read_only_destination_is_a_clear_error(tmp_path, mode):
    root_user = os.geteuid() == 0
    # Under root the destination must be reachable by the unprivileged child: the test's
    # tmp_path is private (0700), so use a world-traversable directory of its own.
    base = Path(tempfile.mkdtemp(prefix="mastkit-ro-")) if root_user else tmp_path
    root = base / "ro"
    try:
        base.chmod(0o755)
        root.mkdir()
        root.chmod(0o555)
        with FaultServer(FILES) as srv:
            if root_user:
                nobody = pwd.getpwnam("nobody").pw_uid
                rows = in_child(srv, root, mode, user=nobody, warm=tmp_path / "warm")
                assert_complete(tmp_path / "warm", "a.fits", BODY)  # the same run, as root
            else:
                rows = go(mode, plan_for(srv, root, list(FILES))).to_pylist()
        assert [row["status"] for row in rows] == ["ERROR", "ERROR"]
        for row in rows:
            assert "not writable" in row["message"] and str(root) in row["message"]
        assert list(root.iterdir()) == []  # no .part, no manifest, nothing
    finally:
        root.chmod(0o755)
        if root_user:
            shutil.rmtree(base)
