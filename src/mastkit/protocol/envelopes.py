"""The MAST request and response envelopes.

A :class:`MashupRequest` is MAST's request object: a service name, its parameters and the
properties that steer execution (format, paging, caching, timeouts). A :class:`MashupResponse` is
the decoded reply: status, message, column declarations, paging, and the still-encoded ``data``
bytes, which the table decoders turn into Arrow without a second JSON parse.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import FrozenInstanceError, dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

import msgspec

from mastkit.errors import BadInputError

__all__ = [
    "FORMATS",
    "DataRows",
    "Field",
    "MashupRequest",
    "MashupResponse",
    "Paging",
    "Status",
    "new_cachebreaker",
]

#: Result formats a dataset reply may be asked in.
FORMATS: frozenset[str] = frozenset({"json", "extjs", "csv", "votable"})


class Status(StrEnum):
    """The ``status`` of a reply."""

    COMPLETE = "COMPLETE"
    EXECUTING = "EXECUTING"
    ERROR = "ERROR"
    #: Non-table services (name lookup, SANTA) answer ``""``; columnsconfig has no status at all.
    OTHER = ""


def new_cachebreaker() -> str:
    """Return a fresh cachebreaker (a uuid4 string, as astroquery sends)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class MashupRequest:
    """A MAST API request (the ``request=`` JSON of ``/api/v0/invoke``).

    Parameters
    ----------
    service : str
        Service name, e.g. ``"Mast.Caom.Cone"``.
    params : mapping
        Service parameters.
    format : str
        Result format: ``json`` (default here, as astroquery), ``extjs``, ``csv`` or ``votable``.
    pagesize, page : int, optional
        Rows per page and 1-based page number.
    removenullcolumns, removecache, clearcache : bool, optional
        Server-side post-processing and cache control.
    timeout : float, optional
        Seconds the server holds the request before answering ``EXECUTING``.
    cachebreaker : str, optional
        Unique string forcing a fresh execution; repeated exactly by every poll and page.
    columnsconfigid : str, optional
        A columns config other than the service's own.
    data : object, optional
        Upload payload (crossmatch tables).
    filename : str, optional
        Save the result server-side under this name.
    extra : mapping
        Keys the protocol does not name, kept so a decoded request re-encodes faithfully.

    Examples
    --------
    >>> req = MashupRequest("Mast.Caom.Cone", {"ra": 23.34, "dec": 60.66, "radius": 0.2})
    >>> req.with_page(2).page
    2
    """

    service: str
    params: Mapping[str, Any] = field(default_factory=dict)
    format: str = "json"
    pagesize: int | None = None
    page: int | None = None
    removenullcolumns: bool | None = None
    removecache: bool | None = None
    clearcache: bool | None = None
    timeout: float | None = None
    cachebreaker: str | None = None
    columnsconfigid: str | None = None
    data: Any = None
    filename: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.service, str) or not self.service.strip():
            raise BadInputError("A MAST request needs a non-empty service name.")
        if self.format not in FORMATS:
            raise BadInputError(
                f"Unknown format {self.format!r}; choose one of {', '.join(sorted(FORMATS))}."
            )
        for name in ("page", "pagesize"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise BadInputError(f"{name} must be an integer >= 1, not {value!r}.")
        if self.timeout is not None and not self.timeout > 0:
            raise BadInputError(f"timeout must be > 0 seconds, not {self.timeout!r}.")

    def with_page(self, page: int) -> MashupRequest:
        """The same request for another page (same cachebreaker)."""
        return replace(self, page=page)

    def with_cachebreaker(self, cachebreaker: str | None = None) -> MashupRequest:
        """The same request with a (new, unless given) cachebreaker."""
        return replace(self, cachebreaker=cachebreaker or new_cachebreaker())

    def replace(self, **changes: Any) -> MashupRequest:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Field:
    """One declared column of a reply: its name and MAST type (``string``, ``float``, ...)."""

    name: str
    type: str


@dataclass(frozen=True, slots=True)
class Paging:
    """The ``paging`` block of a reply (MAST's camelCase keys, snake_case here)."""

    page: int = 0
    page_size: int = 0
    pages_filtered: int = 0
    rows: int = 0
    rows_filtered: int = 0
    rows_total: int = 0

    def to_json(self) -> dict[str, int]:
        """The wire form, with MAST's key names."""
        return {
            "page": self.page,
            "pageSize": self.page_size,
            "pagesFiltered": self.pages_filtered,
            "rows": self.rows,
            "rowsFiltered": self.rows_filtered,
            "rowsTotal": self.rows_total,
        }


class DataRows:
    """The rows of a json reply's ``data`` array, as the envelope decoder split them.

    Each row is a :class:`msgspec.Raw` slice of ``body``, the reply's HTTP body: nothing is
    copied. The table decoders read the rows in place; :meth:`array` gives the array's JSON text.

    Attributes
    ----------
    body : bytes or bytearray
        The whole reply body the rows are slices of.
    rows : list of msgspec.Raw
        The array's elements, in order (at least one).
    """

    __slots__ = ("body", "rows")

    def __init__(self, body: bytes | bytearray, rows: list[msgspec.Raw]) -> None:
        self.body = body
        self.rows = rows

    def array(self) -> bytes:
        """The JSON text of the whole ``data`` array (a copy, found by a second scan)."""
        return bytes(_RAW_MAP.decode(self.body)["data"])


_RAW_MAP: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])


