"""``/openapi.json`` and ``/docs``: the API description and a page rendering it without any CDN."""

from __future__ import annotations

import functools
import json
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from hangup.web.openapi import spec
from hangup.web.responses import JSONBody
from hangup.web.state import AppState


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("hangup.web", "templates"), autoescape=True)


def _spec(request: Request) -> dict[str, Any]:
    state: AppState = request.app.state.hangup
    return spec(state.settings)


async def openapi_json(request: Request) -> Response:
    return JSONBody(_spec(request))


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            found.append({"path": path, "method": method.upper(), "op": operation,
                          "responses": {code: r.get("description", "") for code, r in operation["responses"].items()},
                          "body": json.dumps(operation.get("requestBody", {}), indent=2) if "requestBody" in operation
                          else ""})
    return found


async def docs_page(request: Request) -> Response:
    document = _spec(request)
    html = _environment().get_template("api_docs.html").render(info=document["info"], operations=_operations(document))
    return HTMLResponse(html)


routes: list[BaseRoute] = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs_page, methods=["GET"]),
]
