"""The invoke protocol, routes and errors of the server app (fake services; no archive)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import httpx
import pytest

from mastkit.protocol import MashupRequest, encode_form, encode_query

from .conftest import FORM, Counter, client_for, fake_app, invoke, invoke_raw

pytestmark = pytest.mark.anyio

ZERO_PAGING = {
    "page": 0,
    "pageSize": 0,
    "pagesFiltered": 0,
    "rows": 0,
    "rowsFiltered": 0,
    "rowsTotal": 0,
}


def rows(request: MashupRequest | None = None, **kw: object) -> MashupRequest:
    return request or MashupRequest("Test.Rows", {"rows": kw.pop("n", 25)}, **kw)  # type: ignore[arg-type]


async def test_post_form_as_astroquery_sends_it(fake_client: httpx.AsyncClient) -> None:
    reply = await invoke(fake_client, rows(pagesize=50000, page=1, cachebreaker="cb"))
    assert reply["status"] == "COMPLETE" and reply["msg"] == ""
    assert list(reply) == ["status", "msg", "data", "fields", "paging"]
    assert reply["fields"] == [
        {"name": "obsid", "type": "string"},
        {"name": "name", "type": "string"},
        {"name": "run", "type": "int"},
    ]
    assert reply["data"][0] == {"obsid": 0, "name": "row0", "run": 1}  # long ids sent as numbers
    assert reply["paging"] == {
        "page": 1,
        "pageSize": 50000,
        "pagesFiltered": 1,
        "rows": 25,
        "rowsFiltered": 25,
        "rowsTotal": 25,
    }


async def test_get_and_raw_json_and_alias_route(fake_client: httpx.AsyncClient) -> None:
    request = rows(n=3)
    got = await fake_client.get("/api/v0/invoke?" + encode_query(request))
    raw = await invoke_raw(
        fake_client, "request=" + json.dumps({"service": "Test.Rows", "params": {"rows": 3}})
    )
    bare = await fake_client.post(
        "/api/v0/invoke", json={"service": "Test.Rows", "params": {"rows": 3}}
    )
    alias = await fake_client.post(
        "/portal/Mashup/Mashup.asmx/invoke", content=encode_form(request), headers=FORM
    )
    for response in (got, raw, bare, alias):
        assert response.status_code == 200
        assert response.json()["paging"]["rowsTotal"] == 3, response.text


async def test_unknown_keys_and_both_cachebreaker_spellings(
    fake_client: httpx.AsyncClient, counter: Counter
) -> None:
    base = {
        "service": "test.rows",
        "params": {"rows": 2},
        "format": "json",
        "use_json": False,
        "removenullrows": True,
    }
    a = await invoke(fake_client, {**base, "cacheBreaker": "x"})
    b = await invoke(fake_client, {**base, "cachebreaker": "x"})
    assert a["status"] == b["status"] == "COMPLETE"
    assert counter.runs == 1  # the same job: same service (any case), params and cachebreaker


async def test_service_names_are_case_insensitive(fake_client: httpx.AsyncClient) -> None:
    reply = await invoke(fake_client, {"service": "TEST.ROWS", "params": {}})
    assert reply["status"] == "COMPLETE"


async def test_paging_partitions_the_result(fake_client: httpx.AsyncClient) -> None:
    whole = await invoke(fake_client, rows(n=23, cachebreaker="p"))
    assert whole["paging"] == {
        "page": 1,
        "pageSize": 23,
        "pagesFiltered": 1,
        "rows": 23,
        "rowsFiltered": 23,
        "rowsTotal": 23,
    }
    pages = []
    for page in range(1, 6):
        reply = await invoke(fake_client, rows(n=23, cachebreaker="p", pagesize=5, page=page))
        assert reply["paging"] == {
            "page": page,
            "pageSize": 5,
            "pagesFiltered": 5,
            "rows": 5 if page < 5 else 3,
            "rowsFiltered": 23,
            "rowsTotal": 23,
        }
        pages += reply["data"]
    assert pages == whole["data"]
    past = await invoke(fake_client, rows(n=23, cachebreaker="p", pagesize=5, page=9))
    assert (
        past["data"] == [] and past["paging"]["rows"] == 0 and past["paging"]["pagesFiltered"] == 5
    )


async def test_pagesize_alone_and_page_alone(fake_client: httpx.AsyncClient) -> None:
    only_size = await invoke(fake_client, rows(n=30, pagesize=7))
    assert only_size["paging"]["page"] == 1 and only_size["paging"]["rows"] == 7
    only_page = await invoke(fake_client, rows(n=30, page=1))
    assert only_page["paging"]["pageSize"] == 1000 and only_page["paging"]["rows"] == 30


async def test_empty_result_has_the_zero_paging_block(fake_client: httpx.AsyncClient) -> None:
    reply = await invoke(fake_client, rows(n=0, pagesize=10, page=1))
    assert reply["status"] == "COMPLETE" and reply["data"] == []
    assert reply["paging"] == ZERO_PAGING
    assert [f["name"] for f in reply["fields"]] == ["obsid", "name", "run"]


@pytest.mark.parametrize(
    ("wire", "msg"),
    [
        ({"service": "Test.Rows", "page": 0}, "page parameter must be > 0"),
        ({"service": "Test.Rows", "page": -3}, "page parameter must be > 0"),
        ({"service": "Test.Rows", "pagesize": 0}, "pagesize parameter must be > 0"),
        ({"service": "Test.Rows", "format": "xls"}, "Unknown  Format Type specified : xls"),
        (
            {"service": "Mast.Nope.Nothing"},
            "Mashup: Unable to Find Service Adaptor for service: Mast.Nope.Nothing",
        ),
        ({"params": {}}, "Mashup: 'service' param is missing."),
        ({"service": "Test.Rows", "params": {"rows": -1}}, "rows must be >= 0"),
    ],
)
async def test_errors_answer_http_200_with_status_error(
    fake_client: httpx.AsyncClient, wire: dict[str, object], msg: str
) -> None:
    reply = await invoke(fake_client, wire)
    assert reply["status"] == "ERROR"
    assert reply["msg"] == msg
    assert reply["data"] == [] and reply["fields"] == [] and reply["paging"] == ZERO_PAGING


async def test_http_level_faults(counter: Counter) -> None:
    async with client_for(fake_app(counter, max_body_bytes=1000)) as client:
        assert (await client.put("/api/v0/invoke")).status_code == 405
        assert (await client.delete("/Santa-war/query")).status_code == 405
        assert (await client.get("/api/v0/nothing")).status_code == 404
        big = await invoke_raw(client, b"request=" + b"x" * 5000)
        assert big.status_code == 413
        assert (await client.get("/whoami")).json()["ezid"] == "anonymous"


async def test_slow_job_answers_executing_until_done(counter: Counter) -> None:
    app = fake_app(counter, slow_seconds=0.3)
    async with client_for(app) as client:
        request = rows(n=4, cachebreaker="slow", timeout=0.05)
        first = await invoke(client, request)
        assert first == {
            "status": "EXECUTING",
            "msg": "",
            "data": [],
            "fields": [],
            "paging": ZERO_PAGING,
        }
        statuses = [first["status"]]
        while statuses[-1] == "EXECUTING":
            statuses.append((await invoke(client, request))["status"])
        assert statuses[-1] == "COMPLETE" and counter.runs == 1
        fresh = await invoke(client, rows(n=4, cachebreaker="another", timeout=5))
        assert fresh["status"] == "COMPLETE" and fresh["data"][0]["run"] == 2
        cleared = await invoke(client, rows(n=4, cachebreaker="slow", timeout=5, clearcache=True))
        assert cleared["data"][0]["run"] == 3


async def test_identical_concurrent_requests_share_the_job(counter: Counter) -> None:
    async with client_for(fake_app(counter, slow_seconds=0.2)) as client:
        request = rows(n=4, cachebreaker="same")
        replies = await asyncio.gather(*(invoke(client, request) for _ in range(8)))
        assert {r["status"] for r in replies} == {"COMPLETE"} and counter.runs == 1


async def test_jobs_expire_after_ten_minutes_without_a_poll(counter: Counter) -> None:
    now = [0.0]
    async with client_for(fake_app(counter, clock=lambda: now[0])) as client:
        request = rows(n=2, cachebreaker="old")
        await invoke(client, request)
        now[0] += 601
        await invoke(client, rows(n=2, cachebreaker="other"))  # any request sweeps
        again = await invoke(client, request)
        assert again["data"][0]["run"] == 3


async def test_requests_with_data_are_not_cached(
    fake_client: httpx.AsyncClient, counter: Counter
) -> None:
    request = {
        "service": "Test.Rows",
        "params": {"rows": 1},
        "data": {"fields": [], "data": []},
        "cacheBreaker": "d",
    }
    await invoke(fake_client, request)
    await invoke(fake_client, request)
    assert counter.runs == 2


async def test_row_limit_error_setting(counter: Counter) -> None:
    async with client_for(fake_app(counter, row_limit=10, reset_over_limit=False)) as client:
        reply = await invoke(client, rows(n=11))
        assert reply["status"] == "ERROR" and "more than 10 rows" in reply["msg"]
        assert (await invoke(client, rows(n=10)))["status"] == "COMPLETE"


async def test_row_limit_reset_in_process(counter: Counter) -> None:
    async with client_for(fake_app(counter, row_limit=10)) as client:
        with pytest.raises(ConnectionResetError):
            await invoke(client, rows(n=11))
        assert (await invoke(client, rows(n=10)))["status"] == "COMPLETE"


async def test_columnsconfig_answers_an_object(fake_client: httpx.AsyncClient) -> None:
    unknown = await fake_client.post(
        "/portal/Mashup/Mashup.asmx/columnsconfig", content="colConfigId=Mast.No.Such", headers=FORM
    )
    assert unknown.status_code == 200 and unknown.json() == {}
    cone = await fake_client.post(
        "/portal/Mashup/Mashup.asmx/columnsconfig",
        content="colConfigId=Mast.Caom.Cone",
        headers=FORM,
    )
    config = cone.json()
    assert config["obs_collection"]["separator"] == ";" and "distance" in config
    assert config["s_ra"]["vot.datatype"] == "double"
    got = await fake_client.get(
        "/portal/Mashup/Mashup.asmx/columnsconfig?colConfigId=" + quote("Mast.Caom.Products")
    )
    assert "dataURI" in got.json()
    empty = await fake_client.post(
        "/portal/Mashup/Mashup.asmx/columnsconfig", content="", headers=FORM
    )
    assert empty.json() == {}


# ----------------------------------------------------------------------------------------------
# The real services over the small archive; every count is checked against direct SQL.
# ----------------------------------------------------------------------------------------------

from .conftest import scalar  # noqa: E402


def caom(service: str, params: dict[str, object], **kw: object) -> MashupRequest:
    return MashupRequest(service, params, **kw)  # type: ignore[arg-type]


async def test_cone_finds_footprints_near_the_point(
    client: httpx.AsyncClient, archive: object
) -> None:
    row = archive.execute(
        "SELECT obsid, s_ra, s_dec FROM observations WHERE obs_collection = 'HST' "
        "ORDER BY obsid LIMIT 1"
    ).to_pylist()[0]  # type: ignore[attr-defined]
    reply = await invoke(
        client,
        caom(
            "Mast.Caom.Cone",
            {"ra": row["s_ra"], "dec": row["s_dec"], "radius": 0.2},
            pagesize=50000,
            page=1,
        ),
    )
    assert reply["status"] == "COMPLETE"
    fields = {f["name"]: f["type"] for f in reply["fields"]}
    assert list(fields)[-1] == "distance" and fields["distance"] == "float"
    assert fields["obsid"] == fields["objID"] == "string" and fields["calib_level"] == "int"
    assert len(fields) == 37
    by_id = {d["obsid"]: d for d in reply["data"]}
    assert isinstance(row["obsid"], int) and by_id[row["obsid"]]["distance"] == 0.0
    assert all(0 <= d["distance"] <= 0.2 * 3600 + 1e-6 for d in reply["data"])
    centres = (
        archive.execute(  # type: ignore[attr-defined]
            "SELECT obsid FROM observations WHERE degrees(acos(least(1, "
            "sin(radians(s_dec))*sin(radians(?)) + "
            "cos(radians(s_dec))*cos(radians(?))*cos(radians(s_ra - ?))))) <= 0.2",
            [row["s_dec"], row["s_dec"], row["s_ra"]],
        )
        .column(0)
        .to_pylist()
    )
    assert set(centres) <= set(by_id)
    assert reply["paging"]["rowsTotal"] == len(reply["data"])


async def test_cone_defaults_and_bad_values(client: httpx.AsyncClient) -> None:
    ok = await invoke(client, caom("Mast.Caom.Cone", {"ra": "210.8", "dec": "54.35"}))
    assert ok["status"] == "COMPLETE"
    for params, words in [
        ({"dec": 1}, "'ra' parameter is required"),
        ({"ra": "abc", "dec": 1}, "Error converting 'ra'"),
        ({"ra": 1, "dec": 95}, "Declination"),
        ({"ra": 1, "dec": 1, "radius": -1}, "Radius"),
    ]:
        reply = await invoke(client, caom("Mast.Caom.Cone", params))
        assert reply["status"] == "ERROR" and words in reply["msg"], reply["msg"]


@pytest.mark.parametrize(
    ("filters", "where", "args"),
    [
        ([{"paramName": "obs_collection", "values": ["HST"]}], "obs_collection = 'HST'", []),
        (
            [
                {"paramName": "obs_collection", "separator": ";", "values": ["tess", "K2"]},
                {"paramName": "calib_level", "values": ["3"]},
            ],
            "obs_collection IN ('TESS', 'K2') AND calib_level = 3",
            [],
        ),
        (
            [{"paramName": "t_exptime", "values": [{"min": 100, "max": 1000}]}],
            "t_exptime BETWEEN 100 AND 1000",
            [],
        ),
        (
            [{"paramName": "proposal_pi", "values": [], "freeText": "gar%"}],
            "proposal_pi ILIKE 'gar%'",
            [],
        ),
        (
            [
                {"paramName": "dataproduct_type", "values": ["image"]},
                {"paramName": "instrument_name", "values": ["WFC3/IR"], "freeText": "ACS%"},
            ],
            "dataproduct_type = 'image' AND "
            "(instrument_name = 'WFC3/IR' OR instrument_name LIKE 'ACS%')",
            [],
        ),
        ([], "true", []),
    ],
)
async def test_filtered_counts_match_sql(
    client: httpx.AsyncClient,
    archive: object,
    filters: list[object],
    where: str,
    args: list[object],
) -> None:
    expected = scalar(archive, f"SELECT count(*) FROM observations WHERE {where}", args)
    count = await invoke(
        client,
        caom(
            "Mast.Caom.Filtered",
            {"columns": "COUNT_BIG(*)", "filters": filters},
            pagesize=50000,
            page=1,
        ),
    )
    assert count["fields"] == [{"name": "Column1", "type": "string"}]
    assert count["data"] == [{"Column1": expected}]
    assert count["paging"] == {
        "page": 1,
        "pageSize": 50000,
        "pagesFiltered": 1,
        "rows": 1,
        "rowsFiltered": 1,
        "rowsTotal": 1,
    }
    rows = await invoke(
        client, caom("Mast.Caom.Filtered", {"columns": "obsid, obs_collection", "filters": filters})
    )
    assert rows["paging"]["rowsFiltered"] == expected
    assert [f["name"] for f in rows["fields"]] == ["obsid", "obs_collection"]


async def test_pages_of_a_real_query_partition_it(
    client: httpx.AsyncClient, archive: object
) -> None:
    request = caom(
        "Mast.Caom.Filtered",
        {"columns": "*", "filters": [{"paramName": "obs_collection", "values": ["HST"]}]},
        cachebreaker="pages",
    )
    whole = await invoke(client, request)
    total = scalar(archive, "SELECT count(*) FROM observations WHERE obs_collection = 'HST'")
    assert whole["paging"]["rowsTotal"] == total == len(whole["data"])
    pages = []
    for page in range(1, -(-total // 100) + 1):
        reply = await invoke(client, request.replace(page=page, pagesize=100))
        pages += reply["data"]
    assert [r["obsid"] for r in pages] == [r["obsid"] for r in whole["data"]]
    assert len({r["obsid"] for r in pages}) == total


async def test_filtered_position_and_its_count(client: httpx.AsyncClient) -> None:
    params = {
        "columns": "*",
        "filters": [{"paramName": "dataproduct_type", "values": ["image"]}],
        "position": "210.8023, 54.349, 1.0",
    }
    rows = await invoke(client, caom("Mast.Caom.Filtered.Position", params))
    count = await invoke(
        client, caom("Mast.Caom.Filtered.Position", {**params, "columns": "COUNT_BIG(*)"})
    )
    assert rows["status"] == count["status"] == "COMPLETE"
    assert count["data"][0]["Column1"] == len(rows["data"]) > 0
    assert all(r["dataproduct_type"] == "image" for r in rows["data"])
    assert rows["fields"][-1]["name"] == "distance"
    bad = await invoke(client, caom("Mast.Caom.Filtered.Position", {**params, "position": "210.8"}))
    assert bad["status"] == "ERROR" and "position" in bad["msg"]


async def test_unknown_columns_answer_like_sql_server(client: httpx.AsyncClient) -> None:
    reply = await invoke(
        client, caom("Mast.Caom.Filtered", {"columns": "obsid, s_fov", "filters": []})
    )
    assert reply["status"] == "ERROR" and reply["msg"] == "Invalid column name 's_fov'."
    reply = await invoke(
        client,
        caom(
            "Mast.Caom.Filtered",
            {"columns": "*", "filters": [{"paramName": "nope", "values": ["1"]}]},
        ),
    )
    assert reply["msg"] == "Invalid column name 'nope'."


async def test_products_of_one_and_many_observations(
    client: httpx.AsyncClient, archive: object
) -> None:
    ids = (
        archive.execute("SELECT obsid FROM observations ORDER BY obsid LIMIT 3")
        .column(0)
        .to_pylist()
    )  # type: ignore[attr-defined]
    one = await invoke(client, caom("Mast.Caom.Products", {"obsid": ids[0]}))
    many = await invoke(client, caom("Mast.Caom.Products", {"obsid": ",".join(map(str, ids))}))
    assert len(one["data"]) == scalar(
        archive, "SELECT count(*) FROM products WHERE obsID = ?", [ids[0]]
    )
    assert len(many["data"]) == scalar(
        archive, f"SELECT count(*) FROM products WHERE obsID IN ({','.join('?' * 3)})", ids
    )
    fields = {f["name"]: f["type"] for f in many["fields"]}
    assert (
        len(fields) == 20
        and fields["obsID"] == fields["parent_obsid"] == "string"
        and fields["size"] == "int"
    )
    assert {r["obsID"] for r in many["data"]} <= set(ids)
    bad = await invoke(
        client, caom("Mast.Caom.Products", {"obsid": "mast:HST/product/u9o40504m_c3m.fits"})
    )
    assert bad == {
        "status": "ERROR",
        "msg": "Error converting data type varchar to bigint.",
        "data": [],
        "fields": [],
        "paging": ZERO_PAGING,
    }


async def test_caom_all_histogram_and_missions_list(
    client: httpx.AsyncClient, archive: object
) -> None:
    reply = await invoke(client, caom("Mast.Caom.All", {}, format="extjs"))
    table = reply["data"]["Tables"][0]
    assert table["Rows"] == [] and table["ExtendedProperties"]["Paging"] == ZERO_PAGING
    column = next(c for c in table["Columns"] if c["text"] == "obs_collection")
    hist = column["ExtendedProperties"]["histObj"]
    counted = archive.execute(
        "SELECT obs_collection AS k, count(*) AS n FROM observations GROUP BY 1"
    ).to_pylist()  # type: ignore[attr-defined]
    expected = {r["k"]: r["n"] for r in counted}
    assert {k: v["count"] for k, v in hist.items() if k != "hist"} == expected
    assert sorted(k for k in hist if k != "hist") == sorted(expected)
    listed = await invoke(client, caom("Mast.Missions.List", {}))
    assert [r["distinctValue"] for r in listed["data"]] == sorted(expected)


async def test_formats_of_a_cone(client: httpx.AsyncClient) -> None:
    params = {"ra": 210.8023, "dec": 54.349, "radius": 1.0}
    rows = (await invoke(client, caom("Mast.Caom.Cone", params)))["data"]
    csv = await invoke_raw(client, encode_form(caom("Mast.Caom.Cone", params, format="csv")))
    assert csv.headers["content-type"].startswith("text/csv")
    assert (
        csv.text.splitlines()[0].startswith("intentType,obs_collection,")
        and len(csv.text.strip().splitlines()) == len(rows) + 1
    )
    vot = await invoke_raw(client, encode_form(caom("Mast.Caom.Cone", params, format="votable")))
    import io

    from astropy.io.votable import parse_single_table

    assert len(parse_single_table(io.BytesIO(vot.content)).to_table()) == len(rows)
    ext = await invoke(client, caom("Mast.Caom.Cone", params, format="extjs"))
    assert len(ext["data"]["Tables"][0]["Rows"]) == len(rows)


async def test_name_lookup_and_santa(client: httpx.AsyncClient) -> None:
    reply = await invoke(client, caom("Mast.Name.Lookup", {"input": "M101", "format": "json"}))
    assert reply["status"] == "" and reply["resolvedCoordinate"][0]["canonicalName"] == "M 101"
    assert abs(reply["resolvedCoordinate"][0]["ra"] - 210.80225) < 1e-3
    unknown = await invoke(client, caom("Mast.Name.Lookup", {"input": "no such object 12345"}))
    assert unknown == {"resolvedCoordinate": [], "status": ""}
    santa = await client.get(
        "/Santa-war/query",
        params=[
            ("name", "m  101"),
            ("name", "HIP 16083"),
            ("name", "Nowhere"),
            ("name", "210.8 54.35"),
            ("outputFormat", "json"),
            ("resolveAll", "true"),
        ],
    )
    entries = santa.json()["resolvedCoordinate"]
    assert santa.json()["status"] == ""
    assert {e["searchString"] for e in entries} == {"m  101", "hip 16083", "210.8 54.35"}
    assert all(
        set(e)
        >= {
            "searchString",
            "resolver",
            "cached",
            "resolverTime",
            "searchRadius",
            "canonicalName",
            "ra",
            "decl",
        }
        for e in entries
    )
    none = await client.get(
        "/Santa-war/query",
        params={"name": "Nowhere", "outputFormat": "json", "resolveAll": "False"},
    )
    assert none.status_code == 200 and none.json() == {"resolvedCoordinate": [], "status": ""}
