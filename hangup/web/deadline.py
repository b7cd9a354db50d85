"""A read deadline for every request: a client that does not finish sending one in time is disconnected.

uvicorn (0.55) has no header or body read timeout: its keep-alive timer runs only between requests, so a
client that connects and sends nothing, or half a request line, or headers without the blank line, or less
body than it announced, holds its connection (a file descriptor) forever. About 1,000 such clients (the
usual descriptor limit) and no platform can deliver a callback any more.

``DeadlineProtocol`` is uvicorn's httptools protocol with one timer per request: armed when the connection
opens and when the first byte of a new request arrives, disarmed once the whole request (line, headers and
body) has been read. When it fires the connection is closed; an application already reading that request's
body sees ``http.disconnect`` and stores nothing. Idle keep-alive connections stay governed by uvicorn's
``timeout_keep_alive``. ``hangup serve`` combines it with uvicorn's ``limit_concurrency`` (a cap on open
connections, answered 503 above it), so idle connections are both few and short-lived.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from hangup.settings import BY_NAME, cast


@functools.cache
def read_timeout() -> float:
    """``HANGUP_REQUEST_READ_TIMEOUT`` from the environment: uvicorn takes a protocol class, not an instance,
    and worker processes (``--workers``) get hangup's settings through their environment."""
    setting = BY_NAME["request_read_timeout"]
    return float(cast(setting, os.environ.get(setting.env, setting.default)))


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a per-request read deadline (see the module docstring)."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._deadline: asyncio.TimerHandle | None = None
        self._timeout = read_timeout()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self._timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


__all__ = ["DeadlineProtocol", "read_timeout"]
