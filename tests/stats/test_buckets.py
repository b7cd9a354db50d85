from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hangup.stats.buckets import DAY, HOUR, MINUTE, WEEK, ceil, decompose, floor, top_pieces

BASE = 1_700_000_000


@given(st.integers(0, 40 * DAY), st.integers(1, 40 * DAY))
def test_decompose_covers_the_minute_aligned_range_exactly_once(offset: int, length: int) -> None:
    start, end = BASE + offset, BASE + offset + length
    covered: list[tuple[int, int]] = []
    for size, lo, hi in decompose(start, end):
        assert size in (MINUTE, HOUR, DAY)
        assert lo % size == 0 and hi % size == 0 and lo < hi
        covered.append((lo, hi))
    covered.sort()
    assert covered[0][0] == floor(start, MINUTE)
    assert covered[-1][1] == ceil(end, MINUTE)
    for (_, hi), (lo, _) in zip(covered, covered[1:], strict=False):
        assert hi == lo


def test_thirty_days_read_few_buckets() -> None:
    parts = decompose(BASE + 123, BASE + 30 * DAY - 77)
    buckets = sum((hi - lo) // size for size, lo, hi in parts)
    assert buckets < 30 + 2 * 24 + 2 * 60


@given(st.integers(0, 60 * DAY), st.integers(0, 60 * DAY))
def test_top_pieces_cover_the_whole_days_exactly_once(offset: int, length: int) -> None:
    start, end = BASE + offset, BASE + offset + length
    pieces = top_pieces(start, end)
    for size, lo, hi in pieces:
        assert size in (DAY, WEEK)
        assert lo % size == 0 and hi % size == 0 and lo < hi
    covered = sorted((lo, hi) for _, lo, hi in pieces)
    if floor(start, DAY) == ceil(end, DAY):
        assert covered == []
    else:
        assert covered[0][0] == floor(start, DAY) and covered[-1][1] == ceil(end, DAY)
        assert all(hi == lo for (_, hi), (lo, _) in zip(covered, covered[1:], strict=False))


@pytest.mark.parametrize(("days", "most"), [(1, 1), (7, 7), (14, 8), (30, 12), (90, 18)])
def test_top_pieces_read_few_buckets(days: int, most: int) -> None:
    midnight = BASE - BASE % DAY
    counts = [sum((hi - lo) // size for size, lo, hi in top_pieces(midnight + k * DAY, midnight + (k + days) * DAY))
              for k in range(7)]  # every weekday the range can start on
    assert max(counts) == most
