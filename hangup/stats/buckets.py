"""Time buckets: UTC-aligned minutes, hours and days as integer Unix seconds.

Bucket starts are computed in Python at insert time so the SQL stays portable (no date functions).
A query range is cut into whole days, then whole hours, then minutes, so a 30-day figure reads
about 30 + 2x23 + 2x59 rollup rows instead of millions of calls.
"""

from __future__ import annotations

from hangup.errors import PayloadError

MINUTE = 60
HOUR = 3600
DAY = 86400
#: Top dimensions only (``hangup.stats.dimensions.TOPS``): their day rows summed per week, aligned on the Unix
#: epoch (weeks start on Thursday 00:00 UTC), so a 30-day top list reads 6–12 rows a value instead of 30.
WEEK = 7 * DAY

#: Bucket sizes by name, finest first.
LEVELS: dict[str, int] = {"minute": MINUTE, "hour": HOUR, "day": DAY}


class BadBucket(PayloadError):
    error_id = "unknown_bucket"


def level_of(name: str) -> int:
    try:
        return LEVELS[name]
    except KeyError:
        valid = ", ".join(LEVELS)
        raise BadBucket(
            f"unknown bucket {name!r}; valid: {valid}", [{"field": "bucket", "error": f"must be one of: {valid}"}]
        ) from None


def floor(t: int, size: int) -> int:
    return t - t % size


def ceil(t: int, size: int) -> int:
    return -(-t // size) * size


def decompose(start: int, end: int) -> list[tuple[int, int, int]]:
    """Cover ``[start, end)`` (widened to whole minutes) with ``(level, lo, hi)`` bucket-start ranges.

    Each triple selects buckets of size ``level`` whose start is in ``[lo, hi)``; the pieces do not
    overlap and together cover exactly the widened range.
    """
    lo, hi = floor(start, MINUTE), ceil(end, MINUTE)
    return _cover(lo, hi, (DAY, HOUR, MINUTE))


def top_pieces(start: int, end: int) -> list[tuple[int, int, int]]:
    """``decompose`` for a top dimension: ``[start, end)`` widened to whole UTC days, covered by the whole
    weeks inside and the days before and after them."""
    return _cover(floor(start, DAY), ceil(end, DAY), (WEEK, DAY))


def _cover(lo: int, hi: int, sizes: tuple[int, ...]) -> list[tuple[int, int, int]]:
    if lo >= hi:
        return []
    size, rest = sizes[0], sizes[1:]
    if not rest:
        return [(size, lo, hi)]
    inner_lo, inner_hi = ceil(lo, size), floor(hi, size)
    if inner_lo >= inner_hi:
        return _cover(lo, hi, rest)
    return [*_cover(lo, inner_lo, rest), (size, inner_lo, inner_hi), *_cover(inner_hi, hi, rest)]


# -- the minute horizon (``hangup.stats.retention``) -----------------------------------------
#: Minute rows the prune keeps beyond the horizon: a question that took its horizon before the prune ran,
#: or a node whose clock is up to this far behind, still finds every minute row it reads.
GRACE = HOUR
def horizon(now: float, days: int) -> int | None:
    """The earliest bucket start answered from minute rows (``None`` when ``days`` is 0: all are kept)."""
    return floor(int(now) - days * DAY, HOUR) if days > 0 else None


def prune_before(now: float, days: int) -> int | None:
    """Minute rows with a bucket before this are deleted (``None``: none are)."""
    edge = horizon(now, days)
    return None if edge is None else edge - GRACE


def widen(start: int, end: int, edge: int | None) -> tuple[int, int]:
    """``[start, end)`` with each end before the horizon ``edge`` moved out to a whole hour."""
    if edge is None:
        return start, end
    return (floor(start, HOUR) if start < edge else start), (ceil(end, HOUR) if end < edge else end)
