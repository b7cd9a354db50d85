"""Shared fixtures: a clean environment, a fresh store, an app client factory, Planet callback queries."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio.from_thread
import httpx
import pytest

from hangup.settings import load_settings
from hangup.store import open_store
from hangup.store.base import Store
from hangup.web.app import create_app

DATA = Path(__file__).parent / "data"
SPEC_EXAMPLE = (DATA / "planet" / "spec-example.txt").read_text().splitlines()[-1].split("?", 1)[1]

#: A well-formed, consistent Planet call event: answered 30 s, ended by the caller.
PLANET_EVENT: dict[str, str] = {
    "sid": "6364e8b3-bdac-436e-9631-0bce2498ce0c", "from_service_id": "planetkit", "from_user_id": "caller.id",
    "to_service_id": "planetkit", "to_user_id": "callee.id", "type": "A", "stid": "generated-by-application",
    "setup_time": "1700000000", "start_time": "1700000005", "end_time": "1700000035", "duration": "30",
    "srcip": "1.2.3.4", "dstip": "1.2.3.3", "call_end_reason": "1004", "terminate": "16", "releaser": "initiator",
    "rel_code": "2", "rel_code_str": "CANCEL", "user_rel_code": "",
}


def planet_query(drop: tuple[str, ...] = (), **values: str) -> str:
    """The consistent event's query string with some values replaced (``None``-free) and keys dropped."""
    params = {**PLANET_EVENT, **values}
    return urlencode([(k, v) for k, v in params.items() if k not in drop])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HANGUP_* setting leaks into a test from the shell (the REQUIRE switches stay)."""
    for name in list(os.environ):
        if name.startswith("HANGUP_") and not name.startswith("HANGUP_REQUIRE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path}/calls.db")
    yield store
    store.close()


class SyncClient:
    """An httpx client on an ASGI app, driven from synchronous tests through an event loop in a thread."""

    def __init__(self, app: Any, stack: ExitStack, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
        stack.enter_context(self.portal.wrap_async_context_manager(app.router.lifespan_context(app)))
        transport = httpx.ASGITransport(app=app, client=client)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        stack.callback(self.portal.call, self.client.aclose)
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(functools.partial(self.client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


ClientFactory = Callable[..., SyncClient]


@pytest.fixture
def make_client(fresh_store: Store) -> Iterator[ClientFactory]:
    """``make_client(HANGUP_X="…", client=("10.0.0.1", 1234))``: an app on ``fresh_store`` with those settings."""
    with ExitStack() as stack:

        def factory(client: tuple[str, int] = ("127.0.0.1", 50000), **env: str) -> SyncClient:
            settings = load_settings(env)
            return SyncClient(create_app(settings, store=fresh_store), stack, client)

        yield factory


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A store URL on a schema of its own in the test PostgreSQL server (``tests/postgres_helpers.py``)."""
    from postgres_helpers import temporary_schema

    with temporary_schema() as url:
        yield url
