"""``create_app(settings)``: the one place the web app is assembled.

Extension points (append a line; keep the lists ordered by concern):

``ROUTE_MODULES``
    modules exposing ``routes: list[starlette.routing.BaseRoute]``; their routes are served in this order.
``PROTECTED_PREFIXES``
    path prefixes that need the API token when ``HANGUP_API_TOKEN`` is set.
``LIFESPAN_HOOKS``
    ``"module:function"`` of ``function(state: AppState) -> AbstractAsyncContextManager[None]``, entered
    after the store is open (register a store write hook, start a background task …) and exited before it
    closes, in reverse order.

Request path: ``CallbackReceiver`` (callbacks, the hot path, before any middleware) → ``PageHeaders`` →
``BrowserGuard`` → ``TokenAuth`` → Starlette routes.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from hangup.composition import attach_standard_hooks, open_configured_store
from hangup.settings import Settings, load_settings
from hangup.store.base import Store
from hangup.types import Receive, Scope, Send
from hangup.web.auth import BrowserGuard, TokenAuth, allowed_hosts
from hangup.web.callbacks import CallbackReceiver
from hangup.web.headers import PageHeaders
from hangup.web.responses import EXCEPTION_HANDLERS
from hangup.web.state import AppState

ROUTE_MODULES: list[str] = [
    "hangup.web.health",
    "hangup.web.docs",
    "hangup.web.api",
    "hangup.emit.web",
    "hangup.web.dashboard_api",
    "hangup.web.metrics",
    "hangup.web.dashboard",
]

PROTECTED_PREFIXES: list[str] = [
    "/api/",
]

LIFESPAN_HOOKS: list[str] = [
    # write hooks first, so calls stored by later hooks (the demo feed) are counted too
    "hangup.web.dashboard_api:lifespan",
    "hangup.web.metrics:lifespan",
    "hangup.emit.web:emitter_lifespan",
    "hangup.emit.web:demo_lifespan",
    "hangup.web.jobs:lifespan",
    "hangup.sip.listener:hep_lifespan",
]

Hook = Callable[[AppState], AbstractAsyncContextManager[None]]


def routes() -> list[BaseRoute]:
    found: list[BaseRoute] = []
    for module_name in ROUTE_MODULES:
        found.extend(importlib.import_module(module_name).routes)
    return found


def _hook(target: str) -> Hook:
    module_name, _, attribute = target.partition(":")
    hook: Hook = getattr(importlib.import_module(module_name), attribute)
    return hook


def open_settings_store(settings: Settings) -> Store:
    """The store of ``settings.db`` with the options its back end takes and hangup's standard write hooks."""
    return open_configured_store(settings)


class HangupApp(Starlette):
    """Starlette with the callback receiver answered first, outside the middleware stack (the hot path)."""

    receiver: CallbackReceiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            name = self.receiver.match(scope["path"])
            if name is not None:
                await self.receiver.respond(name, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, store: Store | None = None) -> Starlette:
    """The ASGI app; it opens ``settings.db`` at startup unless a ``store`` is handed in (and then leaves it open)."""
    settings = settings or load_settings()
    state = AppState(settings, store)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not state.has_store:
            state.store = open_settings_store(settings)
        else:  # a store handed in counts its calls as one the app opens does
            attach_standard_hooks(state.store, settings)
        state.started_at = time.time()
        try:
            async with contextlib.AsyncExitStack() as stack:
                for target in LIFESPAN_HOOKS:
                    await stack.enter_async_context(_hook(target)(state))
                yield
        finally:
            if state.owns_store and state.has_store:
                state.store.close()
                state.store = None

    served = routes()
    middleware = [
        Middleware(PageHeaders),
        Middleware(BrowserGuard, token=settings.api_token, hosts=[settings.host, *allowed_hosts(settings)],
                   routes=served),
        Middleware(TokenAuth, token=settings.api_token, prefixes=PROTECTED_PREFIXES),
    ]
    handlers: Any = EXCEPTION_HANDLERS
    app = HangupApp(routes=served, middleware=middleware, exception_handlers=handlers, lifespan=lifespan)
    app.receiver = CallbackReceiver(state)
    app.state.hangup = state
    return app


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` (``serve --workers N``): settings from ``HANGUP_*`` variables."""
    return create_app(load_settings())
