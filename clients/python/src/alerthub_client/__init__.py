"""Python client for alerthub's service API: trigger alerts, sign users
out, manage their opaque tokens. Sync (``AlertHub``) and async
(``AsyncAlertHub``), with safe retries and typed errors.

    from alerthub_client import AlertHub
    with AlertHub("http://127.0.0.1:8000", "k1") as hub:
        hub.send_alert("1", "BREACH_001", "Data Breach Detected", "HIGH", 0.95)
"""

__version__ = "0.1.0"

from ._client import AlertHub, AsyncAlertHub
from ._errors import (
    AlertHubError,
    Forbidden,
    InvalidJson,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    TemporaryError,
    TransportError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from ._models import (
    Alert,
    AlertResult,
    BatchItemResult,
    NewAlert,
    Severity,
    SignOutResult,
    Token,
)
from ._retry import RetryPolicy

__all__ = [
    "Alert",
    "AlertHub",
    "AlertHubError",
    "AlertResult",
    "AsyncAlertHub",
    "BatchItemResult",
    "Forbidden",
    "InvalidJson",
    "NewAlert",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "Severity",
    "SignOutResult",
    "TemporaryError",
    "Token",
    "TransportError",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "__version__",
]
