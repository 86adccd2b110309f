"""A Django helper that replaces the in-process Channels call.

Before (Django Channels, Daphne, Redis), wherever an alert was raised::

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    channel_layer = get_channel_layer()
    async_to_sync(channel_layer.group_send)(
        f"breach_alerts_{user.id}",
        {"type": "breach_alert", "message": {"breach_id": b.id, "title": ..., "severity": ...,
                                             "confidence": ..., "detected_at": ..., "description": ...}},
    )

After, with this file as ``yourapp/alerthub.py``::

    from yourapp.alerthub import send_breach_alert

    send_breach_alert(user.id, {"breach_id": b.id, "title": ..., "severity": ..., "confidence": ...})

The ``message`` dict is the one you sent before (extra keys such as
``alert_id`` or ``read`` are ignored: alerthub assigns those), so each call
site changes by one line. Settings: ``ALERTHUB_URL`` and
``ALERTHUB_SERVICE_KEY``.

This runs inside a web request, so it retries briefly (3 attempts, 5 s in
all); if alerthub is down longer it raises ``TemporaryError``. Where the
alert must get through whatever happens, send it from a Celery task
instead (see ``celery_tasks.py``): the request returns at once and Celery
retries for as long as it takes.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping, Optional, Union

from django.conf import settings
from django.db import transaction

from alerthub_client import AlertHub, AlertResult, RetryPolicy

_hub: Optional[AlertHub] = None
_hub_lock = threading.Lock()


def get_hub() -> AlertHub:
    """The process's one client (thread-safe; keeps connections open)."""
    global _hub
    with _hub_lock:
        if _hub is None:
            _hub = AlertHub(
                settings.ALERTHUB_URL,
                settings.ALERTHUB_SERVICE_KEY,
                timeout=3.0,
                retries=RetryPolicy(max_attempts=3, base_delay=0.2, max_elapsed=5.0),
            )
        return _hub


def send_breach_alert(user_id: Union[str, int], message: Mapping[str, Any]) -> AlertResult:
    """Stores the alert in alerthub and pushes it to every open tab of the
    user, now. ``message`` is the old ``breach_alert`` message: ``breach_id``,
    ``title``, ``severity``, ``confidence`` and optionally ``detected_at``
    (an aware ``datetime`` or RFC 3339 string), ``description``, ``source``.
    """
    return get_hub().send_alert(
        user_id,
        str(message["breach_id"]),
        message["title"],
        message["severity"],
        float(message["confidence"]),
        detected_at=message.get("detected_at"),
        description=message.get("description"),
        source=message.get("source"),
    )


def send_breach_alert_on_commit(user_id: Union[str, int], message: Mapping[str, Any]) -> None:
    """The same, once the current database transaction commits: an alert
    about a row that is then rolled back is never pushed."""
    message = dict(message)
    transaction.on_commit(lambda: send_breach_alert(user_id, message))
