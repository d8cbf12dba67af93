"""The retry policy at the client's edges, against real misbehaving local servers.

* ``retry=``: the public way to choose a :class:`RetryPolicy` (or none);
* a Retry-After longer than the policy's ``max_retry_after``, or than the time left before the
  call's deadline, is reported at once as :class:`RateLimitError`, the same in sync and async;
* in-process (``httpx.ASGITransport``) a server reset is the same retried
  :class:`TransportError` as over a socket, never a bare ``ConnectionResetError``.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mastkit import AsyncClient, Client
from mastkit.client import RetryPolicy
from mastkit.client._retry import next_delay
from mastkit.errors import (
    BadInputError,
    HTTPStatusError,
    MastError,
    QueryTimeout,
    RateLimitError,
    ServiceError,
    TransportError,
)
from mastkit.server.app import ServerSettings, create_app
from mastkit.server.fault_injection import FaultPlan
from mastkit.server.local import BackgroundServer

from ..server.conftest import small_archive

SERVICE = "Mast.Caom.Filtered"
#: The 123 IUE observations of the small archive: one page.
PARAMS = {"columns": "*", "filters": [{"paramName": "obs_collection", "values": ["IUE"]}]}
FAST = RetryPolicy(max_retries=3, base=0.01, cap=0.05)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mastkit.server.archive import Archive

    db = Archive.open(small_archive(tmp_path_factory))
    yield db
    db.close()


def app_with(archive: Any, *specs: str) -> Any:
    return create_app(archive, ServerSettings(faults=FaultPlan.parse(specs, seed=0)))


@contextmanager
def served(archive: Any, *specs: str) -> Iterator[tuple[str, Any]]:
    """A loopback server injecting ``specs``: its URL and its state (fault counters)."""
    app = app_with(archive, *specs)
    background = BackgroundServer(app)
    try:
        yield background.start(), app.state.server
    finally:
        background.stop()


@pytest.fixture(scope="module")
def expected(archive: Any) -> Any:
    with served(archive) as (url, _), Client(url, cache=False) as client:
        table = client.query(SERVICE, PARAMS)
    assert len(table) > 100
    return table.arrow


def injected(state: Any) -> int:
    return int(state.faults.injected())


# ----------------------------------------------------------------------------- retry=


def test_retry_false_sends_once(archive: Any) -> None:
    with served(archive, f"service={SERVICE}:kind=503") as (url, state):
        with Client(url, cache=False, retry=False) as client, pytest.raises(HTTPStatusError):
            client.query(SERVICE, PARAMS)
        assert client.retry.max_retries == 0 and client.settings.max_retries == 0
    assert injected(state) == 1


def test_a_policy_sets_the_retries(archive: Any, expected: Any) -> None:
    policy = RetryPolicy(max_retries=2, base=0.01, cap=0.02)
    with served(archive, f"service={SERVICE}:kind=503") as (url, state):
        with Client(url, cache=False, retry=policy) as client, pytest.raises(HTTPStatusError):
            client.query(SERVICE, PARAMS)
        assert client.retry is policy and client.settings.max_retries == 2
    assert injected(state) == 3  # the first attempt and two retries
    # Within its retries, the same policy absorbs the fault.
    with served(archive, f"service={SERVICE}:kind=503:times=2") as (url, state):
        with Client(url, cache=False, retry=policy) as client:
            assert client.query(SERVICE, PARAMS).arrow.equals(expected)
    assert injected(state) == 2


def test_retry_async(archive: Any, expected: Any) -> None:
    async def run(url: str, retry: Any) -> Any:
        async with AsyncClient(url, cache=False, retry=retry) as client:
            return await client.query(SERVICE, PARAMS)

    with served(archive, f"service={SERVICE}:kind=502") as (url, state):
        with pytest.raises(HTTPStatusError):
            asyncio.run(run(url, False))
    assert injected(state) == 1
    with served(archive, f"service={SERVICE}:kind=502:times=3") as (url, state):
        assert asyncio.run(run(url, FAST)).arrow.equals(expected)
    assert injected(state) == 3


def test_default_policy_follows_max_retries() -> None:
    with Client("http://127.0.0.1:9", max_retries=2, cache=False) as client:
        assert client.retry == RetryPolicy(max_retries=2)
    with Client("http://127.0.0.1:9", retry=True, cache=False) as client:
        assert client.retry == RetryPolicy(max_retries=client.settings.max_retries)
    # Saying the same thing twice is fine; contradicting the policy is not.
    with Client("http://127.0.0.1:9", retry=FAST, max_retries=3, cache=False) as client:
        assert client.retry is FAST


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"retry": FAST, "max_retries": 5}, "contradicts"),
        ({"retry": False, "max_retries": 2}, "no retries"),
        ({"retry": 3}, "RetryPolicy, True or False"),
        ({"retry": "fast"}, "RetryPolicy, True or False"),
    ],
)
def test_bad_retry_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(BadInputError, match=match):
        Client("http://127.0.0.1:9", cache=False, **kwargs)
    with pytest.raises(BadInputError, match=match):
        AsyncClient("http://127.0.0.1:9", cache=False, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"max_retries": True},
        {"base": -0.1},
        {"cap": float("nan")},
        {"max_retry_after": -1},
    ],
)
def test_bad_policies(kwargs: dict[str, Any]) -> None:
    with pytest.raises(BadInputError):
        RetryPolicy(**kwargs)


# ----------------------------------------------------------------------------- long Retry-After


@pytest.mark.parametrize("kind", ["429", "503"])
def test_retry_after_beyond_the_policy_is_reported_not_waited(archive: Any, kind: str) -> None:
    # The default policy honours 300 s at most; an hour is reported at once (before this fix
    # the client waited 300 s, and past this call's deadline it said QueryTimeout).
    with served(archive, f"service={SERVICE}:kind={kind}:retry_after=3600") as (url, state):
        with Client(url, cache=False) as client, pytest.raises(RateLimitError) as caught:
            client.query(SERVICE, PARAMS, timeout=30)
    error = caught.value
    assert error.retry_after == 3600 and error.status_code == int(kind)
    assert "max_retry_after" in str(error) and error.service == SERVICE
    assert isinstance(error.__cause__, RateLimitError)  # the server's reply, chained
    assert injected(state) == 1  # never retried


def test_retry_after_within_the_policy_is_waited(archive: Any, expected: Any) -> None:
    policy = RetryPolicy(max_retries=2, max_retry_after=0.5)
    with served(archive, f"service={SERVICE}:kind=429:retry_after=0.2:times=1") as (url, state):
        with Client(url, cache=False, retry=policy) as client:
            assert client.query(SERVICE, PARAMS).arrow.equals(expected)
    assert injected(state) == 1
    with served(archive, f"service={SERVICE}:kind=429:retry_after=0.8:times=1") as (url, state):
        with Client(url, cache=False, retry=policy) as client:
            with pytest.raises(RateLimitError, match=r"0\.8 s .*max_retry_after \(0\.5 s\)"):
                client.query(SERVICE, PARAMS)
    assert injected(state) == 1


def _deadline_error(url: str, asynchronous: bool) -> MastError:
    async def run() -> None:
        async with AsyncClient(url, cache=False, retry=FAST) as client:
            await client.query(SERVICE, PARAMS, timeout=2)

    try:
        if asynchronous:
            asyncio.run(run())
        else:
            with Client(url, cache=False, retry=FAST) as client:
                client.query(SERVICE, PARAMS, timeout=2)
    except MastError as exc:
        return exc
    raise AssertionError("no error")


def test_retry_after_past_the_deadline_is_a_rate_limit_sync_and_async(archive: Any) -> None:
    with served(archive, f"service={SERVICE}:kind=429:retry_after=10") as (url, state):
        errors = [_deadline_error(url, asynchronous) for asynchronous in (False, True)]
    assert injected(state) == 2  # one attempt each: waiting would pass the deadline
    for error in errors:
        assert isinstance(error, RateLimitError) and not isinstance(error, QueryTimeout)
        assert error.retry_after == 10 and error.status_code == 429
        assert "deadline" in str(error) and "10 s" in str(error)
        assert isinstance(error.__cause__, RateLimitError)
    # The same exception and message in both clients, but for the seconds left.
    assert type(errors[0]) is type(errors[1])
    left = re.compile(r"[\d.]+ s away")
    assert left.sub("", str(errors[0])) == left.sub("", str(errors[1]))


@given(
    retry_after=st.one_of(st.none(), st.floats(0, 1e5)),
    max_retry_after=st.floats(0, 1e4),
    time_left=st.floats(-10, 1e5),
    attempt=st.integers(1, 8),
    status=st.sampled_from([429, 503]),
)
def test_next_delay_waits_within_every_bound_or_gives_up_as_a_rate_limit(
    retry_after: float | None, max_retry_after: float, time_left: float, attempt: int, status: int
) -> None:
    policy = RetryPolicy(max_retries=5, base=0.5, cap=4.0, max_retry_after=max_retry_after)
    ceiling = min(policy.cap, policy.base * 2 ** (attempt - 1))
    error = RateLimitError("slow down", retry_after=retry_after, status_code=status)
    if attempt > policy.max_retries:
        with pytest.raises(RateLimitError) as used_up:
            next_delay(policy, attempt, error, time_left=time_left)
        assert used_up.value is error
        return
    try:
        delay = next_delay(policy, attempt, error, time_left=time_left)
    except RateLimitError as given_up:
        assert given_up is not error and given_up.__cause__ is error
        assert given_up.retry_after == retry_after and given_up.status_code == status
        if retry_after is None:
            assert time_left <= ceiling  # the random backoff could not fit
        else:
            assert retry_after > max_retry_after or retry_after >= time_left
        return
    assert 0 <= delay < time_left
    if retry_after is None:
        assert delay <= ceiling
    else:
        assert delay == retry_after <= max_retry_after


def test_next_delay_leaves_other_errors_alone() -> None:
    service_error = ServiceError("no such column")
    with pytest.raises(ServiceError) as caught:
        next_delay(FAST, 1, service_error, time_left=100)
    assert caught.value is service_error  # not retryable: itself
    reset = TransportError("reset")
    assert 0 <= next_delay(FAST, 1, reset, time_left=100) <= FAST.base
    with pytest.raises(QueryTimeout, match="Gave up after 1 attempts") as timed_out:
        next_delay(FAST, 1, reset, time_left=0)
    assert timed_out.value.__cause__ is reset
    assert RetryPolicy(base=1, cap=1).delay(3, reset, random.Random(0)) <= 1


# ----------------------------------------------------------------------------- in-process resets


def _in_process(app: Any, policy: RetryPolicy = FAST, call: str = "query") -> Any:
    async def run() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with AsyncClient(
            "http://inprocess", transport=transport, cache=False, retry=policy
        ) as client:
            if call == "columns":
                return await client.columns_config("Mast.Caom.Cone")
            return await client.query(SERVICE, PARAMS)

    return asyncio.run(run())


@pytest.mark.parametrize("kind", ["reset", "truncate"])
def test_in_process_resets_are_retried_like_socket_resets(
    archive: Any, expected: Any, kind: str
) -> None:
    app = app_with(archive, f"service={SERVICE}:kind={kind}:times=2")
    assert _in_process(app).arrow.equals(expected)
    assert injected(app.state.server) == 2


@pytest.mark.parametrize("kind", ["reset", "truncate"])
def test_in_process_persistent_reset_is_a_transport_error(archive: Any, kind: str) -> None:
    app = app_with(archive, f"service={SERVICE}:kind={kind}")
    with pytest.raises(TransportError) as caught:
        _in_process(app)
    assert type(caught.value) is TransportError  # not a timeout, not a bare OSError
    assert isinstance(caught.value.__cause__, ConnectionResetError)
    assert caught.value.service == SERVICE and "reset" in str(caught.value)
    assert injected(app.state.server) == 1 + FAST.max_retries


def test_in_process_reset_outside_invoke(archive: Any) -> None:
    app = app_with(archive, "path=/portal/Mashup/Mashup.asmx/columnsconfig:kind=reset:times=1")
    assert "obsid" in _in_process(app, call="columns")
    assert injected(app.state.server) == 1
