"""``hangup emitter --listen``: the same protections as ``hangup serve`` (token, loopback rule, browser guard)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from hangup.cli.emit import emitter as emitter_command
from hangup.cli.emit import listener_app
from hangup.emit.outbox import SQLiteOutbox
from hangup.emit.service import Emitter
from hangup.settings import load_settings

EVENT = "/api/events/call-started"
STARTED = {"sid": "6364e8b3-bdac-436e-9631-0bce2498ce0c", "from_service_id": "p", "from_user_id": "alice",
           "to_service_id": "p", "to_user_id": "bob", "setup_time": 1_700_000_000, "srcip": "198.51.100.7",
           "dstip": "198.51.100.8"}


def _post(app: Any, headers: dict[str, str], content: bytes) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8090") as client:
            return await client.post(EVENT, content=content, headers=headers)

    return asyncio.run(go())


@pytest.fixture
def emitter(tmp_path: Any) -> Any:
    outbox = SQLiteOutbox(f"sqlite:///{tmp_path / 'emit.db'}")
    yield Emitter(outbox, "http://127.0.0.1:9/call_event")
    outbox.close()


BODY = httpx.Request("POST", "/", json=STARTED).content
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("env", "headers", "status"),
    [
        ({}, JSON, 202),
        ({}, {"content-type": "text/plain"}, 415),  # a cross-site form or fetch without preflight
        ({}, {**JSON, "origin": "https://attacker.example"}, 403),
        ({}, {**JSON, "host": "rebound.example"}, 403),
        ({"HANGUP_API_TOKEN": "t0ken"}, JSON, 401),
        ({"HANGUP_API_TOKEN": "t0ken"}, {**JSON, "authorization": "Bearer wrong"}, 403),
        ({"HANGUP_API_TOKEN": "t0ken"}, {**JSON, "authorization": "Bearer t0ken", "host": "emit.example"}, 202),
    ],
)
def test_the_listener_is_guarded_like_the_server(emitter: Emitter, env: dict[str, str], headers: dict[str, str],
                                                 status: int) -> None:
    app = listener_app(emitter, "127.0.0.1", load_settings(env))
    assert _post(app, headers, BODY).status_code == status


def test_a_public_listener_needs_a_token(tmp_path: Any) -> None:
    result = CliRunner().invoke(emitter_command, ["--url", "http://127.0.0.1:9/x", "--db",
                                      f"sqlite:///{tmp_path}/e.db", "--listen", "0.0.0.0:8090"])
    assert result.exit_code != 0 and "HANGUP_API_TOKEN" in result.output
