"""Object names to sky positions, through MAST's ``Mast.Name.Lookup`` service.

The reply is not a table but ``{"resolvedCoordinate": [entry, ...], "status": ""}``, one entry
per resolver that knows the name (mast-protocol.md 1.4). :func:`pick_entry` chooses the entry:

* for a catalogue identifier (``TIC n``, ``HIP n``, ``KIC n``, ``EPIC n``, ``Gaia DR3 n``,
  ``TYC a-b-c``, ``2MASS J...``), only an entry from that catalogue's resolver, or one whose
  canonical name *is* that identifier, is accepted; another object is never substituted, and
  the name is reported unresolved instead;
* for any other name, the first entry (the resolver MAST trusts most for it).

Resolutions are cached per client instance (successes only), and, when the client has an
on-disk result cache, on disk as the ``Mast.Name.Lookup`` reply of each name (answers that no
object has the name included). :meth:`Resolver.resolve_many` answers what the disk cache holds
from it, resolves the rest in few requests (30 names per request to MAST's SANTA resolver,
several at once, bounded by the client's ``concurrency``; see :mod:`mastkit.services._names`),
and stores each name's answer under the very entry a single ``resolve`` reads, so either route
gives the same :class:`Resolution`. It falls back to ``Mast.Name.Lookup`` per name for what
SANTA cannot answer, and reports per-name
failures *in* its results (``Resolution.error``) rather than losing the others; pass
``errors="raise"`` to get a :class:`ResolveManyError` (a :class:`~mastkit.errors.ResolverError`)
at the end instead, which still carries every result.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mastkit.errors import BadInputError, MastError, ResolverError
from mastkit.protocol.services import NAME_LOOKUP
from mastkit.services._plan import Gather, Invoke, Plan, Session, run_async, run_sync, session_for

if TYPE_CHECKING:  # pragma: no cover
    from astropy.coordinates import SkyCoord

    from mastkit.client import AsyncClient, Client
    from mastkit.tables import ResultTable

__all__ = [
    "AsyncResolver",
    "Resolution",
    "ResolveManyError",
    "Resolver",
    "catalogue_of",
    "pick_entry",
    "resolutions_table",
]

ErrorMode = Literal["return", "raise"]
logger = logging.getLogger("mastkit.services")


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a name points on the sky, and who said so.

    Attributes
    ----------
    name : str
        The name as given.
    canonical_name : str or None
        The resolver's own name for the object (``"M 101"`` for ``"m101"``).
    ra, dec : float
        ICRS degrees (NaN when the name could not be resolved).
    resolver : str or None
        The resolver that answered (``NED``, ``SIMBAD``, ``TIC``, ``OpenNGC``, ...).
    object_type : str or None
        The resolver's object type (``G``, ``*``, ``HighPM*``, ...), when it says.
    error : str or None
        Why the name could not be resolved (only in results of ``resolve_many``).
    exception : MastError or None
        The exception behind ``error``, so callers can tell a name nobody knows
        (:class:`~mastkit.errors.ResolverError`) from an unreachable server.

    Examples
    --------
    >>> r = Resolution("m101", "M 101", 210.80225, 54.34894, "NED", "G")
    >>> r
    Resolution('m101' -> 'M 101' at (210.80225, +54.34894) by NED)
    >>> r.ok, r.coords
    (True, (210.80225, 54.34894))
    """

    name: str
    canonical_name: str | None
    ra: float
    dec: float
    resolver: str | None = None
    object_type: str | None = None
    error: str | None = None
    exception: MastError | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Whether the name was resolved."""
        return self.error is None

    @property
    def coords(self) -> tuple[float, float]:
        """``(ra, dec)`` in degrees."""
        return self.ra, self.dec

    def raise_for_error(self) -> Resolution:
        """Return ``self``, or raise :class:`~mastkit.errors.ResolverError` if unresolved."""
        if self.error is not None:
            raise ResolverError(self.error, service=NAME_LOOKUP)
        return self

    def to_skycoord(self) -> SkyCoord:
        """The position as an ICRS :class:`~astropy.coordinates.SkyCoord`."""
        import astropy.units as u
        from astropy.coordinates import SkyCoord

        self.raise_for_error()
        return SkyCoord(self.ra * u.deg, self.dec * u.deg, frame="icrs")

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-friendly)."""
        return {
            "name": self.name,
            "canonical_name": self.canonical_name,
            "ra": None if math.isnan(self.ra) else self.ra,
            "dec": None if math.isnan(self.dec) else self.dec,
            "resolver": self.resolver,
            "object_type": self.object_type,
            "error": self.error,
        }

    def __repr__(self) -> str:
        if self.error is not None:
            return f"Resolution({self.name!r}: unresolved, {self.error})"
        by = f" by {self.resolver}" if self.resolver else ""
        return (
            f"Resolution({self.name!r} -> {self.canonical_name!r} at "
            f"({self.ra:.5f}, {self.dec:+.5f}){by})"
        )


