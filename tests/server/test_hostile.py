"""A battery of hostile and malformed requests: each gets a clear answer, none a crash, and the
server keeps serving (and its archive is unchanged) afterwards."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette

from mastkit.server.app import ServerSettings, create_app

from .conftest import FORM, client_for, scalar

pytestmark = pytest.mark.anyio

INJECT = "x'; DROP TABLE observations; --"


def form(obj: Any) -> bytes:
    return ("request=" + quote(json.dumps(obj))).encode()


def filtered(**params: Any) -> bytes:
    return form(
        {
            "service": "Mast.Caom.Filtered",
            "params": {"columns": "*", "filters": [], **params},
            "format": "json",
        }
    )


# (body, expected status, fragment of the ERROR msg or None for COMPLETE)
INVOKE_CASES: list[tuple[str, bytes, str, str | None]] = [
    ("bad percent-encoding", b"request=%ZZ%%7B%", "ERROR", "not valid JSON"),
    ("not JSON", b"request=hello", "ERROR", "not valid JSON"),
    ("JSON array", form([1, 2, 3]), "ERROR", "must be a JSON object"),
    ("JSON null", form(None), "ERROR", "must be a JSON object"),
    ("JSON string", form("Mast.Caom.Cone"), "ERROR", "must be a JSON object"),
    ("no request key", b"foo=bar&baz=1", "ERROR", "'request' parameter is missing"),
    ("empty body", b"", "ERROR", "'request' parameter is missing"),
    ("invalid UTF-8", b"request=\xff\xfe\xfd", "ERROR", "UTF-8"),
    (
        "deep nesting",
        b"request=" + b"[" * 100_000 + b"]" * 100_000,
        "ERROR",
        "could not be decoded",
    ),
    (
        "NaN radius",
        b'request={"service":"Mast.Caom.Cone","params":{"ra":1,"dec":2,"radius":NaN}}',
        "ERROR",
        "finite",
    ),
    (
        "params not an object",
        form({"service": "Mast.Caom.Cone", "params": [1]}),
        "ERROR",
        "'params' must be a JSON object",
    ),
    (
        "service injection",
        form({"service": "Mast.Caom.Cone; DROP TABLE observations", "params": {}}),
        "ERROR",
        "Unable to Find Service Adaptor",
    ),
    (
        "service path",
        form({"service": "../../etc/passwd", "params": {}}),
        "ERROR",
        "Unable to Find Service Adaptor",
    ),
    ("service not a string", form({"service": {"a": 1}}), "ERROR", "'service' param is missing"),
    (
        "format injection",
        form({"service": "Mast.Caom.Cone", "format": INJECT}),
        "ERROR",
        "Unknown  Format Type",
    ),
    (
        "negative page",
        form(
            {
                "service": "Mast.Caom.Filtered",
                "params": {"columns": "*", "filters": []},
                "page": -1,
                "pagesize": 10,
            }
        ),
        "ERROR",
        "page parameter must be > 0",
    ),
    (
        "page not a number",
        form({"service": "Mast.Caom.Filtered", "params": {}, "page": "one"}),
        "ERROR",
        "page parameter must be an integer",
    ),
    (
        "huge page",
        form(
            {
                "service": "Mast.Caom.Filtered",
                "params": {"columns": "obsid", "filters": []},
                "page": 10**30,
                "pagesize": 10**20,
            }
        ),
        "COMPLETE",
        None,
    ),
    (
        "columns injection",
        filtered(columns="obsid FROM products; --"),
        "ERROR",
        "Invalid column name",
    ),
    ("columns subquery", filtered(columns="*, (SELECT 1)"), "ERROR", "Invalid column name"),
    ("columns internal", filtered(columns="_seed"), "ERROR", "Invalid column name '_seed'"),
    ("columns not a string", filtered(columns=["obsid"]), "ERROR", "'columns' must be a string"),
    (
        "paramName injection",
        filtered(filters=[{"paramName": 'obs_id" OR 1=1 --', "values": ["1"]}]),
        "ERROR",
        "Invalid column name",
    ),
    (
        "value injection",
        filtered(filters=[{"paramName": "obs_id", "values": [INJECT]}]),
        "COMPLETE",
        None,
    ),
    (
        "freeText injection",
        filtered(filters=[{"paramName": "target_name", "values": [], "freeText": "%' OR '1'='1"}]),
        "COMPLETE",
        None,
    ),
    (
        "separator injection",
        filtered(filters=[{"paramName": "filters", "separator": "'; DROP", "values": ["F1"]}]),
        "COMPLETE",
        None,
    ),
    ("filters not a list", filtered(filters="obs_id = 1"), "ERROR", "'filters' must be a list"),
    ("filter not an object", filtered(filters=[1, 2]), "ERROR", "filter must be an object"),
    (
        "range of text",
        filtered(filters=[{"paramName": "s_ra", "values": [{"min": "a", "max": "b"}]}]),
        "ERROR",
        "Error converting",
    ),
    (
        "number for int column",
        filtered(filters=[{"paramName": "calib_level", "values": ["3 OR 1=1"]}]),
        "ERROR",
        "Error converting",
    ),
    (
        "obsid injection",
        form({"service": "Mast.Caom.Products", "params": {"obsid": "1; DROP TABLE products"}}),
        "ERROR",
        "Error converting data type varchar to bigint.",
    ),
    (
        "obsid overflow",
        form({"service": "Mast.Caom.Products", "params": {"obsid": "9" * 40}}),
        "ERROR",
        "overflow",
    ),
    (
        "obsid object",
        form({"service": "Mast.Caom.Products", "params": {"obsid": {"$gt": 0}}}),
        "ERROR",
        "Error converting",
    ),
    (
        "position junk",
        form(
            {
                "service": "Mast.Caom.Filtered.Position",
                "params": {"columns": "*", "filters": [], "position": INJECT},
            }
        ),
        "ERROR",
        "position",
    ),
    (
        "name lookup injection",
        form({"service": "Mast.Name.Lookup", "params": {"input": INJECT}}),
        "",
        None,
    ),
]


@pytest.fixture(scope="module")
def hostile_app(archive: Any) -> Starlette:
    return create_app(archive, ServerSettings(max_body_bytes=4 << 20, row_limit=100_000))


async def assert_still_serving(client: httpx.AsyncClient, archive: Any) -> None:
    reply = (
        await client.post("/api/v0/invoke", content=filtered(columns="COUNT_BIG(*)"), headers=FORM)
    ).json()
    assert reply["status"] == "COMPLETE"
    assert reply["data"][0]["Column1"] == scalar(archive, "SELECT count(*) FROM observations") > 0
    assert scalar(archive, "SELECT count(*) FROM products") > 0


@pytest.mark.parametrize(
    ("what", "body", "status", "fragment"), INVOKE_CASES, ids=[c[0] for c in INVOKE_CASES]
)
async def test_hostile_invoke(
    hostile_app: Starlette, archive: Any, what: str, body: bytes, status: str, fragment: str | None
) -> None:
    async with client_for(hostile_app) as client:
        response = await client.post("/api/v0/invoke", content=body, headers=FORM)
        assert response.status_code == 200, response.text
        reply = response.json()
        assert reply["status"] == status, reply
        if fragment is not None:
            assert fragment in reply["msg"]
        if status == "ERROR":
            assert "Traceback" not in reply["msg"]
        await assert_still_serving(client, archive)


async def test_hostile_http(hostile_app: Starlette, archive: Any) -> None:
    async with client_for(hostile_app) as client:
        huge = await client.post(
            "/api/v0/invoke", content=b"request=" + b"a" * (5 << 20), headers=FORM
        )
        assert huge.status_code == 413
        lying = await client.post(
            "/api/v0/invoke", content=b"request=x", headers={**FORM, "Content-Length": str(10**12)}
        )
        assert lying.status_code in (400, 413)
        bad_get = await client.get("/api/v0/invoke?request=%E0%A4%A&request=2")
        assert bad_get.status_code == 200 and bad_get.json()["status"] == "ERROR"
        assert (await client.patch("/api/v0/invoke")).status_code == 405
        assert (await client.get("/api/v0/invoke/../../etc/passwd")).status_code == 404
        config = await client.post(
            "/portal/Mashup/Mashup.asmx/columnsconfig",
            content="colConfigId=" + quote(INJECT),
            headers=FORM,
        )
        assert config.status_code == 200 and config.json() == {}
        santa = await client.get(
            "/Santa-war/query",
            params=[
                ("name", INJECT),
                ("name", "%00"),
                ("name", "\u2603" * 500),
                ("resolveAll", "maybe"),
            ],
        )
        assert santa.status_code == 200 and santa.json() == {"resolvedCoordinate": [], "status": ""}
        for uri in (
            "mast:HST/../../../etc/passwd",
            "/etc/passwd",
            "mast:HST/product/%252e%252e/x",
            INJECT,
        ):
            response = await client.get("/api/v0.1/Download/file?uri=" + quote(uri, safe=":/%"))
            assert response.status_code == 404
        lookup = await client.get("/api/v0.1/path_lookup/", params={"uri": INJECT})
        assert lookup.json() == {INJECT: {"status_code": 404, "path": None}}
        await assert_still_serving(client, archive)
