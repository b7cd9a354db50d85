"""The callback receiver: ``GET/POST /callbacks/{provider}`` (and the configured Planet path).

This is the hot path, so it is answered in raw ASGI before Starlette's middleware and routing
(``HangupApp.__call__``; ``docs/benchmarks.md``, "Ingest"): it matches the path with one dict lookup,
enforces the protections and limits, runs the adapter and answers 200 only after the store has
committed the call. Every other path goes to Starlette unchanged.

Order of checks: path (secret segment) → method (405) → query size (414) → source network (403) →
body size (413) → key count (400) → adapter ``verify`` (401/403) → adapter ``parse`` (400) → store.
Rejections from the source-network check on are kept in the quarantine, except size-limit ones, within
the quarantine's own limits (``hangup.web.quarantine``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Mapping
from json.encoder import encode_basestring as _quote
from typing import Any

from hangup import bounds, ingest
from hangup.errors import Forbidden, HTTPError, PayloadError, PayloadTooLarge, StoreError, URITooLong, error_body
from hangup.providers.base import Provider, WebhookRequest
from hangup.providers.registry import providers
from hangup.records import CallRecord
from hangup.settings import Settings
from hangup.types import Receive, Scope, Send
from hangup.web.quarantine import keeper
from hangup.web.state import AppState

log = logging.getLogger("hangup.web.callbacks")

CALLBACK_PREFIX = "/callbacks/"
_JSON_HEADERS = [(b"content-type", b"application/json")]
_NOT_STORED = json.dumps(error_body(503, "the store is not available; retry later")).encode()


class MethodNotAllowed(HTTPError):
    status = 405
    error_id = "method_not_allowed"


class ClientDisconnected(HTTPError):
    """The client went away (or was cut off by the read deadline) before its body was complete: a truncated
    body is neither parsed nor quarantined, and the answer reaches no one."""

    status = 400
    error_id = "client_disconnected"


def callback_paths(settings: Settings, names: list[str]) -> dict[str, str]:
    """path -> provider name for every registered adapter, with the secret segment applied."""
    paths = {f"{CALLBACK_PREFIX}{name}": name for name in names if name != "planet"}
    if "planet" in names:
        paths[settings.planet_path] = "planet"
    prefix = f"/{settings.callback_secret}" if settings.callback_secret else ""
    return {prefix + path: name for path, name in paths.items()}


class CallbackReceiver:
    """Answers the callback paths (see the module docstring); ``match`` says whether a path is one."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.providers = dict(providers())  # this app's own table (tests may add fakes to it)
        settings = state.settings
        self.paths = callback_paths(settings, list(self.providers))
        self.prefix = (f"/{settings.callback_secret}" if settings.callback_secret else "") + CALLBACK_PREFIX
        self.secrets = settings.secrets()

    def match(self, path: str) -> str | None:
        """The provider name a callback path addresses (perhaps an unknown one), or ``None``."""
        name = self.paths.get(path)
        if name is None and path.startswith(self.prefix):
            return path[len(self.prefix):]
        return name

    async def respond(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, body = await self._handle(name, scope["path"], scope, receive)
        except StoreError as exc:  # the writer logged the failure's traceback
            log.warning("callback not stored: %s", exc)
            status, body = 503, _NOT_STORED
        except Exception:  # e.g. a write hook failing: the call is not stored, so the platform should retry
            log.exception("callback not stored")
            status, body = 503, _NOT_STORED
        headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        if status == 405:
            provider = self.providers.get(name)
            allow = ", ".join(provider.methods) if provider else "GET, POST"
            headers.append((b"allow", allow.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, name: str, path: str, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        provider = self.providers.get(name)
        if provider is None:
            known = ", ".join(sorted(self.providers))
            return 404, _error_body(404, "not_found", f"no provider {name[:64]!r}", [
                {"field": "provider", "error": f"known providers: {known}"}])
        request: WebhookRequest | None = None
        try:
            request = await self._request(provider, scope, receive)
            _check_request(request, self.state.settings.max_keys)
            record = _parse(provider, request, self.secrets)
        except (PayloadTooLarge, URITooLong, MethodNotAllowed, ClientDisconnected) as exc:
            return exc.status, _dumps(exc.to_json())
        except HTTPError as exc:
            await self._quarantine(name, path, scope, request, exc)
            return exc.status, _dumps(exc.to_json())
        received = await ingest.store_parsed(provider, request, record, self.state.store)
        if received.record is None or received.result is None:
            return 200, b'{"ok":true,"stored":false}'
        return 200, _stored_body(received.record.id, received.result.status, received.record.flags)

    async def _request(self, provider: Provider, scope: Scope, receive: Receive) -> WebhookRequest:
        settings = self.state.settings
        method: str = scope["method"]
        if method not in provider.methods:
            raise MethodNotAllowed(f"{provider.name} callbacks use {', '.join(provider.methods)}")
        raw_query: bytes = scope.get("query_string", b"")
        if len(raw_query) > settings.max_query_bytes:  # first: nothing of an oversized request is kept
            raise URITooLong("the query string is too long",
                             [{"field": "query", "error": f"longer than {settings.max_query_bytes} bytes"}])
        headers = _headers(scope)
        client = _client(scope, headers, settings.trust_forwarded)
        if settings.callback_allow and not _allowed(client, settings):
            raise Forbidden("the source address is not allowed to send callbacks",
                            [{"field": "client", "error": f"{client or 'unknown'} is not in HANGUP_CALLBACK_ALLOW"}])
        body = await _read_body(receive, method, headers, settings.max_body_bytes)
        request = WebhookRequest(
            method=method, url=_url(scope, headers, settings.public_url), query=raw_query.decode("latin-1"),
            body=body, headers=headers, received_at=time.time(), client=client,
        )
        return request

    async def _quarantine(self, name: str, path: str, scope: Scope, request: WebhookRequest | None,
                          exc: HTTPError) -> None:
        if request is None:
            headers = _headers(scope)
            request = WebhookRequest(
                method=scope["method"], url=path, query=scope.get("query_string", b"").decode("latin-1"),
                headers=headers, received_at=time.time(),
                client=_client(scope, headers, self.state.settings.trust_forwarded),
            )
        await keeper(self.state).keep(self.state.store, name, request, path, exc)


def _parse(provider: Provider, request: WebhookRequest, secrets: Mapping[str, str]) -> CallRecord | None:
    """The adapter's verdict; an adapter that fails on some input answers 400 (and quarantines it), never 5xx."""
    try:
        return ingest.parse(provider, request, secrets)
    except HTTPError:
        raise
    except Exception as exc:
        log.exception("%s adapter failed on a request", provider.name)
        raise PayloadError(f"{provider.name}: the request could not be read",
                           [{"field": "request", "error": f"the adapter failed ({type(exc).__name__})"}]) from exc


def _check_request(request: WebhookRequest, max_keys: int) -> None:
    if not request.query.isascii():
        raise PayloadError("the query string is not percent-encoded ASCII",
                           [{"field": "query", "error": "contains raw non-ASCII bytes"}])
    keys = request.query.count("&") + 1 if request.query else 0
    if request.body and "json" not in request.headers.get("content-type", ""):
        keys += request.body.count(b"&") + 1
    if keys > max_keys:
        raise PayloadError("too many parameters", [{"field": "query", "error": f"more than {max_keys} keys"}])


def _headers(scope: Scope) -> dict[str, str]:
    # ASGI servers give header names in lower case already
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _client(scope: Scope, headers: Mapping[str, str], trust_forwarded: bool) -> str:
    if trust_forwarded and headers.get("x-forwarded-for"):
        return headers["x-forwarded-for"].split(",")[0].strip()
    client = scope.get("client")
    return str(client[0]) if client else ""


def _allowed(client: str, settings: Settings) -> bool:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in network for network in settings.callback_allow)


def _url(scope: Scope, headers: Mapping[str, str], public_url: str) -> str:
    path: str = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    base = public_url.rstrip("/") if public_url else f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
    return f"{base}{path}" + (f"?{query}" if query else "")


async def _read_body(receive: Receive, method: str, headers: Mapping[str, str], limit: int) -> bytes:
    declared = headers.get("content-length", "")
    if not declared and "transfer-encoding" not in headers and method == "GET":
        return b""  # HTTP/1.1: no length and no chunking means no body (every Planet callback)
    # a length of more digits than bounds.digits reads (18) is larger than any limit too
    length = bounds.digits(declared.lstrip("0") or "0") if declared.isascii() and declared.isdigit() else 0
    if length is None or length > limit:
        raise PayloadTooLarge("the body is too large", [{"field": "body", "error": f"larger than {limit} bytes"}])
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnected("the client disconnected before the body was complete",
                                     [{"field": "body", "error": f"{size} bytes received, then the connection closed"}])
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("the body is too large", [{"field": "body", "error": f"larger than {limit} bytes"}])
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _stored_body(call_id: str, status: str, flags: tuple[str, ...]) -> bytes:
    """``{"ok":true,"stored":true,"id":…,"status":…,"flags":[…]}``, written out: this is every 200."""
    listed = ",".join(_quote(f) for f in flags)
    return f'{{"ok":true,"stored":true,"id":{_quote(call_id)},"status":"{status}","flags":[{listed}]}}'.encode()


def _dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _error_body(status: int, error_id: str, message: str, details: list[dict[str, Any]]) -> bytes:
    return _dumps(error_body(status, message, error_id, details))
