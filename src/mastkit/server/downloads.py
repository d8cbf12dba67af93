"""Download endpoints: product files, curl bundle scripts and path lookups (mast-protocol.md 1.3).

``/api/v0.1/Download/file?uri=`` serves HEAD and GET, with single-range requests (206 with
``Content-Range``; 416 when unsatisfiable; several ranges are answered with the whole file, which
RFC 9110 allows). Files are generated on request, streamed in chunks from a worker thread, so
they take no disk.

Every file reply carries its SHA-256 checksum twice, for clients of either convention::

    Digest: sha-256=<base64 of the digest>     (RFC 3230, the whole file even in a 206)
    X-Checksum-Sha256: <hex digest>

Only URIs of the archive's products are served: a URI is first checked for form (``mast:``
scheme, no ``..`` segment, no absolute path, no backslash or control character, no
percent-encoded trickery), then looked up in the ``products`` table; anything else is 404.
"""

from __future__ import annotations

import base64
import re
import shlex
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, unquote

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

__all__ = [
    "ArchiveFiles",
    "Downloads",
    "FileSource",
    "Product",
    "ProductBlob",
    "parse_range",
    "valid_uri",
]

_CHUNK = 256 * 1024
_MAX_URI = 1024
_MAX_URIS = 5000
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class ProductBlob(Protocol):
    """The bytes of one product file, generated on demand."""

    @property
    def size(self) -> int:
        """Length in bytes."""
        ...

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (fewer at the end)."""
        ...

    def sha256(self) -> str:
        """Hex SHA-256 of the whole file."""
        ...


@dataclass(frozen=True, slots=True)
class Product:
    """What the endpoints need to know of a product row."""

    uri: str
    filename: str
    size: int
    obs_collection: str
    obs_id: str

    @property
    def path(self) -> str:
        """Its path in the archive's file tree (the ``path_lookup`` answer)."""
        collection = (self.obs_collection or "unknown").lower()
        obs = (self.obs_id or "unknown").lower()
        return f"/{collection}/public/{obs[:4]}/{obs}/{self.filename}"


class FileSource(Protocol):
    """Where the endpoints find products and their bytes."""

    def product(self, uri: str) -> Product | None:
        """The product row of ``uri``, or None when the archive has none."""
        ...

    def blob(self, product: Product) -> ProductBlob:
        """The bytes of ``product``."""
        ...


def valid_uri(uri: str) -> bool:
    """Whether ``uri`` has the form of an archive product URI (see module doc)."""
    if not uri or len(uri) > _MAX_URI or _CONTROL.search(uri):
        return False
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme.lower() != "mast" or not rest or rest.startswith(("/", "~")):
        return False
    if "%" in uri and unquote(uri) != uri:
        return False  # already decoded once by the query parser: a second layer is an evasion
    return all(part not in ("..", ".") for part in rest.split("/"))


def parse_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """The byte range ``[start, stop)`` a ``Range`` header asks for.

    Returns None for no (or an ignorable) header, meaning the whole file; False when the range
    cannot be satisfied (416).
    """
    if header is None or "," in header:
        return None  # no range, or several: the whole file (RFC 9110 lets a server ignore Range)
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(0, size - length), size
    start = int(first)
    if start >= size:
        return False
    stop = size if not last else min(int(last) + 1, size)
    if stop <= start:
        return None  # last < first: syntactically invalid, ignore the header
    return start, stop


