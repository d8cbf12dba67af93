"""The pure planner."""

from __future__ import annotations

import pytest

from mastkit.download import plan_downloads, safe_relative_path
from mastkit.errors import BadInputError

SERVER = "http://127.0.0.1:1"


def row(uri: str, name: str, obs: str = "o1", **kw: object) -> dict[str, object]:
    return {
        "dataURI": uri,
        "productFilename": name,
        "obs_collection": "HST",
        "obs_id": obs,
        "size": 10,
        **kw,
    }


def test_default_template_url_size_and_duplicates(tmp_path):
    rows = [
        row("mast:HST/product/a b.fits", "a b.fits"),
        row("mast:HST/product/c.fits", "c.fits"),
        row("mast:HST/product/a b.fits", "a b.fits"),
    ]
    plan = plan_downloads(rows, tmp_path, server=SERVER + "/")
    assert [i.path for i in plan.items] == ["HST/o1/a b.fits", "HST/o1/c.fits"]
    assert plan.items[0].url == SERVER + "/api/v0.1/Download/file?uri=mast:HST/product/a%20b.fits"
    assert plan.duplicates == ["mast:HST/product/a b.fits"]
    s = plan.summary()
    assert (s.files, s.bytes, s.duplicates) == (2, 20, 1)


def test_flat_and_custom_templates(tmp_path):
    rows = [row("mast:X/a.fits", "a.fits", productType="SCIENCE")]
    assert plan_downloads(rows, tmp_path, server=SERVER, template="flat").items[0].path == "a.fits"
    custom = plan_downloads(
        rows, tmp_path, server=SERVER, template="{productType}/{productFilename}"
    )
    assert custom.items[0].path == "SCIENCE/a.fits"
    with pytest.raises(BadInputError):
        plan_downloads(rows, tmp_path, server=SERVER, template="{obs_id.__class__}")


def test_bare_uris_are_flat_and_checksums_kept(tmp_path):
    plan = plan_downloads(["mast:HST/product/x.fits"], tmp_path, server=SERVER)
    assert plan.items[0].path == "x.fits" and plan.items[0].size is None
    plan = plan_downloads([row("mast:a", "a", sha256="AB" * 32)], tmp_path, server=SERVER)
    assert plan.items[0].sha256 == "ab" * 32


def test_collisions_are_errors(tmp_path):
    rows = [row("mast:A/a.fits", "a.fits"), row("mast:B/a.fits", "A.FITS", obs="o2")]
    with pytest.raises(BadInputError, match="Two products"):
        plan_downloads(rows, tmp_path, server=SERVER, template="flat")
    ok = plan_downloads(
        rows, tmp_path, server=SERVER, template="{obs_collection}/{obs_id}/x/{productFilename}"
    )
    assert ok is not None


@pytest.mark.parametrize("name", ["..", "a\x00b", "a\\..\\b", ".", ""])
def test_unsafe_names_are_rejected_not_planned(tmp_path, name):
    plan = plan_downloads(
        [row("mast:bad", name), row("mast:good", "g.fits")], tmp_path, server=SERVER
    )
    assert [i.uri for i in plan.items] == ["mast:good"]
    assert plan.rejected and plan.rejected[0][0] == "mast:bad"


@pytest.mark.parametrize("obs", ["..", "/abs", "C:", "a/b"])
def test_unsafe_columns_are_rejected(tmp_path, obs):
    plan = plan_downloads([row("mast:bad", "f.fits", obs=obs)], tmp_path, server=SERVER)
    assert not plan.items and plan.rejected


@pytest.mark.parametrize("path", ["/etc/x", "C:/x", "a/../b", "a//b", "manifest.csv", "x.part"])
def test_safe_relative_path_rejects(path):
    with pytest.raises(BadInputError):
        safe_relative_path(path)


def test_server_names_keep_only_their_basename(tmp_path):
    plan = plan_downloads([row("mast:x", "../../etc/passwd")], tmp_path, server=SERVER)
    assert plan.items[0].path == "HST/o1/passwd"