class ResolveManyError(ResolverError):
    """Some names of a ``resolve_many(..., errors="raise")`` call could not be resolved.

    Attributes
    ----------
    results : list of Resolution
        Every result, in input order (failures have ``error`` set).
    failures : dict
        Name -> error message, for the names that failed.
    """

    def __init__(self, results: Sequence[Resolution]) -> None:
        self.results = list(results)
        self.failures = {r.name: r.error or "" for r in self.results if not r.ok}
        shown = "; ".join(f"{msg}" for msg in list(self.failures.values())[:5])
        more = f" (and {len(self.failures) - 5} more)" if len(self.failures) > 5 else ""
        super().__init__(
            f"{len(self.failures)} of {len(self.results)} names could not be resolved: "
            f"{shown}{more}",
            service=NAME_LOOKUP,
        )


# ------------------------------------------------------------------------------ pure parts

# Catalogue identifier prefixes -> the resolver names that speak for that catalogue.
_CATALOGUES: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("TIC", re.compile(r"^TIC\s*[-_]?\s*\d+$", re.I), ("tic",)),
    ("KIC", re.compile(r"^KIC\s*[-_]?\s*\d+$", re.I), ("kic",)),
    ("EPIC", re.compile(r"^EPIC\s*[-_]?\s*\d+$", re.I), ("epic",)),
    ("HIP", re.compile(r"^HIP(?:PARCOS)?\s*[-_]?\s*\d+$", re.I), ("hip", "hipparcos")),
    ("Gaia", re.compile(r"^Gaia\s*(?:E?DR\d)?\s*\d+$", re.I), ("gaia",)),
    ("TYC", re.compile(r"^TYC\s*\d+-\d+-\d+$", re.I), ("tyc", "tycho")),
    ("2MASS", re.compile(r"^2MASS\s*J?\s*\d{6,8}(?:\.\d+)?[+-]\d{6,7}(?:\.\d+)?$", re.I),
     ("2mass",)),
)
_ZEROS = re.compile(r"(?<![0-9.])0+(?=\d)")


def catalogue_of(name: str) -> str | None:
    """The catalogue a name is an identifier of (``"TIC"``, ``"HIP"``, ...), or None.

    Examples
    --------
    >>> catalogue_of("TIC 307210830"), catalogue_of("Gaia DR3 4295806720"), catalogue_of("M101")
    ('TIC', 'Gaia', None)
    """
    text = name.strip()
    for catalogue, pattern, _ in _CATALOGUES:
        if pattern.match(text):
            return catalogue
    return None


def _identifier_key(text: str) -> str:
    """A spelling-insensitive key of an identifier: case, spaces, zero padding."""
    key = re.sub(r"[\s_]+", "", text.upper())
    key = re.sub(r"^HIPPARCOS", "HIP", key)
    return _ZEROS.sub("", key)


def _speaks_for(resolver: Any, catalogue: str) -> bool:
    names = next(aliases for c, _, aliases in _CATALOGUES if c == catalogue)
    text = str(resolver or "").strip().lower()
    return any(text == a or text.startswith(a) for a in names)


