"""The statistics JSON API and the statistics' part of the app's lifespan (rollup hook, read connections).

Endpoints: ``/api/stats/summary``, ``/timeseries``, ``/breakdown``, ``/top``, ``/explain`` (what changed
against a baseline, ``hangup.stats.explain``), ``/definitions``, and ``/api/insights/timers`` (durations
clustering at a timer's value, ``hangup.stats.timers``).

Every endpoint takes a time range (``since``/``until`` or ``from``/``to`` or ``range=24h``) and the
call log's filters, and answers with the same dicts the dashboard and ``hangup stats`` show
(``hangup.stats.service``). Rates below ``min_samples`` are ``null``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hangup.errors import PayloadError
from hangup.stats import explain as changes
from hangup.stats import timers
from hangup.stats.db import StatsDB
from hangup.stats.dimensions import DIMENSIONS
from hangup.stats.metrics import METRICS
from hangup.stats.route_table import descending, route_table
from hangup.stats.service import MAX_MIN_SAMPLES, MAX_ROWS, StatsService
from hangup.stats.windows import Window, parse_window
from hangup.web.responses import JSONBody
from hangup.web.state import AppState

_ATTR = "_hangup_stats"
#: Environment variable naming the alert rules file (TOML, see ``docs/alerts.md``); the ``alerts_file`` setting.
ALERTS_ENV = "HANGUP_ALERTS_FILE"
_DIGITS = re.compile(r"[0-9]{1,9}")
#: Parameters of the statistics endpoints besides the range and the call-log filters.
OWN_PARAMS = ("metric", "bucket", "by", "sort", "order")


@contextlib.asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    """Open the statistics' read connections (the app's store already keeps rollups current: its standard
    write hooks, ``hangup.composition``)."""
    service = stats_service(state)
    try:
        yield
    finally:
        service.db.close()
        setattr(state, _ATTR, None)


def stats_service(state: AppState) -> StatsService:
    """The app's statistics service (created on first use)."""
    service: StatsService | None = getattr(state, _ATTR, None)
    if service is None:
        service = StatsService(StatsDB(state.store.url), minute_days=state.settings.minute_rollup_days)
        setattr(state, _ATTR, service)
    return service


def service_of(request: Request) -> StatsService:
    return stats_service(request.app.state.hangup)


def window_of(request: Request, allowed: tuple[str, ...] = OWN_PARAMS) -> Window:
    return parse_window(request.query_params.multi_items(), allowed=allowed)


def int_param(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise PayloadError(f"bad {name}", [{"field": name, "error": f"expected an integer from {low} to {high}"}])
    return int(text)


def min_samples_of(request: Request) -> int | None:
    """The question's ``min_samples``, ``None`` for the service's default."""
    return int_param(request, "min_samples", None, 0, MAX_MIN_SAMPLES)


async def _answer(request: Request, ask: Callable[[StatsService, Window], dict[str, Any]]) -> Response:
    window = window_of(request)
    service = service_of(request)
    body = await run_in_threadpool(ask, service, window)
    return JSONBody({"ok": True, **body})


async def summary(request: Request) -> Response:
    m = min_samples_of(request)
    return await _answer(request, lambda s, w: s.summary(w, m))


async def timeseries(request: Request) -> Response:
    m = min_samples_of(request)
    metric = request.query_params.get("metric") or "asr"
    bucket = request.query_params.get("bucket") or "hour"
    return await _answer(request, lambda s, w: s.timeseries(w, metric, bucket, m))


async def breakdown(request: Request) -> Response:
    m = min_samples_of(request)
    limit = int_param(request, "limit", 50, 1, MAX_ROWS) or 50
    by = request.query_params.get("by") or "outcome"
    return await _answer(request, lambda s, w: s.breakdown(w, by, m, limit))


async def top(request: Request) -> Response:
    limit = int_param(request, "limit", 10, 1, MAX_ROWS) or 10
    by = request.query_params.get("by") or "user"
    return await _answer(request, lambda s, w: s.top(w, by, limit))


async def routes_report(request: Request) -> Response:
    """``hangup.stats.route_table``: ``by`` a route dimension, ``sort`` a column, ``order`` asc or desc."""
    m = min_samples_of(request)
    limit = int_param(request, "limit", 50, 1, MAX_ROWS) or 50
    by = request.query_params.get("by") or "route"
    sort = request.query_params.get("sort") or "attempts"
    down = descending(request.query_params.get("order"))
    return await _answer(request, lambda s, w: route_table(s, w, by, sort=sort, descending=down, limit=limit,
                                                           min_samples=m))
def explain_answer(request: Request) -> Callable[[StatsService, Window], dict[str, Any]]:
    """How ``/api/stats/explain`` and the dashboard's panel ask: the question read from the request."""
    m = min_samples_of(request)
    given = dict(request.query_params.items())
    return lambda s, w: changes.explain(s, changes.question_from(given, w), m)


async def explain(request: Request) -> Response:
    """What moved a KPI: its change against a baseline window, split over dimension values."""
    ask = explain_answer(request)
    window = window_of(request, changes.PARAMS)
    body = await run_in_threadpool(ask, service_of(request), window)
    return JSONBody({"ok": True, **body})


def timer_insights(request: Request) -> Callable[[StatsService, Window], dict[str, Any]]:
    """How ``/api/insights/timers`` and the dashboard's timers page ask."""
    return lambda s, w: timers.insights(s.db, w.start, w.end, w.filters)


async def timer_clusters(request: Request) -> Response:
    """Answered calls whose durations cluster at a fixed value, and the timer suspected (``hangup.stats.timers``)."""
    window = window_of(request, ())
    body = await run_in_threadpool(timer_insights(request), service_of(request), window)
    return JSONBody({"ok": True, **body})


async def definitions(request: Request) -> Response:
    """Every metric and dimension id, so clients can discover what to ask for."""
    return JSONBody(
        {
            "ok": True,
            "metrics": [{"id": m.id, "label": m.label, "unit": m.unit} for m in METRICS.values()],
            "dimensions": [{"id": d.id, "label": d.label, "top": d.top} for d in DIMENSIONS.values()],
            "min_samples": service_of(request).min_samples,
        }
    )


routes: list[BaseRoute] = [
    Route("/api/stats/summary", summary, methods=["GET"]),
    Route("/api/stats/timeseries", timeseries, methods=["GET"]),
    Route("/api/stats/breakdown", breakdown, methods=["GET"]),
    Route("/api/stats/top", top, methods=["GET"]),
    Route("/api/stats/routes", routes_report, methods=["GET"]),
    Route("/api/stats/explain", explain, methods=["GET"]),
    Route("/api/insights/timers", timer_clusters, methods=["GET"]),
    Route("/api/stats/definitions", definitions, methods=["GET"]),
]
