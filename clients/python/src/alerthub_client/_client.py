"""``AlertHub`` (sync) and ``AsyncAlertHub`` (async): the same calls, the
same retry loop; one sleeps with ``time.sleep``, the other with ``anyio``."""

from __future__ import annotations

import random
import time
from types import TracebackType
from typing import Any, List, Mapping, Optional, Sequence, Type, TypeVar, Union

import anyio
import httpx

from . import _core
from ._core import Call
from ._models import (
    AlertResult,
    BatchItemResult,
    NewAlert,
    SeverityLike,
    SignOutResult,
    Timestamp,
    Token,
    UserId,
)
from ._retry import Attempts, RetryPolicy

T = TypeVar("T")

#: Default timeout of one attempt, in seconds.
DEFAULT_TIMEOUT = 10.0


def _policy(retries: Union[int, RetryPolicy]) -> RetryPolicy:
    if isinstance(retries, RetryPolicy):
        return retries
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError("retries is a RetryPolicy or a number of retries (0 or more)")
    return RetryPolicy(max_attempts=retries + 1)


def _settings(base_url: str, service_key: str, timeout: float) -> Mapping[str, Any]:
    if not base_url.startswith(("http://", "https://")):
        raise ValueError("base_url must start with http:// or https://")
    if not service_key or not isinstance(service_key, str):
        raise ValueError("service_key must be a non-empty string")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    from . import __version__

    return {
        "base_url": base_url,
        # httpx masks the Authorization header in its reprs and logs.
        "headers": {
            "Authorization": f"Bearer {service_key}",
            "User-Agent": f"alerthub-client-python/{__version__}",
            "Accept": "application/json",
        },
        "timeout": timeout,
        "follow_redirects": False,
    }


class _Base:
    """What both clients keep. The service key lives only in the HTTP
    client's default headers, never in an attribute of its own."""

    def __init__(self, base_url: str, timeout: float, retries: Union[int, RetryPolicy]) -> None:
        self.base_url = base_url
        self.timeout = float(timeout)
        self.retry_policy = _policy(retries)
        self._rng = random.Random()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, service_key='***')"

    def _attempts(self, call: Call[Any]) -> Attempts:
        return Attempts(self.retry_policy, call.retry, call.what, self._rng)


class AlertHub(_Base):
    """Blocking client for alerthub's service API.

    ``AlertHub(base_url, service_key)``; use it as a context manager or call
    ``close()``. One instance may be shared by threads (it pools
    connections); create it once per process, not per alert.

    ``timeout`` is per attempt (seconds); ``retries`` is how many times a
    retryable failure is tried again (default 4), or a ``RetryPolicy``.
    """

    def __init__(
        self,
        base_url: str,
        service_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: Union[int, RetryPolicy] = 4,
    ) -> None:
        super().__init__(base_url, timeout, retries)
        self._http = httpx.Client(**_settings(base_url, service_key, timeout))

    def __enter__(self) -> AlertHub:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the pooled connections."""
        self._http.close()

    def send_alert(
        self,
        user_id: UserId,
        breach_id: str,
        title: str,
        severity: SeverityLike,
        confidence: float,
        *,
        detected_at: Optional[Timestamp] = None,
        description: Optional[str] = None,
        source: Optional[str] = None,
    ) -> AlertResult:
        """Triggers one alert (``POST /api/v1/alerts``); retried safely.

        ``created`` is ``False`` when the (``user_id``, ``breach_id``) pair
        was stored before (by an earlier call, or by an attempt of this one
        whose answer was lost): the stored alert is returned and nothing is
        pushed again.
        """
        alert = NewAlert(user_id, breach_id, title, severity, confidence, detected_at, description, source)
        return self._run(_core.send_alert(alert))

    def send_batch(self, alerts: Sequence[Union[NewAlert, Mapping[str, Any]]]) -> List[BatchItemResult]:
        """Triggers 1 to 1,000 alerts in one transaction
        (``POST /api/v1/alerts/batch``); results in request order. If any item
        is invalid nothing is stored and ``ValidationFailed.details`` is keyed
        by the item's index. Retried safely."""
        return self._run(_core.send_batch(alerts))

    def sign_out(
        self, user_id: UserId, *, except_session: Optional[str] = None, revoke_tokens: bool = True
    ) -> SignOutResult:
        """Closes every session of the user (except ``except_session``) and,
        with ``revoke_tokens``, revokes their opaque tokens and refuses JWTs
        issued before now. Idempotent, retried."""
        return self._run(_core.sign_out(user_id, except_session, revoke_tokens))

    def create_token(self, user_id: UserId, *, label: Optional[str] = None) -> Token:
        """Creates an opaque user token. Not idempotent: retried only when no
        connection could be made; after a timeout the token may or may not
        exist (``TransportError``)."""
        return self._run(_core.create_token(user_id, label))

    def revoke_token(self, token: str) -> bool:
        """Revokes an opaque token; ``True`` if this call revoked it, ``False``
        if it was unknown or already revoked. Idempotent, retried: after a
        retry ``False`` can also mean a lost earlier attempt revoked it."""
        return self._run(_core.revoke_token(token))

    def _run(self, call: Call[T]) -> T:
        attempts = self._attempts(call)
        while True:
            timeout = attempts.begin(self.timeout)
            try:
                response = self._http.request(call.method, call.path, json=call.body, timeout=timeout)
            except httpx.TransportError as exc:
                delay = attempts.after_transport_error(exc)
            else:
                if response.is_success:
                    return _core.read_answer(call, response)
                delay = attempts.after_error(_core.error_from(response))
            time.sleep(delay)


