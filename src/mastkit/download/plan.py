"""The pure planner: product rows (or data URIs) -> download items (no I/O).

A :class:`DownloadPlan` says, for each distinct ``dataURI``, the URL to fetch, the path to write
(relative to the download directory, from a template of product columns), the expected size and
the SHA-256 checksum when the rows carry one. Duplicate URIs are dropped (first kept), two items
aimed at the same path are an error, and a path built from server-supplied names that would
escape the download directory (``..``, an absolute path, a drive letter, a backslash, NUL or
another control character) is rejected item by item, never written.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mastkit.errors import BadInputError

__all__ = [
    "DEFAULT_TEMPLATE",
    "DOWNLOAD_PATH",
    "TEMPLATES",
    "DownloadItem",
    "DownloadPlan",
    "PlanSummary",
    "download_url",
    "plan_downloads",
    "safe_relative_path",
]

DOWNLOAD_PATH = "/api/v0.1/Download/file"
DEFAULT_TEMPLATE = "{obs_collection}/{obs_id}/{productFilename}"
#: Named templates: ``default``, ``flat`` and astroquery's layout.
TEMPLATES: dict[str, str] = {
    "default": DEFAULT_TEMPLATE,
    "flat": "{productFilename}",
    "astroquery": "mastDownload/{obs_collection}/{obs_id}/{productFilename}",
}
_CHECKSUM_COLUMNS = ("sha256", "checksum_sha256", "checksum")
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\:]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_SIDE_NAMES = {"manifest.csv", ".mastkit"}


@dataclass(frozen=True, slots=True)
class DownloadItem:
    """One file to fetch.

    Attributes
    ----------
    uri : str
        The product's ``dataURI``.
    url : str
        Where to GET it.
    path : str
        Destination relative to the download directory (POSIX separators, already checked).
    size : int or None
        Expected length in bytes, when the product row says.
    sha256 : str or None
        Expected hex SHA-256, when the product row says.
    """

    uri: str
    url: str
    path: str
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """What a dry run reports."""

    files: int
    bytes: int
    unknown_sizes: int
    duplicates: int
    rejected: int


@dataclass(slots=True)
class DownloadPlan:
    """Items to fetch into ``root``, plus what the planner dropped and why.

    Attributes
    ----------
    root : pathlib.Path
        The download directory.
    items : list of DownloadItem
    duplicates : list of str
        URIs seen more than once (each listed once).
    rejected : list of (str, str)
        ``(uri, reason)`` of rows whose destination would be unsafe; reported as ERROR.
    """

    root: Path
    items: list[DownloadItem] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> PlanSummary:
        """Counts and bytes, for a dry run."""
        known = [i.size for i in self.items if i.size is not None]
        return PlanSummary(
            files=len(self.items),
            bytes=sum(known),
            unknown_sizes=len(self.items) - len(known),
            duplicates=len(self.duplicates),
            rejected=len(self.rejected),
        )

    def urls(self) -> list[str]:
        """The URLs, in plan order."""
        return [i.url for i in self.items]

    def __len__(self) -> int:
        return len(self.items)


def download_url(server: str, uri: str) -> str:
    """The file URL of a data URI on ``server``, escaped the way astroquery does.

    Examples
    --------
    >>> download_url("https://mast.stsci.edu/", "mast:HST/product/u9o40504m_c3m.fits")
    'https://mast.stsci.edu/api/v0.1/Download/file?uri=mast:HST/product/u9o40504m_c3m.fits'
    """
    return f"{server.rstrip('/')}{DOWNLOAD_PATH}?uri={quote(uri, safe=':/')}"


def safe_relative_path(path: str) -> str:
    """``path`` if it stays inside the download directory, else :class:`BadInputError`.

    Examples
    --------
    >>> safe_relative_path("HST/obs1/a.fits")
    'HST/obs1/a.fits'
    >>> safe_relative_path("../etc/passwd")
    Traceback (most recent call last):
    ...
    mastkit.errors.BadInputError: Unsafe destination '../etc/passwd': '..' segment.
    """
    if not path:
        raise BadInputError("Unsafe destination '': empty path.")
    if _BAD_CHARS.search(path):
        raise BadInputError(f"Unsafe destination {path!r}: backslash, colon or control character.")
    if path.startswith("/") or _DRIVE.match(path):
        raise BadInputError(f"Unsafe destination {path!r}: absolute path.")
    parts = path.split("/")
    for part in parts:
        if part in ("", "."):
            raise BadInputError(f"Unsafe destination {path!r}: empty or '.' segment.")
        if part == "..":
            raise BadInputError(f"Unsafe destination {path!r}: '..' segment.")
        if part.endswith(".part"):
            raise BadInputError(f"Unsafe destination {path!r}: '.part' is reserved.")
    if parts[0] in _SIDE_NAMES:
        raise BadInputError(f"Unsafe destination {path!r}: reserved name.")
    return path  # already normal: no empty, '.' or '..' segment, no leading '/'


def _fields(template: str) -> list[str]:
    names: list[str] = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name or not name.isidentifier() or spec or conversion:
            raise BadInputError(
                f"Bad path template {template!r}: use plain {{column}} placeholders."
            )
        names.append(name)
    return names


def _render(template: str, names: list[str], row: Mapping[str, Any]) -> str:
    values: dict[str, str] = {}
    for name in names:
        value = row.get(name)
        if value is None or value == "":
            raise BadInputError(f"column {name!r} is empty")
        text = str(value)
        if name == "productFilename":
            text = text.rsplit("/", 1)[-1]  # astroquery keeps the basename of the file name
        if "/" in text:
            raise BadInputError(f"column {name!r} holds a '/': {text!r}")
        values[name] = text
    return template.format(**values)


def _rows(products: Any) -> list[dict[str, Any]]:
    if isinstance(products, str):
        products = [products]
    if hasattr(products, "to_pylist"):
        rows: list[Any] = products.to_pylist()
    else:
        rows = list(products)
    out: list[dict[str, Any]] = []
    for row in rows:
        if isinstance(row, str):
            out.append({"dataURI": row, "productFilename": row.rsplit("/", 1)[-1]})
        elif isinstance(row, Mapping):
            out.append(dict(row))
        else:
            raise BadInputError(
                f"Products are rows (mappings), a table or data URIs, not {type(row).__name__}."
            )
    return out


def _int_or_none(value: Any) -> int | None:
    try:
        size = int(value)
    except (TypeError, ValueError):
        return None
    return size if size >= 0 else None


def plan_downloads(
    products: Iterable[Mapping[str, Any] | str] | Any,
    download_dir: str | Path,
    *,
    server: str,
    template: str = "default",
) -> DownloadPlan:
    """Plan the download of product rows (a ResultTable, a pyarrow table, dicts) or data URIs.

    Parameters
    ----------
    products : table, iterable of mappings, iterable of str, or str
        Rows need ``dataURI`` plus the columns the template names; ``size`` and a ``sha256``
        (or ``checksum``) column are used when present. A bare URI is a row with only
        ``dataURI`` and ``productFilename`` (its basename).
    download_dir : path
        Where the files go.
    server : str
        Base URL of the server.
    template : str
        ``"default"`` (``{obs_collection}/{obs_id}/{productFilename}``), ``"flat"``,
        ``"astroquery"``, or any template of product columns in ``{column}`` form.

    Raises
    ------
    BadInputError
        For a bad template, a row without ``dataURI``, or two items with one destination.

    Examples
    --------
    >>> rows = [{"dataURI": "mast:HST/product/a.fits", "obs_collection": "HST",
    ...          "obs_id": "o1", "productFilename": "a.fits", "size": 10}] * 2
    >>> plan = plan_downloads(rows, "/tmp/d", server="http://127.0.0.1:1")
    >>> [i.path for i in plan.items], plan.duplicates
    (['HST/o1/a.fits'], ['mast:HST/product/a.fits'])
    """
    chosen = TEMPLATES.get(template, template)
    names = _fields(chosen)
    if not names:
        raise BadInputError(f"The path template {template!r} names no column.")
    rows = _rows(products)
    bare = rows and all(set(r) <= {"dataURI", "productFilename"} for r in rows)
    if bare and set(names) - {"productFilename"}:
        # Bare URIs know no collection or obs_id: lay them out flat.
        chosen, names = TEMPLATES["flat"], ["productFilename"]
    plan = DownloadPlan(root=Path(download_dir))
    seen: set[str] = set()
    dupes: dict[str, None] = {}
    owners: dict[str, str] = {}
    for row in rows:
        uri = row.get("dataURI")
        if not isinstance(uri, str) or not uri:
            raise BadInputError("A product row has no dataURI.")
        if uri in seen:
            dupes[uri] = None
            continue
        seen.add(uri)
        try:
            path = safe_relative_path(_render(chosen, names, row))
        except BadInputError as exc:
            plan.rejected.append((uri, f"no safe destination: {exc}"))
            continue
        key = path.casefold()  # case-insensitive file systems would merge these
        if key in owners:
            raise BadInputError(
                f"Two products would be written to {path!r}: {owners[key]!r} and {uri!r}. "
                "Choose a path template that tells them apart (e.g. include {obs_id})."
            )
        owners[key] = uri
        checksum = next((str(row[c]).lower() for c in _CHECKSUM_COLUMNS if row.get(c)), None)
        plan.items.append(
            DownloadItem(
                uri=uri,
                url=download_url(server, uri),
                path=path,
                size=_int_or_none(row.get("size")),
                sha256=checksum,
            )
        )
    plan.duplicates = list(dupes)
    return plan
