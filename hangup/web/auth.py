"""Access control: a bearer token for the API (and the dashboard) when ``HANGUP_API_TOKEN`` is set, and the
browser guard (``Host``, ``Origin``, content type) when it is not.

Callback endpoints are never behind the token (platforms cannot send it); they have their own
protections (secret path segment, source allow-list, signatures).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from starlette.routing import BaseRoute, Match

from hangup.errors import error_body
from hangup.settings import Settings
from hangup.types import ASGIApp, Receive, Scope, Send


class TokenAuth:
    """ASGI middleware: paths under ``prefixes`` need ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str, prefixes: Sequence[str]) -> None:
        self.app = app
        self.token = token.encode("utf-8")
        self.prefixes = tuple(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.token or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                given = value
        scheme, _, credentials = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.token):
            await self.app(scope, receive, send)
            return
        status = 403 if given else 401
        body = json.dumps(error_body(
            status, "a valid API token is required" if status == 401 else "the API token is wrong",
            details=[{"field": "authorization", "error": "expected 'Bearer <HANGUP_API_TOKEN>'"}],
        )).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"www-authenticate", b'Bearer realm="hangup"')]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


#: Methods that change state: checked against CSRF when a route takes them (else the router's 404/405 stands).
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOOPBACK_NAMES = frozenset({"localhost"})


def host_name(host: str) -> str:
    """The name of a ``Host`` header without its port, lower-case (``[::1]:8080`` → ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.partition(":")[0] if host.count(":") == 1 else host


def is_loopback(name: str) -> bool:
    """Whether a host name or address is this machine's loopback (``localhost``, 127.0.0.0/8, ``::1``)."""
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class BrowserGuard:
    """ASGI middleware for a server without ``HANGUP_API_TOKEN``, which trusts whoever can reach it.

    A web page the operator visits can reach a loopback server too. Two ways in are closed:

    * DNS rebinding: a page on ``attacker.example`` re-resolving its name to 127.0.0.1 reads the API as same
      origin. Its requests carry ``Host: attacker.example``, so a ``Host`` that is not a loopback name, the
      listen address or one of ``HANGUP_ALLOWED_HOSTS`` is refused (403).
    * Cross-site requests (CSRF): a form or ``text/plain`` POST needs no CORS preflight. A state-changing
      request must say ``Content-Type: application/json`` (415 otherwise), which a cross-site page cannot send
      without a preflight, and its ``Origin``, when present, must be the server's own (403).

    With a token every API request must carry it, and a page cannot, so the guard stands aside.
    """

    def __init__(self, app: ASGIApp, token: str, hosts: Iterable[str] = (), routes: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self.active = not token
        self.hosts = frozenset(h.strip().lower() for h in hosts if h.strip())
        self.routes = tuple(routes)  # the app's: a request no route takes is left to the router's 404/405

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.active:
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, field, error = refusal
        body = json.dumps(error_body(status, f"refused: {error}", details=[{"field": field, "error": error}])).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """``(status, field, error)`` when the request is refused, else ``None``."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host")
        if host is not None and not self._known_host(host_name(host)):
            return 403, "host", f"{host[:80]!r} is not a loopback name or in HANGUP_ALLOWED_HOSTS"
        if scope["method"] not in STATE_CHANGING or not self._routed(scope):
            return None
        origin = headers.get("origin")
        if origin is not None and not _same_origin(origin, scope.get("scheme", "http"), host or ""):
            return 403, "origin", f"{origin[:80]!r} is not this server's origin"
        media = headers.get("content-type", "").partition(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            return 415, "content-type", "a state-changing request must be application/json"
        return None

    def _routed(self, scope: Scope) -> bool:
        return not self.routes or any(route.matches(scope)[0] == Match.FULL for route in self.routes)

    def _known_host(self, name: str) -> bool:
        return is_loopback(name) or name in self.hosts


def allowed_hosts(settings: Settings) -> list[str]:
    """``HANGUP_ALLOWED_HOSTS`` as names."""
    return [name.strip() for name in settings.allowed_hosts.split(",") if name.strip()]


def _same_origin(origin: str, scheme: str, host: str) -> bool:
    parts = urlsplit(origin.strip().lower())
    return bool(host) and parts.scheme == scheme and parts.netloc == host.strip().lower()
