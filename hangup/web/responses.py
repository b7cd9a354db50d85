"""JSON responses and the one error shape (``hangup.errors.HTTPError.to_json``) for every endpoint."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hangup.errors import HTTPError, StoreError, error_body


class JSONBody(JSONResponse):
    """JSON with non-ASCII kept readable."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_response(status: int, message: str, details: list[dict[str, Any]] | None = None,
                   error_id: str | None = None, headers: dict[str, str] | None = None) -> Response:
    return JSONBody(error_body(status, message, error_id, details), status_code=status, headers=headers)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return JSONBody(exc.to_json(), status_code=exc.status)


async def on_starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))


async def on_store_error(request: Request, exc: Exception) -> Response:
    return error_response(503, f"the store is not available: {exc}")


EXCEPTION_HANDLERS = {HTTPError: on_http_error, HTTPException: on_starlette_error, StoreError: on_store_error}
