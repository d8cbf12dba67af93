"""The command line's state, and the one place where commands get a client.

The root callback stores the global options in a :class:`CliState` on ``ctx.obj``. Commands
never build a :class:`~mastkit.client.Client` themselves: they enter :func:`open_observations`,
which asks ``CliState.connect`` for one. That function is the injection point: tests (or
programs embedding the CLI) pass their own::

    runner.invoke(app, ["missions"], obj=CliState(connect=my_connect))

where ``my_connect(options, say)`` is a context manager yielding a client (for instance one on
``httpx.ASGITransport`` of the local server app). The default, :func:`default_connect`, talks
to ``--server`` (the real MAST by default), and with ``--server local`` runs the embedded local
archive (:class:`mastkit.server.LocalArchive`) for the duration of the command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # pragma: no cover
    from mastkit.client import Client
    from mastkit.services import Observations

__all__ = [
    "LOCAL",
    "CliState",
    "Connect",
    "GlobalOptions",
    "Say",
    "client_options",
    "default_connect",
    "get_state",
    "open_observations",
]

#: The ``--server`` value that starts the embedded local archive.
LOCAL = "local"

#: Reports what the connection is doing ("building the local archive ..."), for the status line.
Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    """The options given before the command name (``mastkit --server local resolve M101``).

    Attributes
    ----------
    server : str or None
        A base URL, ``"local"``, or None for ``MASTKIT_SERVER`` else the real MAST.
    token : str or None
        MAST API token; None lets the client read ``MAST_API_TOKEN``/``MAST_TOKEN``. Never
        shown (it is left out of the repr).
    timeout : float or None
        Overall deadline of each call in seconds; None for the client's default.
    verbose : int
        ``-v`` count: 1 logs INFO and shows tracebacks, 2 logs DEBUG.
    json : bool
        Machine-readable output on stdout.
    cache : bool or None
        ``--cache`` (True) or ``--no-cache`` (False); None follows the environment, where the
        default caches results of the real MAST only.
    offline : bool
        ``--offline``: answer only from the cache, never touch the network.
    """

    server: str | None = None
    token: str | None = field(default=None, repr=False)
    timeout: float | None = None
    verbose: int = 0
    json: bool = False
    cache: bool | None = None
    offline: bool = False

    @property
    def is_local(self) -> bool:
        """Whether the command runs against the embedded local archive."""
        return self.server is not None and self.server.strip().lower() == LOCAL


Connect = Callable[[GlobalOptions, Say], AbstractContextManager["Client"]]


def _local_url(stack: ExitStack, say: Say) -> str:
    """Start the embedded local archive on ``stack`` and return its URL."""
    from mastkit.server import archive
    from mastkit.server.local import LocalArchive

    path = archive.default_archive_path()
    meta = archive.read_meta(path) if path.exists() else None
    if meta is None or meta.get("format_version") != str(archive.FORMAT_VERSION):
        say(f"Building the local archive at {path} (first use; this takes a minute)")
    else:
        say("Starting the local archive")
    url: str = stack.enter_context(LocalArchive())
    return url


@contextmanager
def default_connect(options: GlobalOptions, say: Say) -> Iterator[Client]:
    """A client for the global options, closed (and any local server stopped) on exit.

    Parameters
    ----------
    options : GlobalOptions
        ``server``, ``token``, ``timeout``, ``cache`` and ``offline`` are used.
    say : callable
        Receives progress messages while a local archive is built or started.

    Raises
    ------
    BadInputError
        ``--offline`` with ``--server local`` (the local archive needs no network and its
        answers are not cached) or with ``--no-cache``.
    """
    from mastkit.client import Client
    from mastkit.errors import BadInputError

    if options.offline and options.is_local:
        raise BadInputError(
            "--offline answers from the cache of a remote server; --server local needs no "
            "network, so drop one of the two."
        )
    with ExitStack() as stack:
        server = _local_url(stack, say) if options.is_local else options.server
        client = Client(server, **client_options(options))
        stack.enter_context(client)
        yield client


def client_options(options: GlobalOptions) -> dict[str, Any]:
    """The :class:`~mastkit.client.Client` keyword arguments the global options ask for.

    For ``connect`` functions that build their own client (tests, embedding programs), so
    ``--timeout``, ``--cache/--no-cache`` and ``--offline`` keep their meaning.

    Examples
    --------
    >>> client_options(GlobalOptions(offline=True))
    {'token': None, 'timeout': None, 'cache': None, 'offline': True}
    """
    return {
        "token": options.token,
        "timeout": options.timeout,
        "cache": options.cache,
        "offline": options.offline or None,
    }


@dataclass(slots=True)
class CliState:
    """What the root callback leaves on ``ctx.obj`` for the commands.

    Attributes
    ----------
    options : GlobalOptions
        The global options.
    connect : callable
        ``connect(options, say)``: a context manager yielding a client. Replace it to inject
        a client (tests do); the default is :func:`default_connect`.
    """

    options: GlobalOptions = field(default_factory=GlobalOptions)
    connect: Connect = default_connect


def get_state(ctx: typer.Context) -> CliState:
    """The :class:`CliState` the root callback left (a default one outside the root app)."""
    state = ctx.find_object(CliState)
    if state is None:
        state = ctx.ensure_object(CliState)
    return state


@contextmanager
def open_observations(ctx: typer.Context, activity: str) -> Iterator[Observations]:
    """An :class:`~mastkit.services.Observations` for the command, with a live status line.

    While the block runs, stderr shows what is happening (``activity``, the service being
    asked, pages arriving, polls while the server is EXECUTING, retries) when it is a
    terminal. Leave the block before printing results, so the status line is gone by then.

    Parameters
    ----------
    ctx : typer.Context
        The command's context (its root holds the :class:`CliState`).
    activity : str
        What the command does, e.g. ``"Finding observations"``.
    """
    from mastkit.cli._progress import RequestTracker
    from mastkit.cli._status import StatusLine
    from mastkit.services import Observations

    state = get_state(ctx)
    with StatusLine(activity) as status, state.connect(state.options, status.say) as client:
        tracker = RequestTracker(status.show)
        client.http.event_hooks["request"].append(tracker.on_request)
        yield Observations(client)
