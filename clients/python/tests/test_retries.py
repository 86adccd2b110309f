"""Retries: a server that is not up yet, a server too slow to answer in
time, and the Retry-After timing.

Everything hits the real server, except the Retry-After tests: the server
cannot be made to answer 503 or 429 on cue, so a tiny local stub answers
the first request(s) with one and then passes each request on to the real
server.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator, List, Optional, Tuple

import httpx
import pytest

from alerthub_client import (
    AlertHub,
    AlertResult,
    AsyncAlertHub,
    NewAlert,
    RateLimited,
    RetryPolicy,
    TransportError,
    Unavailable,
    _core,
)
from alerthub_client._core import Call
from alerthub_client._retry import Retry

from .conftest import SERVICE_KEY, Server, free_port, unique

# Short waits so the tests are quick; the policy's shape is the default's.
QUICK = RetryPolicy(max_attempts=40, base_delay=0.05, max_delay=0.3, max_elapsed=30)


def retries_logged(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "alerthub_client" and "retrying" in r.getMessage()]


def start_later(srv: Server, delay: float) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        srv.start()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_server_down_for_the_first_attempts(own_server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="alerthub_client")
    user, breach = unique(), unique("B")
    starter = start_later(own_server, 0.6)
    started = time.monotonic()
    with AlertHub(own_server.url, SERVICE_KEY, retries=QUICK) as hub:
        result = hub.send_alert(user, breach, "Data Breach Detected", "HIGH", 0.95)
    starter.join()
    assert time.monotonic() - started >= 0.6
    assert result.created is True
    retries = retries_logged(caplog)
    assert len(retries) >= 2, retries
    assert all("ConnectError" in m for m in retries), retries
    assert SERVICE_KEY not in caplog.text
    assert len(own_server.user_alerts(user)) == 1


@pytest.mark.anyio
async def test_async_server_down_for_the_first_attempts(
    own_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="alerthub_client")
    user = unique()
    starter = start_later(own_server, 0.6)
    async with AsyncAlertHub(own_server.url, SERVICE_KEY, retries=QUICK) as hub:
        results = await hub.send_batch([{"user_id": user, "breach_id": "B1", "title": "t",
                                         "severity": "LOW", "confidence": 0.3}])
    starter.join()
    assert results[0].created is True
    assert len(retries_logged(caplog)) >= 2


def test_attempts_are_bounded() -> None:
    port = free_port()  # nothing listens there
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.01, max_elapsed=10)
    with AlertHub(f"http://127.0.0.1:{port}", SERVICE_KEY, retries=policy) as hub:
        with pytest.raises(TransportError) as caught:
            hub.send_alert("1", "B", "t", "LOW", 0.1)
    err = caught.value
    assert err.attempts == 3 and err.status is None
    assert isinstance(err.__cause__, httpx.ConnectError)
    assert SERVICE_KEY not in str(err) + repr(err)


def test_total_time_is_bounded() -> None:
    port = free_port()
    policy = RetryPolicy(max_attempts=1000, base_delay=0.2, max_delay=0.2, max_elapsed=1.0)
    started = time.monotonic()
    with AlertHub(f"http://127.0.0.1:{port}", SERVICE_KEY, retries=policy) as hub:
        with pytest.raises(TransportError) as caught:
            hub.send_alert("1", "B", "t", "LOW", 0.1)
    assert time.monotonic() - started < 1.5
    assert 1 < caught.value.attempts < 1000


def test_no_retries_when_asked() -> None:
    with AlertHub(f"http://127.0.0.1:{free_port()}", SERVICE_KEY, retries=0) as hub:
        with pytest.raises(TransportError) as caught:
            hub.send_alert("1", "B", "t", "LOW", 0.1)
    assert caught.value.attempts == 1


class LockedDatabase:
    """Holds SQLite's write lock on the server's database, so the server's
    writes wait (its busy_timeout is 5 s) until the lock is released."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release_after(self, seconds: float) -> threading.Thread:
        def run() -> None:
            time.sleep(seconds)
            self.conn.execute("COMMIT")
            self.conn.close()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


