"""How dashboard pages are served: one data function per page, rendered as HTML or as its ``.json`` twin.

``page(template, build)`` makes the two endpoints of a page from one ``build(request) -> dict``, so the
HTML and the JSON can never disagree. When ``HANGUP_API_TOKEN`` is set the pages need it too, as a
bearer token or as the ``hangup_token`` cookie set by ``/login``.
"""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hangup import __version__
from hangup.errors import HTTPError, Unauthorized
from hangup.stats.labels import duration, utc_time
from hangup.web.responses import JSONBody
from hangup.web.state import AppState

TOKEN_COOKIE = "hangup_token"
Build = Callable[[Request], Awaitable[dict[str, Any]]]


def _pct(value: float | None, digits: int = 1) -> str:
    return "N/A" if value is None else f"{value * 100:.{digits}f} %"


def _num(value: float | None) -> str:
    return "N/A" if value is None else f"{value:,.0f}"


def _seconds(value: float | None) -> str:
    return "N/A" if value is None else duration(value)


def _query(params: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return urlencode(merged)


_BACKTICKS = re.compile(r"`([^`\n]+)`")


def code_spans(text: str) -> Markup:
    """Catalog text with its backticked words as ``<code>`` spans; everything else escaped, never Markdown."""
    return Markup(_BACKTICKS.sub(r"<code>\1</code>", str(escape(text))))


def sparkline(points: list[dict[str, Any]], width: int = 120, height: int = 24) -> Markup:
    """An inline SVG of attempts per bucket (``route_table`` rows' ``spark``), drawn without script."""
    if not points:
        return Markup("")
    top = max(p["attempts"] for p in points) or 1
    step = width / max(1, len(points) - 1)
    coords = " ".join(f"{i * step:.1f},{height - p['attempts'] * (height - 2) / top - 1:.1f}"
                      for i, p in enumerate(points))
    return Markup(f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
                  f'role="img" aria-label="calls per bucket"><polyline points="{coords}"/></svg>')


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hangup.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # segment: a value as one URL path segment (call ids are the platforms' and may hold / ? # or %)
    env.filters.update(time=utc_time, pct=_pct, num=_num, seconds=_seconds, segment=functools.partial(quote, safe=""),
                       code_spans=code_spans, sparkline=sparkline)
    env.globals.update(query=_query, version=__version__)
    return env


def render(template: str, data: dict[str, Any], request: Request, status: int = 200) -> HTMLResponse:
    state: AppState | None = getattr(request.app.state, "hangup", None)
    demo = state is not None and state.settings.demo  # every page says so: its figures are simulated calls
    html = environment().get_template(template).render(data=data, path=request.url.path, qs=request.url.query,
                                                       demo=demo)
    return HTMLResponse(html, status_code=status)


def authorized(request: Request) -> bool:
    state: AppState = request.app.state.hangup
    token = state.settings.api_token
    if not token:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        given = request.cookies.get(TOKEN_COOKIE, "")
    return hmac.compare_digest(given.strip().encode(), token.encode())


def page(template: str, build: Build) -> tuple[Callable[[Request], Awaitable[Response]], ...]:
    """The HTML endpoint and the JSON endpoint of one page."""

    async def html(request: Request) -> Response:
        if not authorized(request):
            return RedirectResponse("/login?" + urlencode({"next": str(request.url.path)}), status_code=303)
        try:
            data = await build(request)
        except HTTPError as exc:
            return render("error.html", {"error": exc.to_json(), "title": "Not shown"}, request, exc.status)
        return render(template, data, request)

    async def json(request: Request) -> Response:
        if not authorized(request):
            raise Unauthorized("a valid API token is required", [{"field": "authorization", "error": "missing"}])
        return JSONBody({"ok": True, **(await build(request))})

    return html, json


async def login_form(request: Request) -> Response:
    return render("login.html", {"title": "Sign in", "next": request.query_params.get("next", "/")}, request)


async def login(request: Request) -> Response:
    form = await request.form()
    token = str(form.get("token") or "")
    target = str(form.get("next") or "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
    return response
