"""Encoding and decoding of requests and replies."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mastkit.errors import BadInputError, DecodeError, RequestDecodeError
from mastkit.protocol import (
    Field,
    MashupRequest,
    Paging,
    decode_columns_config,
    decode_request,
    decode_response,
    encode_envelope,
    encode_error,
    encode_form,
    encode_json,
    encode_query,
    request_to_wire,
)

SAMPLES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "mast-samples"


def sample(name: str) -> bytes:
    for folder in (SAMPLES, SHARED):
        if (folder / name).exists():
            return (folder / name).read_bytes()
    raise FileNotFoundError(name)


def test_form_encoding_is_byte_identical_to_astroquery() -> None:
    # The exact body astroquery 0.4.11 sends for query_region("23.34086 60.658", radius=0.2),
    # as documented in mast-protocol.md 1.1.
    req = MashupRequest(
        "Mast.Caom.Cone",
        {"ra": 23.34086, "dec": 60.658, "radius": 0.2},
        pagesize=50000,
        page=1,
        cachebreaker="abc",
    )
    expected = (
        "request=%7B%22service%22%3A%20%22Mast.Caom.Cone%22%2C%20%22params%22%3A%20%7B%22ra%22"
        "%3A%2023.34086%2C%20%22dec%22%3A%2060.658%2C%20%22radius%22%3A%200.2%7D%2C%20%22format"
        "%22%3A%20%22json%22%2C%20%22pagesize%22%3A%2050000%2C%20%22page%22%3A%201%2C%20%22"
        "cacheBreaker%22%3A%20%22abc%22%7D"
    )
    assert encode_form(req).decode() == expected


def test_key_order_and_optional_properties() -> None:
    req = MashupRequest(
        "Mast.Caom.Filtered",
        {"columns": "*", "filters": []},
        format="csv",
        pagesize=10,
        page=2,
        removenullcolumns=True,
        removecache=False,
        clearcache=True,
        timeout=3,
        cachebreaker="cb",
        columnsconfigid="Mast.Caom.Cone",
        data={"fields": [], "data": []},
        filename="out.csv",
        extra={"use_json": False},
    )
    wire = request_to_wire(req)
    assert list(wire) == [
        "service",
        "params",
        "format",
        "pagesize",
        "page",
        "removenullcolumns",
        "removecache",
        "clearcache",
        "timeout",
        "columnsconfigid",
        "data",
        "filename",
        "use_json",
        "cacheBreaker",
    ]
    assert decode_request(encode_form(req)) == req
    assert decode_request("?" + encode_query(req)) == req
    assert decode_request(encode_json(req)) == req


def test_get_form_quotes_everything() -> None:
    req = MashupRequest("Mast.Name.Lookup", {"input": "M 101 / a&b=c"})
    query = encode_query(req)
    assert "/" not in query.removeprefix("request=") and "&" not in query.removeprefix("request=")
    assert decode_request(query).params == {"input": "M 101 / a&b=c"}


@pytest.mark.parametrize(
    "body",
    [
        'request={"service": "Mast.Caom.Cone", "params": {"ra": 1, "dec": 2}}',  # raw JSON
        "request=" + quote('{"service": "Mast.Caom.Cone", "params": {"ra": 1, "dec": 2}}'),
        '{"service": "Mast.Caom.Cone", "params": {"ra": 1, "dec": 2}}',  # bare JSON body
        "foo=1&request=" + quote('{"service": "Mast.Caom.Cone", "params": {"ra": 1, "dec": 2}}'),
        "request="
        + quote('{"service": "Mast.Caom.Cone", "params": {"ra": 1, "dec": 2}}').replace("%20", "+"),
    ],
)
def test_decode_tolerant_forms(body: str) -> None:
    req = decode_request(body)
    assert req.service == "Mast.Caom.Cone"
    assert req.params == {"ra": 1, "dec": 2}


def test_decode_lenient_values_and_both_cachebreaker_spellings() -> None:
    a = decode_request(
        'request={"service":"S","pagesize":"50000","page":"2","clearcache":"True",'
        '"removecache":1,"timeout":"3","cachebreaker":"x","mystery":[1]}'
    )
    assert (a.pagesize, a.page, a.clearcache, a.removecache, a.timeout) == (
        50000,
        2,
        True,
        True,
        3.0,
    )
    assert a.cachebreaker == "x" and a.extra == {"mystery": [1]}
    b = decode_request('request={"service":"S","cacheBreaker":"y"}')
    assert b.cachebreaker == "y"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("request={}", "'service' param is missing"),
        ('request={"service": "  "}', "'service' param is missing"),
        ('request={"service": "S", "page": 0}', "page parameter must be > 0"),
        ('request={"service": "S", "pagesize": -5}', "pagesize parameter must be > 0"),
        ('request={"service": "S", "page": "two"}', "page parameter must be an integer"),
        ('request={"service": "S", "format": "xls"}', "Unknown  Format Type specified : xls"),
        ('request={"service": "S", "params": [1]}', "'params' must be a JSON object"),
        ('request={"service": "S", "timeout": -1}', "timeout parameter must be > 0"),
        ("request=%7Bnot json", "not valid JSON"),
        ("request=[1,2]", "must be a JSON object"),
        ("nothing=here", "'request' parameter is missing"),
        ('request=["service"]', "must be a JSON object"),
        (b"request=\xff\xfe", "not valid UTF-8"),
    ],
)
def test_decode_errors_are_precise(body: str | bytes, message: str) -> None:
    with pytest.raises(RequestDecodeError) as info:
        decode_request(body)
    assert message in str(info.value)


def test_request_validation() -> None:
    with pytest.raises(BadInputError, match="non-empty service"):
        MashupRequest("")
    with pytest.raises(BadInputError, match="Unknown format"):
        MashupRequest("S", format="xml")
    with pytest.raises(BadInputError, match="page must be an integer >= 1"):
        MashupRequest("S", page=0)
    with pytest.raises(BadInputError, match="pagesize"):
        MashupRequest("S", pagesize=True)  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="cannot be sent as JSON"):
        encode_json(MashupRequest("S", {"ra": float("nan")}))
    with pytest.raises(BadInputError, match="cannot be sent as JSON"):
        encode_json(MashupRequest("S", {"x": object()}))


def test_with_page_keeps_cachebreaker() -> None:
    req = MashupRequest("S", {"a": 1}).with_cachebreaker()
    assert req.cachebreaker and req.with_page(3).cachebreaker == req.cachebreaker
    assert req.with_cachebreaker().cachebreaker != req.cachebreaker


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    service=st.text(min_size=1, max_size=30).filter(lambda s: s.strip() == s and s),
    params=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
    page=st.none() | st.integers(1, 10**6),
    pagesize=st.none() | st.integers(1, 10**6),
    breaker=st.none() | st.text(max_size=40),
    fmt=st.sampled_from(["json", "extjs", "csv", "votable"]),
)
def test_request_roundtrip_property(
    service: str,
    params: dict,
    page: int | None,
    pagesize: int | None,
    breaker: str | None,
    fmt: str,
) -> None:
    req = MashupRequest(
        service, params, format=fmt, page=page, pagesize=pagesize, cachebreaker=breaker
    )
    for encoded in (encode_form(req), "?" + encode_query(req), encode_json(req)):
        assert decode_request(encoded) == req
    # Percent-encoding of the form body is exactly urllib's quote of the canonical JSON.
    assert unquote(encode_form(req).decode().removeprefix("request=")) == encode_json(req)
    assert json.loads(encode_json(req))["service"] == service


# -- replies ---------------------------------------------------------------------------------


def test_decode_caom_sample() -> None:
    reply = decode_response(sample("caom.json"))
    assert reply.status == "COMPLETE" and reply.msg == ""
    assert reply.paging == Paging(1, 50000, 1, 19, 19, 19)
    assert reply.fields[0] == Field("dataproduct_type", "string")
    assert Field("obsid", "string") in reply.fields
    assert len(reply.data) == 19 and reply.data[0]["obsid"] == 2003585980


def test_decode_non_table_replies() -> None:
    resolver = decode_response(sample("resolver.json"))
    assert resolver.status == "" and resolver.fields == ()
    entries = resolver.extra["resolvedCoordinate"]
    assert len(entries) == 15 and entries[0]["canonicalName"] == "TIC 307210830"
    bundle = decode_response(sample("bundleResponse.json"))
    assert bundle.status == "COMPLETE"
    assert bundle.extra["url"].endswith("mastDownload_20170621142037.sh")
    assert len(bundle.extra["statusList"]) == 3


def test_decode_counts_sample() -> None:
    reply = decode_response(sample("countsResp.json"))
    assert reply.data == [{"Column1": 599}]


def test_decode_columns_config_sample() -> None:
    config = decode_columns_config(sample("columnsconfig.json"))
    assert config["obs_collection"]["separator"] == ";"
    assert decode_columns_config(b"{}") == {} and decode_columns_config(b"null") == {}
    with pytest.raises(DecodeError):
        decode_columns_config(b"<html>")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty reply"),
        (b"<!DOCTYPE html><html><body>Service Unavailable</body></html>", "HTML or XML"),
        (b'{"status": "COMPLETE", "data": [{"a": 1}', "cut off"),
        (b"[1, 2, 3]", "not MAST JSON"),
        (b'{"status": 5}', "status is not a string"),
        (b'{"status": "COMPLETE", "fields": {"a": 1}}', "'fields' is not a list"),
        (b'{"status": "COMPLETE", "fields": [{"type": "int"}]}', "malformed entry"),
        (b'{"status": "COMPLETE", "paging": {"page": "x"}}', "paging.page is not a number"),
        (b'{"status": "COMPLETE", "paging": [1]}', "'paging' is not an object"),
    ],
)
def test_decode_reply_errors(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_response(body)


def test_csv_and_votable_pass_through_but_json_errors_decode() -> None:
    csv = decode_response(b"a,b\n1,2\n", "csv")
    assert csv.format == "csv" and csv.body == b"a,b\n1,2\n"
    err = decode_response(encode_error("boom"), "csv")
    assert err.is_error and err.msg == "boom"


def test_envelope_roundtrip() -> None:
    fields = [Field("a", "int"), Field("b", "string")]
    body = encode_envelope(
        status="COMPLETE",
        fields=fields,
        data_raw=b'[{"a":1,"b":"x"}]',
        paging=Paging(1, 10, 1, 1, 1, 1),
        extra={"percent complete": 1},
    )
    parsed = json.loads(body)
    assert list(parsed)[:5] == ["status", "msg", "data", "fields", "paging"]
    reply = decode_response(body)
    assert reply.fields == tuple(fields) and reply.paging == Paging(1, 10, 1, 1, 1, 1)
    assert reply.data == [{"a": 1, "b": "x"}] and reply.extra == {"percent complete": 1}
    error = json.loads(encode_error("Invalid column name 's_fov'"))
    assert error["status"] == "ERROR" and error["msg"] == "Invalid column name 's_fov'"
    assert error["paging"] == {
        "page": 0,
        "pageSize": 0,
        "pagesFiltered": 0,
        "rows": 0,
        "rowsFiltered": 0,
        "rowsTotal": 0,
    }


def test_partially_percent_encoded_raw_json() -> None:
    # Browsers and httpx leave braces but encode quotes in a query string.
    req = decode_request("request={%22service%22:%22Mast.Caom.Cone%22,%22params%22:{%22ra%22:1}}")
    assert req.service == "Mast.Caom.Cone" and req.params == {"ra": 1}


@given(st.text())
@example("")
@example("a/b c,d\"e:f")
@example("é\u2603\U0001f600%+&=?#")
@example("lone \ud800 surrogate")
def test_percent_encoding_is_urllib_quote_exactly(text: str) -> None:
    from mastkit.protocol.codec import _SAFE_ALL, _SAFE_FORM, _quote

    try:
        want_form, want_all = quote(text), quote(text, safe="")
    except UnicodeEncodeError:  # lone surrogates: both refuse
        with pytest.raises(UnicodeEncodeError):
            _quote(text, _SAFE_FORM)
        return
    assert _quote(text, _SAFE_FORM) == want_form
    assert _quote(text, _SAFE_ALL) == want_all


BODIES = [
    b'{"status":"COMPLETE","msg":"","data":[{"a":1},{"a":2}],"fields":[{"name":"a",'
    b'"type":"int"}],"paging":{"page":1,"pageSize":2,"pagesFiltered":1,"rows":2,'
    b'"rowsFiltered":2,"rowsTotal":2}}',
    b'  \n{"status":"ERROR","msg":"bad column","data":[],"fields":[]}',
    b"",
    b" \t\r\n ",
    b"obsid,s_ra\n1,2.5\n",
    b"<html><body>Service unavailable</body></html>" + b" " * 5000,
    b'{"status":"COMPLETE","data":[{"a":1}',
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_body_read_into_a_bytearray_decodes_as_its_bytes(body: bytes, fmt: str) -> None:
    """The sync client reads large replies into a bytearray: same reply, same errors."""

    def outcome(data: bytes | bytearray) -> object:
        try:
            reply = decode_response(data, fmt)
        except DecodeError as exc:
            return ("error", str(exc))
        return (reply.status, reply.msg, reply.fields, reply.paging, reply.data_raw,
                bytes(reply.body))

    assert outcome(bytearray(body)) == outcome(body)
