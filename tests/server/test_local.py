"""The server over a real loopback socket: LocalArchive, connection resets, downloads."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from mastkit.protocol import MashupRequest, encode_form
from mastkit.server import LocalArchive, ServerSettings
from mastkit.server import archive as archive_module

from .conftest import FORM, scalar


def post(client: httpx.Client, request: MashupRequest) -> dict[str, Any]:
    response = client.post("/api/v0/invoke", content=encode_form(request), headers=FORM)
    assert response.status_code == 200
    reply: dict[str, Any] = response.json()
    return reply


@pytest.fixture(scope="module")
def served(archive: Any) -> Any:
    local = LocalArchive(archive=archive, settings=ServerSettings(row_limit=1000))
    with local as url:
        assert url.startswith("http://127.0.0.1:")
        yield local
    assert local.url == ""


def test_queries_over_a_socket(served: LocalArchive, archive: Any) -> None:
    with httpx.Client(base_url=served.url) as client:
        count = post(
            client,
            MashupRequest(
                "Mast.Caom.Filtered",
                {
                    "columns": "COUNT_BIG(*)",
                    "filters": [{"paramName": "obs_collection", "values": ["JWST"]}],
                },
            ),
        )
        assert count["data"][0]["Column1"] == scalar(
            archive, "SELECT count(*) FROM observations WHERE obs_collection = 'JWST'"
        )
        assert client.get("/whoami").json()["anon"] is True


def test_over_the_row_limit_the_connection_is_reset(served: LocalArchive, archive: Any) -> None:
    assert scalar(archive, "SELECT count(*) FROM observations") > 1000
    too_big = MashupRequest(
        "Mast.Caom.Filtered", {"columns": "*", "filters": []}, pagesize=10, page=1
    )
    with httpx.Client(base_url=served.url) as client:
        with pytest.raises(httpx.TransportError) as caught:
            client.post("/api/v0/invoke", content=encode_form(too_big), headers=FORM)
        assert isinstance(caught.value, httpx.ReadError | httpx.RemoteProtocolError)
    with httpx.Client(base_url=served.url) as client:  # and it keeps serving
        ok = post(
            client,
            MashupRequest(
                "Mast.Caom.Filtered",
                {"columns": "*", "filters": [{"paramName": "obs_collection", "values": ["IUE"]}]},
            ),
        )
        assert ok["status"] == "COMPLETE" and len(ok["data"]) == scalar(
            archive, "SELECT count(*) FROM observations WHERE obs_collection = 'IUE'"
        )


def test_a_fits_product_downloads_complete_and_verified(served: LocalArchive, archive: Any) -> None:
    from astropy.io import fits

    row = archive.execute(
        "SELECT dataURI, size FROM products WHERE productFilename LIKE '%.fits' "
        "AND size < 3000000 ORDER BY _row LIMIT 1"
    ).to_pylist()[0]
    with httpx.Client(base_url=served.url) as client:
        head = client.head("/api/v0.1/Download/file", params={"uri": row["dataURI"]})
        assert head.status_code == 200 and int(head.headers["content-length"]) == row["size"]
        body = client.get("/api/v0.1/Download/file", params={"uri": row["dataURI"]}).content
        assert len(body) == row["size"]
        assert hashlib.sha256(body).hexdigest() == head.headers["x-checksum-sha256"]
        with fits.open(io.BytesIO(body)) as hdul:
            assert hdul[0].header["ORIGIN"] == "mastkit synthetic"
        part = client.get(
            "/api/v0.1/Download/file",
            params={"uri": row["dataURI"]},
            headers={"Range": "bytes=2880-5759"},
        )
        assert part.status_code == 206 and part.content == body[2880:5760]


def test_local_archive_builds_on_first_use_then_reuses(
    archive_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_cache_dir: Path
) -> None:
    builds: list[Path] = []

    def fake_build(path: Any, *, observations: int = 0, seed: int = 0) -> Path:
        builds.append(Path(path))  # a copy of the session's archive stands in for a build
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(archive_path, path)
        return Path(path)

    monkeypatch.setattr(archive_module, "build_archive", fake_build)
    default = archive_module.default_archive_path()
    assert str(default).startswith(str(isolated_cache_dir))
    for _ in range(2):
        with LocalArchive() as url, httpx.Client(base_url=url) as client:
            reply = post(client, MashupRequest("Mast.Missions.List", {}))
            assert reply["status"] == "COMPLETE" and reply["data"]
    assert builds == [default]
