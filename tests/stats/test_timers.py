"""Timer signatures: planted 32 s and 1800 s cuts are found and named; clean talk times give no cluster."""

from __future__ import annotations

import collections
import dataclasses
import math
import random
from pathlib import Path

import pytest

from hangup.composition import open_store
from hangup.stats import traffic
from hangup.stats.db import StatsDB
from hangup.stats.timers import annotation, insights, poisson_tail, spikes, suspect
from hangup.store.base import CallQuery

Draw = collections.abc.Callable[[random.Random], float]
CLEAN: dict[str, Draw] = {
    "exponential, mean 2 min": lambda rng: rng.expovariate(1 / 120),
    "lognormal, median 74 s": lambda rng: rng.lognormvariate(4.3, 1.0),
    "lognormal, short calls": lambda rng: rng.lognormvariate(3.0, 0.6),
    "lognormal, long calls": lambda rng: rng.lognormvariate(6.5, 0.8),
}


def _histogram(durations: list[float]) -> dict[int, int]:
    return dict(collections.Counter(int(d) for d in durations if d >= 1))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("kind", sorted(CLEAN))
def test_clean_talk_times_give_no_cluster(kind: str, seed: int) -> None:
    rng = random.Random(seed)
    assert spikes(_histogram([CLEAN[kind](rng) for _ in range(30_000)])) == []


@pytest.mark.parametrize(("kind", "cut", "planted", "timer"), [
    ("lognormal, median 74 s", 32, 200, "Timer B/F"),  # dense region: 200 extra over ~530 expected
    ("exponential, mean 2 min", 32, 250, "Timer B/F"),
    ("lognormal, median 74 s", 1800, 40, "Session-Expires 1800 s"),
    ("lognormal, long calls", 3600, 60, "1 h"),
    ("lognormal, median 74 s", 517, 40, None),  # a fixed value no table names is still a cluster
])
def test_a_planted_cut_is_found_and_named(kind: str, cut: int, planted: int, timer: str | None) -> None:
    rng = random.Random(7)
    durations = [CLEAN[kind](rng) for _ in range(20_000)] + [cut + rng.random() * 1.5 for _ in range(planted)]
    found = spikes(_histogram(durations))
    assert [abs(s.seconds - cut) <= 1 for s in found] == [True]
    named = suspect(found[0].seconds)
    assert (named.name if named else None) == timer or (timer is not None and named and timer in named.name)


@pytest.mark.parametrize(("k", "mean", "want"), [
    (0, 3.0, 1.0), (1, 1.0, 1 - math.exp(-1)), (2, 0.5, 1 - math.exp(-0.5) * 1.5), (40, 0.5, 0.0),
])
def test_poisson_tail(k: int, mean: float, want: float) -> None:
    assert poisson_tail(k, mean) == pytest.approx(want, abs=1e-12)


def test_stored_calls_cut_at_32_s_are_found_per_platform_and_flagged(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/calls.db"
    end = 1_700_006_400
    store = open_store(url)
    calls = [c for c in traffic.generate(20_000, end - 7 * 86400, end, seed=2) if c.answered]
    rng = random.Random(3)
    cut = {c.id for c in rng.sample(calls, 250)}
    for i, call in enumerate(calls):  # half the answered calls go through carrier-b; 250 of those are cut at 32 s
        changes: dict[str, object] = {"provider": "carrier-b" if i % 2 else "carrier-a", "route": ""}
        if call.id in cut:
            changes.update(provider="carrier-b", duration=32, start_time=call.end_time - 32)
        calls[i] = dataclasses.replace(call, **changes)  # type: ignore[arg-type]
    store.add_many(calls)
    db = StatsDB(url)
    try:
        answer = insights(db, end - 7 * 86400, end)
        planted = max((c for c in calls if c.id in cut), key=lambda c: c.end_time)  # a week of calls before it
        ordinary = next(c for c in calls if c.id not in cut and c.duration > 200)
        flagged, clean = annotation(db, {"provider": "carrier-b"}, 32, planted.end_time), \
            annotation(db, {"provider": "carrier-a"}, ordinary.duration, ordinary.end_time)
    finally:
        db.close()
    assert [(c["provider"], c["seconds"]) for c in answer["clusters"]] == [("carrier-b", 32)]
    cluster = answer["clusters"][0]
    assert "Timer B/F" in cluster["timer"] and "RFC 3261" in cluster["source"]
    assert cluster["calls"] >= 250 and cluster["calls"] > 2 * cluster["expected"]
    query = dict(pair.split("=") for pair in cluster["link"].partition("?")[2].split("&"))
    listed = list(store.iter_calls(CallQuery(since=int(query["since"]), until=int(query["until"]),
                                             provider="carrier-b", min_duration=31, max_duration=33)))
    store.close()
    assert len(listed) == cluster["calls"] and cut <= {c.id for c in listed}
    assert flagged is not None and flagged["seconds"] == 32 and clean is None
