"""The catalogue benchmark's parts work (``python -m benchmarks catalogs`` runs it in full)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from benchmarks import available
from benchmarks.bench_catalogs import _server_share, main, moved, worker

from .test_catalogs import arcsec_between


def test_positions_move_by_at_most_the_step() -> None:
    ra, dec = np.array([10.0, 359.9999, 0.0]), np.array([0.0, 45.0, -89.9])
    new_ra, new_dec = moved(ra, dec, 2.0, seed=1)
    assert (arcsec_between(ra, dec, new_ra, new_dec) <= 2.0 + 1e-6).all()
    assert ((new_ra >= 0) & (new_ra < 360)).all()
    assert np.array_equal(moved(ra, dec, 2.0, seed=1)[0], new_ra)


def test_contenders_agree_on_the_local_server(
    server_url: str, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from astroquery.mast import Catalogs

    portal = Catalogs._portal_api_connection
    for name in ("MAST_REQUEST_URL", "COLUMNS_CONFIG_URL"):  # restored after the test
        monkeypatch.setattr(portal, name, getattr(portal, name))
    tic = db.execute("SELECT ra, dec FROM tic ORDER BY ID LIMIT 3")
    ra, dec = moved(tic.column("ra").to_numpy(), tic.column("dec").to_numpy(), 1.0, seed=6)
    ours = worker("mastkit", server_url, ra.tolist(), dec.tolist(), 1)
    theirs = worker("astroquery", server_url, ra.tolist(), dec.tolist(), 1)
    assert ours["rows"] == theirs["rows"] >= 3 and ours["best"] > 0 and theirs["best"] > 0


def test_server_share_matches_every_star(db: Any) -> None:
    hip = db.execute("SELECT ra, dec FROM hipparcos ORDER BY HIP LIMIT 200")
    ra, dec = moved(hip.column("ra").to_numpy(), hip.column("dec").to_numpy(), 2.0, seed=7)
    seconds, matches = _server_share(db, ra, dec)
    assert seconds > 0 and matches >= 200


def test_registered_and_checks_its_arguments() -> None:
    assert "catalogs" in available()
    assert main(["--workloads", "nope"]) == 2
    assert main(["--contenders", "mastkit,nobody"]) == 2