class MashupResponse:
    """A decoded MAST reply.

    Immutable. A json reply decoded by :func:`~mastkit.protocol.decode_response` keeps its
    ``data`` as row slices of the body (:attr:`data_rows`); :attr:`data_raw` is then copied out
    of the body on first use only.

    Attributes
    ----------
    status : str
        ``COMPLETE``, ``EXECUTING``, ``ERROR`` or another value (``""`` for non-table services).
    msg : str
        The server's message (the error text when ``status`` is ``ERROR``).
    fields : tuple of Field
        Declared columns, in order (empty for non-table replies and extjs).
    paging : Paging or None
        Paging block, when the reply has one.
    data_raw : bytes
        The still-encoded JSON of ``data`` (``b""`` when absent). Table decoders read it directly.
    format : str
        The format the reply is in (``json``, ``extjs``, ``csv``, ``votable``).
    extra : dict
        Every other top-level key: ``resolvedCoordinate`` of name lookups, ``url`` and
        ``statusList`` of bundle replies, ``percent complete``, ...
    body : bytes
        The whole body for formats without an envelope (csv, votable).
    data_rows : DataRows or None
        ``data``'s rows as slices of the body, when the decoder split them (a non-empty array
        in a json reply); the table decoders use them rather than :attr:`data_raw`.
    """

    __slots__ = (
        "_data_raw",
        "body",
        "data_rows",
        "extra",
        "fields",
        "format",
        "msg",
        "paging",
        "status",
    )

    status: str
    msg: str
    fields: tuple[Field, ...]
    paging: Paging | None
    format: str
    extra: Mapping[str, Any]
    body: bytes
    data_rows: DataRows | None
    _data_raw: bytes | None

    def __init__(
        self,
        status: str,
        msg: str = "",
        fields: tuple[Field, ...] = (),
        paging: Paging | None = None,
        data_raw: bytes | None = b"",
        format: str = "json",
        extra: Mapping[str, Any] | None = None,
        body: bytes = b"",
        *,
        data_rows: DataRows | None = None,
    ) -> None:
        if data_raw is None and data_rows is None:
            data_raw = b""
        values = {
            "status": status,
            "msg": msg,
            "fields": fields,
            "paging": paging,
            "format": format,
            "extra": {} if extra is None else extra,
            "body": body,
            "data_rows": data_rows,
            # None: copied out of data_rows' body on first use.
            "_data_raw": data_raw,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def data_raw(self) -> bytes:
        """The still-encoded JSON of ``data`` (``b""`` when absent)."""
        raw: bytes | None = self._data_raw
        if raw is None:
            assert self.data_rows is not None
            raw = self.data_rows.array()
            object.__setattr__(self, "_data_raw", raw)
        return raw

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _key(self) -> tuple[Any, ...]:
        return (
            self.status,
            self.msg,
            self.fields,
            self.paging,
            self.data_raw,
            self.format,
            self.extra,
            self.body,
        )

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, MashupResponse)
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable mappings inside

    def __reduce__(self) -> tuple[Any, ...]:
        return (MashupResponse, (*self._key()[:6], dict(self.extra), self.body))

    def __repr__(self) -> str:
        data = (
            f"<{len(self.data_rows.rows)} rows>"
            if self._data_raw is None and self.data_rows is not None
            else _short(self._data_raw or b"")
        )
        return (
            f"MashupResponse(status={self.status!r}, msg={self.msg!r}, fields={self.fields!r}, "
            f"paging={self.paging!r}, data_raw={data}, format={self.format!r}, "
            f"extra={self.extra!r}, body={_short(self.body)})"
        )

    @property
    def is_executing(self) -> bool:
        """Whether the server is still working and the request must be re-sent."""
        return self.status == Status.EXECUTING

    @property
    def is_error(self) -> bool:
        """Whether the reply is a service error."""
        return self.status == Status.ERROR

    @property
    def data(self) -> Any:
        """``data`` decoded into Python objects (slow for big tables; decoders avoid it)."""
        if not self.data_raw:
            return None
        return msgspec.json.decode(self.data_raw)


def _short(raw: bytes, limit: int = 60) -> str:
    """A repr of ``raw`` cut to ``limit`` bytes (a page of data is megabytes)."""
    if len(raw) <= limit:
        return repr(raw)
    return f"{raw[:limit]!r}... ({len(raw)} bytes)"
