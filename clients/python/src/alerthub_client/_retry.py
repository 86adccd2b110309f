"""The retry policy, and the bookkeeping one call's attempts share.

Sync and async clients run the same loop; only the sleep differs. The loop
asks ``Attempts`` how long to wait after each failure, and ``Attempts``
either answers a delay or raises the failure (attempts or time used up, or a
failure that is not safe to retry for this call).
"""

from __future__ import annotations

import enum
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, NoReturn, Optional

import httpx

from ._errors import AlertHubError, TemporaryError, TransportError

logger = logging.getLogger("alerthub_client")


@dataclass(frozen=True)
class RetryPolicy:
    """When and how often a call is tried again.

    - ``max_attempts``: requests sent at most, the first included (1 = no retry).
    - Between attempts the client sleeps a random time between 0 and
      ``min(max_delay, base_delay * 2 ** (retry - 1))`` ("full jitter"), so
      many producers that failed together do not come back together.
    - When the server sends ``Retry-After`` (seconds), the client waits at
      least that long.
    - ``max_elapsed``: the time budget of one call, in seconds. A retry whose
      wait would end after it is not made; the last error is raised at once
      (with its ``retry_after``, for a scheduler of your own). Each attempt's
      timeout is also cut to the budget that is left.
    """

    max_attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_elapsed: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_elapsed <= 0:
            raise ValueError("delays must not be negative and max_elapsed must be positive")

    @classmethod
    def none(cls) -> RetryPolicy:
        """One attempt, no retry."""
        return cls(max_attempts=1)

    def backoff(self, retry: int, rng: random.Random) -> float:
        """The jittered wait before retry number ``retry`` (1 for the first)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry - 1)))
        return rng.uniform(0.0, ceiling)


class Retry(enum.Enum):
    """Which failures a call may be retried after."""

    #: The call is idempotent (a trigger, sign-out, revoke): retry after
    #: connection errors, timeouts, 429 and 5xx, even if the request may
    #: have been processed.
    IDEMPOTENT = "idempotent"
    #: The call is not idempotent (``create_token``): retry only when the
    #: request certainly never left this process (no connection could be
    #: made). A timeout, a dropped connection or an error status is raised.
    UNSENT_ONLY = "unsent_only"


# Failures with no answer that may go away: the network, timeouts, a server
# that closed a kept-alive connection. Others (a bad URL scheme, a proxy
# misconfiguration) are raised at once.
_RETRYABLE_TRANSPORT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# Failures that prove the request was never sent.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def parse_retry_after(value: Optional[str], now: Optional[datetime] = None) -> Optional[float]:
    """``Retry-After`` in seconds: the contract sends delta-seconds; an
    HTTP-date (RFC 9110) is understood too. Garbage is ignored."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class Attempts:
    """The attempts of one call: counts them, keeps the clock, decides."""

    def __init__(
        self,
        policy: RetryPolicy,
        retry: Retry,
        what: str,
        rng: random.Random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.retry = retry
        self.what = what
        self.rng = rng
        self.clock = clock
        self.started = clock()
        self.count = 0

    def begin(self, timeout: float) -> float:
        """Counts an attempt; returns its timeout, cut to the budget left."""
        self.count += 1
        left = self.policy.max_elapsed - (self.clock() - self.started)
        return max(0.05, min(timeout, left))

    def after_transport_error(self, exc: httpx.TransportError) -> float:
        """The wait before the next attempt, or raises ``TransportError``."""
        failure = TransportError(
            f"no answer from alerthub: {type(exc).__name__}: {exc}".rstrip(": "),
            attempts=self.count,
        )
        if self.retry is Retry.IDEMPOTENT:
            allowed = isinstance(exc, _RETRYABLE_TRANSPORT)
        else:
            allowed = isinstance(exc, _UNSENT)
        return self._next(failure, allowed, exc)

    def after_error(self, failure: AlertHubError) -> float:
        """The wait before the next attempt, or raises ``failure``."""
        failure.attempts = self.count
        allowed = self.retry is Retry.IDEMPOTENT and isinstance(failure, TemporaryError)
        return self._next(failure, allowed, None)

    def _next(self, failure: AlertHubError, allowed: bool, cause: Optional[BaseException]) -> float:
        if not allowed or self.count >= self.policy.max_attempts:
            _raise(failure, cause)
        delay = self.policy.backoff(self.count, self.rng)
        retry_after = failure.retry_after if isinstance(failure, TemporaryError) else None
        if retry_after is not None:
            delay = max(delay, retry_after)
        elapsed = self.clock() - self.started
        if elapsed + delay >= self.policy.max_elapsed:
            _raise(failure, cause)
        logger.warning(
            "alerthub: %s failed (attempt %d of %d: %s); retrying in %.2fs",
            self.what,
            self.count,
            self.policy.max_attempts,
            _reason(failure),
            delay,
        )
        return delay


def _reason(failure: AlertHubError) -> str:
    if failure.status is None:
        return failure.message
    text = f"HTTP {failure.status} {failure.code}"
    if isinstance(failure, TemporaryError) and failure.retry_after is not None:
        text += f", Retry-After {failure.retry_after:g}s"
    return text


def _raise(failure: AlertHubError, cause: Optional[BaseException]) -> NoReturn:
    if cause is not None:
        raise failure from cause
    raise failure
