"""Load: 200 concurrent AsyncClient tasks against the local server, with and without faults.

The server runs in its own process (so its memory is measured honestly and client load does not
share its GIL), over the archive given by ``--archive`` (default: a 3,000-observation archive
built once into mastkit's cache directory). ``--tasks`` asyncio tasks spread over
``--clients`` :class:`mastkit.AsyncClient` instances run a mix of real queries for
``--duration`` seconds:

* ``cone``: ``Mast.Caom.Cone`` around an observation (radius 0.05-0.3 degrees);
* ``paged``: ``Mast.Caom.Filtered`` of a mission in pages of 100 rows (pages 2..N fetched
  concurrently); the row count is checked against the archive, so a partial table is an error;
* ``count``: ``COUNT_BIG(*)`` of a mission, checked against the archive;
* ``products``: ``Mast.Caom.Products`` of 1-10 observations through
  :class:`mastkit.services.AsyncObservations`;
* ``lookup``: ``Mast.Name.Lookup`` of a catalogued name.

Any exception or wrong count is a client-visible error; the target is zero. The ``faults``
variant injects rare transient faults (503, 429 with Retry-After, resets, truncated bodies,
slow replies, EXECUTING, dropped jobs) that the client must absorb with its default retry policy;
client retries are counted from its log. Server memory (RSS, Python's allocated blocks after a
collection, job table and result cache) is measured after a warm-up and again after the run,
each time once idle jobs have expired.

Run with ``python -m benchmarks load [-- --duration 60 --variant clean|faults|both]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TASKS = 200
CLIENTS = 8
EXPIRY = 2.0  # server job expiry during the run, so idle results can be seen to go away
#: Rare transient faults the client must absorb (about 5% of requests meet one).
FAULTS = (
    "service=*:kind=503:p=0.01",
    "service=*:kind=429:retry_after=0.2:p=0.005",
    "service=*:kind=reset:p=0.005",
    "service=*:kind=truncate:p=0.005",
    "service=*:kind=slow:delay=0.3:p=0.01",
    "service=*:kind=executing:p=0.01",
    "service=Mast.Caom.Filtered:kind=drop:p=0.02",
)
#: The injected faults the client answers with exactly one retry each.
RETRIED_KINDS = ("503", "429", "reset", "truncate")
PAGESIZE = 100
CALL_TIMEOUT = 120.0  # the deadline of each operation: a run never hangs
WEIGHTS = {"cone": 35, "paged": 20, "count": 10, "products": 20, "lookup": 15}
NAMES = ("M1", "M31", "M101", "NGC 257", "NGC 4594", "HIP 83438", "HIP 73993", "Crab Nebula")


# ----------------------------------------------------------------------------- the server


def serve_main(argv: list[str]) -> None:
    """The server process: serve ``--archive`` until stdin closes; print the URL first."""
    import gc

    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from mastkit.server.app import ServerSettings, create_app
    from mastkit.server.archive import Archive
    from mastkit.server.fault_injection import FaultPlan
    from mastkit.server.local import BackgroundServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--fault", action="append", default=[])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--expiry", type=float, default=EXPIRY)
    args = parser.parse_args(argv)
    archive = Archive.open(args.archive)
    plan = FaultPlan.parse(args.fault, seed=args.seed)
    app = create_app(archive, ServerSettings(faults=plan, job_expiry=args.expiry))
    state = app.state.server

    async def stats(_request: Any) -> JSONResponse:
        jobs = state.jobs.expire()
        gc.collect()
        return JSONResponse(
            {
                "jobs": jobs,
                "cached_bytes": state.jobs.cached_bytes,
                "blocks": sys.getallocatedblocks(),
                "rss": _own_rss(),
                "faults": dict(_fault_counts(state.faults)),
            }
        )

    app.router.routes.append(Route("/_load/stats", stats, methods=["GET"]))
    server = BackgroundServer(app)
    print(server.start(), flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()
        archive.close()


def _fault_counts(injector: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    for count in injector.counts() if injector is not None else ():
        counts[count.rule.kind] += count.injected
    return counts


def _own_rss() -> int:
    """Resident set size of this process in bytes (Linux), else its peak."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class ServerProcess:
    """The server in a subprocess (see :func:`serve_main`)."""

    def __init__(self, archive: Path, faults: tuple[str, ...] = (), seed: int = 0) -> None:
        command = [
            sys.executable,
            "-m",
            "benchmarks.bench_load",
            "--serve",
            "--archive",
            str(archive),
        ]
        command += [f"--fault={spec}" for spec in faults] + ["--seed", str(seed)]
        root = Path(__file__).resolve().parents[1]
        self.process = subprocess.Popen(
            command, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.close()
            raise RuntimeError("the load server did not start")

    def stats(self, settle: float = EXPIRY + 0.5) -> dict[str, Any]:
        """Server memory and tables once idle jobs have expired (after ``settle`` seconds)."""
        import httpx

        time.sleep(settle)
        stats: dict[str, Any] = httpx.get(self.url + "/_load/stats", timeout=60).json()
        return stats

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


# ----------------------------------------------------------------------------- the workload


@dataclass
class Workload:
    """What the tasks query, with the answers the archive gives directly."""

    positions: list[tuple[float, float]]
    obsids: list[int]
    collections: list[str]
    counts: dict[str, int]

    @classmethod
    def from_archive(cls, path: Path, seed: int = 0) -> Workload:
        from mastkit.server.archive import Archive

        with Archive.open(path) as db:
            rows = db.execute(
                f"SELECT obsid, s_ra, s_dec FROM observations USING SAMPLE reservoir(500 ROWS) "
                f"REPEATABLE ({int(seed)})"
            ).to_pylist()
            counts = {
                r["obs_collection"]: r["n"]
                for r in db.execute(
                    "SELECT obs_collection, count(*) AS n FROM observations GROUP BY 1"
                ).to_pylist()
            }
        return cls(
            positions=[(r["s_ra"], r["s_dec"]) for r in rows],
            obsids=[r["obsid"] for r in rows],
            collections=sorted(counts),
            counts=counts,
        )


@dataclass
class Tally:
    """What the run saw."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    retry_causes: Counter[str] = field(default_factory=Counter)

    @property
    def done(self) -> int:
        return sum(len(v) for v in self.latencies.values())


class _RetryCounter(logging.Handler):
    def __init__(self, tally: Tally) -> None:
        super().__init__(logging.INFO)
        self.tally = tally

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("retrying"):
            self.tally.retries += 1
            self.tally.retry_causes[record.getMessage().split(" after: ", 1)[-1][:90]] += 1


async def _operation(kind: str, client: Any, obs: Any, work: Workload, rng: random.Random) -> None:
    if kind == "cone":
        ra, dec = rng.choice(work.positions)
        await client.query(
            "Mast.Caom.Cone", {"ra": ra, "dec": dec, "radius": rng.uniform(0.05, 0.3)}
        )
    elif kind == "paged":
        mission = rng.choice(work.collections)
        filters = [{"paramName": "obs_collection", "values": [mission]}]
        table = await client.query(
            "Mast.Caom.Filtered", {"columns": "*", "filters": filters}, pagesize=PAGESIZE
        )
        if len(table) != work.counts[mission]:
            raise AssertionError(
                f"paged query of {mission}: {len(table)} rows, expected {work.counts[mission]}"
            )
    elif kind == "count":
        mission = rng.choice(work.collections)
        filters = [{"paramName": "obs_collection", "values": [mission]}]
        table = await client.query(
            "Mast.Caom.Filtered", {"columns": "COUNT_BIG(*)", "filters": filters}
        )
        got = table.arrow.column(0)[0].as_py()
        if got != work.counts[mission]:
            raise AssertionError(f"count of {mission}: {got}, expected {work.counts[mission]}")
    elif kind == "products":
        await obs.products(rng.sample(work.obsids, rng.randint(1, 10)))
    else:
        await client.invoke("Mast.Name.Lookup", {"input": rng.choice(NAMES), "format": "json"})


async def drive(
    url: str,
    work: Workload,
    *,
    duration: float,
    tasks: int = TASKS,
    clients: int = CLIENTS,
    seed: int = 0,
    rounds: int | None = None,
) -> Tally:
    """Run ``tasks`` tasks over ``clients`` AsyncClients against ``url``.

    Each task starts operations until ``duration`` seconds have passed (or it has done
    ``rounds`` of them); operations in flight then finish, each bounded by the client's
    :data:`CALL_TIMEOUT`, so a run ends at most that long after ``duration``.
    """
    from mastkit import AsyncClient
    from mastkit.services import AsyncObservations

    tally = Tally()
    counter = _RetryCounter(tally)
    log = logging.getLogger("mastkit.client")
    previous = log.level
    log.addHandler(counter)
    log.setLevel(logging.INFO)
    kinds, weights = zip(*WEIGHTS.items(), strict=True)

    async def count_request(_request: Any) -> None:
        tally.requests += 1

    pool = [
        AsyncClient(url, concurrency=4, cache=False, timeout=CALL_TIMEOUT)
        for _ in range(max(1, clients))
    ]
    for client in pool:
        client.http.event_hooks["request"].append(count_request)
    stop = time.monotonic() + duration

    async def task(index: int) -> None:
        rng = random.Random(seed * 1_000_003 + index)
        client = pool[index % len(pool)]
        obs = AsyncObservations(client)
        done = 0
        while time.monotonic() < stop and (rounds is None or done < rounds):
            done += 1
            kind = rng.choices(kinds, weights)[0]
            started = time.perf_counter()
            try:
                await _operation(kind, client, obs, work, rng)
            except Exception as exc:  # every failure counts, whatever its kind
                tally.errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:300])
            else:
                tally.latencies[kind].append(time.perf_counter() - started)

    try:
        await asyncio.gather(*(task(i) for i in range(tasks)))
    finally:
        for client in pool:
            await client.aclose()
        log.removeHandler(counter)
        log.setLevel(previous)
    return tally


@dataclass
class LoadReport:
    """One variant's figures."""

    variant: str
    duration: float
    tally: Tally
    before: dict[str, Any]
    after: dict[str, Any]
    warmup: Tally = field(default_factory=Tally)

    def percentile(self, q: float, kind: str | None = None) -> float:
        values = sorted(
            v for k, vs in self.tally.latencies.items() if kind in (None, k) for v in vs
        )
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))] * 1000

    def lines(self) -> list[str]:
        t = self.tally
        mib = 1 << 20
        out = [
            f"{self.variant}: {t.done:,} operations ({t.done / self.duration:,.1f}/s), "
            f"{t.requests:,} HTTP requests ({t.requests / self.duration:,.1f}/s) in "
            f"{self.duration:.0f} s; {len(t.errors)} errors, {t.retries} client retries",
            f"  latency p50 {self.percentile(50):.1f} ms  p99 {self.percentile(99):.1f} ms",
        ]
        for kind in WEIGHTS:
            out.append(
                f"    {kind:<9} n={len(t.latencies.get(kind, [])):>6,}  "
                f"p50 {self.percentile(50, kind):8.1f} ms  p99 {self.percentile(99, kind):8.1f} ms"
            )
        out.append(
            f"  server RSS {self.before['rss'] / mib:.1f} -> {self.after['rss'] / mib:.1f} MiB; "
            f"Python blocks {self.before['blocks']:,} -> {self.after['blocks']:,}; "
            f"jobs {self.before['jobs']} -> {self.after['jobs']}; cached bytes "
            f"{self.before['cached_bytes']:,} -> {self.after['cached_bytes']:,}"
        )
        if self.after["faults"]:
            faults = ", ".join(f"{k} {v}" for k, v in sorted(self.after["faults"].items()))
            out.append(f"  faults injected: {faults}")
        for cause, n in t.retry_causes.most_common(5):
            out.append(f"  retried {n}x after: {cause}")
        if self.warmup.errors:
            out.append(f"  warm-up: {len(self.warmup.errors)} errors")
        for error in sorted(set(self.warmup.errors + t.errors))[:5]:
            out.append(f"  error: {error}")
        return out


