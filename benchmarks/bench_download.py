"""Downloads from the local server: mastkit vs astroquery 0.4.11 and curl, on the same files.

The local MAST server (uvicorn on a loopback port, in this process) serves a synthetic archive of
``--observations`` CAOM observations built once (seed ``--seed``) into the temp directory. Its
product files are generated on request as valid FITS of each row's size. Three workloads:

* ``many``: ``--files`` distinct products of 1-5 MB (picked by size, in archive order),
  downloaded into an empty directory. Target: mastkit at least 5x faster than astroquery's
  ``Observations.download_products`` on the same product table.
* ``big``: one product whose row is resized (in the benchmark's own archive) to ``--big-mb``
  MB, 500 by default. Target: mastkit's throughput at least 70% of ``curl``'s on the same URL,
  writing into the same directory.
* ``many-wan``: ``many`` again with the server waiting ``--wan-latency`` ms (20 by default)
  before each reply, as an archive across a continent does at the least (a round trip, plus the
  archive's own time to first byte): the same transfers, now with latency to hide.
* ``rerun``: each client run again, in a fresh process, on the directory its ``many`` run
  completed. mastkit trusts its verified index and must make no request at all (the server
  counts every request it receives); astroquery's cache sends a HEAD per file. Target: mastkit
  at least 20x faster.

Contenders run in fresh subprocesses, so that imports are not timed and peak memory (``VmHWM``)
is their own; times are the best of ``--repeat`` runs (each ``many``/``big`` run starts from an
empty directory; clearing it and flushing the page cache's dirty pages are not timed). Python
contenders are timed from the plan (or the astroquery call) to the end of the last file; curl
by its own ``time_total``.

* ``mastkit``: :func:`mastkit.download.download` (the sync facade, what ``mastkit download``
  runs) with a :class:`mastkit.client.Client`: plan, fetch 8 at a time, verify size and SHA-256,
  rename, record in the verified index, write the manifest (default options: not ``durable``);
* ``mastkit-async``: :func:`mastkit.download.adownload` on an ``AsyncClient`` (informational);
* ``astroquery``: ``Observations.download_products`` (URLs pointed at the local server, as
  ``tests/compat`` does), default options (``cache=True``);
* ``curl``: ``curl -sS -o FILE URL``.

Before timing, the server is asked once for each file (HEAD), so that every contender finds its
product and checksum caches warm. Besides times, the report gives each contender's CPU seconds
(user + system, all threads, of its best run) and the server's (this process, averaged over the
runs): on a busy machine they say more than the wall clock. The machine's load average is
printed at the start and the end: the server and the clients share its cores, and other work on
the machine inflates every figure.
``--quick`` runs 20 files and a 50 MB file once each, to check the benchmark itself.

Over loopback a request costs no round trip, so ``many`` measures CPU: the server's (some 10-15
ms per 3 MB file) and each client's per byte (mastkit also computes and checks a SHA-256 of
every file). ``--latency MS`` makes the server wait before each reply, as a distant archive's round
trip does, which is where one request at a time and a HEAD before every GET cost the most.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ("many", "many-wan", "big", "rerun")
CONTENDERS = {
    "many": ("mastkit", "mastkit-async", "astroquery"),
    "many-wan": ("mastkit", "astroquery"),
    "big": ("mastkit", "mastkit-async", "curl"),
    "rerun": ("mastkit", "astroquery"),
}
#: What each workload's reference ratio is and its target.
TARGETS = {"many": 5.0, "many-wan": 5.0, "big": 0.7, "rerun": 20.0}
MIN_SIZE, MAX_SIZE = 1_000_000, 5_000_000
FITS_BLOCK = 2880
_HARD_CODED = (
    "http://mastresolver.stsci.edu",
    "https://mastresolver.stsci.edu",
    "https://mast.stsci.edu",
)
#: Columns of the products table that are the generator's, not MAST's.
_PRIVATE = ("_seed", "_instrument", "_target", "_row")


# ------------------------------------------------------------------------------ the archive


def archive_file(observations: int, seed: int, directory: Path | None = None) -> Path:
    """The benchmark's archive, built on first use (some 6 s for 600 observations) and again
    when the server's archive format changes."""
    from mastkit.server.archive import ensure_archive

    where = directory or Path(tempfile.gettempdir())
    path = where / f"mastkit-bench-download-{observations}-{seed}.duckdb"
    return ensure_archive(path, observations=observations, seed=seed)


