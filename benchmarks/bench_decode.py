"""Decoding a 200k-row CAOM json reply: mastkit vs astroquery 0.4.11 vs bare msgspec/orjson.

The reply is built from the real ``tests/fixtures/caom.json`` rows, widened to the current
36-column ``Mast.Caom.Filtered`` shape (plus ``distance`` and ``_selected_``), with every row's
numbers and strings varied so the data is not trivially repetitive. It is cached in the temp
directory, keyed by row count and seed.

Each contender runs in a fresh subprocess, so that its peak memory is its own: the peak RSS
(``ru_maxrss``, which includes Arrow's allocations, unlike ``tracemalloc``) is reported along
with the growth over the process's state just before the first decode (imports done, reply
bytes loaded). Times are the best of ``--repeat`` runs in that process.

Contenders:

* ``mastkit``: ``mastkit.protocol.decode_response`` + ``mastkit.tables.decode_reply`` → Arrow.
* ``astroquery``: what ``PortalAPI._parse_result`` does per page: ``json.loads`` (what
  ``requests.Response.json`` does), then ``discovery_portal._json_to_table`` with the service's
  columns config (``tests/fixtures/columnsconfig.json``) → masked astropy Table.
* ``msgspec`` and ``orjson``: bare ``decode``/``loads`` of the same bytes to Python objects: the
  floor for anything that parses JSON in Python.
* ``mastkit-astropy``: mastkit, then ``ResultTable.to_astropy()``, for a like-for-like output
  with astroquery (informational).

Contenders run in ``--rounds`` interleaved rounds; a contender's time is its best run over all
rounds, its memory the highest over all rounds. ``cpu s`` is the process CPU time of that best
run over all threads (Arrow parses on every core; msgspec, orjson and json use one). Times on a
shared machine vary a lot: the load average is printed, and the best-of figures are the ones
to compare.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CONTENDERS = ("mastkit", "astroquery", "msgspec", "orjson", "mastkit-astropy")
TARGET_VS_ASTROQUERY = 5.0
TARGET_VS_PARSER = 1.5

# Columns of the current Mast.Caom.Filtered result that the older caom.json fixture lacks.
_EXTRA_FIELDS = [
    ("intentType", "string"),
    ("provenance_name", "string"),
    ("wave_region", "string"),
    ("proposal_type", "string"),
    ("sequence_number", "int"),
    ("dataRights", "string"),
    ("mtFlag", "boolean"),
    ("srcDen", "float"),
    ("wave_min", "float"),
    ("wave_max", "float"),
]


def make_reply(rows: int, seed: int = 20240601) -> bytes:
    """A CAOM-like json reply of ``rows`` rows, varied from the real caom.json rows."""
    import msgspec

    sample = json.loads((FIXTURES / "caom.json").read_bytes())
    base_fields = [f for f in sample["fields"] if f["name"] != "_selected_"]
    fields = (
        base_fields
        + [{"name": n, "type": t} for n, t in _EXTRA_FIELDS]
        + [{"name": "_selected_", "type": "boolean"}]
    )
    names = [f["name"] for f in fields]
    rng = random.Random(seed)
    base = sample["data"]
    data = []
    for i in range(rows):
        src = base[i % len(base)]
        r = dict(src)
        r["obsid"] = src["obsid"] + 7 * i
        r["objID"] = src["objID"] + 13 * i
        r["obs_id"] = f"{src['obs_id'][:5]}{i:07X}"
        r["target_name"] = f"{src['target_name']}-{rng.randrange(10**6)}"
        for key in ("s_ra", "s_dec", "t_min", "t_max", "distance", "t_obs_release"):
            r[key] = src[key] + rng.uniform(-0.5, 0.5)
        if src["em_min"] is not None:
            r["em_min"] = round(src["em_min"] * rng.uniform(0.9, 1.1), 6)
        r["t_exptime"] = rng.choice(
            [src["t_exptime"], rng.randrange(1, 5000), round(rng.uniform(1, 5000), 3)]
        )
        r["calib_level"] = rng.randrange(4)
        r["proposal_id"] = rng.choice([src["proposal_id"], str(rng.randrange(1000, 20000)), None])
        r["intentType"] = rng.choice(["science", "calibration"])
        r["provenance_name"] = rng.choice(["CALSTIS", "SPOC", None, "TASOC", "HAP"])
        r["wave_region"] = src["wavelength_region"]
        r["proposal_type"] = rng.choice(["GO", "GTO", "CAL", None])
        r["sequence_number"] = rng.choice([None, rng.randrange(100)])
        r["dataRights"] = rng.choice(["PUBLIC", "EXCLUSIVE_ACCESS"])
        r["mtFlag"] = rng.choice([True, False, None])
        r["srcDen"] = rng.choice([None, rng.uniform(0, 1e4)])
        r["wave_min"], r["wave_max"] = r["em_min"], src["em_max"]
        r["_selected_"] = None
        data.append({name: r.get(name) for name in names})
    paging = {
        "page": 1,
        "pageSize": rows,
        "pagesFiltered": 1,
        "rows": rows,
        "rowsFiltered": rows,
        "rowsTotal": rows,
    }
    reply = {"status": "COMPLETE", "msg": "", "data": data, "fields": fields, "paging": paging}
    return msgspec.json.encode(reply)


def reply_file(rows: int, seed: int) -> Path:
    """The cached reply file, built on first use."""
    path = Path(tempfile.gettempdir()) / f"mastkit-bench-decode-{rows}-{seed}.json"
    if not path.exists():
        partial = path.with_suffix(".part")
        partial.write_bytes(make_reply(rows, seed))
        partial.replace(path)
    return path


# ------------------------------------------------------------------------------ worker side


def _contender(name: str) -> Callable[[bytes], Any]:
    """Import what a contender needs and return its decode function (imports are not timed)."""
    if name in ("mastkit", "mastkit-astropy"):
        from mastkit.protocol import decode_response
        from mastkit.tables import ResultTable, decode_reply

        if name == "mastkit":
            return lambda body: decode_reply(decode_response(body))
        import astropy.table  # noqa: F401  (imported up front, as astroquery's is)

        return lambda body: ResultTable(decode_reply(decode_response(body))).to_astropy()
    if name == "astroquery":
        import warnings

        warnings.simplefilter("ignore")
        from astroquery.mast.discovery_portal import _json_to_table  # type: ignore[import-untyped]

        config = json.loads((FIXTURES / "columnsconfig.json").read_bytes())
        return lambda body: _json_to_table(json.loads(body), config)
    if name == "msgspec":
        import msgspec

        return msgspec.json.decode
    if name == "orjson":
        import orjson

        return orjson.loads
    raise SystemExit(f"unknown contender {name!r}")


def _shape(result: Any) -> list[int]:
    if hasattr(result, "num_rows"):
        return [result.num_rows, result.num_columns]
    if hasattr(result, "colnames"):
        return [len(result), len(result.colnames)]
    return [len(result["data"]), len(result["fields"])]


def worker(name: str, path: Path, repeat: int) -> dict[str, Any]:
    """Run one contender ``repeat`` times in this process and measure it."""
    try:
        decode = _contender(name)
    except ImportError as exc:
        return {"name": name, "skipped": f"not installed ({exc.name})"}
    body = path.read_bytes()
    gc.collect()
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, cpu = [], []
    shape: list[int] = []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = decode(body)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)  # all threads: Arrow parses on both cores
        shape = _shape(result)
        del result
        gc.collect()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best = min(range(repeat), key=times.__getitem__)
    return {
        "name": name,
        "times": times,
        "best": times[best],
        "cpu": cpu[best],
        "shape": shape,
        "peak_mb": peak_kb / 1024,
        "growth_mb": (peak_kb - baseline_kb) / 1024,
    }


# ------------------------------------------------------------------------------ driver side


def _run_worker(name: str, path: Path, repeat: int) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.bench_decode",
        "--worker",
        name,
        "--file",
        str(path),
        "--repeat",
        str(repeat),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"name": name, "skipped": f"failed: {done.stderr.strip().splitlines()[-1:]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _merge(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Keep the best time over rounds, and the highest memory (the conservative figure)."""
    if old is None or "skipped" in old:
        return new
    if "skipped" in new:
        return old
    best = new if new["best"] < old["best"] else old
    return {
        **best,
        "times": old["times"] + new["times"],
        "peak_mb": max(old["peak_mb"], new["peak_mb"]),
        "growth_mb": max(old["growth_mb"], new["growth_mb"]),
    }


