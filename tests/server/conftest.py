"""Fixtures for the server: the real app on uvicorn at a free 127.0.0.1 port, a token per role."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

ROLES = ("viewer", "operator", "editor", "admin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    url: str
    session: Any
    tokens: dict[str, str]

    def client(self, role: str | None = "admin") -> httpx.Client:
        headers = {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def serve(app: Any) -> Iterator[str]:
    """Run ``app`` on uvicorn in a thread; yields its URL, stops it afterwards."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live(session: Any) -> Iterator[Live]:
    """The API over the test session on a real uvicorn, with one token per role."""
    from nbflow.server.app import create_app
    from nbflow.session.access import create_token

    tokens = {role: create_token(f"t-{role}", role, session=session) for role in ROLES}
    for url in serve(create_app(session)):
        yield Live(url, session, tokens)
