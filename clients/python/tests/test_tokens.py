"""Sign-out and opaque tokens over REST (contract §5), against the real
server."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from alerthub_client import (
    AlertHub,
    AsyncAlertHub,
    Forbidden,
    NotFound,
    Token,
    TransportError,
    Unauthorized,
    ValidationFailed,
)

from .conftest import SERVICE_KEY, Server, jwt, unique
from .test_retries import QUICK, LockedDatabase, retries_logged, start_later



def token_works(server: Server, token: str) -> bool:
    status = server.user_get("/api/v1/alerts/unread-count", "Token " + token).status_code
    assert status in (200, 401), status
    return status == 200


def test_create_use_and_revoke_a_token(server: Server) -> None:
    user = unique()
    with AlertHub(server.url, SERVICE_KEY) as hub:
        token = hub.create_token(user, label="scanner test")
        assert isinstance(token, Token)
        assert token.user_id == user and token.token_id and token.token
        assert token.token not in repr(token) + str(token)
        assert token_works(server, token.token)

        assert hub.revoke_token(token.token) is True
        assert not token_works(server, token.token)
        assert hub.revoke_token(token.token) is False  # already revoked
        assert hub.revoke_token("ahk_never_issued") is False


def test_create_token_label_too_long(server: Server) -> None:
    with AlertHub(server.url, SERVICE_KEY) as hub:
        hub.create_token(unique())
        with pytest.raises(ValidationFailed) as caught:
            hub.create_token(unique(), label="x" * 65)
    assert "label" in caught.value.details


def test_token_calls_need_a_service_key(server: Server) -> None:
    with AlertHub(server.url, SERVICE_KEY) as hub:
        hub.create_token(unique())
    with AlertHub(server.url, "not-a-key") as hub, pytest.raises(Unauthorized):
        hub.create_token(unique())
    with AlertHub(server.url, jwt(unique())) as hub, pytest.raises(Forbidden):
        hub.create_token(unique())


def test_sign_out_revokes_the_users_tokens(server: Server) -> None:
    user, bystander = unique(), unique()
    old_jwt = "Bearer " + jwt(user, issued_ago=10)
    with AlertHub(server.url, SERVICE_KEY) as hub:
        mine = hub.create_token(user)
        theirs = hub.create_token(bystander)
        assert server.user_get("/api/v1/alerts/unread-count", old_jwt).status_code == 200
        before = datetime.now(timezone.utc) - timedelta(seconds=5)
        result = hub.sign_out(user)
    assert result.user_id == user
    assert before <= result.signed_out_at <= datetime.now(timezone.utc) + timedelta(seconds=5)
    assert not token_works(server, mine.token)
    assert token_works(server, theirs.token)
    # A JWT issued before the sign-out is refused from now on.
    assert server.user_get("/api/v1/alerts/unread-count", old_jwt).status_code == 401


def test_sign_out_can_keep_tokens(server: Server) -> None:
    user = unique()
    with AlertHub(server.url, SERVICE_KEY) as hub:
        token = hub.create_token(user)
        hub.sign_out(user, revoke_tokens=False, except_session="nope")
        assert token_works(server, token.token)
        # Signing out twice is harmless (which is why it is retried).
        hub.sign_out(user, revoke_tokens=False)
        hub.sign_out(user)
    assert not token_works(server, token.token)


def test_sign_out_of_an_invalid_user_id_is_not_found(server: Server) -> None:
    with AlertHub(server.url, SERVICE_KEY) as hub:
        hub.sign_out(unique())
        with pytest.raises(NotFound):
            hub.sign_out("not a valid id!")


@pytest.mark.anyio
async def test_async_tokens_and_sign_out(server: Server) -> None:
    user = unique()
    async with AsyncAlertHub(server.url, SERVICE_KEY) as hub:
        token = await hub.create_token(user)
        assert token_works(server, token.token)
        result = await hub.sign_out(user)
        assert result.user_id == user
        assert not token_works(server, token.token)
        assert await hub.revoke_token(token.token) is False


def test_create_token_is_retried_while_nothing_was_sent(
    own_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    """Connection refused: the request never left, so a retry cannot
    create a second token."""
    caplog.set_level(logging.WARNING, logger="alerthub_client")
    starter = start_later(own_server, 0.6)
    with AlertHub(own_server.url, SERVICE_KEY, retries=QUICK) as hub:
        token = hub.create_token(unique())
    starter.join()
    assert token.token
    assert len(retries_logged(caplog)) >= 2


def test_create_token_is_not_retried_once_sent(own_server: Server, caplog: pytest.LogCaptureFixture) -> None:
    """A timeout after the request reached the server: retrying could
    create a second token, so the client raises instead."""
    caplog.set_level(logging.WARNING, logger="alerthub_client")
    own_server.start()
    with AlertHub(own_server.url, SERVICE_KEY, timeout=0.5, retries=QUICK) as hub:
        hub.create_token(unique())
        lock = LockedDatabase(str(own_server.db_path))
        releaser = lock.release_after(1.0)
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            hub.create_token(unique(), label="may or may not exist")
        elapsed = time.monotonic() - started
        releaser.join()
    assert caught.value.attempts == 1
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert elapsed < 0.9
    assert retries_logged(caplog) == []

