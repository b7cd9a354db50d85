"""What receiver tests share: Planet callback queries, the spec example, a sync client on an ASGI app.

A module of its own (not ``conftest``) so that tests import it by a name no other ``conftest.py`` shadows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio.from_thread
import httpx

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


class SyncClient:
    """An httpx client on an ASGI app, driven from synchronous tests through an event loop in a thread."""

    def __init__(self, app: Any, stack: ExitStack, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
        stack.enter_context(self.portal.wrap_async_context_manager(app.router.lifespan_context(app)))
        transport = httpx.ASGITransport(app=app, client=client)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://localhost")
        stack.callback(self.portal.call, self.client.aclose)
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(functools.partial(self.client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


ClientFactory = Callable[..., SyncClient]
