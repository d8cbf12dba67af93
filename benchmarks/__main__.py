"""``python -m benchmarks [NAME...] [-- ARGS]``: run benchmarks by name (all when none given)."""

from __future__ import annotations

import importlib
import sys

from benchmarks import available, load


def _describe(module_name: str) -> str:
    doc = (importlib.import_module(module_name).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def main(argv: list[str]) -> int:
    known = available()
    if argv and argv[0] in ("-h", "--help", "--list"):
        print("usage: python -m benchmarks [NAME...] [-- ARGS]\n\nbenchmarks:")
        for name, module in known.items():
            print(f"  {name:<12} {_describe(module)}")
        return 0
    if "--" in argv:
        split = argv.index("--")
        names, rest = argv[:split], argv[split + 1 :]
    else:
        names = [a for a in argv if not a.startswith("-")]
        first_option = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
        names, rest = argv[:first_option], argv[first_option:]
    unknown = [n for n in names if n not in known]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    status = 0
    for name in names or list(known):
        print(f"=== benchmark: {name}", flush=True)
        status = max(status, load(name)(rest))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
