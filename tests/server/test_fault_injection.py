"""Fault injection in the local server: rules, selection, and each fault over a real socket.

The replies are checked with plain httpx and raw sockets, independently of mastkit's client
(whose handling of the same faults is tested in tests/client/test_fault_matrix.py).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mastkit.protocol import MashupRequest, encode_form
from mastkit.server.app import ServerSettings, create_app
from mastkit.server.fault_injection import (
    FAULT_KINDS,
    FaultInjector,
    FaultPlan,
    FaultRule,
    FaultSpecError,
)
from mastkit.server.faults import LOST_JOB_MESSAGE
from mastkit.server.local import BackgroundServer

from .conftest import FORM, Counter, client_for, fake_app

ROWS = MashupRequest("Test.Rows", {"rows": 30}, cachebreaker="fixed")
INVOKE = "/api/v0/invoke"


@contextmanager
def serving(app: Any) -> Iterator[str]:
    server = BackgroundServer(app)
    try:
        yield server.start()
    finally:
        server.stop()


def counter_app(counter: Counter, *specs: str, seed: int = 0) -> Any:
    return fake_app(counter, faults=FaultPlan.parse(specs, seed=seed))


def post(client: httpx.Client, request: MashupRequest = ROWS) -> httpx.Response:
    return client.post(INVOKE, content=encode_form(request), headers=FORM)


# ----------------------------------------------------------------------------- rules and specs


def test_spec_examples() -> None:
    rule = FaultRule.parse("service=Mast.Caom.Cone:kind=503:times=2")
    assert rule == FaultRule("503", service="Mast.Caom.Cone", times=2)
    assert rule.status == 503 and rule.retry_after_header is None
    rule = FaultRule.parse(" path=/api/v0.1/Download/* : kind=TRUNCATE : p=0.25 : fraction=0.1 ")
    assert rule == FaultRule(
        "truncate", path="/api/v0.1/Download/*", probability=0.25, fraction=0.1
    )
    assert FaultRule.parse("kind=429").retry_after_header == "1"  # 429 always says when
    assert FaultRule.parse("kind=503:retry_after=2.5").retry_after_header == "2.5"
    plan = FaultPlan.parse(["kind=reset:every=3;kind=slow:delay=0.2", "kind=lost"], seed=7)
    assert [r.kind for r in plan.rules] == ["reset", "slow", "lost"] and plan.seed == 7
    assert not FaultPlan() and plan


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("service=Mast.Caom.Cone", "no kind"),
        ("kind=teapot", "unknown fault kind"),
        ("kind=503:times=two", "not a number"),
        ("kind=503:probability=nan", "not a number"),
        ("kind=503:probability=1.5", "probability"),
        ("kind=503:every=0", "every"),
        ("kind=503:times=-1", "times"),
        ("kind=slow:delay=-1", "delay"),
        ("kind=truncate:fraction=1", "fraction"),
        ("kind=503:kind=500", "twice"),
        ("kind=503:colour=red", "expected key=value"),
        ("kind=503:service", "expected key=value"),
        ("kind=503:service=", "glob"),
    ],
)
def test_bad_specs_are_refused(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        FaultRule.parse(spec)


globs = st.text(
    alphabet=st.characters(codec="ascii", exclude_characters=":;=", exclude_categories=["Cc"]),
    min_size=1,
    max_size=20,
).filter(lambda s: s == s.strip())
rules = st.builds(
    FaultRule,
    kind=st.sampled_from(sorted(FAULT_KINDS)),
    service=st.none() | globs,
    path=st.none() | globs,
    probability=st.floats(0, 1),
    times=st.none() | st.integers(0, 10**6),
    every=st.none() | st.integers(1, 10**6),
    retry_after=st.none() | st.floats(0, 86_400),
    delay=st.floats(0, 3600),
    fraction=st.floats(0, 1, exclude_max=True),
)


@given(rules)
def test_spec_round_trips(rule: FaultRule) -> None:
    assert FaultRule.parse(rule.spec()) == rule


def test_plan_from_the_environment() -> None:
    env = {
        "MASTKIT_SERVER_FAULTS": "kind=503:times=1; path=/whoami:kind=reset",
        "MASTKIT_SERVER_FAULT_SEED": "4",
    }
    plan = FaultPlan.from_env(env)
    assert plan == FaultPlan(
        (FaultRule("503", times=1), FaultRule("reset", path="/whoami")), seed=4
    )
    assert FaultPlan.from_env({}) == FaultPlan()
    with pytest.raises(FaultSpecError, match="integer"):
        FaultPlan.from_env({"MASTKIT_SERVER_FAULT_SEED": "x"})


# ----------------------------------------------------------------------------- selection


def fired(
    injector: FaultInjector, n: int, path: str = INVOKE, service: str | None = "S"
) -> list[int]:
    return [i for i in range(1, n + 1) if injector.choose(path, service) is not None]


def test_times_every_and_probability() -> None:
    assert fired(FaultInjector(FaultPlan.parse("kind=503:times=2")), 6) == [1, 2]
    assert fired(FaultInjector(FaultPlan.parse("kind=503:every=3")), 10) == [3, 6, 9]
    assert fired(FaultInjector(FaultPlan.parse("kind=503:every=2:times=2")), 10) == [2, 4]
    assert fired(FaultInjector(FaultPlan.parse("kind=503:p=0")), 50) == []
    assert fired(FaultInjector(FaultPlan.parse("kind=503:p=1")), 5) == [1, 2, 3, 4, 5]
    draws = [
        fired(FaultInjector(FaultPlan.parse("kind=503:p=0.3", seed=s)), 200) for s in (1, 1, 2)
    ]
    assert draws[0] == draws[1] != draws[2]  # reproducible from the seed
    assert 20 < len(draws[0]) < 100  # and about 30% of 200


def test_matching_and_rule_order() -> None:
    plan = FaultPlan.parse(
        ["service=mast.caom.*:kind=503:times=1", "path=/Santa-war/*:kind=reset", "kind=slow"]
    )
    injector = FaultInjector(plan)
    assert injector.choose(INVOKE, "Mast.Caom.Cone") == plan.rules[0]  # globs ignore case
    assert injector.choose(INVOKE, "Mast.Caom.Cone") == plan.rules[2]  # rule 0 used up
    assert injector.choose("/Santa-war/query", None) == plan.rules[1]
    assert injector.choose("/whoami", None) == plan.rules[2]
    counts = injector.counts()
    assert [(c.seen, c.injected) for c in counts] == [(2, 1), (1, 1), (2, 2)]
    assert injector.injected() == 4 and injector.injected("slow") == 2
    assert not FaultRule("503", service="X").matches(INVOKE, None)  # service rules: invoke only


# ----------------------------------------------------------------------------- over a socket


def test_reset_then_normal_service() -> None:
    counter = Counter()
    with serving(counter_app(counter, "service=Test.*:kind=reset:times=1")) as url:
        with httpx.Client(base_url=url) as client:
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                post(client)
        with httpx.Client(base_url=url) as client:
            reply = post(client).json()
    assert reply["status"] == "COMPLETE" and len(reply["data"]) == 30


@pytest.mark.parametrize(
    ("spec", "status", "retry_after"),
    [
        ("kind=500", 500, None),
        ("kind=502", 502, None),
        ("kind=503", 503, None),
        ("kind=503:retry_after=7", 503, "7"),
        ("kind=504", 504, None),
        ("kind=429", 429, "1"),
        ("kind=429:retry_after=0.25", 429, "0.25"),
    ],
)
def test_status_faults(spec: str, status: int, retry_after: str | None) -> None:
    counter = Counter()
    with (
        serving(counter_app(counter, spec + ":times=1")) as url,
        httpx.Client(base_url=url) as client,
    ):
        faulty, good = post(client), post(client)
    assert faulty.status_code == status
    assert faulty.headers.get("retry-after") == retry_after
    assert good.status_code == 200 and good.json()["status"] == "COMPLETE"
    assert counter.runs == 1  # a refused request starts no job


def test_slow_replies_are_complete_and_right() -> None:
    counter = Counter()
    with (
        serving(counter_app(counter, "kind=slow:delay=0.05")) as url,
        httpx.Client(base_url=url) as client,
    ):
        reply = post(client).json()
    assert reply["status"] == "COMPLETE"
    assert [row["name"] for row in reply["data"]] == [f"row{i}" for i in range(30)]


def raw_exchange(url: str, request: bytes) -> tuple[bytes, bytes]:
    """Send raw bytes, read until the server closes; return (head, body)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def test_truncated_reply_promises_more_than_it_sends(caplog: pytest.LogCaptureFixture) -> None:
    counter = Counter()
    body = encode_form(ROWS)
    raw = (
        b"POST /api/v0/invoke HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with (
        caplog.at_level(logging.WARNING),
        serving(
            counter_app(counter, "service=Test.Rows:kind=truncate:fraction=0.3:times=1")
        ) as url,
    ):
        head, partial = raw_exchange(url, raw)
        with httpx.Client(base_url=url) as client:
            full = post(client).content
    assert head.startswith(b"HTTP/1.1 200")
    declared = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    assert declared == len(full)  # the promise is the whole reply
    assert len(partial) == int(len(full) * 0.3) and full.startswith(partial)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # a cut we meant


