from __future__ import annotations

import pytest

from hangup.stats.metrics import METRICS, UnknownMetric, compute, get_metric
from hangup.stats.totals import Totals

T = Totals(
    attempts=200, answered=110, normal=170, ner_ok=180, abandoned=6, duration_sum=11000, tta_sum=880, tta_count=88,
    failed=30, failed_network=12, failed_platform=3, failed_caller_side=5, failed_callee_side=10,
)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("attempts", 200),
        ("answered", 110),
        ("failed", 30),
        ("asr", 110 / 200),
        ("ner", 180 / 200),
        ("acd", 11000 / 110),
        ("minutes", 11000 / 60),
        ("tta", 880 / 88),
        ("pdd", 880 / 88),
        ("abandonment", 6 / 200),
        ("normal_ratio", 170 / 200),
        ("failure_rate", 30 / 200),
        ("failure_rate.network", 12 / 200),
        ("failure_rate.callee_side", 10 / 200),
        ("failure_rate.account", 0.0),
    ],
)
def test_metric_values(metric: str, expected: float) -> None:
    assert get_metric(metric)(T, 10) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("metric", "totals"),
    [
        ("asr", Totals(attempts=9, answered=9)),
        ("ner", Totals(attempts=0)),
        ("acd", Totals(attempts=100, answered=9, duration_sum=900)),
        ("tta", Totals(attempts=100, answered=50, tta_count=3, tta_sum=30)),
        ("abandonment", Totals(attempts=5, abandoned=5)),
        ("failure_rate.network", Totals(attempts=2, failed=2, failed_network=2)),
    ],
)
def test_rates_below_min_samples_are_none(metric: str, totals: Totals) -> None:
    assert get_metric(metric)(totals, 10) is None


def test_counts_are_never_none() -> None:
    for metric_id in ("attempts", "answered", "failed", "minutes"):
        assert METRICS[metric_id](Totals(), 10) == 0


def test_min_samples_zero_still_avoids_division_by_zero() -> None:
    assert get_metric("asr")(Totals(), 0) is None
    assert get_metric("asr")(Totals(attempts=1, answered=1), 0) == 1.0


def test_unknown_metric_names_the_valid_ones() -> None:
    with pytest.raises(UnknownMetric) as info:
        compute(T, ["asr", "nope"])
    assert "nope" in str(info.value)
    for valid in ("asr", "ner", "acd", "tta", "failure_rate.network"):
        assert valid in str(info.value)
    assert info.value.to_json()["details"][0]["field"] == "metric"
    assert info.value.status == 400


def test_totals_add_and_round_trip() -> None:
    assert (T + T).attempts == 400
    assert Totals.from_row(T.row()) == T
    assert Totals.from_row([None] * len(T.row())) == Totals()
