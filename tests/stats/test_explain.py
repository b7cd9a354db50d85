"""What changed: a KPI's change split over dimension values, exactly, largest part first."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from planted_traffic import FAILURE, NOW_END, NOW_START, planted

from hangup.errors import PayloadError
from hangup.stats.dimensions import BREAKDOWNS, DIMENSIONS
from hangup.stats.explain import PARTS, by_value, contributions, counters_of, explain, question
from hangup.stats.metrics import METRICS
from hangup.stats.service import StatsService
from hangup.stats.totals import COUNTERS, Totals
from hangup.stats.windows import Window


def _random_totals(rng: random.Random) -> Totals:
    attempts = rng.randint(1, 500)
    values = {name: rng.randint(0, attempts) for name in COUNTERS}
    values.update(attempts=attempts, duration_sum=rng.randint(0, 50_000), tta_sum=rng.randint(0, 5_000))
    return Totals(**values)


def test_every_kpi_has_parts_that_compute_it() -> None:
    rng = random.Random(5)
    assert set(PARTS) == set(METRICS)
    for _ in range(50):
        t = _random_totals(rng)
        for metric_id, parts in PARTS.items():
            got = METRICS[metric_id](t, 0)
            num = getattr(t, parts.numerator) * parts.scale
            want = num if parts.denominator is None else (
                num / getattr(t, parts.denominator) if getattr(t, parts.denominator) else None)
            assert got == pytest.approx(want), metric_id


@pytest.mark.parametrize("metric_id", sorted(PARTS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_contributions_of_a_dimension_sum_to_the_change(metric_id: str, seed: int) -> None:
    rng = random.Random(seed)
    before = {f"v{i}": _random_totals(rng) for i in range(rng.randint(1, 6))}
    after = {f"v{i}": _random_totals(rng) for i in range(rng.randint(1, 6))}  # values come and go
    spec = METRICS[metric_id]
    then, now = sum(before.values(), Totals()), sum(after.values(), Totals())
    if spec(then, 0) is None or spec(now, 0) is None:
        return
    parts = contributions(PARTS[metric_id], before, after)
    assert sum(parts.values()) == pytest.approx(spec(now, 0) - spec(then, 0), abs=1e-9)


@pytest.mark.parametrize(("before", "after", "want"), [
    # a value that answers as the baseline did contributes nothing, whatever its volume
    ({"a": Totals(attempts=100, answered=50), "b": Totals(attempts=100, answered=50)},
     {"a": Totals(attempts=100, answered=50), "b": Totals(attempts=300, answered=150)}, {"a": 0.0, "b": 0.0}),
    # b's answers fell from 50 % to 10 %: all of the drop is b's
    ({"a": Totals(attempts=100, answered=50), "b": Totals(attempts=100, answered=50)},
     {"a": Totals(attempts=100, answered=50), "b": Totals(attempts=100, answered=10)}, {"a": 0.0, "b": -0.2}),
    # no calls then: nothing to compare with
    ({}, {"a": Totals(attempts=10, answered=5)}, {}),
])
def test_contributions_of_asr(before: dict[str, Totals], after: dict[str, Totals], want: dict[str, float]) -> None:
    assert contributions(PARTS["asr"], before, after) == pytest.approx(want)


@pytest.mark.parametrize("dim", [d for d in ("provider", "route") if d in DIMENSIONS])
def test_a_planted_asr_drop_on_one_route_is_explained_as_its_failures(tmp_path: Path, dim: str) -> None:
    _, service, db = planted(tmp_path, dim)
    try:
        answer = explain(service, question("asr", Window(NOW_START, NOW_END), limit=200))
    finally:
        db.close()
    assert answer["change"] < -0.1 and answer["source"] == "rollups"
    assert answer["baseline"]["from"] == NOW_START - 7 * 86400
    rows = answer["contributions"]
    by_dim = [r for r in rows if r["dimension"] == dim]
    assert by_dim[0]["value"] == "b" and by_dim[0]["share"] > 0.9
    assert sum(r["contribution"] for r in by_dim) == pytest.approx(answer["change"])
    leading = [(r["dimension"], r["value"]) for r in rows[:6]]
    assert (dim, "b") in leading and ("cause", FAILURE) in leading[:3]
    assert all(r["contribution"] < 0 for r in rows[:6])
    assert ("direction", "outbound") not in leading  # nearly every call: carries the change, says nothing
    cause_row = next(r for r in rows if r["dimension"] == "cause" and r["value"] == FAILURE)
    assert "cause=planet%3A1021" in cause_row["calls"] and f"since={NOW_START}" in cause_row["calls"]


@pytest.mark.parametrize(("args", "field"), [
    ({"metric": "nope"}, "metric"),
    ({"metric": "asr", "dimensions": ["user"]}, "by"),
    ({"metric": "asr", "limit": 0}, "limit"),
])
def test_bad_questions_name_the_field(args: dict[str, object], field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        question(window=Window(0, 3600), **args)  # type: ignore[arg-type]
    assert caught.value.details[0]["field"] == field


@pytest.fixture(scope="module")
def planted_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StatsService]:
    _, service, db = planted(tmp_path_factory.mktemp("planted"), "route")
    yield service
    db.close()


# Ragged minutes and hours at both ends, whole hours, whole days: every piece the rollups are read in.
WINDOWS = [
    Window(NOW_START + 17 * 60, NOW_END - 43 * 60),
    Window(NOW_START - 5 * 3600, NOW_END - 3 * 3600),
    Window(NOW_START - 7 * 86400, NOW_END),
    Window(NOW_START - 86400 + 1234, NOW_END - 4321),
]


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("metric_id", ["asr", "acd", "minutes", "failure_rate.network"])
def test_the_sums_the_explanation_reads_equal_each_dimensions_breakdown(planted_service: StatsService,
                                                                        window: Window, metric_id: str) -> None:
    names = counters_of(PARTS[metric_id])
    aligned = planted_service.aligned(window)
    got = by_value(planted_service, aligned, BREAKDOWNS, names)
    want = {dim: {key: tuple(getattr(t, n) for n in names) for key, t in planted_service.by_value(aligned, dim).items()}
            for dim in BREAKDOWNS}
    assert got == want
    assert any(len(values) > 1 for values in got.values())


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_the_rows_shown_are_the_head_of_the_whole_ranking(planted_service: StatsService, limit: int) -> None:
    every = explain(planted_service, question("asr", Window(NOW_START, NOW_END), limit=200))
    head = explain(planted_service, question("asr", Window(NOW_START, NOW_END), limit=limit))
    assert head["contributions"] == every["contributions"][:limit]
    assert len(every["contributions"]) > limit


@pytest.mark.parametrize(("start", "end", "want"), [
    # up to a week: whole minutes
    (NOW_START + 90, NOW_END - 90, (NOW_START + 60, NOW_END - 60)),
    (NOW_END - 7 * 86400 + 90, NOW_END - 90, (NOW_END - 7 * 86400 + 60, NOW_END - 60)),
    # longer: whole UTC days, the baseline too
    (NOW_END - 7 * 86400 - 90, NOW_END - 30, (NOW_END - 8 * 86400, NOW_END)),
    (NOW_END - 30 * 86400 + 3600, NOW_END + 60, (NOW_END - 30 * 86400, NOW_END + 86400)),
])
def test_windows_longer_than_a_week_are_read_to_whole_days(planted_service: StatsService, start: int, end: int,
                                                          want: tuple[int, int]) -> None:
    answer = explain(planted_service, question("asr", Window(start, end)))
    assert (answer["window"]["from"], answer["window"]["to"]) == want
    assert (answer["baseline"]["from"], answer["baseline"]["to"]) == (want[0] - 7 * 86400, want[1] - 7 * 86400)
