"""The emitter inside ``hangup serve``: its routes, a lifespan hook for delivery and one for the demo feed.

Settings (rows of ``hangup.settings.SETTINGS``, read from ``HANGUP_*`` variables, documented in
``docs/emitter.md`` and ``docs/settings.md``):

======================== ========== =================================================================
name                     default    meaning
======================== ========== =================================================================
emit_url                 (empty)    receiver URL of the call-event callback; empty = emitter off
emit_secret              (empty)    HMAC-SHA256 signing secret (``X-Hangup-Signature``)
emit_deliver             true       run the delivery loop inside ``hangup serve`` (false: ``hangup emitter`` does)
emit_orphan_timeout      3600       seconds after call-started with no call-ended before closing as orphaned
emit_max_age             86400      seconds after which an undelivered callback is dead-lettered
emit_per_destination     8          requests in flight to one receiver
emit_timeout             10         seconds per delivery request
demo                     false      feed simulated demo traffic (stid ``demo``) into this server
demo_rate                2          demo calls per second
======================== ========== =================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, fields
from typing import Protocol

from starlette.routing import BaseRoute, Route

from hangup.emit import api
from hangup.emit.delivery import DeliveryConfig
from hangup.emit.outbox import open_outbox
from hangup.emit.service import Emitter
from hangup.emit.simulate import Simulator
from hangup.errors import HangupError
from hangup.settings import Settings, load_settings
from hangup.store.base import Store

log = logging.getLogger("hangup.emit")

DEMO_STID = "demo"
DEMO_BACKFILL = 1800  # seconds of past demo traffic stored at start, so the dashboard has data at once


class ServerState(Protocol):
    """What the hooks need of ``hangup serve``'s shared state (``hangup.web.state.ServerState``)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...


@dataclass(frozen=True, slots=True)
class EmitSettings:
    """The emitter's rows of the settings table (see the module docstring)."""

    emit_url: str = ""
    emit_secret: str = ""
    emit_deliver: bool = True
    emit_orphan_timeout: float = 3600.0
    emit_max_age: float = 86_400.0
    emit_per_destination: int = 8
    emit_timeout: float = 10.0
    demo: bool = False
    demo_rate: float = 2.0


def emit_settings(settings: Settings) -> EmitSettings:
    """The emitter's rows of hangup's settings table (``hangup.settings.SETTINGS``)."""
    return EmitSettings(**{field.name: getattr(settings, field.name) for field in fields(EmitSettings)})


def load_emit_settings(environ: Mapping[str, str] | None = None) -> EmitSettings:
    """Read ``HANGUP_EMIT_*`` and ``HANGUP_DEMO*``; a bad value is a ``ConfigError`` naming the variable."""
    return emit_settings(load_settings(environ))


@contextlib.asynccontextmanager
async def emitter_lifespan(state: ServerState) -> AsyncIterator[None]:
    """Open the outbox in the server's database and, when configured, deliver from inside the server."""
    settings = emit_settings(state.settings)
    if not settings.emit_url:
        yield
        return
    config = DeliveryConfig(
        timeout=settings.emit_timeout, per_destination=settings.emit_per_destination, max_age=settings.emit_max_age,
        secret=settings.emit_secret,
    )  # fmt: skip
    outbox = await asyncio.to_thread(open_outbox, state.store.url)  # the same database as the call log
    emitter = Emitter(outbox, settings.emit_url, config, orphan_timeout=settings.emit_orphan_timeout)
    api.register(state, emitter)
    stop = asyncio.Event()
    worker = asyncio.create_task(emitter.run(stop)) if settings.emit_deliver else None
    try:
        yield
    finally:
        stop.set()
        if worker is not None:
            await worker
        api.unregister(state)
        outbox.close()


@contextlib.asynccontextmanager
async def demo_lifespan(state: ServerState) -> AsyncIterator[None]:
    """With ``HANGUP_DEMO`` on, feed simulated calls (stid ``demo``) into this server's own receiver path."""
    settings = emit_settings(state.settings)
    if not settings.demo:
        yield
        return
    log.warning("DEMO MODE: storing simulated calls (stid=%s) at %.1f calls/s", DEMO_STID, settings.demo_rate)
    task = asyncio.create_task(feed_demo(state, settings.demo_rate))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def feed_demo(state: ServerState, rate: float, backfill: float = DEMO_BACKFILL) -> None:
    """Store ``backfill`` seconds of past traffic at once, then new calls in real time, through the receiver path."""
    from hangup import ingest
    from hangup.providers.base import WebhookRequest
    from hangup.providers.registry import get_provider

    provider = get_provider("planet")
    secrets = state.settings.secrets()
    simulator = Simulator(stid=DEMO_STID)

    async def store(query: str) -> None:
        request = WebhookRequest("GET", f"{state.settings.planet_path}?{query}", query, received_at=time.time())
        try:
            await ingest.receive(provider, request, state.store, secrets)
        except HangupError as exc:  # a demo call the receiver refuses is a bug to see in the log, not a crash
            log.error("demo callback refused: %s (%s)", exc, query)

    now = int(time.time())
    past = [call.event.to_query() for call in simulator.calls(rate, backfill, now - int(backfill))]
    for start in range(0, len(past), 256):
        await asyncio.gather(*(store(q) for q in past[start : start + 256]))
    while True:  # Poisson arrivals, each call ending now
        await asyncio.sleep(simulator.rng.expovariate(rate))
        await store(simulator.call(0.0, int(time.time())).event.to_query())


def emit_routes() -> list[BaseRoute]:
    """The event routes, and the emitter's metrics alone at ``/metrics/emitter`` (``/metrics`` has them too)."""
    return [*api.routes(), Route("/metrics/emitter", api.emitter_metrics, methods=["GET"])]


routes: list[BaseRoute] = emit_routes()
