"""A Celery task that raises a breach alert through alerthub.

Put it in your app's ``tasks.py``. Settings (Django settings, or the
environment): ``ALERTHUB_URL`` and ``ALERTHUB_SERVICE_KEY``.

    send_breach_alert.delay("1", "BREACH_001", "Data Breach Detected", "HIGH", 0.95)

The client already retries connection errors, timeouts, 429 and 5xx for up
to ``max_elapsed`` seconds. What is still failing after that
(``TemporaryError``: alerthub down for longer, its storage unavailable) is
handed to Celery's own retry, which waits as long as the server asked
(``Retry-After``) or backs off. That is safe for the same reason the
client's retries are: alerthub stores one alert per (``user_id``,
``breach_id``) and pushes it once, so use one ``breach_id`` per breach
event. Permanent errors (``ValidationFailed``, ``Unauthorized``, ...) fail
the task at once: retrying them cannot help.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, Optional

from celery import Task, shared_task

from alerthub_client import AlertHub, RetryPolicy, TemporaryError

_hub: Optional[AlertHub] = None
_hub_lock = threading.Lock()


def _setting(name: str) -> str:
    """From the environment, else from Django's settings."""
    value = os.environ.get(name)
    if value is None:
        from django.conf import settings  # Celery inside a Django project

        value = str(getattr(settings, name))
    return value


def hub() -> AlertHub:
    """One client per worker process: it keeps connections open."""
    global _hub
    with _hub_lock:
        if _hub is None:
            _hub = AlertHub(
                _setting("ALERTHUB_URL"),
                _setting("ALERTHUB_SERVICE_KEY"),
                timeout=5.0,
                # Short in-process retries; Celery takes over after 20 s.
                retries=RetryPolicy(max_attempts=5, max_elapsed=20.0),
            )
        return _hub


@shared_task(bind=True, max_retries=10, acks_late=True)
def send_breach_alert(
    self: Task,
    user_id: str,
    breach_id: str,
    title: str,
    severity: str,
    confidence: float,
    description: Optional[str] = None,
    detected_at: Optional[str] = None,
    celery_retry: bool = True,
) -> Dict[str, Any]:
    """Sends one alert; returns ``{"alert_id": N, "created": bool}``.

    With ``celery_retry`` (the default) a ``TemporaryError`` schedules a
    Celery retry (at most ``max_retries``); without it the task fails and
    you see the error in your result backend or monitoring.
    """
    try:
        result = hub().send_alert(
            user_id,
            breach_id,
            title,
            severity,
            confidence,
            description=description,
            detected_at=detected_at,
            source="celery",
        )
    except TemporaryError as exc:
        if not celery_retry:
            raise
        # The server's hint if it gave one, else 30 s, 60 s, 120 s ... up to 10 min.
        countdown = exc.retry_after if exc.retry_after is not None else min(600, 30 * 2**self.request.retries)
        raise self.retry(exc=exc, countdown=countdown)
    # created False: an earlier run (or a retry) stored it already; fine.
    return {"alert_id": result.alert.alert_id, "created": result.created}
