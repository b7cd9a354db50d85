"""Helpers shared by the emitter tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hangup.emit.outbox import SQLiteOutbox


class Clock:
    """A settable clock for the outbox and the deliverer."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class AsgiClient:
    """A synchronous client for an ASGI app over httpx's ASGI transport (no network, no lifespan)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def post(self, path: str, json: Any = None, content: bytes | None = None) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://emitter.test") as client:
                if content is not None:
                    return await client.post(path, content=content)
                return await client.post(path, json=json)

        return asyncio.run(go())


# Fixtures live here rather than in a conftest.py: a second module named ``conftest`` would shadow the
# suite's own for tests that import helpers from it. Test modules import the fixtures they use.
@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock()


@pytest.fixture(name="outbox")
def outbox_fixture(tmp_path: Path) -> Iterator[SQLiteOutbox]:
    box = SQLiteOutbox(f"sqlite:///{tmp_path / 'emit.db'}")
    yield box
    box.close()
