"""The answers API, dashboard and CLI share: shapes, N/A below the minimum sample, errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from stats_fixtures import seeded_fixture, span_fixture  # noqa: F401

from hangup.errors import PayloadError
from hangup.records import CallRecord
from hangup.stats.service import StatsService
from hangup.stats.totals import Totals, call_time
from hangup.stats.windows import Window, parse_window
from hangup.store import Store

Seeded = tuple[Store, StatsService, list[CallRecord]]


def test_summary_matches_the_calls(seeded: Seeded, span: tuple[int, int]) -> None:
    _, service, records = seeded
    answer = service.summary(Window(*span))
    tiles = {m["id"]: m for m in answer["metrics"]}
    expected = Totals.of(r for r in records if span[0] <= call_time(r) < span[1])
    assert tiles["attempts"]["value"] == expected.attempts
    assert tiles["asr"]["value"] == pytest.approx(expected.answered / expected.attempts)
    assert tiles["asr"]["display"].endswith("%")
    assert answer["source"] == "rollups"
    assert {f["id"] for f in answer["failure_rates"]} >= {"failure_rate", "failure_rate.network"}


def test_small_samples_read_na(seeded: Seeded, span: tuple[int, int]) -> None:
    _, service, _ = seeded
    answer = service.summary(Window(span[0], span[0] + 120), min_samples=1000)
    tiles = {m["id"]: m for m in answer["metrics"]}
    assert tiles["asr"]["value"] is None and tiles["asr"]["display"] == "N/A"
    assert tiles["attempts"]["value"] is not None


def test_timeseries_has_every_bucket(seeded: Seeded, span: tuple[int, int]) -> None:
    _, service, _ = seeded
    answer = service.timeseries(Window(*span), "asr", "hour")
    assert len(answer["points"]) == 72
    assert [p["t"] for p in answer["points"]] == list(range(span[0], span[1], 3600))
    assert sum(p["attempts"] for p in answer["points"]) == service.totals(Window(*span))[0].attempts


def test_breakdown_rows_are_labelled_and_sorted(seeded: Seeded, span: tuple[int, int]) -> None:
    _, service, _ = seeded
    answer = service.breakdown(Window(*span), "call_end_reason")
    attempts = [r["attempts"] for r in answer["rows"]]
    assert attempts == sorted(attempts, reverse=True)
    labels = {r["value"]: r["label"] for r in answer["rows"]}
    assert labels["1005"] == "1005 CALLEE_END"
    assert labels[""] == "(none)"  # the contact-centre calls carry no Planet reason
    assert sum(attempts) == answer["attempts"]


def test_filtered_breakdown_falls_back_to_raw_rows(seeded: Seeded, span: tuple[int, int]) -> None:
    _, service, records = seeded
    answer = service.breakdown(Window(*span, {"from_user_id": "user0007"}), "outcome")
    assert answer["source"] == "raw"
    expected = sum(1 for r in records if r.from_user_id == "user0007" and span[0] <= call_time(r) < span[1])
    assert answer["attempts"] == expected > 0


def test_top_users_by_failures(seeded: Seeded, span: tuple[int, int]) -> None:
    _, service, records = seeded
    answer = service.top(Window(*span), "user", 5)
    first = answer["rows"][0]
    failures = sum(1 for r in records if r.from_user_id == first["value"] and not r.normal)
    assert first["failures"] == failures
    assert len(answer["rows"]) == 5


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s, w: s.timeseries(w, "nope"), "metric"),
        (lambda s, w: s.timeseries(w, "asr", "week"), "bucket"),
        (lambda s, w: s.timeseries(Window(w.start - 300 * 86400, w.end), "asr", "minute"), "bucket"),
        (lambda s, w: s.breakdown(w, "colour"), "by"),
        (lambda s, w: s.top(w, "outcome"), "by"),
        (lambda s, w: s.breakdown(w, "outcome", limit=0), "limit"),
        (lambda s, w: s.summary(w, min_samples=-1), "min_samples"),
    ],
)
def test_bad_questions_name_the_field(seeded: Seeded, span: tuple[int, int], call: Any, field: str) -> None:
    _, service, _ = seeded
    with pytest.raises(PayloadError) as info:
        call(service, Window(*span))
    assert info.value.status == 400
    assert info.value.details[0]["field"] == field


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"from": "1700000000", "to": "1700003600"}, (1700000000, 1700003600, {})),
        ({"to": "2023-11-14T22:13:20Z", "range": "1h"}, (1700000000 - 3600, 1700000000, {})),
        ({"until": "1700000000", "outcome": "busy"}, (1700000000 - 86400, 1700000000, {"outcome": "busy"})),
        ({"since": "1700000000", "to": "1700000060", "type": "V"}, (1700000000, 1700000060, {"call_type": "V"})),
        (
            {"to": "1700000000", "normal": "yes", "service": "s1"},
            (1699913600, 1700000000, {"normal": "true", "service": "s1"}),
        ),
        (
            {"to": "1700000000", "range": "15m", "call_end_reason": "1005"},
            (1699999100, 1700000000, {"call_end_reason": "1005"}),
        ),
        ({"from": "1700000000", "to": "1700003600", "format": "json"}, (1700000000, 1700003600, {})),
    ],
)
def test_parse_window(params: dict[str, str], expected: tuple[int, int, dict[str, str]]) -> None:
    window = parse_window(params, now=1_800_000_000)
    assert (window.start, window.end, window.filters) == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"from": "1700000000", "to": "1600000000"}, "from"),
        ({"range": "3 days"}, "range"),
        ({"range": "999w"}, "range"),
        ({"call_end_reason": "CALLEE_END"}, "call_end_reason"),
        ({"normal": "maybe"}, "normal"),
        ({"terminate": "9" * 30}, "terminate"),
        ({"junk": "x"}, "junk"),
        ({"outcome": "sideways"}, "outcome"),
        ({"format": "csv"}, "format"),  # statistics answer JSON only
    ],
)
def test_parse_window_errors_name_the_field(params: dict[str, str], field: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_window(params, now=1_800_000_000)
    assert info.value.details[0]["field"] == field
