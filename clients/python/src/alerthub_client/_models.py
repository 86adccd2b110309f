"""What goes in (``NewAlert``) and what comes back (``Alert``, results)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional, Union

from ._errors import AlertHubError


class Severity(str, enum.Enum):
    """The contract's severities (the server also accepts any case)."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    def __str__(self) -> str:
        return self.value


#: A ``user_id`` as the contract takes it: ``^\\w{1,64}$``, or a number.
UserId = Union[str, int]
#: A severity: a ``Severity`` or one of its names in any case.
SeverityLike = Union[Severity, str]
#: ``detected_at``: an aware ``datetime`` or an RFC 3339 string.
Timestamp = Union[datetime, str]


@dataclass(frozen=True)
class NewAlert:
    """One alert to trigger; the fields of the contract's trigger body.

    Producers should use one ``breach_id`` per breach event: a second
    trigger with the same (``user_id``, ``breach_id``) returns the stored
    alert and pushes nothing, for as long as the server keeps the alert.
    """

    user_id: UserId
    breach_id: str
    title: str
    severity: SeverityLike
    confidence: float
    detected_at: Optional[Timestamp] = None
    description: Optional[str] = None
    source: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        """The trigger body; absent optional fields are left out."""
        body: Dict[str, Any] = {
            "user_id": str(self.user_id) if isinstance(self.user_id, int) else self.user_id,
            "breach_id": self.breach_id,
            "title": self.title,
            "severity": str(self.severity.value if isinstance(self.severity, Severity) else self.severity),
            "confidence": self.confidence,
        }
        if self.detected_at is not None:
            body["detected_at"] = format_timestamp(self.detected_at)
        if self.description is not None:
            body["description"] = self.description
        if self.source is not None:
            body["source"] = self.source
        return body


@dataclass(frozen=True)
class Alert:
    """A stored alert, as the server returns it (``breach_alert.message``)."""

    alert_id: int
    breach_id: str
    title: str
    severity: str
    confidence: float
    detected_at: datetime
    description: Optional[str]
    source: Optional[str]
    read: bool
    created_at: Optional[datetime]

    @classmethod
    def from_json(cls, data: Any) -> Alert:
        obj = _object(data, "alert")
        created_at = obj.get("created_at")
        return cls(
            alert_id=int(obj["alert_id"]),
            breach_id=str(obj["breach_id"]),
            title=str(obj["title"]),
            severity=str(obj["severity"]),
            confidence=float(obj["confidence"]),
            detected_at=parse_timestamp(obj["detected_at"]),
            description=_opt_str(obj.get("description")),
            source=_opt_str(obj.get("source")),
            read=bool(obj.get("read", False)),
            created_at=parse_timestamp(created_at) if created_at is not None else None,
        )


@dataclass(frozen=True)
class AlertResult:
    """The answer to ``send_alert``: the stored alert, and whether this call
    created it (``False``: it existed already, nothing was pushed again)."""

    alert: Alert
    created: bool


@dataclass(frozen=True)
class BatchItemResult:
    """One item of ``send_batch``'s answer, in request order."""

    alert_id: int
    created: bool


@dataclass(frozen=True)
class SignOutResult:
    """The answer to ``sign_out``."""

    user_id: str
    signed_out_at: datetime


@dataclass(frozen=True)
class Token:
    """A new opaque user token. The server shows ``token`` only once; it is
    kept out of this object's repr so it does not end up in logs."""

    token: str = field(repr=False)
    token_id: str
    user_id: str

    def __str__(self) -> str:
        return f"Token(token_id={self.token_id!r}, user_id={self.user_id!r})"


_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})$"
)


def parse_timestamp(value: Any) -> datetime:
    """An RFC 3339 timestamp (``Z`` or an offset, any fraction) as an aware
    ``datetime`` in UTC. Works on every Python this package supports, where
    ``datetime.fromisoformat`` does not take ``Z`` or 9 fraction digits."""
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if match is None:
        raise AlertHubError(f"the server sent a timestamp that is not RFC 3339: {value!r}", code="invalid_response")
    day, time_of_day, fraction, offset = match.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    zone = "+00:00" if offset in ("Z", "z") else offset
    parsed = datetime.fromisoformat(f"{day}T{time_of_day}.{micros}{zone}")
    return parsed.astimezone(timezone.utc)


def format_timestamp(value: Timestamp) -> str:
    """``detected_at`` for the wire: RFC 3339 in UTC with ``Z``.

    A naive ``datetime`` is refused: guessing its zone would shift the alert
    by hours without anyone noticing. A string is sent as given (the server
    validates it).
    """
    if isinstance(value, str):
        return value
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            "detected_at must be timezone-aware (for example datetime.now(timezone.utc) "
            "or django.utils.timezone.now()); a naive datetime has no defined instant"
        )
    utc = value.astimezone(timezone.utc)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _object(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise AlertHubError(f"the server's answer has no {what} object", code="invalid_response")
    return data


def _opt_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)

