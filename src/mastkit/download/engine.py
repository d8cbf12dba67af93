"""The async download engine: bounded, retrying, resuming, verifying (asyncio + httpx).

Examples
--------
>>> import asyncio
>>> from mastkit.download import plan_downloads
>>> plan = plan_downloads(["mast:HST/product/a.fits"], "/tmp/x", server="http://127.0.0.1:9")
>>> asyncio.run(adownload(plan, write_manifest=False, max_retries=0))["status"].to_pylist()
['ERROR']
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from mastkit.client import AsyncClient
from mastkit.client._rawbody import aiter_body
from mastkit.download._run import Run, classify, http_settings
from mastkit.download._transfer import DownloadOptions, Fatal, Transfer
from mastkit.download.plan import DownloadItem, DownloadPlan
from mastkit.download.progress import Progress
from mastkit.tables import ResultTable

__all__ = ["adownload"]


async def adownload(
    plan: DownloadPlan,
    *,
    client: AsyncClient | httpx.AsyncClient | None = None,
    token: str | None = None,
    server: str | None = None,
    progress: Progress | None = None,
    options: DownloadOptions | None = None,
    **settings: Any,
) -> ResultTable:
    """Download a plan; return the manifest (one row per item; failures are rows, not raises).

    Parameters
    ----------
    plan : DownloadPlan
        From :func:`~mastkit.download.plan_downloads`.
    client : AsyncClient or httpx.AsyncClient, optional
        Reused for its connections (and the token of a mastkit client, which goes only to its
        own host). Without one, a client is made for the run and closed after.
    token, server : str, optional
        With no client: a MAST token, sent only to ``server``'s host.
    progress : Progress, optional
        Receives progress events (silent by default).
    options : DownloadOptions, optional
        Concurrency, retries, timeouts, ``force``; keyword ``settings`` override its fields.
    """
    opts = _options(options, settings)
    run = Run(plan, opts, **({"progress": progress} if progress is not None else {}))
    todo = run.start()
    if todo:
        http, owned = _http(client, token, server, opts)
        try:
            await _fetch_all(http, todo, run, opts)
        finally:
            if owned:
                await http.aclose()
    return run.finish()


def _options(options: DownloadOptions | None, settings: dict[str, Any]) -> DownloadOptions:
    import dataclasses

    base = options or DownloadOptions()
    return dataclasses.replace(base, **settings) if settings else base


def _http(
    client: AsyncClient | httpx.AsyncClient | None,
    token: str | None,
    server: str | None,
    opts: DownloadOptions,
) -> tuple[httpx.AsyncClient, bool]:
    if isinstance(client, AsyncClient):
        return client.http, False
    if client is not None:
        return client, False
    return httpx.AsyncClient(**http_settings(token, server, opts)), True


async def _fetch_all(
    http: httpx.AsyncClient, todo: list[DownloadItem], run: Run, opts: DownloadOptions
) -> None:
    overall = asyncio.Semaphore(opts.concurrency)
    hosts: dict[str, asyncio.Semaphore] = {}

    async def one(item: DownloadItem) -> None:
        host = httpx.URL(item.url).netloc.decode()
        per_host = hosts.setdefault(host, asyncio.Semaphore(opts.per_host))
        async with per_host, overall:  # host first: never hold a global slot idle
            await _fetch(http, item, run, opts)

    await asyncio.gather(*(one(item) for item in todo))


async def _fetch(
    http: httpx.AsyncClient, item: DownloadItem, run: Run, opts: DownloadOptions
) -> None:
    started = time.monotonic()
    timeout = httpx.Timeout(opts.read_timeout, connect=opts.connect_timeout)
    attempt = 0
    while True:
        attempt += 1
        transfer = Transfer(item, run.root, durable=opts.durable)
        try:
            # File-system work (mkdir, hashing a .part, fsync, rename) runs off the event loop.
            ranged = await asyncio.to_thread(transfer.request_headers)
            headers = {"Accept-Encoding": "identity", **ranged}
            async with http.stream(
                "GET", item.url, headers=headers, timeout=timeout, follow_redirects=True
            ) as response:
                await asyncio.to_thread(transfer.accept, response.status_code, response.headers)
                run.advance(item, transfer)
                async for chunk in aiter_body(response, opts.chunk_size, opts.read_timeout):
                    if not transfer.try_write(chunk):  # the disk is behind: wait, off the loop
                        await asyncio.to_thread(transfer.write, chunk)
                    run.advance(item, transfer)
            size, sha = await asyncio.to_thread(transfer.finish)
            run.advance(item, transfer)
            run.completed(item, size, sha, started, attempt)
            return
        except asyncio.CancelledError:
            transfer.close()  # stop the writer thread; the .part stays for a resume
            raise
        except Exception as exc:
            pending: BaseException | None = await asyncio.to_thread(transfer.close)
            verdict = classify(pending or exc, transfer)
            run.advance(item, transfer)
            if isinstance(verdict, Fatal) or attempt > opts.max_retries:
                run.failed(item, f"{verdict} (after {attempt} attempt(s))", started, attempt)
                return
            await asyncio.sleep(opts.delay(attempt, verdict.retry_after))