def big_size(megabytes: float) -> int:
    """A FITS size (whole 2880-byte blocks) of at least ``megabytes`` MB (10**6 bytes)."""
    return max(2, -(-int(megabytes * 1_000_000) // FITS_BLOCK)) * FITS_BLOCK


def prepare(path: Path, files: int, big_bytes: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Resize the big product's row to ``big_bytes``; return the small rows and the big row.

    The big product is the first FITS product of a JWST observation in archive order (the same
    row whatever its current size); the small ones are the first ``files`` other FITS products
    of 1-5 MB with distinct URIs.
    """
    import duckdb

    con = duckdb.connect(str(path))
    try:
        uri = con.execute(
            "SELECT \"dataURI\" FROM products WHERE obs_collection = 'JWST' "
            "AND \"productFilename\" LIKE '%.fits' ORDER BY _row LIMIT 1"
        ).fetchone()
        if uri is None:
            raise SystemExit("the archive has no JWST FITS product to resize")
        con.execute('UPDATE products SET size = ? WHERE "dataURI" = ?', [big_bytes, uri[0]])
        exclude = ", ".join(f'"{c}"' for c in _PRIVATE)
        big = _dicts(
            con.execute(
                f"SELECT * EXCLUDE ({exclude}) FROM products "
                'WHERE "dataURI" = ? ORDER BY _row LIMIT 1',
                [uri[0]],
            )
        )[0]
        small = con.execute(
            f"SELECT * EXCLUDE ({exclude}) FROM (SELECT *, row_number() OVER "
            '(PARTITION BY "dataURI" ORDER BY _row) AS _n FROM products '
            f'WHERE size BETWEEN {MIN_SIZE} AND {MAX_SIZE} AND "dataURI" <> ? '
            "AND \"productFilename\" LIKE '%.fits') WHERE _n = 1 ORDER BY _row LIMIT ?",
            [uri[0], files],
        )
        small = [{k: v for k, v in row.items() if k != "_n"} for row in _dicts(small)]
    finally:
        con.close()
    if len(small) < files:
        raise SystemExit(f"only {len(small)} products of 1-5 MB; use more --observations")
    return small, big


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# ------------------------------------------------------------------------------ the server


class CountingApp:
    """An ASGI wrapper counting the HTTP requests the app receives, by method, and optionally
    delaying each reply by ``latency`` seconds (a wide-area round trip, for ``--latency``)."""

    def __init__(self, app: Any, latency: float = 0.0) -> None:
        self.app = app
        self.latency = latency
        self.counts: collections.Counter[str] = collections.Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.counts[scope["method"]] += 1
            if self.latency:
                await asyncio.sleep(self.latency)
        await self.app(scope, receive, send)

    def take(self) -> dict[str, int]:
        """The counts since the last call (and reset them)."""
        counts = dict(self.counts)
        self.counts.clear()
        return counts


@contextmanager
def serve(path: Path, latency: float = 0.0) -> Iterator[tuple[str, CountingApp]]:
    """The local server over the archive at ``path``, on loopback: ``(url, counter)``."""
    from mastkit.server.app import create_app
    from mastkit.server.archive import Archive
    from mastkit.server.local import BackgroundServer

    archive = Archive.open(path)
    app = CountingApp(create_app(archive), latency)
    server = BackgroundServer(app)
    try:
        yield server.start(), app
    finally:
        server.stop()
        archive.close()


def warm(url: str, rows: list[dict[str, Any]]) -> None:
    """HEAD every file once, so the server has all checksums cached before timing."""
    import httpx

    from mastkit.download import download_url

    with httpx.Client(timeout=300) as http:
        for row in rows:
            http.head(download_url(url, row["dataURI"])).raise_for_status()


# ------------------------------------------------------------------------------ worker side


def _peak_mb() -> float:
    """Peak resident memory of this process image (VmHWM; ru_maxrss where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _astroquery(url: str) -> Any:
    """astroquery.mast's Observations, talking to ``url`` (imports are not timed)."""
    import warnings

    warnings.simplefilter("ignore")
    from astroquery.mast import Observations, utils  # type: ignore[import-untyped]

    portal = Observations._portal_api_connection
    portal.MAST_REQUEST_URL = url + "/api/v0/invoke"
    portal.COLUMNS_CONFIG_URL = url + "/portal/Mashup/Mashup.asmx/columnsconfig"
    portal.MAST_DOWNLOAD_URL = url + "/api/v0.1/Download/file"
    portal.MAST_BUNDLE_URL = url + "/api/v0.1/Download/bundle"
    service = Observations._service_api_connection
    service.SERVICE_URL = url
    service.REQUEST_URL = url + "/api/v0.1/"
    service.MAST_DOWNLOAD_URL = url + "/api/v0.1/Download/file"
    original = utils._simple_request

    def local_request(target: str, params: Any = None) -> Any:
        for prefix in _HARD_CODED:
            if target.startswith(prefix):
                target = url + target[len(prefix) :]
        return original(target, params)

    utils._simple_request = local_request
    return Observations


def _runner(name: str, url: str, rows_file: Path, directory: Path) -> tuple[Any, Any]:
    """A callable running one download of the rows into ``directory`` (returning the
    statuses), and one to call when done (or None)."""
    import pyarrow.parquet as pq

    if name == "mastkit":
        from mastkit.client import Client
        from mastkit.download import download, plan_downloads

        client = Client(url)
        rows = pq.read_table(rows_file)

        def run() -> list[str]:
            plan = plan_downloads(rows, directory, server=client.server)
            statuses: list[str] = download(plan, client=client)["status"].to_pylist()
            return statuses

        return run, client.close
    if name == "mastkit-async":
        from mastkit.client import AsyncClient
        from mastkit.download import adownload, plan_downloads

        rows = pq.read_table(rows_file)

        async def arun() -> list[str]:
            async with AsyncClient(url) as client:
                plan = plan_downloads(rows, directory, server=client.server)
                statuses: list[str] = (await adownload(plan, client=client))["status"].to_pylist()
                return statuses

        return (lambda: asyncio.run(arun())), None
    if name == "astroquery":
        from mastkit.tables import ResultTable

        observations = _astroquery(url)
        # A masked astropy table, as get_product_list returns (astropy's parquet reader
        # cannot read null strings).
        table = ResultTable(pq.read_table(rows_file)).to_astropy()

        def run_astroquery() -> list[str]:
            manifest = observations.download_products(table, download_dir=str(directory))
            return [str(s) for s in manifest["Status"]]

        return run_astroquery, None
    raise SystemExit(f"unknown contender {name!r}")


def worker(
    name: str, workload: str, url: str, rows_file: Path, directory: Path, repeat: int
) -> dict[str, Any]:
    """Run one contender ``repeat`` times in this process (fresh directory per run unless
    ``workload`` is ``rerun``)."""
    try:
        run, close = _runner(name, url, rows_file, directory)
    except ImportError as exc:
        return {"name": name, "skipped": f"not installed ({exc.name})"}
    times: list[float] = []
    cpu: list[float] = []
    statuses: list[str] = []
    try:
        for _ in range(repeat):
            if workload != "rerun":
                shutil.rmtree(directory, ignore_errors=True)
            gc.collect()
            _settle()
            cpu_start, start = _cpu(resource.RUSAGE_SELF), time.perf_counter()
            statuses = run()
            times.append(time.perf_counter() - start)
            cpu.append(_cpu(resource.RUSAGE_SELF) - cpu_start)
    finally:
        if close is not None:
            close()
    best = min(range(len(times)), key=times.__getitem__)
    return {
        "name": name,
        "times": times,
        "best": times[best],
        "cpu": cpu[best],
        "statuses": dict(collections.Counter(statuses)),
        "peak_mb": _peak_mb(),
    }


def _settle() -> None:
    """Write out what earlier runs left in the page cache (untimed), so that no run waits for
    the disk to absorb another's files (the kernel throttles writers when too much is dirty)."""
    if hasattr(os, "sync"):
        os.sync()


def _cpu(who: int) -> float:
    """User + system CPU seconds of this process (all its threads) or its reaped children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------------------ driver side


def _files_on_disk(directory: Path) -> tuple[int, int]:
    """Product files (``.fits``) under ``directory`` and their total bytes."""
    found = [p for p in directory.rglob("*.fits") if p.is_file()]
    return len(found), sum(p.stat().st_size for p in found)


def _run_worker(
    name: str, workload: str, url: str, rows_file: Path, directory: Path, repeat: int
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.bench_download",
        "--worker",
        name,
        "--workload",
        workload,
        "--url",
        url,
        "--rows",
        str(rows_file),
        "--dir",
        str(directory),
        "--repeat",
        str(repeat),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        return {"name": name, "skipped": f"failed: {tail[0]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _curl(url: str, directory: Path, repeat: int) -> dict[str, Any]:
    if shutil.which("curl") is None:
        return {"name": "curl", "skipped": "curl is not installed"}
    times: list[float] = []
    cpu: list[float] = []
    peak = 0.0
    for _ in range(repeat):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        _settle()
        children = _cpu(resource.RUSAGE_CHILDREN)
        result = _timed_child(
            ["curl", "-sS", "--fail", "-o", str(directory / "big.fits"), "-w", "%{time_total}", url]
        )
        if "skipped" in result:
            return {"name": "curl", **result}
        times.append(float(result["stdout"].strip().replace(",", ".")))
        cpu.append(_cpu(resource.RUSAGE_CHILDREN) - children)
        peak = max(peak, result["peak_mb"])
    best = min(range(len(times)), key=times.__getitem__)
    return {
        "name": "curl",
        "times": times,
        "best": times[best],
        "cpu": cpu[best],
        "statuses": {"COMPLETE": 1},
        "peak_mb": peak,
    }


def _timed_child(command: list[str]) -> dict[str, Any]:
    """Run ``command``: its stdout and its peak resident memory (``VmHWM``, polled).

    Not ``wait4``'s ``ru_maxrss``: on Linux a child's maximum survives ``exec``, so every
    child of this process (which holds the server) would report this process's size.
    """
    import threading

    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done = threading.Event()
    peak = [0.0]

    def watch() -> None:
        status = Path(f"/proc/{process.pid}/status")
        while True:  # read first, then wait: a short child may be gone after one interval
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]) / 1024)
            except (OSError, ValueError):
                return
            if done.wait(0.01):
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = process.communicate()
    done.set()
    watcher.join()
    if process.returncode != 0:
        return {"skipped": f"failed: {err.decode(errors='replace').strip()}"}
    return {"stdout": out.decode(), "peak_mb": peak[0]}


def _report(workload: str, results: dict[str, dict[str, Any]], nbytes: int, files: int) -> None:
    print(f"\n{workload}: {files} file(s), {nbytes / 1e6:,.1f} MB")
    print(
        f"  {'contender':<14} {'best s':>8} {'MB/s':>8} {'files/s':>8} {'peak RSS MB':>11} "
        f"{'CPU s':>6} {'server':>6} {'requests/run':>16}  statuses; runs (s)"
    )
    for name, r in results.items():
        if "skipped" in r:
            print(f"  {name:<14} skipped: {r['skipped']}")
            continue
        best = r["best"]
        runs = " ".join(f"{t:.3f}" for t in r["times"])
        per_run = {k: v / len(r["times"]) for k, v in r.get("requests", {}).items()}
        requests = ",".join(f"{k} {v:g}" for k, v in sorted(per_run.items())) or "0"
        rate = nbytes / 1e6 / best if workload != "rerun" else float("nan")
        print(
            f"  {name:<14} {best:8.3f} {rate:8.1f} {files / best:8.1f} {r['peak_mb']:11.0f} "
            f"{r['cpu']:6.2f} {r.get('server_cpu', 0.0):6.2f} {requests:>16}  "
            f"{r['statuses']}; {runs}"
        )
    ok = {k: v for k, v in results.items() if "skipped" not in v}
    target = TARGETS[workload]
    if workload == "big" and "mastkit" in ok and "curl" in ok:
        ratio = ok["curl"]["best"] / ok["mastkit"]["best"]
        verdict = "met" if ratio >= target else "NOT met"
        print(f"  mastkit / curl throughput      {ratio:6.2f}   target >= {target:g}  {verdict}")
        if "mastkit-async" in ok:
            ratio = ok["curl"]["best"] / ok["mastkit-async"]["best"]
            print(f"  mastkit-async / curl throughput {ratio:5.2f}")
    elif "mastkit" in ok and "astroquery" in ok:
        ratio = ok["astroquery"]["best"] / ok["mastkit"]["best"]
        verdict = "met" if ratio >= target else "NOT met"
        print(f"  astroquery / mastkit time      {ratio:6.1f}x  target >= {target:g}x  {verdict}")
        if "mastkit-async" in ok:
            ratio = ok["astroquery"]["best"] / ok["mastkit-async"]["best"]
            print(f"  astroquery / mastkit-async time {ratio:5.1f}x")
        memory = ok["mastkit"]["peak_mb"] / ok["astroquery"]["peak_mb"]
        print(f"  mastkit / astroquery peak RSS  {memory:6.2f}x")
    if workload == "rerun" and "mastkit" in ok:
        made = sum(ok["mastkit"].get("requests", {}).values())
        print(
            f"  mastkit requests on the re-run: {made} "
            f"({'none, as required' if made == 0 else 'NOT zero'})"
        )


def main(argv: list[str]) -> int:
    """200 files of 1-5 MB and re-runs vs astroquery; a 500 MB file vs curl (local server)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks download --", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--observations", type=int, default=600)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--big-mb", type=float, default=500.0)
    parser.add_argument("--repeat", type=int, default=2, help="runs per contender process")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument(
        "--contenders", default="", help="comma-separated subset (default: all of each workload)"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to download (default: a new temp directory, removed after)",
    )
    parser.add_argument("--quick", action="store_true", help="20 files, 50 MB, one run each")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="milliseconds the server waits before each reply (a wide-area round trip)",
    )
    parser.add_argument(
        "--wan-latency",
        type=float,
        default=20.0,
        help="milliseconds the server waits before each reply in the many-wan workload",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--rows", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = worker(
            args.worker, args.workload, args.url, Path(args.rows), args.dir, args.repeat
        )
        print(json.dumps(result))
        return 0
    if args.quick:
        args.files, args.big_mb, args.repeat = 20, 50.0, 1
    return drive(args)


def drive(args: argparse.Namespace) -> int:
    """The driver: archive, server, contenders, report."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    workloads = [w for w in args.workloads.split(",") if w]
    chosen = {c for c in args.contenders.split(",") if c}
    print(
        f"{os.cpu_count()} CPUs, load average at the start "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    path = archive_file(args.observations, args.seed)
    small, big = prepare(path, args.files, big_size(args.big_mb))
    work = args.dir or Path(tempfile.mkdtemp(prefix="mastkit-bench-download-"))
    work.mkdir(parents=True, exist_ok=True)
    small_file, big_file = work / "small.parquet", work / "big.parquet"
    pq.write_table(pa.Table.from_pylist(small), small_file)
    pq.write_table(pa.Table.from_pylist([big]), big_file)
    small_bytes = sum(int(r["size"]) for r in small)
    if args.latency:
        print(f"the server waits {args.latency:g} ms before each reply (simulated latency)")
    print(
        f"{args.observations:,}-observation synthetic archive (seed {args.seed}); many: "
        f"{len(small)} files, {small_bytes / 1e6:.1f} MB; big: {big['size'] / 1e6:.1f} MB; "
        f"best of {args.repeat} run(s) per fresh process; downloads under {work}",
        flush=True,
    )
    results: dict[str, dict[str, dict[str, Any]]] = {w: {} for w in workloads}

    def wanted(workload: str) -> list[str]:
        return [c for c in CONTENDERS[workload] if not chosen or c in chosen]

    try:
        with serve(path) as (url, counter):
            warm(url, [*small, big] if "big" in workloads else small)
            counter.latency = args.latency / 1000
            counter.take()
            for workload in ("many", "rerun", "many-wan", "big"):
                if workload not in workloads:
                    continue
                wan = workload == "many-wan"
                counter.latency = (args.wan_latency if wan else args.latency) / 1000
                for name in wanted(workload):
                    where = work / f"{'many' if workload == 'rerun' else workload}-{name}"
                    if workload == "rerun" and not _files_on_disk(where)[0]:
                        # No completed directory from a many run: make one, untimed.
                        _run_worker(name, "many", url, small_file, where, 1)
                    counter.take()
                    server_cpu = _cpu(resource.RUSAGE_SELF)
                    if name == "curl":
                        result = _curl(
                            f"{url}/api/v0.1/Download/file?uri={big['dataURI']}", where, args.repeat
                        )
                    else:
                        rows_file = big_file if workload == "big" else small_file
                        result = _run_worker(name, workload, url, rows_file, where, args.repeat)
                    result["requests"] = counter.take()
                    result["server_cpu"] = (_cpu(resource.RUSAGE_SELF) - server_cpu) / args.repeat
                    result["on_disk"] = _files_on_disk(where)
                    results[workload][name] = result
                    if workload == "big":
                        shutil.rmtree(where, ignore_errors=True)
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    for workload in workloads:
        nbytes, files = (big["size"], 1) if workload == "big" else (small_bytes, len(small))
        _report(workload, results[workload], nbytes, files)
        if workload == "many-wan":
            print(f"  (the server waited {args.wan_latency:g} ms before each reply)")
        for name, r in results[workload].items():
            if "skipped" not in r and workload != "big" and r["on_disk"] != (files, nbytes):
                print(
                    f"  WARNING: {name} left {r['on_disk'][0]} files, {r['on_disk'][1]:,} bytes "
                    f"(expected {files}, {nbytes:,})"
                )
    print(f"\nload average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