def run_load(
    archive: Path,
    *,
    duration: float,
    faults: tuple[str, ...] = (),
    tasks: int = TASKS,
    clients: int = CLIENTS,
    seed: int = 0,
) -> LoadReport:
    """Serve ``archive`` in a subprocess, warm it up, load it for ``duration`` s, measure.

    The warm-up (one operation per task, all at once) fills the server's pools and caches, so
    the memory measured after it is the baseline the run is compared with. ``duration`` is how
    long operations are started; the last ones then finish (see :func:`drive`).
    """
    work = Workload.from_archive(archive, seed)
    server = ServerProcess(archive, faults, seed)
    try:
        warm = asyncio.run(
            drive(
                server.url,
                work,
                duration=CALL_TIMEOUT,
                rounds=1,
                tasks=tasks,
                clients=clients,
                seed=seed + 1,
            )
        )
        before = server.stats()
        started = time.monotonic()
        tally = asyncio.run(
            drive(
                server.url,
                work,
                duration=duration,
                tasks=tasks,
                clients=clients,
                seed=seed,
            )
        )
        elapsed = time.monotonic() - started
        after = server.stats()
    finally:
        server.close()
    return LoadReport("faults" if faults else "clean", elapsed, tally, before, after, warm)


def _archive(path: Path | None, observations: int) -> Path:
    from mastkit._settings import Settings
    from mastkit.server.archive import ensure_archive

    target = path or Settings.from_env().cache_dir / "archive" / f"load-{observations}-0.duckdb"
    return Path(ensure_archive(target, observations=observations, seed=0))


def main(argv: list[str]) -> int:
    """Load: 200 concurrent AsyncClient tasks on the local server, clean and with faults."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks load --")
    parser.add_argument("--archive", type=Path, default=None)
    parser.add_argument("--observations", type=int, default=3000)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--variant", choices=("clean", "faults", "both"), default="both")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    archive = _archive(args.archive, args.observations)
    print(
        f"archive {archive}; {args.tasks} tasks over {args.clients} AsyncClients; "
        f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    variants = ("clean", "faults") if args.variant == "both" else (args.variant,)
    for variant in variants:
        report = run_load(
            archive,
            duration=args.duration,
            faults=FAULTS if variant == "faults" else (),
            tasks=args.tasks,
            clients=args.clients,
            seed=args.seed,
        )
        print("\n".join(report.lines()), flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve_main(sys.argv[2:])
    else:
        sys.exit(main(sys.argv[1:]))
