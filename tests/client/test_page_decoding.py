"""Pages of a query are decoded as they arrive, on a worker thread, with the same outcome as
decoding them at the end: same table, same errors, nothing left running."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pyarrow as pa
import pytest

import mastkit.client._results as results
from mastkit import AsyncClient, Client
from mastkit.client._workers import workers
from mastkit.errors import DecodeError, ServiceError
from mastkit.protocol import MashupRequest, MashupResponse, decode_response, encode_error
from mastkit.protocol.flows import Flow, Parallel, Send
from mastkit.tables import decode_reply
from tests.support.fakemast import EXECUTING, Fault, ScriptedMast, fixture_rows, page_body
from tests.support.live import serve

CONE = {"ra": 23.34086, "dec": 60.658, "radius": 0.2}
FIELDS, ROWS = fixture_rows("caom.json")


@pytest.fixture
def mast() -> ScriptedMast:
    return ScriptedMast()


@pytest.fixture
def live(mast: ScriptedMast) -> Iterator[str]:
    with serve(mast.app()) as url:
        yield url


@pytest.fixture
def decoded_on(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the threads that decoded each page (the real decoder does the work)."""
    threads: list[str] = []

    def recording(response: MashupResponse, **options: Any) -> pa.Table:
        threads.append(threading.current_thread().name)
        return decode_reply(response, **options)

    monkeypatch.setattr(results, "decode_reply", recording)
    return threads


def _expected() -> pa.Table:
    return decode_reply(decode_response(page_body(FIELDS, ROWS, None, None)))


def test_sync_pages_are_decoded_on_the_decoder_thread(
    mast: ScriptedMast, live: str, decoded_on: list[str]
) -> None:
    mast.script = [EXECUTING]  # a poll that is not a page: never decoded
    with Client(live, pagesize=5, concurrency=2) as client:
        table = client.query("Mast.Caom.Cone", CONE)
    assert table.arrow.equals(_expected())
    assert len(decoded_on) == 4  # 19 rows in pages of 5
    # On the shared worker threads, and none is still at work once the query returned.
    assert all(name.startswith("mastkit-worker") for name in decoded_on)
    assert workers().busy == 0


@pytest.mark.anyio
async def test_async_pages_are_decoded_on_the_decoder_thread(
    mast: ScriptedMast, decoded_on: list[str]
) -> None:
    transport = httpx.ASGITransport(app=mast.app())
    async with AsyncClient("http://mast.test", pagesize=4, transport=transport) as client:
        table = await client.query("Mast.Caom.Cone", CONE)
    assert table.arrow.equals(_expected())
    assert len(decoded_on) == 5
    assert all(name.startswith("mastkit-worker") for name in decoded_on)


def test_a_page_that_does_not_decode_fails_the_query(mast: ScriptedMast, live: str) -> None:
    def spoil(request: MashupRequest, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if request.page == 3:
            rows = [dict(r) for r in rows]
            rows[11]["s_ra"] = "not a number"  # on page 3 of pages of 5
        return rows

    mast.mutate = spoil
    with Client(live, pagesize=5) as client, pytest.raises(DecodeError, match="s_ra"):
        client.query("Mast.Caom.Cone", CONE)
    assert workers().busy == 0  # no page of the failed query is still being decoded


def test_an_error_reply_fails_the_query(mast: ScriptedMast, live: str) -> None:
    mast.script = [Fault(body=encode_error("Mashup: something broke"))]
    with Client(live, pagesize=5) as client, pytest.raises(ServiceError, match="something broke"):
        client.query("Mast.Caom.Cone", CONE)


# -- the flow wrapper, driven by hand ------------------------------------------------------


def _reply(page: int | None, status: str = "COMPLETE") -> MashupResponse:
    if status != "COMPLETE":
        return MashupResponse(status=status)
    return decode_response(page_body(FIELDS, ROWS, page, 5))


def _send(page: int | None) -> Send:
    request = MashupRequest("Mast.Caom.Cone", CONE, page=page, pagesize=5)
    return Send(request, b"", deadline=0.0)


def _recovering() -> Flow[list[Any]]:
    """Asks for page 1, and again if the first try fails; then pages 2 and 3 side by side."""
    try:
        first = yield _send(1)
    except ServiceError:
        first = yield _send(1)

    def one(page: int) -> Flow[MashupResponse]:
        reply: MashupResponse = yield _send(page)
        return reply

    rest = yield Parallel((one(2), one(3)), limit=2)
    return [first, *rest]


def test_decoding_is_transparent_to_the_flow() -> None:
    with results.PageDecoder() as decoder:
        flow = results.decoding(_recovering(), decoder)
        assert flow.send(None).request.page == 1
        # An error thrown by the driver reaches the flow, which asks again.
        retry = flow.throw(ServiceError("transient"))
        assert isinstance(retry, Send) and retry.request.page == 1
        parallel = flow.send(first := _reply(1))
        assert isinstance(parallel, Parallel) and len(parallel.flows) == 2
        # Sub-flows are wrapped too: driving them feeds the decoder.
        replies = []
        for sub, page in zip(parallel.flows, (2, 3), strict=True):
            assert sub.send(None).request.page == page
            with pytest.raises(StopIteration) as stop:
                sub.send(reply := _reply(page))
            assert stop.value.value is reply
            replies.append(reply)
        with pytest.raises(StopIteration) as done:
            flow.send(replies)
        assert done.value.value == [first, *replies]
        tables = [decoder.table(r) for r in (first, *replies)]
    assert pa.concat_tables(tables).equals(_expected().slice(0, 15))


def test_only_complete_pages_are_decoded_early(decoded_on: list[str]) -> None:
    with results.PageDecoder() as decoder:
        decoder.submit(_send(1).request, _reply(1, "EXECUTING"))
        decoder.submit(_send(None).request, unpaged := _reply(None))
        decoder.submit(_send(2).request, page := _reply(2))
        assert decoder.table(page).num_rows == 5
        assert decoder.table(unpaged).num_rows == 5  # decoded when asked, on this thread
    assert decoded_on[0].startswith("mastkit-worker")
    assert decoded_on[1] == threading.current_thread().name


def test_closing_drops_what_was_not_collected() -> None:
    decoder = results.PageDecoder()
    decoder.submit(_send(2).request, page := _reply(2))
    decoder.close()
    decoder.submit(_send(3).request, _reply(3))  # after close: not started
    assert decoder.table(page).num_rows == 5  # decoded afresh
