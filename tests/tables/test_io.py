"""Writers: every format round-trips, writes are atomic, overwrites are refused unless asked."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mastkit.tables.io as tables_io
from mastkit.errors import BadInputError
from mastkit.protocol import Paging
from mastkit.tables import ResultTable, decode_csv, decode_votable, fields_for, write_table

from .conftest import fixture_reply


@pytest.fixture
def result() -> ResultTable:
    table = pa.table(
        {
            "obsid": pa.array([2003585980, None, 3], pa.int64()),
            "s_ra": [23.11817129395, None, float("nan")],
            "target": ["M 31", None, 'a "b", c'],
            "flag": [True, None, False],
            "when": pa.array(
                [dt.datetime(2020, 1, 1, 12), None, dt.datetime(1999, 12, 31)], pa.timestamp("us")
            ),
        }
    )
    return ResultTable(
        table,
        service="Mast.Caom.Cone",
        params={"ra": 23.34, "dec": 60.66, "radius": 0.2},
        paging=Paging(1, 50000, 1, 3, 3, 3),
        metadata={"units": {"s_ra": "deg"}, "descriptions": {"s_ra": "Right ascension"}},
    )


def _astropy_read(path: Path, **kwargs: object) -> object:
    from astropy.table import Table

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITS/ECSV readers note harmless things
        return Table.read(path, **kwargs)


def test_parquet_round_trip(result: ResultTable, tmp_path: Path) -> None:
    path = result.write(tmp_path / "r.parquet")
    back = pq.read_table(path)
    assert (
        back.select(result.columns).cast(result.arrow.schema).to_pylist()[:2]
        == result.arrow.to_pylist()[:2]
    )
    assert back.schema.field("s_ra").metadata[b"unit"] == b"deg"
    provenance = json.loads(back.schema.metadata[b"mastkit"])
    assert provenance["service"] == "Mast.Caom.Cone" and provenance["paging"]["rowsTotal"] == 3


def test_csv_round_trip(result: ResultTable, tmp_path: Path) -> None:
    path = result.write(tmp_path / "r.csv")
    back = decode_csv(path.read_bytes(), fields_for(result.arrow))
    assert back.column("obsid").to_pylist() == [2003585980, None, 3]
    assert back.column("target").to_pylist() == ["M 31", None, 'a "b", c']
    assert back.column("flag").to_pylist() == [True, None, False]
    assert back.column("when").to_pylist()[0] == dt.datetime(2020, 1, 1, 12)
    import pyarrow.csv as pa_csv

    assert pa_csv.read_csv(path).num_rows == 3  # any csv reader can read it


def test_ecsv_round_trip(result: ResultTable, tmp_path: Path) -> None:
    table = _astropy_read(result.write(tmp_path / "r.ecsv"))
    assert table["obsid"].mask.tolist() == [False, True, False]  # type: ignore[index]
    assert table["obsid"][0] == 2003585980  # type: ignore[index]
    assert str(table["s_ra"].unit) == "deg"  # type: ignore[index]
    assert table["target"][2] == 'a "b", c'  # type: ignore[index]
    assert table.meta["service"] == "Mast.Caom.Cone"  # type: ignore[attr-defined]


def test_fits_round_trip(result: ResultTable, tmp_path: Path) -> None:
    table = _astropy_read(result.write(tmp_path / "r.fits"))
    assert table["obsid"].mask.tolist() == [False, True, False]  # type: ignore[index]
    assert table["obsid"][0] == 2003585980  # type: ignore[index]
    assert str(table["s_ra"].unit) == "deg"  # type: ignore[index]
    assert table["target"][0] == "M 31"  # type: ignore[index]
    assert table.meta["SERVICE"] == "Mast.Caom.Cone"  # type: ignore[attr-defined]


def test_fits_keeps_non_ascii_text_as_utf8(tmp_path: Path) -> None:
    path = ResultTable(pa.table({"name": ["é😀", "plain"]})).write(tmp_path / "u.fit")
    value = _astropy_read(path, character_as_bytes=True)["name"][0]  # type: ignore[index]
    assert (value.decode("utf-8") if isinstance(value, bytes) else value) == "é😀"


def test_votable_round_trip(result: ResultTable, tmp_path: Path) -> None:
    for suffix in (".xml", ".vot", ".votable"):
        back = decode_votable(result.write(tmp_path / f"r{suffix}").read_bytes())
        assert back.column("obsid").to_pylist() == [2003585980, None, 3]
        assert back.schema.field("s_ra").metadata[b"unit"] == b"deg"


@pytest.mark.parametrize("name", ["caom.json", "tic.json"])
@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".ecsv", ".fits", ".xml"])
def test_real_replies_write_in_every_format(name: str, suffix: str, tmp_path: Path) -> None:
    table = ResultTable(pa.concat_tables([pa.Table.from_batches([b]) for b in fixture_table(name)]))
    path = table.write(tmp_path / f"out{suffix}")
    assert path.stat().st_size > 0
    if suffix == ".parquet":
        assert pq.read_table(path).equals(table.arrow)


def fixture_table(name: str) -> list[pa.RecordBatch]:
    from mastkit.tables import decode_reply

    return decode_reply(fixture_reply(name)).to_batches()


def test_overwrite_is_refused_unless_asked(result: ResultTable, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("precious")
    with pytest.raises(BadInputError, match="already exists"):
        result.write(path)
    assert path.read_text() == "precious"
    result.write(path, overwrite=True)
    assert path.read_text().startswith("obsid,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


def test_unknown_suffix_and_format(result: ResultTable, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"\.dat"):
        result.write(tmp_path / "r.dat")
    with pytest.raises(BadInputError, match="hdf5"):
        result.write(tmp_path / "r.csv", format="hdf5")
    assert result.write(tmp_path / "r.dat", format="csv").read_bytes().startswith(b"obsid")
    assert result.write(tmp_path / "r.txt", format="VOT").read_bytes().startswith(b"<?xml")
    with pytest.raises(BadInputError, match="does not exist"):
        result.write(tmp_path / "missing" / "r.csv")


def test_a_failed_write_leaves_nothing(
    result: ResultTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(table: pa.Table) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(tables_io, "encode_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        result.write(tmp_path / "r.csv")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "keep.csv").write_text("old")
    with pytest.raises(OSError):
        result.write(tmp_path / "keep.csv", overwrite=True)
    assert (tmp_path / "keep.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]


@pytest.mark.parametrize(
    "column", [pa.array([{"a": 1}]), pa.array([b"\x00bytes"])], ids=["struct", "binary"]
)
def test_unwritable_columns_are_bad_input(column: pa.Array, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="fits"):
        write_table(pa.table({"c": column}), tmp_path / "n.fits")
    assert list(tmp_path.iterdir()) == []


def test_written_file_has_normal_permissions(result: ResultTable, tmp_path: Path) -> None:
    import os

    mask = os.umask(0)
    os.umask(mask)
    path = result.write(tmp_path / "r.parquet")
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_fits_tables_read_by_astropy_convert_from_big_endian(tmp_path: Path) -> None:
    """FITS columns are big-endian; converting them keeps values and masks."""
    import numpy as np
    from astropy.table import MaskedColumn, Table

    from mastkit.tables.convert import from_astropy

    path = tmp_path / "stars.fits"
    source = Table(
        {
            "ra": np.array([10.5, 200.25], dtype=">f8"),
            "hip": MaskedColumn(np.array([7, 9], dtype=">i4"), mask=[False, True]),
        }
    )
    source.write(path)
    read = Table.read(path)
    assert read["ra"].dtype.byteorder == ">"
    table = from_astropy(read)
    assert table.column("ra").to_pylist() == [10.5, 200.25]
    assert table.column("hip").to_pylist() == [7, None]
