"""The wire: each call's request and how its answer is read. No I/O here;
the sync and async clients send what this module builds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, List, Mapping, Optional, Sequence, TypeVar, Union
from urllib.parse import quote

import httpx

from ._errors import AlertHubError, TemporaryError, error_class
from ._models import (
    AlertResult,
    Alert,
    BatchItemResult,
    NewAlert,
    SignOutResult,
    Timestamp,
    Token,
    UserId,
    format_timestamp,
    parse_timestamp,
)
from ._retry import Retry, parse_retry_after

T = TypeVar("T")

#: Items per batch, as the contract allows.
BATCH_MAX = 1000


@dataclass(frozen=True)
class Call(Generic[T]):
    """One REST call: what to send, how to read a success, when to retry."""

    method: str
    path: str
    body: Optional[Dict[str, Any]]
    parse: Callable[[Any], T]
    retry: Retry

    @property
    def what(self) -> str:
        return f"{self.method} {self.path}"


def user_path(user_id: UserId) -> str:
    return quote(str(user_id), safe="")


def send_alert(alert: NewAlert) -> Call[AlertResult]:
    return Call("POST", "/api/v1/alerts", alert.to_json(), _alert_result, Retry.IDEMPOTENT)


def send_batch(alerts: Sequence[Union[NewAlert, Mapping[str, Any]]]) -> Call[List[BatchItemResult]]:
    if isinstance(alerts, (str, bytes)) or not 1 <= len(alerts) <= BATCH_MAX:
        raise ValueError(f"a batch holds 1 to {BATCH_MAX} alerts, not {len(alerts)}")
    items = [a.to_json() if isinstance(a, NewAlert) else _mapping_item(a) for a in alerts]
    return Call("POST", "/api/v1/alerts/batch", {"alerts": items}, _batch_results, Retry.IDEMPOTENT)


def sign_out(user_id: UserId, except_session: Optional[str], revoke_tokens: bool) -> Call[SignOutResult]:
    body: Dict[str, Any] = {"revoke_tokens": revoke_tokens}
    if except_session is not None:
        body["except_session"] = except_session
    path = f"/api/v1/users/{user_path(user_id)}/sign-out"
    return Call("POST", path, body, _sign_out_result, Retry.IDEMPOTENT)


def create_token(user_id: UserId, label: Optional[str]) -> Call[Token]:
    body: Dict[str, Any] = {"user_id": str(user_id)}
    if label is not None:
        body["label"] = label
    return Call("POST", "/api/v1/tokens", body, _token, Retry.UNSENT_ONLY)


def revoke_token(token: str) -> Call[bool]:
    return Call("POST", "/api/v1/tokens/revoke", {"token": token}, _revoked, Retry.IDEMPOTENT)


def read_answer(call: Call[T], response: httpx.Response) -> T:
    """The call's result from a 2xx answer."""
    try:
        data = response.json()
    except ValueError:
        raise AlertHubError(
            f"alerthub answered {call.what} with HTTP {response.status_code} but no JSON",
            code="invalid_response",
            status=response.status_code,
        ) from None
    try:
        return call.parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise AlertHubError(
            f"alerthub's answer to {call.what} lacks an expected field ({type(exc).__name__}: {exc})",
            code="invalid_response",
            status=response.status_code,
        ) from None


def error_from(response: httpx.Response) -> AlertHubError:
    """The exception for an error answer, from the contract's error shape
    (``{"error":{"code","message","details"}}``) or, for an answer from
    something else (a proxy's 502 page), from the status alone."""
    status = response.status_code
    code: Optional[str] = None
    message = f"HTTP {status} {response.reason_phrase}".strip()
    details: Mapping[str, Any] = {}
    try:
        data = response.json()
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        if isinstance(error.get("code"), str):
            code = error["code"]
        if isinstance(error.get("message"), str) and error["message"]:
            message = error["message"]
        if isinstance(error.get("details"), dict):
            details = error["details"]
    cls = error_class(code, status)
    if code is None:
        code = cls.default_code if cls is not AlertHubError else f"http_{status}"
    if issubclass(cls, TemporaryError):
        return cls(
            message,
            code=code,
            status=status,
            details=details,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    return cls(message, code=code, status=status, details=details)


def _mapping_item(item: Mapping[str, Any]) -> Dict[str, Any]:
    """A batch item given as a mapping: sent as is, so the server names any
    bad field; only what JSON cannot carry (a ``datetime``) is converted."""
    if not isinstance(item, Mapping):
        raise TypeError(f"a batch item is a NewAlert or a mapping, not {type(item).__name__}")
    body = {k: v for k, v in item.items() if v is not None}
    detected_at: Optional[Timestamp] = body.get("detected_at")
    if detected_at is not None:
        body["detected_at"] = format_timestamp(detected_at)
    return body


def _alert_result(data: Any) -> AlertResult:
    return AlertResult(alert=Alert.from_json(data["alert"]), created=bool(data["created"]))


def _batch_results(data: Any) -> List[BatchItemResult]:
    return [BatchItemResult(alert_id=int(r["alert_id"]), created=bool(r["created"])) for r in data["results"]]


def _sign_out_result(data: Any) -> SignOutResult:
    return SignOutResult(user_id=str(data["user_id"]), signed_out_at=parse_timestamp(data["signed_out_at"]))


def _token(data: Any) -> Token:
    return Token(token=str(data["token"]), token_id=str(data["token_id"]), user_id=str(data["user_id"]))


def _revoked(data: Any) -> bool:
    revoked = data["revoked"]
    if not isinstance(revoked, bool):
        raise TypeError("revoked is not a boolean")
    return revoked
