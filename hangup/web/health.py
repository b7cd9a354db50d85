"""``/healthz`` (the process answers) and ``/readyz`` (the store can commit a write)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hangup import __version__
from hangup.errors import StoreError
from hangup.web.responses import JSONBody, error_response
from hangup.web.state import AppState


async def healthz(request: Request) -> Response:
    return JSONBody({"ok": True, "version": __version__})


async def readyz(request: Request) -> Response:
    state: AppState = request.app.state.hangup
    try:
        await state.store.aping()
    except StoreError as exc:
        return error_response(503, f"the store is not writable: {exc}", error_id="not_ready")
    stats = state.store.writer_stats()
    return JSONBody({"ok": True, "store": state.store.url.split("?", 1)[0].split("@")[-1],
                     "writer_queue": stats.queue_depth, "writer_batches": stats.batches,
                     "writer_events": stats.events})


routes: list[BaseRoute] = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
