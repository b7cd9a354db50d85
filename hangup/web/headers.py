"""Response headers that keep hangup's HTML pages from being framed, sniffed or made to run foreign code.

Sources: OWASP Secure Headers Project and the HTTP Headers Cheat Sheet. The policy allows what the pages
use and nothing else: scripts and styles from ``/static`` (no inline script; inline ``style`` attributes draw
the share bars), ``data:`` images, forms posting to this server, no framing by any page.
"""

from __future__ import annotations

from hangup.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Sent with every HTML page.
PAGE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
#: Sent with every response: a JSON error body must never be sniffed into HTML.
NOSNIFF = (b"x-content-type-options", b"nosniff")


class PageHeaders:
    """ASGI middleware adding ``PAGE_HEADERS`` to HTML responses and ``nosniff`` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                headers.append(NOSNIFF)
                if html:
                    headers.extend(PAGE_HEADERS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