class ArchiveFiles:
    """The archive's products, with bytes from :class:`mastkit.server.files.ProductFile`.

    Product rows are remembered by URI (the most recent ``cache_size``): a client that sends a
    HEAD before its GET, or fetches a file again, costs one DuckDB query, not one per request.
    The archive is read-only while it is served, so a remembered row never goes stale.
    """

    def __init__(self, archive: Any, *, cache_size: int = 4096) -> None:
        self.archive = archive
        self.cache_size = cache_size
        self._rows: OrderedDict[str, dict[str, Any] | None] = OrderedDict()
        self._lock = threading.Lock()

    def _row(self, uri: str) -> dict[str, Any] | None:
        with self._lock:
            if uri in self._rows:
                self._rows.move_to_end(uri)
                return self._rows[uri]
        from mastkit.server import sql

        row = sql.find_product(self.archive, uri)
        with self._lock:
            self._rows[uri] = row
            while len(self._rows) > self.cache_size:
                self._rows.popitem(last=False)
        return row

    def product(self, uri: str) -> Product | None:
        """The product row of ``uri``, or None."""
        row = self._row(uri)
        if row is None:
            return None
        return Product(
            uri=str(row["uri"]),
            filename=str(row["filename"]),
            size=int(row["size"]),
            obs_collection=str(row.get("collection") or ""),
            obs_id=str(row.get("obs_id") or ""),
        )

    def blob(self, product: Product) -> ProductBlob:
        """The generated bytes of ``product``."""
        from mastkit.server.files import ProductFile

        row = self._row(product.uri) or {}
        return _FileBlob(
            ProductFile.for_product(
                product.filename,
                product.size,
                int(row.get("seed") or 0),
                telescope=str(row.get("collection") or ""),
                instrument=str(row.get("instrument") or ""),
                target=str(row.get("target") or ""),
            )
        )


class _FileBlob:
    """:class:`ProductFile` seen as a :class:`ProductBlob` (offset/length reads)."""

    def __init__(self, file: Any) -> None:
        self._file = file

    @property
    def size(self) -> int:
        return int(self._file.size)

    def read(self, offset: int, length: int) -> bytes:
        data: bytes = self._file.read(offset, offset + length)
        return data

    def sha256(self) -> str:
        digest: str = self._file.sha256()
        return digest


class Downloads:
    """The download routes over an archive.

    Parameters
    ----------
    archive : Archive
        The archive whose products are served.
    source : FileSource, optional
        Where products and bytes come from; by default the archive's ``products`` table and
        :mod:`mastkit.server.files`.
    max_body_bytes : int
        Largest form body accepted by ``bundle.sh``.
    """

    def __init__(
        self, archive: Any, source: FileSource | None = None, *, max_body_bytes: int = 8 << 20
    ) -> None:
        self.archive = archive
        self._source = source
        self.max_body_bytes = max_body_bytes
        self._digests: OrderedDict[str, str] = OrderedDict()
        # Products already served, with their digests: a repeated request (a HEAD then its GET,
        # a resumed or repeated download) is answered without a trip to the thread pool.
        self._known: OrderedDict[str, tuple[Product, str]] = OrderedDict()

    @property
    def source(self) -> FileSource:
        """The file source (created on first use)."""
        if self._source is None:
            self._source = ArchiveFiles(self.archive)
        return self._source

    def _lookup(self, uri: str) -> Product | None:
        return self.source.product(uri) if valid_uri(uri) else None

    def _digest(self, product: Product, blob: ProductBlob) -> str:
        hexdigest = self._digests.get(product.uri)
        if hexdigest is None:
            hexdigest = blob.sha256()
            self._digests[product.uri] = hexdigest
            while len(self._digests) > 4096:
                self._digests.popitem(last=False)
        return hexdigest

    def _resolve(self, uri: str) -> tuple[Product, ProductBlob, str] | None:
        product = self._lookup(uri)
        if product is None:
            return None
        blob = self.source.blob(product)
        return product, blob, self._digest(product, blob)

    async def file(self, request: Request) -> Response:
        """``HEAD``/``GET /api/v0.1/Download/file?uri=``."""
        uri = request.query_params.get("uri", "")
        if not uri:
            return PlainTextResponse("Missing parameter: uri", status_code=400)
        known = self._known.get(uri)
        if known is not None:
            product, hexdigest = known
            blob = self.source.blob(product)
        else:
            resolved = await run_in_threadpool(self._resolve, uri)
            if resolved is None:
                return PlainTextResponse(f"File not found: {uri}", status_code=404)
            product, blob, hexdigest = resolved
            self._known[uri] = (product, hexdigest)
            while len(self._known) > 4096:
                self._known.popitem(last=False)
        size = blob.size
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Disposition": f"attachment; filename={quote(product.filename)}",
            "Digest": "sha-256=" + base64.b64encode(bytes.fromhex(hexdigest)).decode("ascii"),
            "X-Checksum-Sha256": hexdigest,
            "ETag": f'"{hexdigest[:32]}"',
        }
        media = (
            "application/fits"
            if product.filename.lower().endswith((".fits", ".fit", ".fts"))
            else "application/octet-stream"
        )
        wanted = parse_range(request.headers.get("range"), size)
        if wanted is False:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(status_code=416, headers=headers)
        if_range = request.headers.get("if-range")
        if (
            isinstance(wanted, tuple)
            and if_range is not None
            and if_range.strip() != headers["ETag"]
        ):
            wanted = None  # the client's partial copy is of another version: send it all
        start, stop, status = 0, size, 200
        if isinstance(wanted, tuple):
            start, stop = wanted
            status = 206
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        headers["Content-Length"] = str(stop - start)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type=media)
        return StreamingResponse(
            _stream(blob, start, stop), status_code=status, headers=headers, media_type=media
        )

    async def bundle(self, request: Request) -> Response:
        """``POST /api/v0.1/Download/bundle.sh``: a curl script for the posted ``uri`` values."""
        from mastkit.server.app import BodyTooLarge, read_body

        try:
            body = await read_body(request, self.max_body_bytes)
        except BodyTooLarge:
            return PlainTextResponse("Request body too large.", status_code=413)
        pairs = parse_qsl(body.decode("utf-8", "replace") + "&" + request.url.query)
        uris = [v for k, v in pairs if k == "uri"][:_MAX_URIS]
        products = await run_in_threadpool(lambda: [(u, self._lookup(u)) for u in uris])
        base = str(request.base_url).rstrip("/")
        script = bundle_script(base, products, datetime.now(UTC))
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        return Response(
            script.encode("utf-8"),
            media_type="text/x-sh",
            headers={"Content-Disposition": f"attachment; filename=mastDownload_{stamp}.sh"},
        )

    async def path_lookup(self, request: Request) -> Response:
        """``GET /api/v0.1/path_lookup/?uri=..&uri=..``: each URI's path, or 404 and null."""
        uris = request.query_params.getlist("uri")[:_MAX_URIS]
        products = await run_in_threadpool(lambda: [(u, self._lookup(u)) for u in uris])
        answer = {
            uri: {"status_code": 200, "path": p.path} if p else {"status_code": 404, "path": None}
            for uri, p in products
        }
        return JSONResponse(answer)


