"""The route report: routes and destinations with their KPIs, failure mix, sparkline and last week's figures.

One answer, shared by ``/routes`` (and ``/routes.json``), ``/api/stats/routes`` and ``hangup stats routes``:
for each value of a route dimension (``ROUTE_DIMENSIONS``) over the window, its attempts, ASR, NER, ACD and
PDD (hangup's ``pdd`` is the ``tta`` metric: set-up to answer), the failed calls per fault domain, a sparkline
of attempts and ASR per bucket, and the same KPIs over the same window a week earlier with their change.
Rows come from the rollups (a window with one rollup filter, or none) or from raw calls, with the
same definitions; the sparkline reads one rollup level for the rows shown, in one query. A window longer
than ``WHOLE_DAYS_AFTER`` is widened to whole UTC days, as top lists are (the answer carries the range used):
a 30-day report then reads one day row per value and day instead of day, hour and minute pieces, a third of
the rows (``docs/benchmarks.md``, "Routes").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from hangup.errors import PayloadError
from hangup.stats import raw
from hangup.stats.buckets import DAY, HOUR, MINUTE, floor
from hangup.stats.dimensions import ROUTE_DIMENSIONS, get_dimension
from hangup.stats.labels import value_label
from hangup.stats.metrics import METRICS
from hangup.stats.rollup_reads import series_by_value
from hangup.stats.service import StatsService
from hangup.stats.totals import FAULT_DOMAINS, Totals
from hangup.stats.windows import Window

WEEK = 7 * DAY
#: KPI columns of a row (``pdd`` is the ``tta`` metric), and the orders a table can be sorted by.
KPIS: Mapping[str, str] = {"asr": "asr", "ner": "ner", "acd": "acd", "pdd": "tta"}
SORTS = ("attempts", *KPIS, "value", "failed")
#: The counters the KPIs read: all last week's figures need.
KPI_COUNTERS = ("attempts", "answered", "ner_ok", "duration_sum", "tta_sum", "tta_count")
#: Windows longer than this are read to whole UTC days.
WHOLE_DAYS_AFTER = 7 * DAY
#: Most sparkline points: a window's buckets are hours up to this many, else days.
SPARK_POINTS = 48


#: The directions a table can be sorted in, the default first.
ORDERS = ("desc", "asc")


def descending(order: str | None) -> bool:
    """``order`` (``desc``, the default, or ``asc``) as the table's direction; anything else is refused."""
    if order in (None, "", "desc"):
        return True
    if order == "asc":
        return False
    raise PayloadError(f"unknown order {order!r}",
                       [{"field": "order", "error": f"must be one of: {', '.join(ORDERS)}"}])


def report_size(window: Window) -> int:
    """The bucket a report over ``window`` is widened to: whole UTC days past ``WHOLE_DAYS_AFTER``, else minutes."""
    return DAY if window.end - window.start > WHOLE_DAYS_AFTER else MINUTE


def spark_size(window: Window) -> int:
    """The sparkline's bucket: hours when the window has at most ``SPARK_POINTS`` of them, else days."""
    return HOUR if window.end - window.start <= SPARK_POINTS * HOUR else DAY


def route_table(service: StatsService, window: Window, by: str = "route", *, sort: str = "attempts",
                descending: bool = True, limit: int = 50, min_samples: int | None = None) -> dict[str, Any]:
    """The report of ``by``'s values over ``window`` (see the module docstring)."""
    dim = get_dimension(by)
    if dim.id not in ROUTE_DIMENSIONS:
        raise PayloadError(f"{by!r} is not a route dimension", [{"field": "by", "error": ", ".join(ROUTE_DIMENSIONS)}])
    if sort not in SORTS:
        raise PayloadError(f"unknown sort {sort!r}",
                           [{"field": "sort", "error": f"must be one of: {', '.join(SORTS)}"}])
    m = service.min_samples if min_samples is None else min_samples
    window = service.aligned(window, report_size(window))
    found, source = service.totals_by(window, dim.id)
    earlier = replace(window, start=window.start - WEEK, end=window.end - WEEK)
    before, _ = service.totals_by(earlier, dim.id, KPI_COUNTERS)
    total = sum(t.attempts for t in found.values())
    rows = [_row(dim.id, value, t, before.get(value, Totals()), total, m) for value, t in found.items()]
    rows = _sorted(rows, sort, descending)
    shown = rows[:max(1, min(limit, 500))]
    size = spark_size(window)
    sparks = _sparks(service, window, size, dim.id, [r["value"] for r in shown])
    for row in shown:
        row["spark"] = sparks.get(row["value"], [])
    return {
        **window.to_json(), "by": dim.id, "label": dim.label, "source": source, "min_samples": m,
        "sort": sort, "descending": descending, "attempts": total, "spark_bucket": size,
        "previous": {"from": earlier.start, "to": earlier.end}, "rows": shown, "more": max(0, len(rows) - len(shown)),
    }


def _sorted(rows: list[dict[str, Any]], sort: str, descending: bool) -> list[dict[str, Any]]:
    """Rows by ``sort`` (ties by value), N/A KPIs last whichever the direction."""
    rows = sorted(rows, key=lambda r: r["value"])
    known = sorted((r for r in rows if r[sort] is not None), key=lambda r: r[sort], reverse=descending)
    return known + [r for r in rows if r[sort] is None]


def _kpis(t: Totals, min_samples: int) -> dict[str, float | None]:
    return {name: METRICS[metric](t, min_samples) for name, metric in KPIS.items()}


def _row(dim: str, value: str, t: Totals, before: Totals, total: int, min_samples: int) -> dict[str, Any]:
    now, then = _kpis(t, min_samples), _kpis(before, min_samples)
    return {
        "value": value, "label": value_label(dim, value), "attempts": t.attempts,
        "share": t.attempts / total if total else None, **now, "failed": t.failed,
        "failure_mix": {d: t.failed_in(d) for d in FAULT_DOMAINS if t.failed_in(d)},
        "last_week": {"attempts": before.attempts, **then},
        "change": {name: _change(now[name], then[name]) for name in KPIS},
    }


def _change(now: float | None, then: float | None) -> float | None:
    return None if now is None or then is None else now - then


def _sparks(service: StatsService, window: Window, size: int, dim: str, values: list[str]
            ) -> dict[str, list[dict[str, Any]]]:
    """Per value, ``{"t", "attempts", "asr"}`` per bucket of ``size`` over the window (every bucket listed)."""
    if not values:
        return {}
    start = floor(window.start, size)
    with service.db.reading() as conn:
        if not window.filters:
            found = series_by_value(conn, start, window.end, size, dim, values)
        else:
            found = raw.series_by_value(conn, replace(window, start=start), size, dim, values, service.db.paramstyle)
    return {value: [_point(t, *found.get((value, t), (0, 0))) for t in range(start, window.end, size)]
            for value in values}


def _point(t: int, attempts: int, answered: int) -> dict[str, Any]:
    return {"t": t, "attempts": attempts, "asr": answered / attempts if attempts else None}


__all__ = ["KPIS", "ORDERS", "SORTS", "descending", "route_table", "spark_size"]
