"""What changed: a KPI over a window against a baseline window, split into the part each dimension value played.

Every KPI is a ratio ``N / D`` of two counters (ASR = answered / attempts, ACD = duration_sum / answered …)
or a count (``PARTS``). With the baseline's totals ``N0``, ``D0`` and rate ``R0 = N0 / D0``, and the
window's ``N1``, ``D1``, the change splits over the values ``v`` of any dimension exactly::

    R1 - R0 = Σ_v [ (N1_v - R0·D1_v) / D1  -  (N0_v - R0·D0_v) / D0 ]

because ``Σ_v (N1_v - R0·D1_v) = D1·(R1 - R0)`` and ``Σ_v (N0_v - R0·D0_v) = 0``. A value's term — its
*contribution* — is how far its calls fell short of (or beat) the baseline rate, as a share of all calls,
now minus then: a route whose calls answer as they used to contributes nothing, whatever its volume; a
route whose failures doubled carries the drop; a shift of traffic towards a worse route shows as that
route's weight growing. The contributions of one dimension sum to the change; those of different
dimensions describe the same calls from different sides (a route and the cause it fails with), so each
is also given as its share of the change. A count KPI's contribution is the value's own change.

Rows are ranked by contribution in the direction of the change, weighted by ``1 - traffic share`` (the
larger of the value's share of calls in either window): a value holding nearly every call ("direction
outbound") carries any change without saying anything about it, so it sinks below the specific values
(a route, a cause) that carry the same change.

The totals come from the rollups (``StatsService``): for each window, only the counters the KPI reads (and
attempts, for the ranking) are summed per value of every dimension of ``hangup.stats.dimensions.BREAKDOWNS``,
so a dimension added there is explained too; a filtered window is counted from raw calls. Every
value is split and ranked, so each dimension's contributions still sum to the change; only the rows shown
are built (``docs/benchmarks.md``, "What changed").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hangup.bounds import digits
from hangup.errors import PayloadError
from hangup.stats import rollup_reads
from hangup.stats.dimensions import BREAKDOWNS, DIMENSIONS
from hangup.stats.labels import display, value_label
from hangup.stats.metrics import METRIC_IDS, METRICS, get_metric
from hangup.stats.route_table import report_size
from hangup.stats.service import StatsService
from hangup.stats.totals import FAULT_DOMAINS, Totals
from hangup.stats.windows import Window, calls_link, parse_span, parse_time

#: Default baseline: the same window one week earlier.
WEEK = 7 * 86400
DEFAULT_LIMIT = 20
#: The most rows an explanation lists.
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Parts:
    """How a KPI is built from counters: ``numerator / denominator``, or ``numerator · scale`` for a count."""

    numerator: str
    denominator: str | None = None
    scale: float = 1.0


#: The counters of every KPI of ``hangup.stats.metrics.METRICS`` (a test keeps the two in step).
PARTS: Mapping[str, Parts] = {
    "attempts": Parts("attempts"),
    "answered": Parts("answered"),
    "failed": Parts("failed"),
    "minutes": Parts("duration_sum", scale=1 / 60),
    "asr": Parts("answered", "attempts"),
    "ner": Parts("ner_ok", "attempts"),
    "acd": Parts("duration_sum", "answered"),
    "tta": Parts("tta_sum", "tta_count"),
    "abandonment": Parts("abandoned", "attempts"),
    "human_reach": Parts("answered_human", "attempts"),
    "normal_ratio": Parts("normal", "attempts"),
    "failure_rate": Parts("failed", "attempts"),
    **{f"failure_rate.{d}": Parts(f"failed_{d}", "attempts") for d in FAULT_DOMAINS},
}
#: Every metric name an explanation takes: those of ``METRIC_IDS`` (aliases too) whose metric has ``PARTS``.
EXPLAINABLE: tuple[str, ...] = tuple(name for name in METRIC_IDS if get_metric(name).id in PARTS)


def counters_of(parts: Parts) -> tuple[str, ...]:
    """The counters an explanation of ``parts`` reads: numerator, denominator and attempts (for the ranking)."""
    return tuple(dict.fromkeys(c for c in (parts.numerator, parts.denominator, "attempts") if c))


#: A value's sums of ``counters_of(parts)``, in that order.
Sums = tuple[int, ...]


def contributions(parts: Parts, before: Mapping[str, Totals], after: Mapping[str, Totals]) -> dict[str, float]:
    """Each value's share of the change (module docstring); they sum to the total change when it is defined."""
    names = counters_of(parts)
    return split(parts, {k: _sums(t, names) for k, t in before.items()},
                 {k: _sums(t, names) for k, t in after.items()})


