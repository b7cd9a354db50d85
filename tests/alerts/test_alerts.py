"""Alert rules against generated traffic: an ASR drop fires once and recovers once; low volume never fires."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from planted_traffic import FAILURE, NOW_END, planted

from hangup.alerts import AlertEngine, AlertEvent, parse_rules
from hangup.alerts.notify import WebhookNotifier
from hangup.composition import open_store
from hangup.errors import ConfigError
from hangup.records import CallRecord
from hangup.stats import traffic
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.dimensions import DIMENSIONS
from hangup.stats.explain import explain, question
from hangup.stats.service import StatsService
from hangup.stats.windows import Window

T0 = 1_795_000_000 - 1_795_000_000 % 3600
MINUTE = 60

RULES = """
webhook = "http://alerts.test/hook"

[[rule]]
name = "asr-drop"
metric = "asr"
condition = "< 0.35"
window = "10m"
min_samples = 50
cooldown = "60m"
"""


def _service(tmp_path: Path, calls: list[CallRecord]) -> Iterator[StatsService]:
    url = f"sqlite:///{tmp_path}/calls.db"
    store = open_store(url)
    attach_rollups(store)
    store.add_many(calls)
    db = StatsDB(url)
    yield StatsService(db, minute_days=0)  # never pruned: windows stay exact to the minute whatever today's date
    db.close()
    store.close()


def _drops(*spans: tuple[int, int]) -> traffic.Shift:
    def shift(t: int, rng: random.Random) -> int | None:
        inside = any(T0 + a * MINUTE <= t < T0 + b * MINUTE for a, b in spans)
        return 1011 if inside and rng.random() < 0.85 else None

    return shift


def _run(service: StatsService, rules: str, minutes: range) -> list[AlertEvent]:
    events: list[AlertEvent] = []
    engine = AlertEngine(service, parse_rules(rules).rules, events.append)
    for minute in minutes:  # evaluated every minute, as the server's loop does
        engine.check(T0 + minute * MINUTE)
    return events


@pytest.fixture
def dropping(tmp_path: Path) -> Iterator[StatsService]:
    calls = list(traffic.generate(3600, T0, T0 + 180 * MINUTE, seed=9, shift=_drops((60, 90))))
    yield from _service(tmp_path, calls)


def test_an_asr_drop_fires_once_and_recovers_once(dropping: StatsService) -> None:
    events = _run(dropping, RULES, range(15, 181))
    assert [e.status for e in events] == ["firing", "resolved"]
    fired, resolved = events
    assert T0 + 60 * MINUTE < fired.at <= T0 + 75 * MINUTE
    assert T0 + 90 * MINUTE < resolved.at <= T0 + 105 * MINUTE
    assert fired.value < 0.35 <= resolved.value and fired.samples >= 50


def test_state_survives_between_one_shot_checks(dropping: StatsService) -> None:
    first = _run(dropping, RULES, range(70, 72))
    again = _run(dropping, RULES, range(72, 80))  # a new engine, as `hangup alerts check` from cron
    assert [e.status for e in first] == ["firing"] and again == []


def test_cooldown_suppresses_a_second_drop_soon_after(tmp_path: Path) -> None:
    calls = list(traffic.generate(3600, T0, T0 + 180 * MINUTE, seed=9, shift=_drops((30, 50), (80, 100))))
    service = next(_service(tmp_path, calls))
    strict = RULES.replace('cooldown = "60m"', 'cooldown = "90m"')
    events = _run(service, strict, range(15, 181))
    assert [e.status for e in events] == ["firing", "resolved"]  # the second drop starts within the cooldown
    relaxed = RULES.replace('cooldown = "60m"', 'cooldown = "20m"').replace("asr-drop", "asr-drop-2")
    assert [e.status for e in _run(service, relaxed, range(15, 181))] == ["firing", "resolved"] * 2


def test_low_volume_never_fires(tmp_path: Path) -> None:
    calls = list(traffic.generate(40, T0, T0 + 180 * MINUTE, seed=2, shift=lambda t, rng: 1011))
    service = next(_service(tmp_path, calls))
    assert service.totals(Window(T0, T0 + 180 * MINUTE))[0].answered == 0  # every call failed …
    assert _run(service, RULES, range(0, 181)) == []


def test_the_webhook_gets_the_event_as_json(dropping: StatsService) -> None:
    received: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content))
        return httpx.Response(204)

    notifier = WebhookNotifier(httpx.Client(transport=httpx.MockTransport(handler)))
    engine = AlertEngine(dropping, parse_rules(RULES).rules, notifier)
    for minute in range(60, 110):
        engine.check(T0 + minute * MINUTE)
    assert [r["status"] for r in received] == ["firing", "resolved"]
    assert received[0]["rule"] == "asr-drop" and received[0]["condition"] == "< 0.35"
    assert str(received[0]["display"]).endswith("%")


def test_a_failing_webhook_is_logged_not_raised(dropping: StatsService, caplog: pytest.LogCaptureFixture) -> None:
    notifier = WebhookNotifier(httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500))))
    engine = AlertEngine(dropping, parse_rules(RULES).rules, notifier)
    events = engine.check(T0 + 75 * MINUTE)
    assert [e.status for e in events] == ["firing"] and notifier.sent == []
    assert "webhook" in caplog.text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[rule]]\nmetric = "asr"\ncondition = "< 1"', "name"),
        ('[[rule]]\nname = "x"\nmetric = "speed"\ncondition = "< 1"', "valid metrics"),
        ('[[rule]]\nname = "x"\nmetric = "asr"\ncondition = "below 1"', "condition"),
        ('[[rule]]\nname = "x"\nmetric = "asr"\ncondition = "< 1"\nwindow = "soon"', "window"),
        ('[[rule]]\nname = "x"\nmetric = "asr"\ncondition = "< 1"\nfilter = { colour = "red" }', "colour"),
        ('[[rule]]\nname = "x"\nmetric = "asr"\ncondition = "< 1"\nmin_samples = 0', "min_samples"),
        # a value no call can have: the rule would match nothing and never fire
        ('[[rule]]\nname = "x"\nmetric = "asr"\ncondition = "< 1"\nfilter = { outcome = "fialed" }', "outcome"),
        ('[[rule]]\nname = "x"\nmetric = "asr"\ncondition = "< 1"\nfilter = { fault = "carrer" }', "fault"),
        ('[[rule]]\nname = "x"\nmetric = "asr"\ncondition = "< 1"\nfilter = { direction = "in" }', "direction"),
        ('[[rule]]\nname = "x"\nmetric = "asr"\ncondition = "< 1"\nfilter = { type = "Z" }', "type"),
        ('[[rule]]\nname = "x"\nmetric = "asr"\ncondition = "< 1"\nfilter = { terminate = "many" }', "terminate"),
        ("[[rule]\n", "TOML"),
    ],
)
def test_rule_mistakes_are_named(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_rules(text)


def test_rule_file_defaults_and_filters() -> None:
    ruleset = parse_rules(
        'interval = "30s"\n[[rule]]\nname = "ner"\nmetric = "ner"\ncondition = "<= 0.9"\n'
        'filter = { provider = "planet", type = "V", normal = false }\n'
    )
    (rule,) = ruleset.rules
    assert ruleset.interval == 30 and rule.window == 900 and rule.cooldown == 1800 and rule.min_samples == 20
    assert rule.filters == {"provider": "planet", "call_type": "V", "normal": "false"} and rule.webhook == ""


def test_two_evaluators_notify_each_transition_once(dropping: StatsService) -> None:
    """Several workers (or a worker and cron) evaluating the same rules: the state moves once."""
    events: list[AlertEvent] = []
    rules = parse_rules(RULES).rules
    engines = [AlertEngine(dropping, rules, events.append) for _ in range(2)]
    for minute in range(15, 181):
        for engine in engines:
            engine.check(T0 + minute * MINUTE)
    assert [e.status for e in events] == ["firing", "resolved"]
    # a move from a state another evaluator has already left is refused (compare-and-set)
    stale = AlertEngine(dropping, rules, events.append)
    firing_state = stale._load("asr-drop")
    assert not stale._move("asr-drop", dataclasses.replace(firing_state, changed_at=1), firing_state, 0.1)


PER_ROUTE = """
[[rule]]
name = "route-asr"
metric = "asr"
condition = "< 0.35"
window = "10m"
min_samples = 30
cooldown = "60m"
each = "route"
"""


@pytest.fixture
def one_route_dropping(tmp_path: Path) -> Iterator[StatsService]:
    steady = list(traffic.generate(3600, T0, T0 + 180 * MINUTE, seed=9))
    routes = ("carrier-a", "carrier-b", "carrier-c")
    routed = [dataclasses.replace(c, route=routes[i % 3]) for i, c in enumerate(steady)]
    failing = traffic.generate(1200, T0, T0 + 180 * MINUTE, seed=10, shift=_drops((60, 90)))
    yield from _service(tmp_path, routed + [dataclasses.replace(c, route="carrier-bad") for c in failing])


def test_one_route_fires_and_recovers_while_the_others_stay_quiet(one_route_dropping: StatsService) -> None:
    events = _run(one_route_dropping, PER_ROUTE, range(15, 181))
    assert [(e.of, e.status) for e in events] == [("carrier-bad", "firing"), ("carrier-bad", "resolved")]
    fired, resolved = events
    assert T0 + 60 * MINUTE < fired.at <= T0 + 75 * MINUTE < T0 + 90 * MINUTE < resolved.at <= T0 + 105 * MINUTE
    assert fired.to_json()["each"] == "route" and fired.to_json()["of"] == "carrier-bad"
    assert fired.samples >= 30


def test_each_value_has_its_own_state(one_route_dropping: StatsService) -> None:
    rules = parse_rules(PER_ROUTE).rules
    engine = AlertEngine(one_route_dropping, rules, lambda e: None)
    engine.check(T0 + 75 * MINUTE)
    assert engine.firing_values(rules[0]) == ["carrier-bad"] and engine.states()["route-asr"].firing
    engine.check(T0 + 120 * MINUTE)
    assert engine.firing_values(rules[0]) == [] and not engine.states()["route-asr"].firing


@pytest.mark.parametrize("each", ["user", "colour"])
def test_each_must_be_an_ordinary_dimension(each: str) -> None:
    with pytest.raises(ConfigError, match="each must be one of"):
        parse_rules(PER_ROUTE.replace('each = "route"', f'each = "{each}"'))
@pytest.mark.parametrize("dim", [d for d in ("provider", "route") if d in DIMENSIONS])
def test_a_firing_alert_says_which_route_moved_the_metric(tmp_path: Path, dim: str) -> None:
    """A planted ASR drop on one route: the payload names the route and its failure cause among the reasons."""
    _, service, db = planted(tmp_path, dim)
    received: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content))
        return httpx.Response(204)

    rules = RULES.replace('window = "10m"', 'window = "6h"').replace('< 0.35', '< 0.45')
    notifier = WebhookNotifier(httpx.Client(transport=httpx.MockTransport(handler)))
    try:
        AlertEngine(service, parse_rules(rules).rules, notifier).check(NOW_END)
        by_route = explain(service, question("asr", Window(NOW_END - 6 * 3600, NOW_END), dimensions=[dim]))
    finally:
        db.close()
    assert by_route["contributions"][0]["value"] == "b"
    assert [r["status"] for r in received] == ["firing"]
    explanation = received[0]["explanation"]
    assert isinstance(explanation, dict) and explanation["change"] < 0
    leading = [(r["dimension"], r["value"]) for r in explanation["contributions"]]
    assert len(leading) == 10 and ("cause", FAILURE) in leading and (dim, "b") in leading
    assert any(line.startswith(DIMENSIONS["cause"].label) for line in received[0]["why"])  # type: ignore[union-attr]
