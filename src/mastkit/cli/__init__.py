"""The ``mastkit`` command line (typer + rich).

The console script ``mastkit`` calls :func:`main`; the commands live in :mod:`mastkit.cli.app`.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Run the ``mastkit`` command."""
    from mastkit.cli.app import app

    app()
