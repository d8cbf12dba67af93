"""mastkit benchmarks, run side by side with the tools they replace.

Run ``python -m benchmarks`` to list them and ``python -m benchmarks NAME [NAME...] [-- ARGS]``
to run some. Each benchmark is a module ``benchmarks/bench_NAME.py`` exposing::

    def main(argv: list[str]) -> int:
        '''One-line description (the first docstring line is shown in the list).'''

``argv`` holds the arguments after ``--`` (or after the names, when they start with ``-``).
Benchmarks print their own report and return a process exit code: 0 when they ran (a missed
target is reported, not an error).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path

__all__ = ["available", "load"]

_PREFIX = "bench_"


def available() -> dict[str, str]:
    """Benchmark name → module name, for every ``bench_*.py`` module in this package."""
    here = str(Path(__file__).parent)
    return {
        info.name[len(_PREFIX) :]: f"{__name__}.{info.name}"
        for info in sorted(pkgutil.iter_modules([here]), key=lambda i: i.name)
        if info.name.startswith(_PREFIX)
    }


def load(name: str) -> Callable[[list[str]], int]:
    """The ``main`` function of benchmark ``name``."""
    module = importlib.import_module(available()[name])
    main: Callable[[list[str]], int] = module.main
    return main
