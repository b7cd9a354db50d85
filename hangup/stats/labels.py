"""Plain-words labels of dimension values and readable numbers ("N/A" where a figure is not meaningful)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from hangup.causes import default_catalog
from hangup.errors import CatalogError
from hangup.stats.metrics import Metric

NONE_LABEL = "(none)"


def _code(scheme: str) -> Callable[[str], str]:
    def label(value: str) -> str:
        cause = default_catalog().lookup(scheme, value)
        return f"{value} {cause.name}" if cause.known else value

    return label


def _cause(value: str) -> str:
    try:
        cause = default_catalog().resolve(value)
    except CatalogError:
        return value
    return f"{value} {cause.name}" if cause.known and cause.name != cause.key else value


def _words(value: str) -> str:
    return value.replace("_", " ")


_LABELLERS: dict[str, Callable[[str], str]] = {
    "call_end_reason": _code("planet"),
    "terminate": _code("planet-terminate"),
    "cause": _cause,
    "outcome": _words,
    "ended_by": _words,
    "fault": _words,
    "call_type": lambda v: {"A": "audio", "V": "video"}.get(v, v),
}


def value_label(dim: str, value: str) -> str:
    """How a dimension value reads on the dashboard, e.g. ``1005`` -> ``1005 CALLEE_END``."""
    if value == "":
        return NONE_LABEL
    labeller = _LABELLERS.get(dim)
    return labeller(value) if labeller else value


def display(metric: Metric, value: float | None) -> str:
    """A metric value for people: ``N/A`` when there is none."""
    if value is None:
        return "N/A"
    if metric.unit == "ratio":
        return f"{value * 100:.1f} %"
    if metric.unit == "seconds":
        return duration(value)
    if metric.unit == "minutes":
        return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    return f"{value:,.0f}"


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def utc_time(value: float | None) -> str:
    """``2026-11-23 04:30:00`` (UTC), or a dash when the time is unknown (0)."""
    if not value:
        return "—"
    try:
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):  # stored before hangup.bounds refused such times
        return f"{value} (not a calendar time)"
