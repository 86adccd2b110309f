"""Exceptions: one per error code of the contract, plus the transport failure.

Every error the server answers looks like
``{"error": {"code": "...", "message": "...", "details": {...}}}``; the
exception raised for it carries those three fields and the HTTP status.
Nothing that authenticates (the service key, a user token) is ever part of
an exception's message or repr.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional


class AlertHubError(Exception):
    """Base of every error this client raises.

    ``status`` is the HTTP status (``None`` when no answer arrived), ``code``
    the contract's error code (``validation_failed``, ``unavailable``, ...),
    ``details`` the error's ``details`` object (``{}`` when absent), and
    ``attempts`` how many requests were sent before giving up.
    """

    #: The contract's code this class stands for (subclasses set it).
    default_code: str = "error"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status: Optional[int] = None,
        details: Optional[Mapping[str, Any]] = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.status = status
        self.details: Mapping[str, Any] = dict(details) if details else {}
        self.attempts = attempts

    def __str__(self) -> str:
        where = f"HTTP {self.status}, " if self.status is not None else ""
        text = f"{self.message} ({where}code {self.code}"
        if self.attempts > 1:
            text += f", after {self.attempts} attempts"
        text += ")"
        if self.details:
            text += f": {dict(self.details)}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"message={self.message!r}, details={dict(self.details)!r}, "
            f"attempts={self.attempts!r})"
        )


class InvalidJson(AlertHubError):
    """400 ``invalid_json``: the body was not JSON (a bug in this client)."""

    default_code = "invalid_json"


class ValidationFailed(AlertHubError):
    """422 ``validation_failed``: ``details`` names each bad field.

    For a batch, ``details`` is keyed by the item's index (as a string):
    ``{"3": {"title": "must be 1-200 characters"}}``.
    """

    default_code = "validation_failed"


class Unauthorized(AlertHubError):
    """401 ``unauthorized``: no service key, or one the server does not know."""

    default_code = "unauthorized"


class Forbidden(AlertHubError):
    """403 ``forbidden``: a valid credential that may not do this (a user token)."""

    default_code = "forbidden"


class NotFound(AlertHubError):
    """404 ``not_found``: no such endpoint, or an invalid ``user_id`` in a path."""

    default_code = "not_found"


class PayloadTooLarge(AlertHubError):
    """413 ``payload_too_large``: over 64 KiB (1 MiB for a batch)."""

    default_code = "payload_too_large"


class TemporaryError(AlertHubError):
    """A failure that may go away by itself: trying again later can succeed.

    The client already retried it where that is safe; catch this class to
    schedule a later attempt of your own (for example a Celery retry).
    ``retry_after`` is the server's ``Retry-After`` in seconds, if it sent one.
    """

    default_code = "temporary"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status: Optional[int] = None,
        details: Optional[Mapping[str, Any]] = None,
        attempts: int = 1,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message, code=code, status=status, details=details, attempts=attempts)
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", retry_after={self.retry_after!r})"


class RateLimited(TemporaryError):
    """429 ``rate_limited``; ``retry_after`` says when to come back."""

    default_code = "rate_limited"


class ServerError(TemporaryError):
    """A 5xx answer (for example a 502 from a proxy in front of alerthub)."""

    default_code = "server_error"


class Unavailable(ServerError):
    """503 ``unavailable``: alerthub's storage is down; ``retry_after`` if sent."""

    default_code = "unavailable"


class TransportError(TemporaryError):
    """No answer: the connection failed or timed out (after any retries).

    The original ``httpx`` exception is the ``__cause__``. For a call that
    is not retried once sent (``create_token``), the request may or may not
    have reached the server.
    """

    default_code = "transport_error"


_BY_CODE: dict[str, type[AlertHubError]] = {
    cls.default_code: cls
    for cls in (
        InvalidJson,
        ValidationFailed,
        Unauthorized,
        Forbidden,
        NotFound,
        PayloadTooLarge,
        RateLimited,
        Unavailable,
    )
}

_BY_STATUS: dict[int, type[AlertHubError]] = {
    400: InvalidJson,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    413: PayloadTooLarge,
    422: ValidationFailed,
    429: RateLimited,
    503: Unavailable,
}


def error_class(code: Optional[str], status: int) -> type[AlertHubError]:
    """The exception class for an error answer: by code, else by status."""
    if code is not None and code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return AlertHubError