def split(parts: Parts, before: Mapping[str, Sums], after: Mapping[str, Sums]) -> dict[str, float]:
    """``contributions`` of values given as sums of ``counters_of(parts)``."""
    names = counters_of(parts)
    n_at = names.index(parts.numerator)
    keys = set(before) | set(after)
    empty = (0,) * len(names)
    num = {k: (before.get(k, empty)[n_at], after.get(k, empty)[n_at]) for k in keys}
    if parts.denominator is None:
        return {k: (n1 - n0) * parts.scale for k, (n0, n1) in num.items()}
    d_at = names.index(parts.denominator)
    den = {k: (before.get(k, empty)[d_at], after.get(k, empty)[d_at]) for k in keys}
    d0, d1 = sum(d[0] for d in den.values()), sum(d[1] for d in den.values())
    if d0 == 0 or d1 == 0:
        return {}
    r0 = sum(n[0] for n in num.values()) / d0
    return {k: (num[k][1] - r0 * den[k][1]) / d1 - (num[k][0] - r0 * den[k][0]) / d0 for k in keys}


def _sums(t: Totals, names: Sequence[str]) -> Sums:
    return tuple(int(getattr(t, name)) for name in names)


@dataclass(frozen=True, slots=True)
class Question:
    """A KPI, the window to explain and the baseline to compare it with."""

    metric: str
    window: Window
    baseline: Window
    dimensions: tuple[str, ...] = BREAKDOWNS
    limit: int = DEFAULT_LIMIT


def question(metric: str, window: Window, baseline: Window | None = None, dimensions: Sequence[str] = (),
             limit: int = DEFAULT_LIMIT) -> Question:
    """Check a question's parts; the baseline defaults to the same window a week earlier."""
    spec = get_metric(metric)
    if spec.id not in PARTS:
        raise PayloadError(f"{spec.id} cannot be explained", [{"field": "metric", "error": "not decomposable"}])
    dims = tuple(dimensions) or BREAKDOWNS
    unknown = [d for d in dims if d not in BREAKDOWNS]
    if unknown:
        raise PayloadError(f"cannot explain by {unknown}",
                           [{"field": "by", "error": f"one of {', '.join(BREAKDOWNS)}"}])
    if not 1 <= limit <= MAX_LIMIT:
        raise PayloadError("bad limit", [{"field": "limit", "error": f"must be between 1 and {MAX_LIMIT}"}])
    base = baseline or replace(window, start=window.start - WEEK, end=window.end - WEEK)
    return Question(spec.id, window, replace(base, filters=dict(window.filters)), dims, limit)


#: Parameters of an explanation besides the window's range and filters (API, dashboard, CLI).
PARAMS = ("metric", "by", "shift", "baseline_from", "baseline_to")


def question_from(given: Mapping[str, str], window: Window) -> Question:
    """A question from request parameters: ``metric`` (default asr), ``by`` (comma-separated dimensions),
    ``limit``, and the baseline as ``baseline_from``/``baseline_to`` or ``shift`` (a span back, default 7d)."""
    baseline = None
    if given.get("baseline_from") or given.get("baseline_to"):
        if not (given.get("baseline_from") and given.get("baseline_to")):
            raise PayloadError("give both baseline_from and baseline_to",
                               [{"field": "baseline_to" if given.get("baseline_from") else "baseline_from",
                                 "error": "required with the other baseline bound"}])
        start = parse_time("baseline_from", given["baseline_from"])
        end = parse_time("baseline_to", given["baseline_to"])
        if start >= end:
            raise PayloadError("bad baseline", [{"field": "baseline_from", "error": "must be before baseline_to"}])
        baseline = replace(window, start=start, end=end)
    elif given.get("shift"):
        try:
            back = parse_span(given["shift"])
        except PayloadError:
            raise PayloadError("bad shift", [{"field": "shift", "error": "must look like 1d, 7d or 4w"}]) from None
        baseline = replace(window, start=window.start - back, end=window.end - back)
    dims = [d.strip() for d in (given.get("by") or "").split(",") if d.strip()]
    limit_text = given.get("limit") or str(DEFAULT_LIMIT)
    limit = digits(limit_text)
    if limit is None:
        raise PayloadError("bad limit", [{"field": "limit", "error": f"must be between 1 and {MAX_LIMIT}"}])
    return question(given.get("metric") or "asr", window, baseline, dims, limit)


