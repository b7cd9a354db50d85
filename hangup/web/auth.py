"""Bearer-token access control for the API (and the dashboard) when ``HANGUP_API_TOKEN`` is set.

Callback endpoints are never behind the token (platforms cannot send it); they have their own
protections (secret path segment, source allow-list, signatures).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence

from hangup.errors import error_body
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
