"""The simulator: fixed seeds, a realistic mix, callbacks hangup's own receiver accepts, flags on anomalies."""

from __future__ import annotations

import statistics
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_derive import CASES, _facts_for

from hangup.causes import default_catalog
from hangup.cli import _register, cli
from hangup.emit import derive, facts_from_dict
from hangup.emit.simulate import ANOMALIES, Simulator
from hangup.providers.base import WebhookRequest
from hangup.providers.planet import PROVIDER

START = 1_767_225_600


def parse(query: str) -> Any:
    return PROVIDER.parse(WebhookRequest("GET", f"http://hangup.test/callbacks/planet?{query}", query))


@pytest.fixture(scope="module")
def calls() -> list[Any]:
    return list(Simulator(seed=11).calls(rate=40, duration=150, start=START))


def test_same_seed_same_calls_other_seed_other_calls() -> None:
    def run(seed: int) -> list[str]:
        return [c.event.to_query() for c in Simulator(seed).calls(5, 30, START)]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_the_mix_looks_like_real_traffic(calls: list[Any]) -> None:
    answered = sum(1 for c in calls if c.event.start_time > 0 and c.anomaly is None) / len(calls)
    assert 0.50 <= answered <= 0.60
    terminates = Counter(c.event.terminate for c in calls)
    assert set(terminates) == {16, 17, 18, 21, 77, 127}
    talk = [c.event.duration for c in calls if c.event.duration > 0 and c.anomaly is None]
    assert 40 <= statistics.median(talk) <= 120 and max(talk) > 5 * statistics.median(talk)  # long log-normal tail
    video = sum(1 for c in calls if c.event.type == "V") / len(calls)
    assert 0.2 <= video <= 0.4
    callers = Counter(c.event.from_user_id for c in calls)
    assert callers.most_common(1)[0][1] > 5 * statistics.median(callers.values())  # heavy users
    assert all(c.event.from_user_id != c.event.to_user_id for c in calls)
    assert len({c.event.sid for c in calls}) == len(calls)
    assert 0 < sum(1 for c in calls if c.anomaly) / len(calls) < 0.03


def test_every_simulated_callback_is_accepted_and_only_anomalies_are_flagged(calls: list[Any]) -> None:
    for call in calls:
        record = parse(call.event.to_query())
        assert record is not None
        assert bool(record.flags) == (call.anomaly is not None), (call.scenario, call.anomaly, record.flags)


@pytest.mark.parametrize("name", sorted(ANOMALIES))
def test_each_anomaly_is_flagged_by_the_receiver(name: str, calls: list[Any]) -> None:
    answered = next(c for c in calls if c.event.duration > 0 and c.anomaly is None)
    assert parse(ANOMALIES[name](answered.event).to_query()).flags


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[1]}-{c[5]}")
def test_derived_callbacks_classify_back_to_their_outcome_in_the_receiver(case: tuple[Any, ...]) -> None:
    event = derive(facts_from_dict(_facts_for(*case[:5])))
    record = parse(event.to_query())
    assert record.flags == ()
    assert record.outcome == default_catalog().lookup("planet", event.call_end_reason).outcome
    assert record.call_end_reason == event.call_end_reason and record.terminate == event.terminate


def test_simulate_command_writes_one_query_per_line_identically_for_a_seed(tmp_path: Path) -> None:
    _register()
    runner = CliRunner()
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    for out in (first, second):
        result = runner.invoke(cli, ["simulate", "--rate", "4", "--duration", "10", "--seed", "9", "--out", str(out)])
        assert result.exit_code == 0, result.output
    lines = first.read_text().splitlines()
    assert first.read_text() == second.read_text() and 15 <= len(lines) <= 70
    assert all(parse(line) is not None for line in lines)


def test_simulate_needs_exactly_one_destination() -> None:
    _register()
    result = CliRunner().invoke(cli, ["simulate", "--duration", "1"])
    assert result.exit_code == 2 and "--target" in result.output


class _Recorder(BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        _Recorder.paths.append(self.path)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_simulate_sends_the_same_callbacks_it_would_write(tmp_path: Path) -> None:
    _register()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Recorder.paths = []
    try:
        target = f"http://127.0.0.1:{server.server_address[1]}/call_event"
        common = ["simulate", "--rate", "20", "--duration", "2", "--seed", "4"]
        sent = CliRunner().invoke(cli, [*common, "--target", target, "--fast", "--quiet"])
        written = CliRunner().invoke(cli, [*common, "--out", str(tmp_path / "x.txt")])
    finally:
        server.shutdown()
        server.server_close()
    assert sent.exit_code == 0 and written.exit_code == 0, sent.output
    expected = sorted(f"/call_event?{line}" for line in (tmp_path / "x.txt").read_text().splitlines())
    assert sorted(_Recorder.paths) == expected and "200:" in sent.output
