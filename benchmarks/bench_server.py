"""Local server under load: 0.2-degree cone latency and 50 concurrent clients on a 1M archive.

The archive (``--observations``, default 1,000,000) is built once into mastkit's cache directory
(``MASTKIT_CACHE_DIR``) as ``archive/bench-<N>-<seed>.duckdb`` and reused by later runs. The
server runs as ``mastkit serve`` in its own process, so client load does not share its GIL.

1. Latency: ``--cones`` sequential ``Mast.Caom.Cone`` requests (radius ``--radius``), each with a
   fresh cachebreaker so every one runs its query, centred on observations drawn at random from
   the archive (where results are not empty). Server-side time is the ``Server-Timing`` header
   the server adds (request read to reply encoded); client time is the round trip.
   Targets: p50 <= 20 ms, p99 <= 100 ms server-side.
2. Load: ``--clients`` concurrent clients send cones (random positions, fresh cachebreakers) for
   ``--duration`` seconds. Any exception, HTTP error or non-COMPLETE reply counts as an error.
   Target: zero errors. Throughput is reported.

``--quick`` runs a small archive for a few seconds, to check the benchmark itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

TARGET_P50_MS = 20.0
TARGET_P99_MS = 100.0
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/plain"}


def _body(ra: float, dec: float, radius: float) -> bytes:
    request = {
        "service": "Mast.Caom.Cone",
        "params": {"ra": ra, "dec": dec, "radius": radius},
        "format": "json",
        "pagesize": 50000,
        "page": 1,
        "cacheBreaker": str(uuid.uuid4()),
    }
    return ("request=" + quote(json.dumps(request))).encode()


def _server_ms(headers: Any) -> float:
    timing = headers.get("server-timing", "")
    for part in timing.split(";"):
        if part.strip().startswith("dur="):
            return float(part.strip()[4:])
    return float("nan")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _archive(args: argparse.Namespace) -> Path:
    from mastkit._settings import Settings
    from mastkit.server.archive import ensure_archive

    path = args.archive or (
        Settings.from_env().cache_dir / "archive" / f"bench-{args.observations}-{args.seed}.duckdb"
    )
    started = time.perf_counter()
    existed = Path(path).exists()
    built = ensure_archive(path, observations=args.observations, seed=args.seed)
    if not existed:
        print(
            f"built {built} ({args.observations:,} observations) in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    else:
        print(f"archive {built} ({args.observations:,} observations)", flush=True)
    return built


def _positions(path: Path, n: int, seed: int) -> list[tuple[float, float]]:
    from mastkit.server.archive import Archive

    with Archive.open(path) as db:
        rows = db.execute(
            f"SELECT s_ra, s_dec FROM observations USING SAMPLE reservoir({int(n)} ROWS) "
            f"REPEATABLE ({int(seed)})"
        ).to_pylist()
    return [(r["s_ra"], r["s_dec"]) for r in rows]


def _start_server(path: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = "from mastkit.cli import main; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port), "--archive", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/whoami", timeout=1)
            return process, url
        except httpx.TransportError:
            if process.poll() is not None:
                break
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def _latency(url: str, positions: list[tuple[float, float]], radius: float) -> dict[str, Any]:
    import httpx

    server, client, rows = [], [], []
    with httpx.Client(base_url=url, timeout=60) as http:
        for ra, dec in positions[:20]:  # warm-up: caches, thread pool, DuckDB buffers
            http.post("/api/v0/invoke", content=_body(ra, dec, radius), headers=FORM)
        for ra, dec in positions:
            started = time.perf_counter()
            response = http.post("/api/v0/invoke", content=_body(ra, dec, radius), headers=FORM)
            client.append((time.perf_counter() - started) * 1000)
            server.append(_server_ms(response.headers))
            reply = response.json()
            if reply["status"] != "COMPLETE":
                raise RuntimeError(f"cone failed: {reply['msg']}")
            rows.append(reply["paging"]["rowsTotal"])
    return {"server": server, "client": client, "rows": rows}


async def _load(
    url: str, clients: int, duration: float, radius: float, seed: int
) -> dict[str, Any]:
    import httpx

    rng = random.Random(seed)
    done = 0
    errors: list[str] = []
    latencies: list[float] = []
    stop = time.monotonic() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < stop:
                ra, dec = rng.uniform(0, 360), math_degrees_asin(rng.uniform(-1, 1))
                started = time.perf_counter()
                try:
                    response = await http.post(
                        "/api/v0/invoke", content=_body(ra, dec, radius), headers=FORM
                    )
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}")
                    elif response.json().get("status") != "COMPLETE":
                        errors.append(str(response.json().get("msg")))
                    else:
                        done += 1
                        latencies.append((time.perf_counter() - started) * 1000)
                except Exception as exc:  # every failure counts, whatever its kind
                    errors.append(f"{type(exc).__name__}: {exc}")

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.monotonic() - began
    return {"done": done, "errors": errors, "elapsed": elapsed, "latencies": latencies}


def math_degrees_asin(x: float) -> float:
    """Declination of a uniform point on the sphere from a uniform sine."""
    import math

    return math.degrees(math.asin(x))


def main(argv: list[str]) -> int:
    """Local server under load: 0.2-degree cone latency and 50 concurrent clients, 1M archive."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks server --")
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--archive", type=Path, default=None)
    parser.add_argument("--cones", type=int, default=500)
    parser.add_argument("--radius", type=float, default=0.2)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="small archive, short run")
    args = parser.parse_args(argv)
    if args.quick:
        args.observations, args.cones, args.duration = 20_000, 100, 5.0
    path = _archive(args)
    positions = _positions(path, args.cones, args.seed)
    process, url = _start_server(path)
    rng = random.Random(args.seed)
    uniform = [
        (rng.uniform(0, 360), math_degrees_asin(rng.uniform(-1, 1))) for _ in range(args.cones)
    ]
    try:
        lat = _latency(url, positions, args.radius)
        lat_uniform = _latency(url, uniform, args.radius)
        load = asyncio.run(_load(url, args.clients, args.duration, args.radius, args.seed))
    finally:
        process.terminate()
        process.wait(timeout=30)
    p50, p99 = _percentile(lat["server"], 50), _percentile(lat["server"], 99)
    print(
        f"\ncone r={args.radius} deg on {args.observations:,} observations, "
        f"{args.cones} sequential queries each:"
    )
    for label, run in (("on observations", lat), ("uniform sky", lat_uniform)):
        print(
            f"  {label:<16} server-side p50 {_percentile(run['server'], 50):7.2f} ms  "
            f"p99 {_percentile(run['server'], 99):7.2f} ms  "
            f"(round trip p50 {_percentile(run['client'], 50):.2f} ms; "
            f"rows mean {statistics.mean(run['rows']):.1f}, max {max(run['rows'])})"
        )
    print(
        f"  targets: p50 <= {TARGET_P50_MS:g} ms, p99 <= {TARGET_P99_MS:g} ms, checked on "
        "the harder set (cones centred on observations)"
    )
    rate = load["done"] / load["elapsed"] if load["elapsed"] else 0.0
    print(f"\n{args.clients} concurrent clients for {load['elapsed']:.1f} s (random positions):")
    print(
        f"  {load['done']:,} cones answered, {len(load['errors'])} errors, {rate:,.1f} requests/s"
    )
    print(
        f"  round trip p50 {_percentile(load['latencies'], 50):.1f} ms  "
        f"p99 {_percentile(load['latencies'], 99):.1f} ms"
    )
    for error in sorted(set(load["errors"]))[:5]:
        print(f"  error: {error}")
    ok = p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS and not load["errors"]
    load_average = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\ntargets {'met' if ok else 'MISSED'} (cpus {os.cpu_count()}, "
        f"load average {load_average:.1f} at the end: other work on the machine inflates these)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
