"""The sync facade: the same transfers over ``httpx.Client`` and a thread pool.

No event loop is created, so this works anywhere, a running Jupyter loop included (the fsspec
sync-over-async bridge is what it avoids).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from mastkit.client import Client
from mastkit.client._rawbody import iter_body
from mastkit.download._run import Run, classify, http_settings
from mastkit.download._transfer import DownloadOptions, Fatal, Transfer
from mastkit.download.engine import _options
from mastkit.download.plan import DownloadItem, DownloadPlan
from mastkit.download.progress import Progress
from mastkit.tables import ResultTable

__all__ = ["download"]


def download(
    plan: DownloadPlan,
    *,
    client: Client | httpx.Client | None = None,
    token: str | None = None,
    server: str | None = None,
    progress: Progress | None = None,
    options: DownloadOptions | None = None,
    **settings: Any,
) -> ResultTable:
    """Download a plan with blocking I/O; same arguments and result as :func:`adownload`.

    Examples
    --------
    >>> from mastkit.download import plan_downloads
    >>> plan = plan_downloads(["mast:HST/product/a.fits"], "/tmp/x", server="http://127.0.0.1:9")
    >>> download(plan, write_manifest=False, max_retries=0)["status"].to_pylist()
    ['ERROR']
    """
    opts = _options(options, settings)
    run = Run(plan, opts, **({"progress": progress} if progress is not None else {}))
    todo = run.start()
    if todo:
        http, owned = _http(client, token, server, opts)
        lock = threading.Lock()
        hosts: dict[str, threading.BoundedSemaphore] = {}

        def one(item: DownloadItem) -> None:
            host = httpx.URL(item.url).netloc.decode()
            with lock:
                sem = hosts.setdefault(host, threading.BoundedSemaphore(opts.per_host))
            with sem:
                _fetch(http, item, run, opts, lock)

        try:
            with ThreadPoolExecutor(
                max_workers=opts.concurrency, thread_name_prefix="mastkit-download"
            ) as pool:
                list(pool.map(one, todo))
        finally:
            if owned:
                http.close()
    return run.finish()


def _http(
    client: Client | httpx.Client | None,
    token: str | None,
    server: str | None,
    opts: DownloadOptions,
) -> tuple[httpx.Client, bool]:
    if isinstance(client, Client):
        return client.http, False
    if client is not None:
        return client, False
    return httpx.Client(**http_settings(token, server, opts)), True


def _fetch(
    http: httpx.Client, item: DownloadItem, run: Run, opts: DownloadOptions, lock: threading.Lock
) -> None:
    started = time.monotonic()
    timeout = httpx.Timeout(opts.read_timeout, connect=opts.connect_timeout)
    attempt = 0
    while True:
        attempt += 1
        transfer = Transfer(item, run.root, durable=opts.durable)
        try:
            headers = {"Accept-Encoding": "identity", **transfer.request_headers()}
            with http.stream(
                "GET", item.url, headers=headers, timeout=timeout, follow_redirects=True
            ) as response:
                transfer.accept(response.status_code, response.headers)
                for chunk in iter_body(response, opts.chunk_size, opts.read_timeout):
                    transfer.write(chunk)
                    with lock:
                        run.advance(item, transfer)
            size, sha = transfer.finish()
            with lock:
                run.advance(item, transfer)
                run.completed(item, size, sha, started, attempt)
            return
        except Exception as exc:
            verdict = classify(transfer.close() or exc, transfer)
            with lock:
                run.advance(item, transfer)
            if isinstance(verdict, Fatal) or attempt > opts.max_retries:
                with lock:
                    run.failed(item, f"{verdict} (after {attempt} attempt(s))", started, attempt)
                return
            time.sleep(opts.delay(attempt, verdict.retry_after))