def main(argv: list[str]) -> int:
    """Decoding a 200k-row CAOM json reply: mastkit vs astroquery vs bare msgspec/orjson."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks decode", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender process")
    parser.add_argument(
        "--rounds", type=int, default=2, help="fresh processes per contender, interleaved"
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.file), args.repeat)))
        return 0

    path = reply_file(args.rows, args.seed)
    size_mb = path.stat().st_size / 1e6
    names = [n for n in args.contenders.split(",") if n]
    load = os.getloadavg()[0]
    print(
        f"{args.rows:,}-row CAOM-like json reply ({size_mb:.1f} MB); {args.rounds} round(s) of one "
        f"fresh process per contender, best of {args.repeat} runs each; "
        f"{os.cpu_count()} CPUs, load average {load:.2f}",
        flush=True,
    )
    if load > 0.5:
        print(
            "  note: the machine is busy; times (multithreaded ones most) will be noisy", flush=True
        )
    results: dict[str, dict[str, Any]] = {}
    for _ in range(args.rounds):
        for name in names:
            results[name] = _merge(results.get(name), _run_worker(name, path, args.repeat))
    header = f"{'best s':>7} {'cpu s':>6}  {'peak RSS MB':>11} {'growth MB':>9}  runs (s)"
    print(f"\n  {'contender':<16} {header}")
    for name in names:
        r = results[name]
        if "skipped" in r:
            print(f"  {name:<16} skipped: {r['skipped']}")
            continue
        runs = " ".join(f"{t:.2f}" for t in r["times"])
        figures = f"{r['best']:7.3f} {r['cpu']:6.2f}  {r['peak_mb']:11.0f} {r['growth_mb']:9.0f}"
        print(f"  {name:<16} {figures}  {runs}")
    ok = {k: v for k, v in results.items() if "skipped" not in v}
    print("\nratios")
    if "mastkit" in ok and "astroquery" in ok:
        speedup = ok["astroquery"]["best"] / ok["mastkit"]["best"]
        _ratio(
            "astroquery / mastkit time",
            speedup,
            f">= {TARGET_VS_ASTROQUERY:g}x",
            speedup >= TARGET_VS_ASTROQUERY,
        )
        for key, label in (("peak_mb", "peak RSS"), ("growth_mb", "RSS growth")):
            ratio = ok["mastkit"][key] / ok["astroquery"][key]
            _ratio(f"mastkit / astroquery {label}", ratio, "<= 1x", ratio <= 1.0)
    for other in ("msgspec", "orjson"):
        if "mastkit" in ok and other in ok:
            ratio = ok["mastkit"]["best"] / ok[other]["best"]
            _ratio(
                f"mastkit / {other} time",
                ratio,
                f"<= {TARGET_VS_PARSER:g}x",
                ratio <= TARGET_VS_PARSER,
            )
    if "mastkit-astropy" in ok and "astroquery" in ok:
        ratio = ok["astroquery"]["best"] / ok["mastkit-astropy"]["best"]
        _ratio("astroquery / (mastkit+to_astropy)", ratio, "same output type", None)
    return 0


def _ratio(label: str, value: float, target: str, met: bool | None) -> None:
    verdict = "" if met is None else ("met" if met else "NOT met")
    print(f"  {label:<36} {value:6.2f}x   target {target:<18} {verdict}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
