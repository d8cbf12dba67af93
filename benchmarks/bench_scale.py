"""Scale: 1,000 targets in one batch vs an astroquery loop, and a 1.5M-row query split to fit.

Two workloads against the local server (uvicorn on a loopback port, in this process):

* ``targets``: ``--targets`` (1,000) object names, each resolved and cone-queried (radius
  ``--radius``). mastkit: one ``Observations.query_object_many`` call, as a user would make it
  (``--method``, default ``auto``: names resolved 30 a request through SANTA, cones answered by
  ``Mast.Caom.Crossmatch`` chunks; ``--concurrency`` requests at once); astroquery 0.4.11: a
  plain loop of ``Observations.query_object`` (URLs patched to the local server, as
  ``tests/compat`` does), one resolver request and one cone per target. Both start from a cold
  name cache. Target: mastkit at least 10x faster. The rows are checked to be the same.
* ``split``: ``query_criteria(intentType="science")`` on an archive of ``--observations``
  (1,600,000) observations, about 1,550,000 rows, from a server whose row limit is 500,000 and
  which resets the connection over it, as MAST does. mastkit counts, splits into parts that
  fit and merges them; its time, peak memory and parts are reported, and the row count checked
  against the archive. astroquery (informational) asks for the whole and is refused.

Each contender runs in a fresh subprocess, so its peak memory (``VmHWM``) is its own. The big
archive takes about 80 s to build the first time and is cached in the temp directory.
``--quick`` runs 100 targets and a 60,000-observation archive with a 20,000-row limit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from benchmarks.bench_workflow import _astroquery, _peak_mb

ROOT = Path(__file__).resolve().parent.parent
TARGET_SPEEDUP = 10.0
CRITERIA = {"intentType": "science"}


def archive_file(observations: int, seed: int) -> Path:
    """The cached archive (rebuilt when the archive format changes)."""
    from mastkit.server.archive import FORMAT_VERSION, build_archive

    name = f"mastkit-bench-scale-{observations}-{seed}-v{FORMAT_VERSION}.duckdb"
    path = Path(tempfile.gettempdir()) / name
    if not path.exists():
        print(f"building a {observations:,}-observation archive at {path} ...", flush=True)
        started = time.perf_counter()
        build_archive(path, observations=observations, seed=seed)
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    return path


# ------------------------------------------------------------------------------ worker side


def _targets(
    name: str,
    url: str,
    names: list[str],
    radius: float,
    concurrency: int,
    method: str = "auto",
) -> dict[str, Any]:
    warnings.simplefilter("ignore")
    if name == "mastkit":
        from mastkit.client import Client
        from mastkit.services import Observations

        with Client(url, timeout=600) as client:
            obs = Observations(client)
            start = time.perf_counter()
            found = obs.query_object_many(
                names,
                radius=radius,
                concurrency=concurrency,
                method=method,  # type: ignore[arg-type]
            )
            elapsed = time.perf_counter() - start
            ids = found["obsid"].to_pylist()
            failures = len(found.metadata["failures"])
            used = found.metadata["method"]
    else:
        import numpy as np

        observations = _astroquery(url)
        start = time.perf_counter()
        ids, failures = [], 0
        for target in names:
            try:
                table = observations.query_object(target, radius=f"{radius} deg")
            except Exception:  # astroquery raises ResolverError and others per target
                failures += 1
                continue
            ids.extend(int(i) for i in np.asarray(table["obsid"]))
        elapsed = time.perf_counter() - start
        used = "loop"
    return {
        "method": used,
        "name": name,
        "time": elapsed,
        "rows": len(ids),
        "failures": failures,
        "checksum": sum(int(i) % 1_000_003 for i in ids),
        "peak_mb": _peak_mb(),
    }


def _split(name: str, url: str) -> dict[str, Any]:
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    if name == "mastkit":
        from mastkit.client import Client
        from mastkit.services import Observations

        with Client(url, timeout=1800) as client:
            table = Observations(client).query_criteria(**CRITERIA)
            split = table.metadata.get("split") or {}
            rows = len(table)
            return {
                "name": name,
                "time": time.perf_counter() - start,
                "rows": rows,
                "parts": split.get("parts", 1),
                "peak_mb": _peak_mb(),
            }
    observations = _astroquery(url)
    try:
        rows = len(observations.query_criteria(**CRITERIA))
        outcome = "completed"
    except Exception as exc:  # the reset, as astroquery reports it
        rows, outcome = 0, f"failed: {type(exc).__name__}"
    return {
        "name": name,
        "time": time.perf_counter() - start,
        "rows": rows,
        "outcome": outcome,
        "peak_mb": _peak_mb(),
    }


def _run_worker(args: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.bench_scale", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        return {"skipped": f"failed: {tail[0]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------------------ driver side


def _bench_targets(args: argparse.Namespace) -> None:
    from mastkit.server.archive import Archive
    from mastkit.server.local import LocalArchive

    path = archive_file(args.target_observations, args.seed)
    archive = Archive.open(path)
    names = (
        archive.execute(f"SELECT name FROM objects ORDER BY hash(name) LIMIT {int(args.targets)}")
        .column(0)
        .to_pylist()
    )
    names_file = Path(tempfile.gettempdir()) / f"mastkit-bench-scale-names-{os.getpid()}.json"
    names_file.write_text(json.dumps(names))
    print(
        f"\ntargets: {len(names):,} object names on a {args.target_observations:,}-observation "
        f"archive, radius {args.radius} deg; mastkit concurrency {args.concurrency}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results = {}
    try:
        with LocalArchive(archive=archive) as url:
            for name in ("mastkit", "astroquery"):
                results[name] = _run_worker(
                    [
                        "--worker",
                        name,
                        "--workload",
                        "targets",
                        "--url",
                        url,
                        "--names",
                        str(names_file),
                        "--radius",
                        str(args.radius),
                        "--concurrency",
                        str(args.concurrency),
                        "--method",
                        args.method,
                    ]
                )
    finally:
        names_file.unlink(missing_ok=True)
        archive.close()
    print(
        f"  {'contender':<12} {'method':<11} {'time s':>8} {'rows':>8} {'failed':>7} "
        f"{'peak RSS MB':>11}"
    )
    for name, r in results.items():
        if "skipped" in r:
            print(f"  {name:<12} skipped: {r['skipped']}")
            continue
        print(
            f"  {name:<12} {r['method']:<11} {r['time']:8.2f} {r['rows']:8,} {r['failures']:7} "
            f"{r['peak_mb']:11.0f}"
        )
    print(f"  load average after: {os.getloadavg()[0]:.2f}")
    ok = {k: v for k, v in results.items() if "skipped" not in v}
    if len(ok) == 2:
        same = ok["mastkit"]["checksum"] == ok["astroquery"]["checksum"]
        speedup = ok["astroquery"]["time"] / ok["mastkit"]["time"]
        verdict = "met" if speedup >= TARGET_SPEEDUP else "NOT met"
        print(f"  same rows: {'yes' if same else 'NO'}")
        print(
            f"  astroquery / mastkit time  {speedup:6.1f}x   target >= {TARGET_SPEEDUP:g}x  "
            f"{verdict}"
        )


def _bench_split(args: argparse.Namespace) -> None:
    from mastkit.server.app import ServerSettings
    from mastkit.server.archive import Archive
    from mastkit.server.local import LocalArchive

    path = archive_file(args.observations, args.seed)
    archive = Archive.open(path)
    matching = (
        archive.execute("SELECT count(*) FROM observations WHERE intentType = 'science'")
        .column(0)[0]
        .as_py()
    )
    print(
        f"\nsplit: {args.observations:,}-observation archive; query_criteria"
        f"(intentType='science') matches {matching:,} rows; server row limit "
        f"{args.row_limit:,} (connection reset over it); {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    settings = ServerSettings(row_limit=args.row_limit, reset_over_limit=True)
    contenders = ["mastkit", *(["astroquery"] if args.astroquery_split else [])]
    results = {}
    try:
        with LocalArchive(archive=archive, settings=settings) as url:
            for name in contenders:
                results[name] = _run_worker(["--worker", name, "--workload", "split", "--url", url])
    finally:
        archive.close()
    for name, r in results.items():
        if "skipped" in r:
            print(f"  {name:<12} skipped: {r['skipped']}")
        elif name == "mastkit":
            verdict = "complete" if r["rows"] == matching else "WRONG ROW COUNT"
            print(
                f"  mastkit      {r['time']:8.2f} s  {r['rows']:,} rows ({verdict}) in "
                f"{r['parts']} parts; peak RSS {r['peak_mb']:,.0f} MB"
            )
        else:
            print(
                f"  astroquery   {r['time']:8.2f} s  {r['outcome']}; peak RSS "
                f"{r['peak_mb']:,.0f} MB"
            )
    print(f"  load average after: {os.getloadavg()[0]:.2f}")


def main(argv: list[str]) -> int:
    """1,000 targets batched vs an astroquery loop; a 1.5M-row query split under a 500k limit."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks scale", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="100 targets; 60,000 observations with a 20,000-row limit",
    )
    parser.add_argument("--workloads", default="targets,split")
    parser.add_argument("--targets", type=int, default=1_000)
    parser.add_argument("--radius", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--method",
        choices=("auto", "cones", "crossmatch"),
        default="auto",
        help="mastkit's batch method (auto: crossmatch chunks for many targets)",
    )
    parser.add_argument("--target-observations", type=int, default=210_000)
    parser.add_argument("--observations", type=int, default=1_600_000)
    parser.add_argument("--row-limit", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--astroquery-split",
        action="store_true",
        help="also let astroquery ask for the whole (it is refused)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--names", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.workload == "targets":
            names = json.loads(Path(args.names).read_text())
            result = _targets(
                args.worker, args.url, names, args.radius, args.concurrency, args.method
            )
        else:
            result = _split(args.worker, args.url)
        print(json.dumps(result))
        return 0
    if args.quick:
        args.targets, args.target_observations = min(args.targets, 100), 60_000
        args.observations, args.row_limit = 60_000, 20_000
    workloads = [w for w in args.workloads.split(",") if w]
    if "targets" in workloads:
        _bench_targets(args)
    if "split" in workloads:
        _bench_split(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