def pick_entry(name: str, entries: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Choose the ``resolvedCoordinate`` entry that answers ``name``.

    Parameters
    ----------
    name : str
        The name that was looked up.
    entries : sequence of dict
        The reply's ``resolvedCoordinate`` entries.

    Returns
    -------
    dict
        The entry.

    Raises
    ------
    ResolverError
        When no entry answers the name: none at all, or, for a catalogue identifier, none from
        that catalogue and none whose canonical name is the identifier.

    Examples
    --------
    >>> entries = [{"resolver": "SIMBAD", "canonicalName": "L 98-59", "ra": 1, "decl": 2},
    ...            {"resolver": "TIC", "canonicalName": "TIC 307210830", "ra": 1, "decl": 2}]
    >>> pick_entry("TIC 307210830", entries)["resolver"]
    'TIC'
    """
    wanted = name.strip().lower()
    usable = [e for e in entries if isinstance(e, Mapping) and _has_position(e)]
    # Entries of several names may share a reply (SANTA); keep this name's when they say.
    own = [e for e in usable if str(e.get("searchString", wanted)).strip().lower() == wanted]
    usable = own or usable
    if not usable:
        raise ResolverError(
            f"Could not resolve {name!r}: the resolver knows no object of that name.",
            service=NAME_LOOKUP,
        )
    catalogue = catalogue_of(name)
    if catalogue is None:
        return usable[0]
    key = _identifier_key(name)
    for entry in usable:
        if _speaks_for(entry.get("resolver"), catalogue):
            return entry
    for entry in usable:
        if _identifier_key(str(entry.get("canonicalName") or "")) == key:
            return entry
    others = ", ".join(
        f"{e.get('resolver')} {e.get('canonicalName')!r}" for e in usable[:3]
    )
    raise ResolverError(
        f"Could not resolve {name!r} exactly: no {catalogue} entry for it (the resolver offered "
        f"{others}); mastkit does not substitute another object for a catalogue identifier.",
        service=NAME_LOOKUP,
    )


def _has_position(entry: Mapping[str, Any]) -> bool:
    try:
        return math.isfinite(float(entry["ra"])) and math.isfinite(float(entry["decl"]))
    except (KeyError, TypeError, ValueError):
        return False


def resolution_from_entry(name: str, entry: Mapping[str, Any]) -> Resolution:
    """A :class:`Resolution` from one ``resolvedCoordinate`` entry."""
    def text(key: str) -> str | None:
        value = entry.get(key)
        return str(value) if value not in (None, "") else None

    return Resolution(
        name=name,
        canonical_name=text("canonicalName"),
        ra=float(entry["ra"]) % 360.0,
        dec=float(entry["decl"]),
        resolver=text("resolver"),
        object_type=text("objectType"),
    )


def _clean(name: Any) -> str:
    if not isinstance(name, str):
        raise BadInputError(f"An object name must be a string, not {type(name).__name__}.")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise BadInputError("An object name must not be empty.")
    return cleaned


def _cache_key(name: str) -> tuple[str, ...]:
    return ("name", name.lower())


def lookup_params(cleaned: str) -> dict[str, Any]:
    """The ``Mast.Name.Lookup`` params for a cleaned name (also the name's on-disk cache key)."""
    return {"input": cleaned, "format": "json"}


def reply_entries(reply: Any) -> list[Any]:
    """The ``resolvedCoordinate`` entries of a ``Mast.Name.Lookup`` reply (``[]`` if none)."""
    entries = reply.extra.get("resolvedCoordinate") or []
    return entries if isinstance(entries, list) else []


def resolve_plan(session: Session, name: str) -> Plan[Resolution]:
    """Resolve one name (cache first), raising :class:`ResolverError` if it cannot be."""
    cleaned = _clean(name)
    key = _cache_key(cleaned)
    cached = session.names.get(key)
    if cached is not None:
        logger.debug("resolved %r from the cache", name)
        return cached if cached.name == name else _renamed(cached, name)
    reply = yield Invoke(NAME_LOOKUP, lookup_params(cleaned))
    resolution = resolution_from_entry(name, pick_entry(cleaned, reply_entries(reply)))
    session.names[key] = resolution
    return resolution


def _renamed(resolution: Resolution, name: str) -> Resolution:
    return Resolution(
        name, resolution.canonical_name, resolution.ra, resolution.dec,
        resolution.resolver, resolution.object_type,
    )


def _failed(name: Any, error: MastError) -> Resolution:
    return Resolution(
        name=name if isinstance(name, str) else repr(name),
        canonical_name=None,
        ra=math.nan,
        dec=math.nan,
        error=str(error),
        exception=error,
    )


def _resolve_or_report(
    session: Session, name: Any, known: Mapping[tuple[str, ...], Any]
) -> Plan[Resolution]:
    try:
        outcome = known.get(_cache_key(_clean(name))) if known else None
        if isinstance(outcome, MastError):
            raise outcome
        if isinstance(outcome, Resolution):
            return outcome if outcome.name == name else _renamed(outcome, name)
        return (yield from resolve_plan(session, name))
    except MastError as exc:
        return _failed(name, exc)


def many_names(names: Iterable[str], errors: ErrorMode) -> list[Any]:
    """The names of a ``resolve_many`` call as a list, after checking the arguments."""
    if errors not in ("return", "raise"):
        raise BadInputError(f"errors must be 'return' or 'raise', not {errors!r}.")
    if isinstance(names, str):
        raise BadInputError("resolve_many takes a list of names; use resolve() for one name.")
    return list(names)


def resolve_many_plan(
    session: Session,
    names: Iterable[str],
    errors: ErrorMode = "return",
    known: Mapping[tuple[str, ...], Any] | None = None,
) -> Plan[list[Resolution]]:
    """Resolve names concurrently; one result per name, in order.

    ``known`` holds outcomes of the batch resolver (:mod:`mastkit.services._names`), keyed as
    the session's name cache; other names are looked up one by one (``Mast.Name.Lookup``).
    """
    given = many_names(names, errors)
    distinct: dict[str, Any] = {}
    for item in given:
        distinct.setdefault(item if isinstance(item, str) else repr(item), item)
    found: list[Resolution] = yield Gather(
        tuple(_resolve_or_report(session, n, known or {}) for n in distinct.values()),
        limit=session.concurrency,
    )
    by_name = dict(zip(distinct, found, strict=True))
    results = [by_name[item if isinstance(item, str) else repr(item)] for item in given]
    if errors == "raise" and not all(r.ok for r in results):
        raise ResolveManyError(results)
    return results


def resolutions_table(results: Iterable[Resolution]) -> ResultTable:
    """Resolutions as a :class:`~mastkit.tables.ResultTable`.

    Columns ``name``, ``canonical_name``, ``ra``, ``dec``, ``resolver``, ``object_type``,
    ``error`` (null coordinates for unresolved names).
    """
    import pyarrow as pa

    from mastkit.tables import ResultTable

    rows = [r.as_dict() for r in results]
    schema = pa.schema(
        [
            ("name", pa.string()),
            ("canonical_name", pa.string()),
            ("ra", pa.float64()),
            ("dec", pa.float64()),
            ("resolver", pa.string()),
            ("object_type", pa.string()),
            ("error", pa.string()),
        ]
    )
    return ResultTable(
        pa.Table.from_pylist(rows, schema=schema),
        service=NAME_LOOKUP,
        metadata={"units": {"ra": "deg", "dec": "deg"}},
    )


# ------------------------------------------------------------------------------ facades


class Resolver:
    """Resolve object names with a :class:`~mastkit.client.Client`.

    Parameters
    ----------
    client : Client
        The client to use. Resolutions are cached per client instance: every
        :class:`Resolver` or :class:`~mastkit.services.Observations` on the same client shares
        one cache.

    Examples
    --------
    >>> from mastkit import Client
    >>> resolver = Resolver(Client())                                   # doctest: +SKIP
    >>> resolver.resolve("M101")                                         # doctest: +SKIP
    Resolution('M101' -> 'MESSIER 101' at (210.80227, +54.34895) by NED)
    >>> [r.ok for r in resolver.resolve_many(["M101", "no such thing"])]  # doctest: +SKIP
    [True, False]
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._session = session_for(client)

    def __repr__(self) -> str:
        return f"Resolver({self.client!r})"

    def resolve(self, name: str) -> Resolution:
        """Resolve one name.

        Parameters
        ----------
        name : str
            An object name (``"M101"``, ``"NGC 5457"``) or a catalogue identifier
            (``"TIC 307210830"``, ``"HIP 32349"``), matched exactly.

        Returns
        -------
        Resolution

        Raises
        ------
        ResolverError
            When the name is unknown, or a catalogue identifier has no exact match.
        BadInputError
            For an empty name.
        """
        return run_sync(self.client, resolve_plan(self._session, name))

    def resolve_many(
        self, names: Iterable[str], *, errors: ErrorMode = "return"
    ) -> list[Resolution]:
        """Resolve many names concurrently (bounded by the client's ``concurrency``).

        Parameters
        ----------
        names : iterable of str
            Names; repeats are resolved once.
        errors : {"return", "raise"}
            ``"return"`` (default): a name that fails gives a :class:`Resolution` whose
            ``error`` says why (``ok`` is False, coordinates NaN) and the others are unaffected.
            ``"raise"``: after resolving everything, raise :class:`ResolveManyError` if any
            name failed; its ``results`` still hold every result.

        Returns
        -------
        list of Resolution
            One per input name, in order.
        """
        from mastkit.services._names import prefetch_sync

        given = many_names(names, errors)
        known = prefetch_sync(self.client, self._session, given)
        return run_sync(self.client, resolve_many_plan(self._session, given, errors, known))


class AsyncResolver:
    """Resolve object names with an :class:`~mastkit.client.AsyncClient`.

    The same API as :class:`Resolver`, awaitable.

    Examples
    --------
    >>> async with AsyncClient() as client:                              # doctest: +SKIP
    ...     found = await AsyncResolver(client).resolve_many(["M101", "M51", "HIP 32349"])
    """

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self._session = session_for(client)

    def __repr__(self) -> str:
        return f"AsyncResolver({self.client!r})"

    async def resolve(self, name: str) -> Resolution:
        """Resolve one name; see :meth:`Resolver.resolve`."""
        return await run_async(self.client, resolve_plan(self._session, name))

    async def resolve_many(
        self, names: Iterable[str], *, errors: ErrorMode = "return"
    ) -> list[Resolution]:
        """Resolve many names concurrently; see :meth:`Resolver.resolve_many`."""
        from mastkit.services._names import prefetch_async

        given = many_names(names, errors)
        known = await prefetch_async(self.client, self._session, given)
        return await run_async(
            self.client, resolve_many_plan(self._session, given, errors, known)
        )
