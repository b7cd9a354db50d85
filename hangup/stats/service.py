"""The statistics questions hangup answers, as JSON-ready dicts shared by the API, the dashboard and the CLI.

Each answer says where it came from (``"source": "rollups"`` or ``"raw"``): questions with no filter
or one filter the rollups keep are read from rollups; anything else is counted from raw rows with
the same definitions (slower, never different). Ranges are widened to whole minutes, an end older than
the minute rollups' retention to a whole hour (``hangup.stats.retention``), top lists to whole UTC days,
and the answer carries the range actually used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hangup.errors import PayloadError
from hangup.stats import buckets, raw, retention, rollup_reads
from hangup.stats.buckets import DAY, MINUTE, ceil, floor, level_of
from hangup.stats.db import StatsDB
from hangup.stats.dimensions import BREAKDOWNS, TOPS, get_dimension
from hangup.stats.labels import display, utc_time, value_label
from hangup.stats.metrics import DEFAULT_MIN_SAMPLES, METRICS, SUMMARY_METRICS, get_metric
from hangup.stats.totals import COUNTERS, FAULT_DOMAINS, Totals
from hangup.stats.windows import Window

MAX_POINTS = 2000
MAX_ROWS = 500
#: The largest ``min_samples`` a question may ask for.
MAX_MIN_SAMPLES = 1_000_000
#: Metrics shown for every row of a breakdown.
ROW_METRICS = ("asr", "ner", "acd", "failure_rate")


def aligned(window: Window, size: int = MINUTE) -> Window:
    return replace(window, start=floor(window.start, size), end=ceil(window.end, size))


@dataclass
class StatsService:
    """Answers statistics questions over one store database.

    ``minute_days`` is the store's minute-rollup retention (``HANGUP_MINUTE_ROLLUP_DAYS``; 0 = minute rows
    are never pruned): range ends older than that are answered to whole hours.
    """

    db: StatsDB
    min_samples: int = DEFAULT_MIN_SAMPLES
    minute_days: int = retention.DEFAULT_DAYS
    clock: Callable[[], float] = time.time

    def minute_horizon(self) -> int | None:
        """The earliest bucket start answered from minute rows now (``None``: every one is kept)."""
        return buckets.horizon(self.clock(), self.minute_days)

    def aligned(self, window: Window, size: int = MINUTE) -> Window:
        """``window`` widened to whole ``size`` buckets, and to whole hours where it is older than minute rows."""
        window = aligned(window, size)
        start, end = buckets.widen(window.start, window.end, self.minute_horizon())
        return replace(window, start=start, end=end)

    # -- counting -----------------------------------------------------------------------
    def totals(self, window: Window) -> tuple[Totals, str]:
        window = self.aligned(window)
        key = window.rollup_key()
        with self.db.reading() as conn:
            if key is not None:
                return rollup_reads.totals(conn, window.start, window.end, *key), "rollups"
            return raw.totals(conn, window, self.db.paramstyle), "raw"

    def totals_by(self, window: Window, by: str, counters: Sequence[str] = COUNTERS
                  ) -> tuple[dict[str, Totals], str]:
        """Totals per value of the ordinary dimension ``by`` over ``window`` (aligned), and their source; from
        rollups only ``counters`` are summed (the others read 0)."""
        window = self.aligned(window)
        if window.filters:
            return self._breakdown(window, by)
        with self.db.reading() as conn:
            return rollup_reads.summed_breakdown(conn, window.start, window.end, by, counters), "rollups"
    def by_value(self, window: Window, by: str) -> dict[str, Totals]:
        """The totals of each value of an ordinary dimension over ``window`` (already aligned)."""
        return self._breakdown(window, by)[0]

    def _breakdown(self, window: Window, by: str) -> tuple[dict[str, Totals], str]:
        with self.db.reading() as conn:
            if not window.filters:
                return rollup_reads.breakdown(conn, window.start, window.end, by), "rollups"
            return raw.breakdown(conn, window, by, self.db.paramstyle, failed_only=by in TOPS), "raw"

    def _series(self, window: Window, size: int) -> tuple[dict[int, Totals], str]:
        key = window.rollup_key()
        with self.db.reading() as conn:
            if key is not None:
                return rollup_reads.series(conn, window.start, window.end, size, *key), "rollups"
            return raw.series(conn, window, size, self.db.paramstyle), "raw"

    # -- answers ------------------------------------------------------------------------
    def summary(self, window: Window, min_samples: int | None = None) -> dict[str, Any]:
        m = self._min(min_samples)
        window = self.aligned(window)
        totals, source = self.totals(window)
        tiles = [_metric_json(mid, totals, m) for mid in SUMMARY_METRICS]
        faults = [_metric_json(f"failure_rate.{d}", totals, m) for d in FAULT_DOMAINS]
        return {
            **window.to_json(),
            "min_samples": m,
            "source": source,
            "metrics": tiles,
            "failure_rates": [_metric_json("failure_rate", totals, m), *faults],
            "totals": totals.to_json(),
        }

    def timeseries(
        self, window: Window, metric: str, bucket: str = "hour", min_samples: int | None = None
    ) -> dict[str, Any]:
        m = self._min(min_samples)
        spec = get_metric(metric)
        size = level_of(bucket)
        window = self.aligned(window, size)
        self._check_minutes(window, size)
        points_count = (window.end - window.start) // size
        if points_count > MAX_POINTS:
            raise PayloadError(
                f"{points_count} {bucket} buckets is too many (at most {MAX_POINTS}); use a coarser bucket",
                [{"field": "bucket", "error": f"gives more than {MAX_POINTS} points for this range"}],
            )
        found, source = self._series(window, size)
        empty = Totals()
        points = []
        for t in range(window.start, window.end, size):
            totals = found.get(t, empty)
            points.append({"t": t, "value": spec(totals, m), "attempts": totals.attempts})
        return {
            **window.to_json(),
            "metric": spec.id,
            "label": spec.label,
            "unit": spec.unit,
            "bucket": bucket,
            "min_samples": m,
            "source": source,
            "points": points,
        }

    def breakdown(
        self, window: Window, by: str, min_samples: int | None = None, limit: int = 50
    ) -> dict[str, Any]:
        m = self._min(min_samples)
        dim = get_dimension(by)
        if dim.top:
            return self.top(window, by, limit)
        window = self.aligned(window)
        found, source = self._breakdown(window, dim.id)
        total = sum(t.attempts for t in found.values())
        rows = [_row(dim.id, value, t, total, m) for value, t in found.items()]
        rows.sort(key=lambda r: (-r["attempts"], r["value"]))
        return {
            **window.to_json(),
            "by": dim.id,
            "label": dim.label,
            "min_samples": m,
            "source": source,
            "attempts": total,
            "rows": rows[: _limit(limit)],
            "more": max(0, len(rows) - _limit(limit)),
        }

    def top(self, window: Window, by: str, limit: int = 10) -> dict[str, Any]:
        """Values of a top dimension (user, destination, IP pair) with the most failed calls."""
        dim = get_dimension(by)
        if not dim.top:
            valid = ", ".join(TOPS)
            raise PayloadError(f"{by!r} has no top list; valid: {valid}", [{"field": "by", "error": valid}])
        window = aligned(window, DAY)
        with self.db.reading() as conn:
            if window.filters:
                found, source = raw.breakdown(conn, window, dim.id, self.db.paramstyle, True), "raw"
            else:
                found, source = rollup_reads.top(conn, window.start, window.end, dim.id, _limit(limit)), "rollups"
        rows: list[dict[str, Any]] = [
            {
                "value": value,
                "label": value_label(dim.id, value),
                "failures": t.failed,
                "by_fault": {d: t.failed_in(d) for d in FAULT_DOMAINS if t.failed_in(d)},
            }
            for value, t in found.items()
            if t.failed
        ]
        rows.sort(key=lambda r: (-r["failures"], r["value"]))
        return {
            **window.to_json(),
            "by": dim.id,
            "label": dim.label,
            "source": source,
            "rows": rows[: _limit(limit)],
        }

    def overview(self, window: Window, bucket: str = "hour", min_samples: int | None = None) -> dict[str, Any]:
        """Everything the dashboard's first page shows."""
        return {
            "summary": self.summary(window, min_samples),
            "series": {mid: self.timeseries(window, mid, bucket, min_samples) for mid in ("attempts", "asr")},
            "outcomes": self.breakdown(window, "outcome", min_samples),
            "reasons": self.breakdown(window, "call_end_reason", min_samples, limit=10),
            "top_users": self.top(window, "user", 10),
        }

    def _check_minutes(self, window: Window, size: int) -> None:
        edge = self.minute_horizon()
        if size == MINUTE and edge is not None and window.start < edge:
            raise PayloadError(
                f"the range starts before {utc_time(edge)} UTC, the oldest minute bucket kept; use hour or day",
                [{"field": "bucket", "error": f"minute buckets cover only the last {self.minute_days} days "
                                              "(HANGUP_MINUTE_ROLLUP_DAYS); use hour or day"}],
            )

    def _min(self, min_samples: int | None) -> int:
        value = self.min_samples if min_samples is None else min_samples
        if not 0 <= value <= MAX_MIN_SAMPLES:
            raise PayloadError("bad min_samples", [{"field": "min_samples", "error": f"must be 0..{MAX_MIN_SAMPLES}"}])
        return value


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_ROWS:
        raise PayloadError("bad limit", [{"field": "limit", "error": f"must be between 1 and {MAX_ROWS}"}])
    return limit


def _metric_json(metric_id: str, totals: Totals, min_samples: int) -> dict[str, Any]:
    spec = METRICS[metric_id]
    value = spec(totals, min_samples)
    return {"id": spec.id, "label": spec.label, "unit": spec.unit, "value": value, "display": display(spec, value)}


def _row(dim: str, value: str, t: Totals, total: int, min_samples: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "value": value,
        "label": value_label(dim, value),
        "attempts": t.attempts,
        "share": t.attempts / total if total else None,
    }
    for mid in ROW_METRICS:
        row[mid] = METRICS[mid](t, min_samples)
    return row


__all__ = ["BREAKDOWNS", "StatsService", "TOPS", "aligned"]
