"""Errors on the command line: one exit code per error family, one line per failure.

Every command body runs inside :func:`guarded`, the single place where exceptions become exit
codes and messages. A failure prints one line on stderr (``mastkit: error: ...``) and exits with
the code of its family; the traceback is shown only with ``-v``. Library warnings
(:class:`~mastkit.errors.MastWarning`) become ``mastkit: note: ...`` lines.

Only light modules are imported here: ``mastkit --help`` reads :data:`EXIT_CODES_HELP`.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import typer

from mastkit.errors import (
    BadInputError,
    CacheMissError,
    DecodeError,
    DownloadError,
    HTTPStatusError,
    MastError,
    MastWarning,
    RateLimitError,
    ResolverError,
    ResultTooLargeError,
    ServiceError,
    TransportError,
)

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CODES_HELP",
    "EXIT_DOWNLOAD",
    "EXIT_HTTP",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_LOCAL_FILE",
    "EXIT_NETWORK",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_PROTOCOL",
    "EXIT_SERVICE",
    "epilog",
    "error_line",
    "exit_code_for",
    "fail",
    "guarded",
    "note",
    "one_line",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2  # click's usage errors exit 2 too: "you asked for something impossible"
EXIT_NOT_FOUND = 3
EXIT_SERVICE = 4
EXIT_NETWORK = 5
EXIT_HTTP = 6
EXIT_PROTOCOL = 7
EXIT_LOCAL_FILE = 8
EXIT_DOWNLOAD = 9
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT

# Most specific first: the first family an exception belongs to wins.
_FAMILIES: tuple[tuple[type[BaseException], int], ...] = (
    (BadInputError, EXIT_BAD_INPUT),
    (ResolverError, EXIT_NOT_FOUND),
    (CacheMissError, EXIT_NOT_FOUND),
    (ServiceError, EXIT_SERVICE),
    (ResultTooLargeError, EXIT_SERVICE),
    (TransportError, EXIT_NETWORK),  # QueryTimeout included
    (HTTPStatusError, EXIT_HTTP),  # RateLimitError included
    (DecodeError, EXIT_PROTOCOL),
    (DownloadError, EXIT_DOWNLOAD),
    (OSError, EXIT_LOCAL_FILE),
    (KeyboardInterrupt, EXIT_INTERRUPTED),
)

#: The exit codes, for ``--help`` epilogs (typer keeps single line breaks; paragraphs need two).
EXIT_CODES_HELP = "\n".join(
    [
        "Exit codes:",
        "  0  success",
        "  2  bad input: options, values, unknown columns, an output file that exists",
        "  3  not found: a name the resolver does not know, or (offline) a result not in the cache",
        "  4  the service answered ERROR, or the result is too large",
        "  5  network failure or timeout",
        "  6  HTTP error status, or rate limited",
        "  7  a reply that is not the MAST protocol",
        "  8  a local file could not be read or written",
        "  1  anything else: a bug; please report it with the -v output",
    ]
)

P = ParamSpec("P")
R = TypeVar("R")
_SPACES = re.compile(r"\s+")
_MAX_MESSAGE = 600


def epilog(examples: Sequence[str], *notes: str) -> str:
    """A command's ``--help`` epilog: its examples, notes, then the exit codes.

    Examples
    --------
    >>> print(epilog(["mastkit missions"]).splitlines()[:3])
    ['Examples:', '  mastkit missions', '']
    """
    parts = ["\n".join(["Examples:", *(f"  {e}" for e in examples)]), *notes, EXIT_CODES_HELP]
    return "\n\n".join(parts)


def exit_code_for(error: BaseException) -> int:
    """The exit code of an exception's family (1 for anything unforeseen).

    Examples
    --------
    >>> from mastkit.errors import UnknownColumnError, QueryTimeout
    >>> exit_code_for(UnknownColumnError("instrument")), exit_code_for(QueryTimeout("slow"))
    (2, 5)
    """
    for family, code in _FAMILIES:
        if isinstance(error, family):
            return code
    return EXIT_INTERNAL


def one_line(error: BaseException) -> str:
    """The exception as one line: whitespace collapsed, very long server text cut short.

    Examples
    --------
    >>> one_line(ValueError("two\\n  lines"))
    'two lines'
    """
    text = _SPACES.sub(" ", str(error)).strip()
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        text += f" (the server asks to wait {error.retry_after:g} s)"
    elif isinstance(error, OSError) and not isinstance(error, MastError):
        target = f" {error.filename}" if error.filename else ""
        text = f"{error.strerror or type(error).__name__}:{target}" if error.strerror else text
    if not text:
        text = type(error).__name__
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text


def _stderr_line(text: str) -> None:
    # typer.echo, not print: it follows sys.stderr as CliRunner replaces it.
    typer.echo(text, err=True)


def error_line(text: str) -> None:
    """Print a ``mastkit: error: ...`` line on stderr (for failures reported one by one)."""
    _stderr_line(f"mastkit: error: {_SPACES.sub(' ', text).strip()}")


def note(text: str) -> None:
    """Print a ``mastkit: note: ...`` line on stderr (information, not failure)."""
    _stderr_line(f"mastkit: note: {_SPACES.sub(' ', text).strip()}")


def fail(error: BaseException, *, verbose: int = 0) -> typer.Exit:
    """Report ``error`` on stderr and return the :class:`typer.Exit` to raise.

    Parameters
    ----------
    error : BaseException
        What went wrong.
    verbose : int
        With 1 or more, the traceback is printed before the one-line message.
    """
    code = exit_code_for(error)
    if verbose:
        import traceback

        _stderr_line("".join(traceback.format_exception(error)).rstrip())
    if code == EXIT_INTERRUPTED:
        _stderr_line("mastkit: interrupted")
    elif code == EXIT_INTERNAL and not isinstance(error, MastError):
        hint = "" if verbose else " (run with -v for the traceback)"
        _stderr_line(f"mastkit: internal error: {type(error).__name__}: {one_line(error)}{hint}")
    else:
        _stderr_line(f"mastkit: error: {one_line(error)}")
    return typer.Exit(code)


@contextmanager
def _warnings_as_notes(verbose: int) -> Iterator[None]:
    """Show library warnings as note lines after the command (others only with -v)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen: set[str] = set()
            for item in caught:
                text = str(item.message)
                if text in seen:
                    continue
                seen.add(text)
                if issubclass(item.category, MastWarning):
                    note(text)
                elif verbose:
                    _stderr_line(f"mastkit: warning: {item.category.__name__}: {text}")


