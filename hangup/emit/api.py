"""HTTP input of the emitter: ``POST /api/events/call-ended`` and ``POST /api/events/call-started``.

Both take JSON (``CallFacts`` / ``StartFacts``, see ``docs/emitter.md``), answer 4xx in hangup's one JSON error
shape naming the bad fields, and answer 2xx only after the event is committed to the outbox.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hangup.emit import metrics
from hangup.emit.facts import decode_facts, decode_json
from hangup.emit.service import Emitter, StartFacts
from hangup.errors import HTTPError, NotFound, PayloadTooLarge

MAX_BODY = 65_536
EMITTER_STATE = "emitter"  # attribute of ``app.state`` holding the ``Emitter`` of a stand-alone emitter app
SERVER_STATE = "hangup"  # attribute of ``app.state`` holding ``hangup serve``'s AppState
_EMITTERS: weakref.WeakKeyDictionary[Any, Emitter] = weakref.WeakKeyDictionary()


def register(server_state: Any, emitter: Emitter) -> None:
    """Make ``emitter`` take the events of the server whose ``app.state.hangup`` is ``server_state``."""
    _EMITTERS[server_state] = emitter


def unregister(server_state: Any) -> None:
    _EMITTERS.pop(server_state, None)


def _emitter(request: Request) -> Emitter:
    emitter: Emitter | None = getattr(request.app.state, EMITTER_STATE, None)
    server_state = getattr(request.app.state, SERVER_STATE, None)
    if emitter is None and server_state is not None:
        emitter = _EMITTERS.get(server_state)
    if emitter is None:
        raise NotFound("the emitter is not enabled on this server (set HANGUP_EMIT_URL)")
    return emitter


async def _body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise PayloadTooLarge(f"body larger than {MAX_BODY} bytes", [{"field": "$", "error": "too large"}])
    return body


def _error(exc: HTTPError) -> JSONResponse:
    return JSONResponse(exc.to_json(), status_code=exc.status)


async def call_ended(request: Request) -> Response:
    try:
        emitter = _emitter(request)
        facts = decode_facts(await _body(request))
        result = await asyncio.to_thread(emitter.call_ended, facts)
    except HTTPError as exc:
        return _error(exc)
    body = {"ok": True, "id": result.id, "duplicate": not result.created, "callback": msgspec.to_builtins(result.event)}
    return JSONResponse(body, status_code=202 if result.created else 200)


async def call_started(request: Request) -> Response:
    try:
        emitter = _emitter(request)
        start = decode_json(await _body(request), StartFacts, "call start")
        created = await asyncio.to_thread(emitter.call_started, start)
    except HTTPError as exc:
        return _error(exc)
    return JSONResponse({"ok": True, "sid": start.sid, "duplicate": not created}, status_code=202 if created else 200)


def routes() -> list[BaseRoute]:
    """The emitter's routes, for the server's route list."""
    return [
        Route("/api/events/call-ended", call_ended, methods=["POST"]),
        Route("/api/events/call-started", call_started, methods=["POST"]),
    ]


async def emitter_metrics(request: Request) -> Response:
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


def create_emitter_app(emitter: Emitter) -> Starlette:
    """A stand-alone app with the emitter's input routes and its ``/metrics`` (``hangup emitter --listen``)."""
    app = Starlette(routes=[*routes(), Route("/metrics", emitter_metrics, methods=["GET"])])
    setattr(app.state, EMITTER_STATE, emitter)
    return app
