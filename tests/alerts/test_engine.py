"""A firing alert whose calls stop: it resolves once, saying why, does not fire again without calls, and a
route that is gone leaves no state behind; on both stores."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from hangup.alerts import AlertEngine, AlertEvent, parse_rules
from hangup.alerts.engine import NO_CALLS, RECOVERED, STATE_TABLE, TOO_FEW_CALLS
from hangup.composition import open_store
from hangup.records import CallRecord
from hangup.stats import traffic
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.service import StatsService
from hangup.store.base import Store

T0 = 1_795_000_000 - 1_795_000_000 % 3600
MINUTE = 60
#: The platform's "no answer / unreachable" code every call of a failing stretch ends with (ASR 0).
FAILURE = 1011
COOLDOWN_MINUTES = 60
WINDOW_MINUTES = 10
MIN_SAMPLES = 30

PER_ROUTE = f"""
[[rule]]
name = "route-asr"
metric = "asr"
condition = "< 0.35"
window = "{WINDOW_MINUTES}m"
min_samples = {MIN_SAMPLES}
cooldown = "{COOLDOWN_MINUTES}m"
each = "route"
"""
#: The same question as one rule filtered to the route.
ONE_ROUTE = PER_ROUTE.replace('each = "route"', 'filter = { route = "carrier-bad" }')


class Stretch(NamedTuple):
    """Calls of carrier-bad from ``start`` to ``end`` (minutes after T0), ``per_minute``, all failing or not."""

    start: int
    end: int
    per_minute: int
    failing: bool


OpenService = Callable[[tuple[Stretch, ...]], StatsService]
BEFORE = (Stretch(0, 60, 8, False), Stretch(60, 80, 8, True))  # healthy, then every call fails until minute 80


def _calls(stretches: tuple[Stretch, ...]) -> list[CallRecord]:
    calls = [dataclasses.replace(c, route="carrier-good") for c in traffic.generate(8 * 180, T0, T0 + 180 * MINUTE)]
    for seed, s in enumerate(stretches, start=100):
        shift: traffic.Shift = (lambda t, rng: FAILURE) if s.failing else (lambda t, rng: None)
        stretch = traffic.generate(s.per_minute * (s.end - s.start), T0 + s.start * MINUTE, T0 + s.end * MINUTE,
                                   seed=seed, shift=shift)
        calls += [dataclasses.replace(c, route="carrier-bad") for c in stretch]
    return calls


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/calls.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def open_service(store_url: str) -> Iterator[OpenService]:
    """``open_service(stretches)``: statistics over carrier-good's steady calls and carrier-bad's stretches."""
    opened: list[tuple[StatsDB, Store]] = []

    def make(stretches: tuple[Stretch, ...]) -> StatsService:
        store = open_store(store_url)
        attach_rollups(store)
        store.add_many(_calls(stretches))
        db = StatsDB(store_url)
        opened.append((db, store))
        return StatsService(db, minute_days=0)  # never pruned: windows exact to the minute whatever today's date

    yield make
    for db, store in opened:
        db.close()
        store.close()


def _run(engines: list[AlertEngine], minutes: range) -> None:
    for minute in minutes:  # evaluated every minute, as the server's loop does
        for engine in engines:
            engine.check(T0 + minute * MINUTE)


#: Minutes between two evaluations: the loop of ``hangup serve`` every minute, or cron every quarter hour.
LOOP, CRON = 1, 15
CASES = {
    # name: (rule, carrier-bad's calls after BEFORE, minutes between checks, [(route, status, reason)] wanted)
    # As the route's last calls slide out of the window they fall under min_samples before they reach none.
    "route taken out of service": (PER_ROUTE, (), LOOP, [("carrier-bad", "firing", ""),
                                                         ("carrier-bad", "resolved", TOO_FEW_CALLS)]),
    "route taken out of service, checked from cron": (PER_ROUTE, (), CRON, [("carrier-bad", "firing", ""),
                                                                            ("carrier-bad", "resolved", NO_CALLS)]),
    "a failing trickle under min_samples": (PER_ROUTE, (Stretch(80, 180, 2, True),), LOOP, [
        ("carrier-bad", "firing", ""), ("carrier-bad", "resolved", TOO_FEW_CALLS)]),
    "back healthy after a silence": (PER_ROUTE, (Stretch(100, 180, 8, False),), CRON, [
        ("carrier-bad", "firing", ""), ("carrier-bad", "resolved", NO_CALLS)]),
    "back failing after a silence, fires again once the cooldown is over": (
        PER_ROUTE, (Stretch(100, 180, 8, True),), LOOP, [("carrier-bad", "firing", ""),
                                                         ("carrier-bad", "resolved", TOO_FEW_CALLS),
                                                         ("carrier-bad", "firing", "")]),
    "recovers with traffic": (PER_ROUTE, (Stretch(80, 180, 8, False),), LOOP, [
        ("carrier-bad", "firing", ""), ("carrier-bad", "resolved", RECOVERED)]),
    "a rule filtered to the route": (ONE_ROUTE, (), CRON, [("", "firing", ""), ("", "resolved", NO_CALLS)]),
}


@pytest.mark.parametrize("evaluators", [1, 2])
@pytest.mark.parametrize("case", CASES)
def test_a_firing_alert_without_calls_resolves_once_and_says_why(open_service: OpenService, case: str,
                                                                   evaluators: int) -> None:
    rule_text, after, step, wanted = CASES[case]
    service = open_service(BEFORE + after)
    events: list[AlertEvent] = []
    rules = parse_rules(rule_text).rules
    _run([AlertEngine(service, rules, events.append) for _ in range(evaluators)], range(15, 181, step))
    assert [(e.of, e.status, e.reason) for e in events] == wanted
    first, resolved = events[0], events[1]
    last_failing = max(s.end for s in BEFORE if s.failing)
    assert T0 + 60 * MINUTE < first.at and resolved.at <= T0 + (last_failing + WINDOW_MINUTES + 1) * MINUTE
    payload = resolved.to_json()
    assert payload["reason"] == resolved.reason and payload["reason_text"]
    if resolved.reason == RECOVERED:
        assert resolved.value is not None and not rules[0].breached(resolved.value)
    else:  # nothing to judge: N/A, not a value that "recovered"
        assert payload["value"] is None and payload["display"] == "N/A" and resolved.samples < MIN_SAMPLES
        assert (resolved.samples == 0) == (resolved.reason == NO_CALLS)
    for again in events[2:]:
        assert again.at - first.at >= COOLDOWN_MINUTES * MINUTE


def _stored(service: StatsService) -> list[tuple[str, int]]:
    return [(str(r[0]).rsplit("=", 1)[-1], int(r[1])) for r in service.db.read(
        f"SELECT rule, firing FROM {STATE_TABLE} ORDER BY rule")]


# (evaluated up to minute, carrier-bad's stored state (route, firing) then)
STATES = [
    (59, []),                     # nothing fired: no state for any route
    (79, [("carrier-bad", 1)]),   # firing
    (100, [("carrier-bad", 0)]),  # resolved for want of calls, kept while the cooldown runs
    (180, []),                    # gone, and past its cooldown: dropped
]


def test_the_state_of_a_route_that_is_gone_is_dropped_after_its_cooldown(open_service: OpenService) -> None:
    service = open_service(BEFORE)
    engine = AlertEngine(service, parse_rules(PER_ROUTE).rules, lambda e: None)
    done = 15
    for until, stored in STATES:
        _run([engine], range(done, until + 1))
        done = until + 1
        assert _stored(service) == stored, until
