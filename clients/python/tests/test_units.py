"""The pieces that need no server: backoff bounds, Retry-After parsing,
timestamps, and that secrets stay out of reprs."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from alerthub_client import (
    AlertHub,
    AlertHubError,
    AsyncAlertHub,
    NewAlert,
    RateLimited,
    RetryPolicy,
    ServerError,
    Severity,
    TemporaryError,
    Token,
    TransportError,
    Unavailable,
)
from alerthub_client._errors import error_class
from alerthub_client._models import format_timestamp, parse_timestamp
from alerthub_client._retry import parse_retry_after


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    rng = random.Random(7)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (10, 3.0)]:
        waits = [policy.backoff(retry, rng) for _ in range(500)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.9 and min(waits) < ceiling * 0.1  # spread, not fixed


def test_policy_arguments() -> None:
    assert RetryPolicy.none().max_attempts == 1
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        AlertHub("http://127.0.0.1:1", "k", retries=-1)
    assert AlertHub("http://127.0.0.1:1", "k", retries=2).retry_policy.max_attempts == 3
    with pytest.raises(ValueError):
        AlertHub("127.0.0.1:8000", "k")
    with pytest.raises(ValueError):
        AlertHub("http://127.0.0.1:1", "")


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    now = datetime(2025, 11, 25, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("Tue, 25 Nov 2025 12:00:07 GMT", now) == 7.0
    assert parse_retry_after("Tue, 25 Nov 2025 11:00:00 GMT", now) == 0.0


def test_timestamps() -> None:
    assert parse_timestamp("2025-11-25T12:00:00Z") == datetime(2025, 11, 25, 12, tzinfo=timezone.utc)
    nanos = parse_timestamp("2025-11-25T12:00:00.123456789Z")
    assert nanos.microsecond == 123456
    offset = parse_timestamp("2025-11-25T14:00:00.5+02:00")
    assert offset == datetime(2025, 11, 25, 12, 0, 0, 500000, tzinfo=timezone.utc)
    with pytest.raises(AlertHubError):
        parse_timestamp("yesterday")
    cet = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2025, 11, 25, 13, tzinfo=cet)) == "2025-11-25T12:00:00Z"
    assert format_timestamp(datetime(2025, 1, 1, 0, 0, 0, 1500, tzinfo=timezone.utc)) == "2025-01-01T00:00:00.001500Z"
    with pytest.raises(ValueError):
        format_timestamp(datetime(2025, 1, 1))


def test_new_alert_body() -> None:
    body = NewAlert(42, "B", "t", Severity.CRITICAL, 1).to_json()
    assert body == {"user_id": "42", "breach_id": "B", "title": "t", "severity": "CRITICAL", "confidence": 1}


def test_secrets_stay_out_of_reprs() -> None:
    hub = AlertHub("http://127.0.0.1:1", "sk-secret-value")
    assert "sk-secret-value" not in repr(hub) + str(hub)
    assert "sk-secret-value" not in repr(vars(hub))
    ahub = AsyncAlertHub("http://127.0.0.1:1", "sk-secret-value")
    assert "sk-secret-value" not in repr(ahub) + repr(vars(ahub))
    token = Token(token="ahk_secret", token_id="7", user_id="1")
    assert "ahk_secret" not in repr(token) + str(token)


def test_error_classes_by_code_then_status() -> None:
    assert error_class("unavailable", 503) is Unavailable
    assert error_class(None, 503) is Unavailable
    assert error_class(None, 502) is ServerError
    assert error_class("rate_limited", 429) is RateLimited
    assert error_class("something_new", 418) is AlertHubError
    assert issubclass(Unavailable, TemporaryError) and issubclass(TransportError, TemporaryError)
    err = Unavailable("storage down", status=503, retry_after=2.0, attempts=3)
    assert "attempts=3" in repr(err) and "retry_after=2.0" in repr(err)
    assert "after 3 attempts" in str(err)