def test_truncated_reply_seen_by_httpx() -> None:
    counter = Counter()
    with (
        serving(counter_app(counter, "kind=truncate:times=1")) as url,
        httpx.Client(base_url=url) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|complete message body"):
            post(client)
        assert post(client).json()["status"] == "COMPLETE"


def test_executing_forever_never_runs_the_job() -> None:
    counter = Counter()
    with (
        serving(counter_app(counter, "kind=executing:times=3")) as url,
        httpx.Client(base_url=url) as client,
    ):
        replies = [post(client).json() for _ in range(4)]
    assert [r["status"] for r in replies] == ["EXECUTING"] * 3 + ["COMPLETE"]
    assert counter.runs == 1


def test_dropped_job_starts_over() -> None:
    counter = Counter()
    with (
        serving(counter_app(counter, "kind=drop:every=2")) as url,
        httpx.Client(base_url=url) as client,
    ):
        runs = [post(client).json()["data"][0]["run"] for _ in range(4)]
    # request 2 and 4 find their job forgotten and run it again; 3 is served from 2's job
    assert runs == [1, 2, 2, 3] and counter.runs == 3


def test_lost_job_answers_error_then_starts_over() -> None:
    counter = Counter()
    with (
        serving(counter_app(counter, "kind=lost:every=2:times=1")) as url,
        httpx.Client(base_url=url) as client,
    ):
        replies = [post(client).json() for _ in range(3)]
    assert replies[0]["status"] == "COMPLETE" and replies[0]["data"][0]["run"] == 1
    assert replies[1]["status"] == "ERROR" and replies[1]["msg"] == LOST_JOB_MESSAGE
    assert replies[2]["status"] == "COMPLETE" and replies[2]["data"][0]["run"] == 2


def test_path_rules_on_other_routes(archive: Any) -> None:
    uri = archive.execute('SELECT "dataURI" FROM products LIMIT 1').column(0)[0].as_py()
    plan = FaultPlan.parse(
        [
            "path=/api/v0.1/Download/file:kind=truncate:times=1",
            "path=/Santa-war/*:kind=503:times=1",
            "path=/whoami:kind=executing:times=1",
        ]
    )
    with (
        serving(create_app(archive, ServerSettings(faults=plan))) as url,
        httpx.Client(base_url=url) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/api/v0.1/Download/file", params={"uri": uri})
        whole = client.get("/api/v0.1/Download/file", params={"uri": uri})
        santa = [client.get("/Santa-war/query", params={"name": "M31"}) for _ in range(2)]
        who = [client.get("/whoami").json() for _ in range(2)]
    assert whole.status_code == 200 and len(whole.content) == int(whole.headers["content-length"])
    assert [r.status_code for r in santa] == [503, 200]
    assert who[0]["status"] == "EXECUTING" and who[1]["anon"] is True


def test_service_rules_leave_other_services_alone(archive: Any) -> None:
    plan = FaultPlan.parse("service=Mast.Caom.Cone:kind=500")
    missions = MashupRequest("Mast.Missions.List", {})
    with (
        serving(create_app(archive, ServerSettings(faults=plan))) as url,
        httpx.Client(base_url=url) as client,
    ):
        assert post(client, missions).json()["status"] == "COMPLETE"
        assert client.get("/whoami").status_code == 200
        assert post(client, MashupRequest("Mast.Caom.Cone", {"ra": 1, "dec": 2})).status_code == 500


@pytest.mark.anyio
async def test_in_process_resets_and_truncations_raise() -> None:
    for spec in ("kind=reset", "kind=truncate"):
        async with client_for(counter_app(Counter(), spec)) as client:
            with pytest.raises(ConnectionResetError):
                await client.post(INVOKE, content=encode_form(ROWS), headers=FORM)


@pytest.mark.anyio
async def test_no_plan_no_middleware() -> None:
    app = fake_app(Counter())
    assert app.state.server.faults is None
    async with client_for(app) as client:
        response = await client.post(INVOKE, content=encode_form(ROWS), headers=FORM)
    assert response.json()["status"] == "COMPLETE"
