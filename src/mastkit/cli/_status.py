"""The live status line on stderr: what the command is waiting for, and for how long.

Shown only when stderr is a terminal (nothing is written to logs or pipes). The text comes from
the client's outgoing requests (:mod:`mastkit.cli._progress`) and its retry log messages; the
library itself prints nothing (architecture decision 6).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from mastkit.cli.render import make_console, stderr_is_terminal

if TYPE_CHECKING:  # pragma: no cover
    from rich.status import Status

__all__ = ["StatusLine"]

class _RetryToStatus(logging.Handler):
    """Show the client's retry messages (INFO on ``mastkit.client``) on the status line."""

    def __init__(self, show: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self._show = show

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._show(record.getMessage())
        except Exception:  # a status line must never break the command
            self.handleError(record)


class _Elapsed:
    """The status text, re-rendered by rich on every refresh so the clock keeps moving."""

    def __init__(self, activity: str) -> None:
        self.activity = activity
        self.detail = ""
        self.started = time.monotonic()

    def __rich__(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.activity}{detail} · {time.monotonic() - self.started:.1f} s"


class StatusLine:
    """A live spinner with a status text on stderr, only when stderr is a terminal.

    Parameters
    ----------
    activity : str
        What the command is doing; each update is shown after it, then the time so far.

    Examples
    --------
    >>> with StatusLine("Finding observations") as status:   # doctest: +SKIP
    ...     status.show("Mast.Caom.Cone · page 2")
    """

    def __init__(self, activity: str) -> None:
        self.activity = activity
        self._text = _Elapsed(activity)
        self._status: Status | None = None
        self._handler: _RetryToStatus | None = None
        self._logger = logging.getLogger("mastkit.client")
        self._level = logging.NOTSET

    def __enter__(self) -> StatusLine:
        if stderr_is_terminal():
            self._status = make_console(stderr=True).status(self._text, spinner="dots")
            self._status.start()
            self._handler = _RetryToStatus(self.show)
            self._level = self._logger.level
            self._logger.addHandler(self._handler)
            if self._logger.getEffectiveLevel() > logging.INFO:
                self._logger.setLevel(logging.INFO)
        return self

    @property
    def active(self) -> bool:
        """Whether a spinner is showing."""
        return self._status is not None

    def show(self, text: str) -> None:
        """Replace the status detail (any thread; rich re-renders it on its next refresh)."""
        self._text.detail = text

    def say(self, text: str) -> None:
        """A step of the connection (``Starting the local archive``)."""
        self.show(text)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        if self._handler is not None:
            self._logger.removeHandler(self._handler)
            self._logger.setLevel(self._level)
            self._handler = None
