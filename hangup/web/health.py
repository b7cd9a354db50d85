"""``/healthz`` (the process answers) and ``/readyz`` (the store can commit a write).

``/readyz`` is a real write: it rewrites the writer's own row of the ``heartbeat`` table (keyed by the writer's
shard, ``hangup.store.shards``, so nodes sharing a PostgreSQL database never wait on each other's beat) through
the store's writer (on SQLite the file's one writer thread, which first checks that the path still names the
file it opened; on PostgreSQL a short transaction of the call store's writer connection). So a deleted or
replaced file, a full disk, a read-only file or WAL index (``-shm``), a missing schema or a lost PostgreSQL
connection make it 503, naming why — the same failures that make a callback 503 instead of acknowledging a call
that was not stored.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hangup import __version__
from hangup.errors import StoreError
from hangup.web.responses import JSONBody, error_response
from hangup.web.state import AppState

log = logging.getLogger("hangup.web.health")


async def healthz(request: Request) -> Response:
    return JSONBody({"ok": True, "version": __version__})


async def readyz(request: Request) -> Response:
    state: AppState = request.app.state.hangup
    try:
        await state.store.aping()
    except StoreError as exc:
        return error_response(503, f"the store is not writable: {exc}", error_id="not_ready")
    except Exception as exc:  # anything else a write can raise (a write hook, the driver): not ready either
        log.exception("readiness write failed")
        return error_response(503, f"the store is not writable: {type(exc).__name__}: {exc}", error_id="not_ready")
    stats = state.store.writer_stats()
    return JSONBody({"ok": True, "store": state.store.url.split("?", 1)[0].split("@")[-1],
                     "writer_queue": stats.queue_depth, "writer_batches": stats.batches,
                     "writer_events": stats.events})


routes: list[BaseRoute] = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