@contextmanager
def _logging(verbose: int) -> Iterator[None]:
    """Route log records to stderr with ``-v`` (INFO) or ``-vv`` (DEBUG); silence them otherwise.

    Without ``-v`` a NullHandler on the root logger keeps Python's last-resort handler from
    printing anything (the local server logs its failed queries with tracebacks; the user gets
    the one-line error instead).
    """
    root = logging.getLogger()
    handler: logging.Handler
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler = logging.NullHandler()
    previous = root.level
    root.addHandler(handler)
    if verbose:
        root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _verbosity(args: tuple[object, ...], kwargs: dict[str, object]) -> int:
    """The ``-v`` count, from the command's :class:`typer.Context` argument."""
    for value in (*args, *kwargs.values()):
        # Duck-typed: typer hands commands its (vendored) click Context, of which
        # typer.Context is only the annotation-side subclass.
        find_root = getattr(value, "find_root", None)
        if callable(find_root):
            options = getattr(find_root().obj, "options", None)
            return int(getattr(options, "verbose", 0) or 0)
    return 0


def _quiet_broken_pipe() -> None:
    """After a closed pipe (``mastkit ... | head``), send further output nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # CliRunner's stdout has no descriptor
        pass


def guarded(command: Callable[P, R]) -> Callable[P, R]:
    """Run a command body with the CLI's error, warning and logging policy.

    Exceptions become one line on stderr and the exit code of their family
    (:func:`exit_code_for`); :class:`typer.Exit` and :class:`typer.Abort` pass through. The
    command takes a :class:`typer.Context` argument, where ``-v`` is found.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        verbose = _verbosity(args, kwargs)
        try:
            with _logging(verbose), _warnings_as_notes(verbose):
                return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:
            _quiet_broken_pipe()
            raise typer.Exit(EXIT_OK) from None
        except (Exception, KeyboardInterrupt) as error:
            raise fail(error, verbose=verbose) from None

    return run
