"""The examples run as written: the Celery task (eager) and the Django
helper, against the real server. Celery and Django come with the
``examples`` extra (``pip install ./clients/python[test,examples]``)."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest

from alerthub_client import AlertHub, RetryPolicy, TransportError

from .conftest import SERVICE_KEY, Server, free_port, unique

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def examples_path() -> Iterator[None]:
    sys.path.insert(0, str(EXAMPLES))
    yield
    sys.path.remove(str(EXAMPLES))


@pytest.fixture(scope="module")
def celery_tasks(examples_path: None) -> Iterator[ModuleType]:
    celery = pytest.importorskip("celery", reason="the examples extra is not installed")
    app = celery.Celery("alerthub-example-test")
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    app.set_default()
    import celery_tasks as module

    yield module
    if module._hub is not None:
        module._hub.close()


def test_celery_task_sends_an_alert(
    server: Server, celery_tasks: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTHUB_URL", server.url)
    monkeypatch.setenv("ALERTHUB_SERVICE_KEY", SERVICE_KEY)
    monkeypatch.setattr(celery_tasks, "_hub", None)
    user, breach = unique(), unique("B")
    first = celery_tasks.send_breach_alert.delay(user, breach, "Data Breach Detected", "HIGH", 0.95).get()
    again = celery_tasks.send_breach_alert.delay(user, breach, "Data Breach Detected", "HIGH", 0.95).get()
    assert first["created"] is True and again == {"alert_id": first["alert_id"], "created": False}
    [stored] = server.user_alerts(user)
    assert stored["alert_id"] == first["alert_id"] and stored["source"] == "celery"


def test_celery_task_hands_temporary_errors_to_celery(
    celery_tasks: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    down = AlertHub(f"http://127.0.0.1:{free_port()}", SERVICE_KEY, retries=RetryPolicy.none())
    original = down.send_alert

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(down, "send_alert", counting)
    monkeypatch.setattr(celery_tasks, "_hub", down)
    with pytest.raises(TransportError):
        celery_tasks.send_breach_alert.delay("1", "B", "t", "HIGH", 0.9, celery_retry=False).get()
    assert len(calls) == 1
    calls.clear()
    # With Celery's retry: the task asks Celery to run it again later (in
    # eager mode Celery raises that request instead of scheduling it).
    from celery.exceptions import Retry

    with pytest.raises(Retry) as caught:
        celery_tasks.send_breach_alert.delay("1", "B", "t", "HIGH", 0.9).get()
    assert isinstance(caught.value.exc, TransportError)
    assert caught.value.when == 30  # no Retry-After: the task's own first backoff
    assert len(calls) == 1
    down.close()


@pytest.fixture(scope="module")
def django_alerts(server: Server, examples_path: None) -> Iterator[ModuleType]:
    pytest.importorskip("django", reason="the examples extra is not installed")
    import django
    from django.conf import settings

    settings.configure(
        ALERTHUB_URL=server.url,
        ALERTHUB_SERVICE_KEY=SERVICE_KEY,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()
    import django_alerts as module

    yield module
    if module._hub is not None:
        module._hub.close()


def test_django_helper_replaces_group_send(server: Server, django_alerts: ModuleType) -> None:
    from django.utils import timezone as dj_timezone

    user = unique()
    # The message the old code sent with group_send, alert_id and read included.
    message = {"alert_id": 99, "breach_id": 1234, "title": "Data Breach Detected", "severity": "high",
               "confidence": "0.95", "detected_at": dj_timezone.now(), "description": "seen on a forum",
               "read": False}
    result = django_alerts.send_breach_alert(user, message)
    assert result.created and result.alert.breach_id == "1234" and result.alert.severity == "HIGH"
    assert abs((result.alert.detected_at - datetime.now(timezone.utc)).total_seconds()) < 60
    assert [a["alert_id"] for a in server.user_alerts(user)] == [result.alert.alert_id]


def test_django_helper_on_commit(server: Server, django_alerts: ModuleType) -> None:
    from django.db import transaction

    kept, rolled_back = unique(), unique()
    message = {"breach_id": "B1", "title": "t", "severity": "LOW", "confidence": 0.5}
    with transaction.atomic():
        django_alerts.send_breach_alert_on_commit(kept, message)
        assert server.user_alerts(kept) == []  # not before the commit
    assert len(server.user_alerts(kept)) == 1

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        django_alerts.send_breach_alert_on_commit(rolled_back, message)
        raise Rollback
    assert server.user_alerts(rolled_back) == []
