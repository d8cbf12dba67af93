"""Run one download in a child process with limits a test cannot set on itself.

``python child.py SPEC`` where SPEC is JSON: ``url``, ``root``, ``uris``, ``mode`` (``sync`` or
``async``), ``options`` (DownloadOptions fields) and, optionally:

``warm`` (a writable directory)
    First run the same download there, as the starting user: it imports every module the
    download needs while the interpreter's files are still readable.
``user`` (a uid)
    Then drop to that user (and its group), for good, before the download under test.
``fsize`` (bytes)
    Then limit the size of any file this process writes (``RLIMIT_FSIZE``), with ``SIGXFSZ``
    ignored so that an oversized write fails with ``EFBIG`` instead of killing the process.

The manifest's rows are printed as JSON on the last line of stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import sys
from typing import Any

from mastkit.download import DownloadOptions, adownload, download, plan_downloads


def run(spec: dict[str, Any], root: str) -> list[dict[str, Any]]:
    options = DownloadOptions(**spec["options"])
    plan = plan_downloads(spec["uris"], root, server=spec["url"])
    if spec["mode"] == "async":
        manifest = asyncio.run(adownload(plan, options=options))
    else:
        manifest = download(plan, options=options)
    return manifest.to_pylist()


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec.get("warm"):
        run(spec, spec["warm"])
    if spec.get("user") is not None:
        uid = int(spec["user"])
        os.setgroups([])
        os.setgid(pwd.getpwuid(uid).pw_gid)
        os.setuid(uid)
        assert os.geteuid() == uid
    if spec.get("fsize") is not None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = int(spec["fsize"])
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    print(json.dumps(run(spec, spec["root"])))


if __name__ == "__main__":
    main()
