"""Triggers against the real server: one alert, a batch, and each error the
contract names for them, sync and async."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from alerthub_client import (
    AlertHub,
    AsyncAlertHub,
    Forbidden,
    NewAlert,
    PayloadTooLarge,
    Severity,
    Unauthorized,
    ValidationFailed,
)

from .conftest import SERVICE_KEY, Server, jwt, unique


def test_send_alert_creates_then_returns_the_stored_alert(server: Server) -> None:
    user, breach = unique(), unique("B")
    detected = datetime(2025, 11, 25, 12, 0, 0, 250000, tzinfo=timezone.utc)
    with AlertHub(server.url, SERVICE_KEY) as hub:
        first = hub.send_alert(
            user, breach, "Data Breach Detected", "high", 0.95,
            detected_at=detected, description="Your password was found", source="scanner",
        )
        again = hub.send_alert(user, breach, "Another title", Severity.LOW, 0.1)

    assert first.created is True
    alert = first.alert
    assert alert.breach_id == breach
    assert alert.title == "Data Breach Detected"
    assert alert.severity == "HIGH"
    assert alert.confidence == 0.95
    assert alert.detected_at == detected
    assert alert.description == "Your password was found"
    assert alert.source == "scanner"
    assert alert.read is False
    assert alert.created_at is not None
    assert abs(alert.created_at - datetime.now(timezone.utc)) < timedelta(minutes=1)

    # The same (user_id, breach_id): 200, the stored alert, created false.
    assert again.created is False
    assert again.alert == alert
    assert [a["alert_id"] for a in server.user_alerts(user)] == [alert.alert_id]


def test_detected_at_defaults_to_now_and_numbers_are_user_ids(server: Server) -> None:
    user = str(10**12 + int(unique("")[:8], 16))
    with AlertHub(server.url, SERVICE_KEY) as hub:
        result = hub.send_alert(int(user), unique("B"), "t", "CRITICAL", 1)
    assert result.created
    assert abs(result.alert.detected_at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert result.alert.description is None and result.alert.source is None
    assert len(server.user_alerts(user)) == 1


def test_naive_detected_at_is_refused_before_sending(server: Server) -> None:
    with AlertHub(server.url, SERVICE_KEY) as hub, pytest.raises(ValueError, match="timezone-aware"):
        hub.send_alert("1", unique("B"), "t", "LOW", 0.5, detected_at=datetime(2025, 1, 1))


def test_send_batch_results_in_request_order(server: Server) -> None:
    user, other = unique(), unique()
    with AlertHub(server.url, SERVICE_KEY) as hub:
        earlier = hub.send_alert(user, "B-old", "old", "LOW", 0.2)
        results = hub.send_batch([
            NewAlert(user, "B-1", "one", "HIGH", 0.9),
            {"user_id": other, "breach_id": "B-1", "title": "one", "severity": "medium",
             "confidence": 0.5, "detected_at": datetime.now(timezone.utc)},
            NewAlert(user, "B-old", "old again", "LOW", 0.2),
            NewAlert(user, "B-1", "one repeated", "HIGH", 0.9),
        ])
    assert [r.created for r in results] == [True, True, False, False]
    assert results[2].alert_id == earlier.alert.alert_id
    assert results[3].alert_id == results[0].alert_id
    assert len(server.user_alerts(user)) == 2
    assert [a["breach_id"] for a in server.user_alerts(other)] == ["B-1"]


def test_batch_size_is_checked_before_sending(server: Server) -> None:
    item = NewAlert("1", "B", "t", "LOW", 0.1)
    with AlertHub(server.url, SERVICE_KEY) as hub:
        with pytest.raises(ValueError, match="1 to 1000"):
            hub.send_batch([])
        with pytest.raises(ValueError, match="1 to 1000"):
            hub.send_batch([item] * 1001)


def test_validation_failed_names_every_bad_field(server: Server) -> None:
    with AlertHub(server.url, SERVICE_KEY) as hub, pytest.raises(ValidationFailed) as caught:
        hub.send_alert(unique(), unique("B"), "", "URGENT", 1.5)
    err = caught.value
    assert err.status == 422 and err.code == "validation_failed"
    assert set(err.details) == {"title", "severity", "confidence"}
    assert err.attempts == 1  # a 422 is never retried
    assert "title" in str(err)


def test_batch_validation_is_keyed_by_index_and_stores_nothing(server: Server) -> None:
    user = unique()
    good = NewAlert(user, "B-good", "fine", "LOW", 0.1)
    with AlertHub(server.url, SERVICE_KEY) as hub:
        with pytest.raises(ValidationFailed) as caught:
            hub.send_batch([good, {"user_id": user, "breach_id": "B-bad", "title": "x",
                                   "severity": "LOW", "confidence": 0.1, "colour": "red"}])
        assert caught.value.details == {"1": {"colour": "unknown field"}}
        # All or nothing: the valid item was not stored either.
        assert hub.send_batch([good])[0].created is True


def test_payload_too_large(server: Server) -> None:
    with AlertHub(server.url, SERVICE_KEY) as hub, pytest.raises(PayloadTooLarge) as caught:
        hub.send_alert(unique(), unique("B"), "t", "LOW", 0.1, description="x" * 70_000)
    assert caught.value.status == 413


def test_wrong_key_is_unauthorized_and_never_shown(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-key-8d7a6cbb21"
    hub = AlertHub(server.url, wrong)
    with hub, pytest.raises(Unauthorized) as caught:
        hub.send_alert(unique(), unique("B"), "t", "LOW", 0.1)
    err = caught.value
    assert err.status == 401 and err.code == "unauthorized" and err.attempts == 1
    for text in (str(err), repr(err), repr(hub), repr(err.__cause__), caplog.text):
        assert wrong not in text


def test_user_token_is_forbidden(server: Server) -> None:
    user_token = jwt(unique())
    with AlertHub(server.url, user_token) as hub, pytest.raises(Forbidden) as caught:
        hub.send_alert(unique(), unique("B"), "t", "LOW", 0.1)
    assert caught.value.status == 403 and caught.value.code == "forbidden"
    assert user_token not in repr(caught.value) + str(caught.value)


@pytest.mark.anyio
async def test_async_send_alert_and_batch(server: Server) -> None:
    user, breach = unique(), unique("B")
    async with AsyncAlertHub(server.url, SERVICE_KEY) as hub:
        first = await hub.send_alert(user, breach, "Data Breach Detected", "HIGH", 0.95)
        again = await hub.send_alert(user, breach, "Data Breach Detected", "HIGH", 0.95)
        batch = await hub.send_batch([NewAlert(user, breach, "t", "LOW", 0.1),
                                      NewAlert(user, unique("B"), "t", "LOW", 0.1)])
    assert (first.created, again.created) == (True, False)
    assert again.alert.alert_id == first.alert.alert_id
    assert [(r.alert_id, r.created) for r in batch][0] == (first.alert.alert_id, False)
    assert batch[1].created is True
    assert len(server.user_alerts(user)) == 2


@pytest.mark.anyio
async def test_async_errors(server: Server) -> None:
    async with AsyncAlertHub(server.url, SERVICE_KEY) as hub:
        with pytest.raises(ValidationFailed) as caught:
            await hub.send_alert(unique(), unique("B"), "t", "LOW", -1)
        assert set(caught.value.details) == {"confidence"}
    async with AsyncAlertHub(server.url, "not-a-key") as hub:
        with pytest.raises(Unauthorized):
            await hub.send_alert(unique(), unique("B"), "t", "LOW", 0.1)
    async with AsyncAlertHub(server.url, jwt(unique())) as hub:
        with pytest.raises(Forbidden):
            await hub.send_alert(unique(), unique("B"), "t", "LOW", 0.1)
