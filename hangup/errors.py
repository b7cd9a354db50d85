"""hangup's exceptions, one tree.

::

    HangupError                      base of everything hangup raises on purpose
    ├── CatalogError                 a malformed reference or an unknown scheme (CLI exit 2)
    ├── ConfigError                  a bad setting, naming the key
    ├── StoreError                   the store could not do what was asked
    └── HTTPError                    carries ``status`` and a stable ``error_id`` slug
        ├── PayloadError (400)       the request breaks the format; ``details`` names every bad field
        │   └── InvalidPayload       an adapter could not produce a required fact
        ├── Unauthorized (401)       missing credentials or signature
        ├── Forbidden (403)          wrong signature, token or source network
        ├── NotFound (404)
        ├── PayloadTooLarge (413)
        └── URITooLong (414)

Every HTTP error renders as one JSON shape, built by ``error_body``:
``{"ok": false, "error": message, "error_id": slug, "status": code, "details": [...]}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

#: The slug of an error answered without an exception class of its own (Starlette's 404/405, auth, 503).
STATUS_SLUGS: dict[int, str] = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    413: "payload_too_large", 414: "uri_too_long", 415: "unsupported_media_type", 503: "store_unavailable",
}


def error_body(status: int, message: str, error_id: str | None = None,
               details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The one JSON error shape every endpoint answers with; ``details`` names each bad field."""
    return {"ok": False, "error": message, "error_id": error_id or STATUS_SLUGS.get(status, "error"),
            "status": status, "details": details or []}


class HangupError(Exception):
    """Base class of every error hangup raises on purpose."""


class CatalogError(HangupError, ValueError):
    """A cause reference that cannot be parsed, or a scheme hangup does not know."""


class ConfigError(HangupError, ValueError):
    """A setting with a bad value; the message names the key."""


class StoreError(HangupError):
    """The store could not complete an operation."""


class HTTPError(HangupError):
    """An error answered over HTTP with a fixed status and a stable slug."""

    status: ClassVar[int] = 400
    error_id: ClassVar[str] = "bad_request"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[dict[str, Any]] = details or []

    def to_json(self) -> dict[str, Any]:
        return error_body(self.status, self.message, self.error_id, self.details)


class PayloadError(HTTPError):
    """The request breaks the format it claims; ``details`` lists ``{"field", "error"}`` items."""

    status = 400
    error_id = "invalid_payload"


class InvalidPayload(PayloadError):
    """An adapter could not produce a required fact of the canonical record."""


class Unauthorized(HTTPError):
    status = 401
    error_id = "unauthorized"


class Forbidden(HTTPError):
    status = 403
    error_id = "forbidden"


class NotFound(HTTPError):
    status = 404
    error_id = "not_found"


class PayloadTooLarge(HTTPError):
    status = 413
    error_id = "payload_too_large"


class URITooLong(HTTPError):
    status = 414
    error_id = "uri_too_long"
