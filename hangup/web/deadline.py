"""A read deadline for every request: a client that does not finish sending one in time is disconnected.

uvicorn (0.55) has no header or body read timeout: its keep-alive timer runs only between requests, so a
client that connects and sends nothing, or half a request line, or headers without the blank line, or less
body than it announced, holds its connection (a file descriptor) forever. About 1,000 such clients (the
usual descriptor limit) and no platform can deliver a callback any more.

``DeadlineProtocol`` is uvicorn's httptools protocol with a read deadline per request: the time its first
byte arrived (or the connection opened) is noted, and cleared once the whole request (line, headers and
body) has been read. One sweep a second per event loop closes every connection whose note is older than
the deadline, so a connection is closed at most a second after its deadline; an application already
reading that request's body sees ``http.disconnect`` and stores nothing. A timer armed and cancelled per
request did the same at about 8 us of CPU per callback (``bench/ingest/run.py``); noting a time costs
nothing measurable. Idle keep-alive connections stay governed by uvicorn's ``timeout_keep_alive``.
``hangup serve`` combines it with uvicorn's ``limit_concurrency`` (a cap on open connections, answered
503 above it), so idle connections are both few and short-lived.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any, ClassVar

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


#: Seconds between two sweeps for connections past their deadline.
SWEEP_INTERVAL = 1.0


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a per-request read deadline (see the module docstring)."""

    #: Open connections, by event loop, and each loop's next sweep.
    _open: ClassVar[dict[asyncio.AbstractEventLoop, set[DeadlineProtocol]]] = {}
    _sweeps: ClassVar[dict[asyncio.AbstractEventLoop, asyncio.TimerHandle]] = {}

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._timeout = read_timeout()
        self._reading_since: float | None = None  # loop time the request being read began; None between requests

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._reading_since = self.loop.time()
        self._open.setdefault(self.loop, set()).add(self)
        if self.loop not in self._sweeps:
            self._sweeps[self.loop] = self.loop.call_later(SWEEP_INTERVAL, DeadlineProtocol._sweep, self.loop)

    def connection_lost(self, exc: Exception | None) -> None:
        self._open.get(self.loop, set()).discard(self)
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_since = self.loop.time()

    def on_message_complete(self) -> None:
        self._reading_since = None
        super().on_message_complete()

    @staticmethod
    def _sweep(loop: asyncio.AbstractEventLoop) -> None:
        """Close the connections past their deadline; come back in a second while any is open."""
        now = loop.time()
        connections = DeadlineProtocol._open.get(loop, set())
        for late in [c for c in connections if c._reading_since is not None and now - c._reading_since > c._timeout]:
            late._reading_since = None
            if not late.transport.is_closing():
                late.transport.close()
        if connections:
            DeadlineProtocol._sweeps[loop] = loop.call_later(SWEEP_INTERVAL, DeadlineProtocol._sweep, loop)
        else:
            DeadlineProtocol._sweeps.pop(loop, None)
            DeadlineProtocol._open.pop(loop, None)


__all__ = ["DeadlineProtocol", "read_timeout"]
