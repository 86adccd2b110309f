"""The real alerthub binary as a subprocess, the way the Rust suite runs it
(tests/api/process.rs): a free loopback port, a temp SQLite file, known
secrets, ready when its log says ``starting service``.

The binary is ``$ALERTHUB_BIN``, else ``target/debug/alerthub`` at the
repository root (build it with ``cargo build``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SERVICE_KEY = "test-service-key-5f1c0b"
JWT_SECRET = "test-jwt-secret-0c9d7e"
STARTUP_PATIENCE = 30.0


def binary() -> Path:
    path = Path(os.environ.get("ALERTHUB_BIN") or REPO_ROOT / "target" / "debug" / "alerthub")
    if not path.is_file():
        pytest.fail(
            f"no alerthub binary at {path}: run `cargo build` at the repository root, "
            "or point ALERTHUB_BIN at one",
            pytrace=False,
        )
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """One ``alerthub serve`` process with its own SQLite file."""

    def __init__(self, workdir: Path, port: Optional[int] = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.db_path = workdir / "a.db"
        self.url = f"http://127.0.0.1:{self.port}"
        self.log: List[str] = []
        self.process: Optional[subprocess.Popen[str]] = None

    def start(self) -> Server:
        env = {
            "RUST_LOG": "info",
            "ALERTHUB_BIND": f"127.0.0.1:{self.port}",
            "DATABASE_URL": f"sqlite://{self.db_path}",
            "ALERTHUB_JWT_SECRET": JWT_SECRET,
            "ALERTHUB_SERVICE_KEYS": SERVICE_KEY,
        }
        self.process = subprocess.Popen(
            [str(binary()), "serve"],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = threading.Event()
        stderr = self.process.stderr
        assert stderr is not None

        def drain() -> None:
            # Keeps reading after readiness so the server never blocks on a
            # full pipe.
            for line in stderr:
                self.log.append(line.rstrip("\n"))
                if "starting service" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(STARTUP_PATIENCE) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError("alerthub did not start:\n" + "\n".join(self.log))
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def user_get(self, path: str, credential: str) -> httpx.Response:
        """A call of the user API (``Bearer <JWT>`` or ``Token <opaque>``)."""
        return httpx.get(self.url + path, headers={"Authorization": credential}, timeout=10)

    def user_alerts(self, user_id: str) -> List[Dict[str, Any]]:
        """Every stored alert of a user, via the REST list endpoint."""
        response = self.user_get("/api/v1/alerts?limit=200", "Bearer " + jwt(user_id))
        assert response.status_code == 200, response.text
        alerts: List[Dict[str, Any]] = response.json()["alerts"]
        return alerts


def jwt(user_id: str, ttl: int = 3600, issued_ago: int = 0) -> str:
    """An HS256 access token for the user, signed with the test secret,
    issued ``issued_ago`` seconds ago (its ``iat``)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time()) - issued_ago
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"user_id": user_id, "token_type": "access", "iat": now, "exp": now + ttl}
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(JWT_SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def unique(prefix: str = "u") -> str:
    """A fresh user or breach id, so tests sharing a server never collide."""
    return f"{prefix}{uuid.uuid4().hex[:16]}"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by the tests that do not need one of their own."""
    srv = Server(tmp_path_factory.mktemp("alerthub")).start()
    yield srv
    srv.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own (not started: the test starts it)."""
    srv = Server(tmp_path)
    yield srv
    srv.stop()