class AsyncAlertHub(_Base):
    """The async twin of ``AlertHub`` (asyncio or trio): the same calls, to
    be awaited; ``async with`` or ``await aclose()``."""

    def __init__(
        self,
        base_url: str,
        service_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: Union[int, RetryPolicy] = 4,
    ) -> None:
        super().__init__(base_url, timeout, retries)
        self._http = httpx.AsyncClient(**_settings(base_url, service_key, timeout))

    async def __aenter__(self) -> AsyncAlertHub:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the pooled connections."""
        await self._http.aclose()

    async def send_alert(
        self,
        user_id: UserId,
        breach_id: str,
        title: str,
        severity: SeverityLike,
        confidence: float,
        *,
        detected_at: Optional[Timestamp] = None,
        description: Optional[str] = None,
        source: Optional[str] = None,
    ) -> AlertResult:
        """See ``AlertHub.send_alert``."""
        alert = NewAlert(user_id, breach_id, title, severity, confidence, detected_at, description, source)
        return await self._run(_core.send_alert(alert))

    async def send_batch(self, alerts: Sequence[Union[NewAlert, Mapping[str, Any]]]) -> List[BatchItemResult]:
        """See ``AlertHub.send_batch``."""
        return await self._run(_core.send_batch(alerts))

    async def sign_out(
        self, user_id: UserId, *, except_session: Optional[str] = None, revoke_tokens: bool = True
    ) -> SignOutResult:
        """See ``AlertHub.sign_out``."""
        return await self._run(_core.sign_out(user_id, except_session, revoke_tokens))

    async def create_token(self, user_id: UserId, *, label: Optional[str] = None) -> Token:
        """See ``AlertHub.create_token``."""
        return await self._run(_core.create_token(user_id, label))

    async def revoke_token(self, token: str) -> bool:
        """See ``AlertHub.revoke_token``."""
        return await self._run(_core.revoke_token(token))

    async def _run(self, call: Call[T]) -> T:
        attempts = self._attempts(call)
        while True:
            timeout = attempts.begin(self.timeout)
            try:
                response = await self._http.request(call.method, call.path, json=call.body, timeout=timeout)
            except httpx.TransportError as exc:
                delay = attempts.after_transport_error(exc)
            else:
                if response.is_success:
                    return _core.read_answer(call, response)
                delay = attempts.after_error(_core.error_from(response))
            await anyio.sleep(delay)