def explain(service: StatsService, q: Question, min_samples: int | None = None) -> dict[str, Any]:
    """The KPI now and in the baseline, and the dimension values that moved it, largest contribution first."""
    spec, parts = METRICS[q.metric], PARTS[q.metric]
    size = report_size(q.window)  # a long window is read from day rows only, as the route report is
    window, baseline = service.aligned(q.window, size), service.aligned(q.baseline, size)
    m = service.min_samples if min_samples is None else min_samples
    now_total, _ = service.totals(window)
    then_total, _ = service.totals(baseline)
    value, before = spec(now_total, m), spec(then_total, m)
    change = None if value is None or before is None else value - before
    names = counters_of(parts)
    now, then = by_value(service, window, q.dimensions, names), by_value(service, baseline, q.dimensions, names)
    found = [(dim, key, part) for dim in q.dimensions
             for key, part in split(parts, then[dim], now[dim]).items() if part]
    sign = -1.0 if (change or 0.0) < 0 else 1.0
    weight = (max(1, now_total.attempts), max(1, then_total.attempts))
    at = names.index("attempts")
    empty = (0,) * len(names)

    def rank(item: tuple[str, str, float]) -> tuple[float, str, str]:
        dim, key, part = item
        share = max(now[dim].get(key, empty)[at] / weight[0], then[dim].get(key, empty)[at] / weight[1])
        return -sign * part * (1.0 - share), dim, key

    # Every value is ranked, so the contributions of each dimension still sum to the change; only the rows
    # shown are built.
    shown = sorted(found, key=rank)[: q.limit]
    rows = [_row(dim, key, part, change, _totals(names, now[dim].get(key, empty)),
                 _totals(names, then[dim].get(key, empty)), spec.id, m, window) for dim, key, part in shown]
    return {
        "metric": spec.id, "label": spec.label, "unit": spec.unit, "min_samples": m,
        "window": window.to_json(), "baseline": baseline.to_json(),
        "value": value, "display": display(spec, value),
        "baseline_value": before, "baseline_display": display(spec, before),
        "change": change, "attempts": now_total.attempts, "baseline_attempts": then_total.attempts,
        "method": "ratio split (docs/kpis.md, \"What changed\")" if parts.denominator else "count difference",
        "source": "rollups" if window.rollup_key() is not None else "raw",
        "contributions": rows,
    }


def by_value(service: StatsService, window: Window, dims: Sequence[str], names: Sequence[str]
             ) -> dict[str, dict[str, Sums]]:
    """The sums of ``names`` per value of each dimension over ``window`` (aligned): from the rollups when the
    window has no filter, else counted from raw calls."""
    if window.filters:
        return {dim: {key: _sums(t, names) for key, t in service.by_value(window, dim).items()} for dim in dims}
    with service.db.reading() as conn:
        return {dim: rollup_reads.sums_by_value(conn, window.start, window.end, dim, names) for dim in dims}


def _totals(names: Sequence[str], sums: Sums) -> Totals:
    return Totals(**dict(zip(names, sums, strict=True)))


def _row(dim: str, key: str, part: float, change: float | None, now: Totals, then: Totals, metric: str,
         m: int, window: Window) -> dict[str, Any]:
    spec = METRICS[metric]
    return {
        "dimension": dim, "dimension_label": DIMENSIONS[dim].label, "value": key, "label": value_label(dim, key),
        "contribution": part, "share": part / change if change else None,
        "now": {"attempts": now.attempts, "value": spec(now, m)},
        "baseline": {"attempts": then.attempts, "value": spec(then, m)},
        "calls": calls_link(window, dim, key),
    }


def headline(answer: Mapping[str, Any], top: int = 3) -> list[str]:
    """One line per leading contribution, in words (the CLI table, the alert payload's summary)."""
    out = []
    change = answer["change"]
    for row in _leading(answer["contributions"], top):
        share = f"{row['share']:.0%} of the change" if row["share"] is not None else "n/a"
        out.append(f"{row['dimension_label']} {row['label']}: {row['contribution']:+.4g} ({share})")
    if change is None:
        out.insert(0, "too few calls in one of the windows to compare")
    return out


def _leading(rows: Iterable[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    return list(rows)[:top]
