"""astroquery 0.4.11, unmodified, pointed at the local server over a real loopback socket.

astroquery computes its URLs from ``conf.server`` at import time, as class attributes
(mast-protocol.md 9.1 point 7): the fixtures patch them on the instances used, and patch the
hard-coded SANTA resolver and path_lookup URLs by wrapping
``astroquery.mast.utils._simple_request``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mastkit.server import LocalArchive

from ..server.conftest import small_archive

_HARD_CODED = (
    "http://mastresolver.stsci.edu",
    "https://mastresolver.stsci.edu",
    "https://mast.stsci.edu",
)


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mastkit.server.archive import Archive

    db = Archive.open(small_archive(tmp_path_factory))
    yield db
    db.close()


@pytest.fixture(scope="session")
def mast_url(archive: Any) -> Iterator[str]:
    with LocalArchive(archive=archive) as url:
        yield url


@pytest.fixture
def astroquery_mast(mast_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``astroquery.mast`` with Observations and Mast talking to the local server."""
    from astroquery.mast import Mast, Observations, discovery_portal, utils

    for client in (Observations, Mast):
        portal = client._portal_api_connection
        monkeypatch.setattr(portal, "MAST_REQUEST_URL", mast_url + "/api/v0/invoke")
        monkeypatch.setattr(
            portal, "COLUMNS_CONFIG_URL", mast_url + "/portal/Mashup/Mashup.asmx/columnsconfig"
        )
        monkeypatch.setattr(portal, "MAST_DOWNLOAD_URL", mast_url + "/api/v0.1/Download/file")
        monkeypatch.setattr(portal, "MAST_BUNDLE_URL", mast_url + "/api/v0.1/Download/bundle")
        service = client._service_api_connection
        monkeypatch.setattr(service, "SERVICE_URL", mast_url)
        monkeypatch.setattr(service, "REQUEST_URL", mast_url + "/api/v0.1/")
        monkeypatch.setattr(service, "MAST_DOWNLOAD_URL", mast_url + "/api/v0.1/Download/file")
    # Column configs are cached on the class; start from a clean cache so every test fetches.
    monkeypatch.setattr(discovery_portal.PortalAPI, "_column_configs", {})
    original = utils._simple_request

    def local_request(url: str, params: Any = None) -> Any:
        for prefix in _HARD_CODED:
            if url.startswith(prefix):
                url = mast_url + url[len(prefix) :]
                break
        assert url.startswith(mast_url), f"astroquery tried to reach {url}"
        return original(url, params)

    monkeypatch.setattr(utils, "_simple_request", local_request)
    import astroquery.mast as module

    return module