async def _stream(blob: ProductBlob, start: int, stop: int) -> AsyncIterator[bytes]:
    async for chunk in iterate_in_threadpool(_chunks(blob, start, stop)):
        yield chunk


def _chunks(blob: ProductBlob, start: int, stop: int) -> Iterator[bytes]:
    offset = start
    while offset < stop:
        data = blob.read(offset, min(_CHUNK, stop - offset))
        if not data:
            raise RuntimeError(f"product bytes ended at {offset} of {stop}")
        yield data
        offset += len(data)


def bundle_script(base: str, products: list[tuple[str, Product | None]], now: datetime) -> str:
    """A POSIX shell script that downloads ``products`` with curl (MAST's curl bundle layout)."""
    folder = "MAST_" + now.strftime("%Y-%m-%dT%H%M")
    lines = [
        "#!/bin/sh",
        "#",
        f"# Requested from {base} (mastkit local MAST server)",
        f"# on {now.isoformat(timespec='seconds')}",
        "# Usage: sh <this file>   (files go to a new folder beside it)",
        "#",
        f"DOWNLOAD_FOLDER={shlex.quote(folder)}",
        'mkdir -p "$DOWNLOAD_FOLDER"',
        "",
    ]
    for uri, product in products:
        if product is None:
            lines.append(f"# not found: {shlex.quote(uri)}")
            continue
        relative = f"{product.obs_collection}/{product.obs_id}/{product.filename}"
        url = f"{base}/api/v0.1/Download/file?uri={quote(product.uri, safe=':/')}"
        lines += [
            f"echo {shlex.quote(f'<<< Downloading File: {product.uri}')}",
            f'echo {shlex.quote("                  To: ")}"$DOWNLOAD_FOLDER"/'
            f"{shlex.quote(relative)}",
            "curl --globoff --location-trusted -f --progress-bar --create-dirs "
            f'--output "$DOWNLOAD_FOLDER"/{shlex.quote(relative)} {shlex.quote(url)}',
            "",
        ]
    lines.append('echo "Download complete: $DOWNLOAD_FOLDER"')
    return "\n".join(lines) + "\n"
