"""Product files generated on demand: FITS validity, byte ranges, determinism, speed."""

from __future__ import annotations

import hashlib
import io
import time
from typing import Any

import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st

from mastkit.server.files import CHUNK, FITS_BLOCK, ProductFile
from mastkit.server.sql import find_product


@pytest.mark.parametrize("blocks", [2, 3, 365, 1200])
@pytest.mark.parametrize("seed", [0, 1, 2879, 2**62 - 1])
def test_fits_files_are_valid_and_exactly_sized(blocks: int, seed: int) -> None:
    size = blocks * FITS_BLOCK
    product = ProductFile.for_product("ib1f01010_drz.fits", size, seed, telescope="HST",
                                      instrument="WFC3/UVIS", target="NGC5457")
    data = product.read()
    assert len(data) == size == product.size
    with fits.open(io.BytesIO(data)) as hdus:
        hdus.verify("exception")
        header = hdus[0].header
        assert header["SIMPLE"] is True and header["BITPIX"] == 8 and header["NAXIS"] == 1
        assert header["ORIGIN"] == "mastkit synthetic"
        assert (header["TELESCOP"], header["INSTRUME"], header["OBJECT"]) == (
            "HST", "WFC3/UVIS", "NGC5457")
        assert header["FILENAME"] == "ib1f01010_drz.fits"
        assert hdus[0].data.shape == (header["NAXIS1"],)
        head = min(64, header["NAXIS1"])
        assert bytes(hdus[0].data[:head]) == data[FITS_BLOCK:FITS_BLOCK + head]
    # header + data + zero padding == the declared size
    assert FITS_BLOCK + header["NAXIS1"] <= size < 2 * FITS_BLOCK + header["NAXIS1"]
    assert data[FITS_BLOCK + header["NAXIS1"]:] == bytes(size - FITS_BLOCK - header["NAXIS1"])


def test_kind_follows_the_file_name() -> None:
    assert ProductFile.for_product("a.fits", 5760, 1).kind == "fits"
    assert ProductFile.for_product("a.FITS", 5760, 1).kind == "fits"
    assert ProductFile.for_product("a_drz.jpg", 1000, 1).kind == "bytes"
    assert ProductFile.for_product("a_asn.json", 7, 1).read() == ProductFile(7, 1).read()
    with pytest.raises(ValueError):
        ProductFile(2880 * 3 + 1, 0, "fits")
    with pytest.raises(ValueError):
        ProductFile(2880, 0, "fits")


def test_content_is_deterministic_and_seeded() -> None:
    a = ProductFile(3 * CHUNK + 17, 7).read()
    assert a == ProductFile(3 * CHUNK + 17, 7).read()
    assert a != ProductFile(3 * CHUNK + 17, 8).read()
    assert ProductFile(100, 7).read() == a[:100]  # a prefix does not depend on the size


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["fits", "bytes"]), blocks=st.integers(2, 1200),
       data=st.data())
def test_any_range_equals_the_slice_of_the_whole(kind: Any, blocks: int,
                                                 data: st.DataObject) -> None:
    size = blocks * FITS_BLOCK if kind == "fits" else blocks * FITS_BLOCK - data.draw(
        st.integers(0, 2879))
    product = ProductFile(size, data.draw(st.integers(0, 2**63 - 1)), kind)
    whole = product.read()
    start = data.draw(st.integers(-5, size + 5))
    end = data.draw(st.one_of(st.none(), st.integers(-5, size + 5)))
    lo = max(start, 0)
    hi = size if end is None else max(0, min(end, size))  # clipped, not Python slicing
    assert product.read(start, end) == whole[lo:hi]
    smallest = 1 if hi - lo < 50_000 else 4096  # tiny pieces of a long range take too long
    chunk = data.draw(st.integers(smallest, 3 * CHUNK))
    pieces = list(product.iter_chunks(start, end, chunk))
    assert b"".join(pieces) == whole[lo:hi]
    assert all(len(p) <= chunk for p in pieces)


def test_sha256_is_streamed_and_cached() -> None:
    product = ProductFile(5 * CHUNK + 1234, 99)
    digest = product.sha256()
    assert digest == hashlib.sha256(product.read()).hexdigest()
    assert product.sha256() is digest


def test_generation_is_fast() -> None:
    product = ProductFile(256 * CHUNK, 3)
    started = time.perf_counter()
    total = sum(len(piece) for piece in product.iter_chunks())
    rate = total / (time.perf_counter() - started)
    assert total == 256 * CHUNK
    assert rate > 50e6  # bytes/s; about 1-2 GB/s on a laptop core, idle


def test_archive_products_make_files(archive: Any) -> None:
    rows = archive.execute(
        'SELECT "dataURI" AS uri FROM products USING SAMPLE 30 ROWS (reservoir, 1)').to_pylist()
    for row in rows:
        found = find_product(archive, row["uri"])
        assert found is not None
        product = ProductFile.for_product(found["filename"], found["size"], found["seed"],
                                          telescope=found["collection"],
                                          instrument=found["instrument"], target=found["target"])
        assert product.size == found["size"]
        assert product.kind == ("fits" if found["filename"].endswith(".fits") else "bytes")
        head = product.read(0, 2880)
        if product.kind == "fits":
            assert head.startswith(b"SIMPLE  =                    T")
            assert f"OBJECT  = '{found['target']}".encode() in head