def test_slow_server_timeout_is_retried_and_stored_once(
    own_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    """The first attempts reach the server but time out before it answers
    (its database is locked for 1.5 s; each attempt waits 0.5 s): the request
    may have been processed, so only the idempotency of (user_id, breach_id)
    makes the retry safe. The call succeeds once the database is back, and
    the alert is stored once."""
    caplog.set_level(logging.WARNING, logger="alerthub_client")
    own_server.start()
    user, breach = unique(), unique("B")
    lock = LockedDatabase(str(own_server.db_path))
    releaser = lock.release_after(1.5)
    with AlertHub(own_server.url, SERVICE_KEY, timeout=0.5, retries=QUICK) as hub:
        result = hub.send_alert(user, breach, "Data Breach Detected", "HIGH", 0.95)
        again = hub.send_alert(user, breach, "Data Breach Detected", "HIGH", 0.95)
    releaser.join()
    retries = retries_logged(caplog)
    assert len(retries) >= 1 and all("ReadTimeout" in m for m in retries), retries
    # The first attempt was stored although its answer never came: the
    # attempt that got through was answered 200 created:false, and that is
    # success, with the stored alert.
    assert result.created is False
    assert result.alert.breach_id == breach and result.alert.title == "Data Breach Detected"
    assert again.created is False and again.alert == result.alert
    assert [a["alert_id"] for a in own_server.user_alerts(user)] == [result.alert.alert_id]


# --- Retry-After: a stub in front of the real server ----------------------


class RetryAfterStub(ThreadingHTTPServer):
    """Answers the first requests with the given (status, Retry-After), in
    the contract's error shape, then passes every request to ``upstream``
    (the real server) and relays its answer. Records when each arrived."""

    daemon_threads = True

    def __init__(self, upstream: str, refusals: List[Tuple[int, Optional[str]]]) -> None:
        super().__init__(("127.0.0.1", 0), _StubHandler)
        self.upstream = upstream
        self.refusals = list(refusals)
        self.arrivals: List[float] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _StubHandler(BaseHTTPRequestHandler):
    server: RetryAfterStub

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.arrivals.append(time.monotonic())
            refusal = self.server.refusals.pop(0) if self.server.refusals else None
        if refusal is not None:
            status, retry_after = refusal
            code = "rate_limited" if status == 429 else "unavailable"
            payload = ('{"error":{"code":"%s","message":"try again later"}}' % code).encode()
            self.send_response(status)
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
        else:
            answer = httpx.post(
                self.server.upstream + self.path,
                content=body,
                headers={k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")},
            )
            status, payload = answer.status_code, answer.content
            self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


Refusals = List[Tuple[int, Optional[str]]]
StubFactory = Callable[[Refusals], "RetryAfterStub"]


@pytest.fixture
def stub_factory(server: Server) -> Iterator[StubFactory]:
    stubs: List[RetryAfterStub] = []

    def make(refusals: Refusals) -> RetryAfterStub:
        stub = RetryAfterStub(server.url, refusals)
        threading.Thread(target=stub.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        stubs.append(stub)
        return stub

    yield make
    for stub in stubs:
        stub.shutdown()
        stub.server_close()


# Backoff alone would wait at most 10 ms: any longer wait is Retry-After's.
TINY = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.01, max_elapsed=10)


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after_is_honoured(server: Server, stub_factory: StubFactory, status: int) -> None:
    stub = stub_factory([(status, "1")])
    user = unique()
    with AlertHub(stub.url, SERVICE_KEY, retries=TINY) as hub:
        result = hub.send_alert(user, unique("B"), "t", "HIGH", 0.9)
    assert result.created is True
    assert len(stub.arrivals) == 2
    waited = stub.arrivals[1] - stub.arrivals[0]
    assert 1.0 <= waited < 1.5, waited
    assert len(server.user_alerts(user)) == 1


@pytest.mark.anyio
async def test_async_retry_after_is_honoured(stub_factory: StubFactory) -> None:
    stub = stub_factory([(503, "1")])
    async with AsyncAlertHub(stub.url, SERVICE_KEY, retries=TINY) as hub:
        result = await hub.send_alert(unique(), unique("B"), "t", "HIGH", 0.9)
    assert result.created is True
    assert 1.0 <= stub.arrivals[1] - stub.arrivals[0] < 1.5


def test_without_retry_after_backoff_applies(stub_factory: StubFactory) -> None:
    stub = stub_factory([(503, None), (503, None)])
    with AlertHub(stub.url, SERVICE_KEY, retries=TINY) as hub:
        assert hub.send_alert(unique(), unique("B"), "t", "HIGH", 0.9).created
    assert len(stub.arrivals) == 3
    assert stub.arrivals[2] - stub.arrivals[0] < 0.5


def test_retry_after_beyond_the_budget_raises_at_once(stub_factory: StubFactory) -> None:
    """Waiting 30 s would break the 5 s budget: the client gives up at
    once and hands the server's hint on (for a Celery countdown, say)."""
    stub = stub_factory([(503, "30")])
    policy = RetryPolicy(max_attempts=5, base_delay=0.01, max_elapsed=5)
    started = time.monotonic()
    with AlertHub(stub.url, SERVICE_KEY, retries=policy) as hub:
        with pytest.raises(Unavailable) as caught:
            hub.send_alert(unique(), unique("B"), "t", "HIGH", 0.9)
    assert time.monotonic() - started < 1.0
    err = caught.value
    assert (err.status, err.code, err.retry_after, err.attempts) == (503, "unavailable", 30.0, 1)
    assert len(stub.arrivals) == 1


def test_rate_limited_after_the_last_attempt(stub_factory: StubFactory) -> None:
    stub = stub_factory([(429, "0"), (429, "0")])
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01, max_elapsed=5)
    with AlertHub(stub.url, SERVICE_KEY, retries=policy) as hub:
        with pytest.raises(RateLimited) as caught:
            hub.send_alert(unique(), unique("B"), "t", "HIGH", 0.9)
    assert caught.value.attempts == 2 and caught.value.retry_after == 0.0
    assert len(stub.arrivals) == 2


# --- A call that is not idempotent (create_token's mode) -------------------
# create_token's own tests skip until the server has the endpoint; the mode
# it uses is proven here on the trigger endpoint, against the real server.


def unsent_only_trigger(user: str, breach: str) -> Call[AlertResult]:
    call = _core.send_alert(NewAlert(user, breach, "t", "HIGH", 0.9))
    return replace(call, retry=Retry.UNSENT_ONLY)


def test_create_token_uses_the_unsent_only_mode() -> None:
    assert _core.create_token("1", None).retry is Retry.UNSENT_ONLY
    for call in (_core.send_batch([NewAlert("1", "B", "t", "LOW", 0)]), _core.sign_out("1", None, True),
                 _core.revoke_token("t")):
        assert call.retry is Retry.IDEMPOTENT


def test_unsent_only_retries_while_no_connection_can_be_made(
    own_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="alerthub_client")
    starter = start_later(own_server, 0.6)
    with AlertHub(own_server.url, SERVICE_KEY, retries=QUICK) as hub:
        result = hub._run(unsent_only_trigger(unique(), unique("B")))
    starter.join()
    assert result.created is True
    assert len(retries_logged(caplog)) >= 2


def test_unsent_only_does_not_retry_once_sent(own_server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="alerthub_client")
    own_server.start()
    user, breach = unique(), unique("B")
    lock = LockedDatabase(str(own_server.db_path))
    releaser = lock.release_after(1.0)
    started = time.monotonic()
    with AlertHub(own_server.url, SERVICE_KEY, timeout=0.5, retries=QUICK) as hub:
        with pytest.raises(TransportError) as caught:
            hub._run(unsent_only_trigger(user, breach))
    elapsed = time.monotonic() - started
    releaser.join()
    assert caught.value.attempts == 1 and isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert elapsed < 0.9
    assert retries_logged(caplog) == []
    # It did reach the server: exactly why it must not be sent again. (Its
    # write finishes a moment after the lock is released.)
    deadline = time.monotonic() + 5
    while not own_server.user_alerts(user) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(own_server.user_alerts(user)) == 1
