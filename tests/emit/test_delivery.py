"""Delivery: what is retried, what is dead-lettered, backoff, Retry-After, signatures, per-receiver limits."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from emit_helpers import Clock, clock_fixture, outbox_fixture  # noqa: F401 - fixtures

from hangup.emit import metrics
from hangup.emit.delivery import Deliverer, DeliveryConfig, backoff_delay, retry_after
from hangup.emit.outbox import NewEntry, SQLiteOutbox, State
from hangup.emit.signature import SIGNATURE_HEADER, verify

URL = "http://receiver.test/callbacks/planet"
CONFIG = DeliveryConfig(backoff_base=1.0, backoff_cap=60.0, max_age=3600.0, lease=30.0)


def run_once(
    outbox: SQLiteOutbox, clock: Clock, handler: Callable[[httpx.Request], httpx.Response],
    config: DeliveryConfig = CONFIG,
) -> None:  # fmt: skip
    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            deliverer = Deliverer(outbox, client, config, clock=clock, rng=random.Random(1))
            await deliverer.poll()
            await deliverer.drain()

    asyncio.run(go())


def answer(status: int, headers: dict[str, str] | None = None, text: str = "") -> Callable[..., httpx.Response]:
    return lambda request: httpx.Response(status, headers=headers, text=text)


@pytest.mark.parametrize(
    ("status", "state", "retried"),
    [
        (200, State.DELIVERED, False),
        (204, State.DELIVERED, False),
        (500, State.PENDING, True),
        (503, State.PENDING, True),
        (429, State.PENDING, True),
        (408, State.PENDING, True),
        (400, State.DEAD, False),
        (404, State.DEAD, False),
        (410, State.DEAD, False),
        (301, State.DEAD, False),
    ],
)
def test_answer_decides_the_state(outbox: SQLiteOutbox, clock: Clock, status: int, state: State, retried: bool) -> None:
    [(entry_id, _)] = outbox.enqueue([NewEntry("a", URL, "sid=a")], clock.now)
    run_once(outbox, clock, answer(status, text="nope"))
    entry = outbox.get(entry_id)
    assert entry is not None and entry.state is state and entry.last_status == status
    if retried:
        assert clock.now + CONFIG.backoff_base / 2 <= entry.next_attempt_at <= clock.now + CONFIG.backoff_base
    if state is State.DEAD:
        assert entry.response_body == "nope"


def test_metrics_count_deliveries_retries_and_dead_letters(outbox: SQLiteOutbox, clock: Clock) -> None:
    def value(name: str) -> float:
        return metrics.REGISTRY.get_sample_value(name) or 0.0

    before = {n: value(n) for n in ("hangup_emit_delivered_total", "hangup_emit_retried_total",
                                    "hangup_emit_dead_lettered_total")}  # fmt: skip
    outbox.enqueue([NewEntry(s, f"http://{s}.test/cb", f"sid={s}") for s in ("ok", "later", "never")], clock.now)
    statuses = {"ok.test": 200, "later.test": 503, "never.test": 404}
    run_once(outbox, clock, lambda request: httpx.Response(statuses[request.url.host]))
    assert {n: value(n) - before[n] for n in before} == {
        "hangup_emit_delivered_total": 1, "hangup_emit_retried_total": 1, "hangup_emit_dead_lettered_total": 1
    }  # fmt: skip


def test_network_errors_are_retried(outbox: SQLiteOutbox, clock: Clock) -> None:
    [(entry_id, _)] = outbox.enqueue([NewEntry("a", URL, "sid=a")], clock.now)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    run_once(outbox, clock, refuse)
    entry = outbox.get(entry_id)
    assert entry is not None and entry.state is State.PENDING and "ConnectError" in entry.last_error


def test_retry_after_is_honoured(outbox: SQLiteOutbox, clock: Clock) -> None:
    [(entry_id, _)] = outbox.enqueue([NewEntry("a", URL, "sid=a")], clock.now)
    run_once(outbox, clock, answer(429, {"Retry-After": "120"}))
    entry = outbox.get(entry_id)
    assert entry is not None and entry.next_attempt_at == clock.now + 120


def test_an_entry_past_its_max_age_is_dead_lettered(outbox: SQLiteOutbox, clock: Clock) -> None:
    [(entry_id, _)] = outbox.enqueue([NewEntry("a", URL, "sid=a")], clock.now)
    clock.now += CONFIG.max_age
    run_once(outbox, clock, answer(503))
    entry = outbox.get(entry_id)
    assert entry is not None and entry.state is State.DEAD and "expired" in entry.last_error


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        ceiling = min(CONFIG.backoff_cap, CONFIG.backoff_base * 2 ** (attempt - 1))
        delays = [backoff_delay(attempt, CONFIG, rng) for _ in range(50)]
        assert all(CONFIG.backoff_base / 2 <= d <= ceiling for d in delays)
        if ceiling > 2:
            assert len(set(delays)) > 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, 0.0), ("30", 30.0), ("soon", 0.0), ("Tue, 14 Nov 2023 22:16:00 GMT", 100.0), ("\u00b2", 0.0)],
)
def test_retry_after_forms(header: str | None, expected: float) -> None:
    assert retry_after(header, now=1_700_000_060.0) == pytest.approx(expected)


def test_requests_carry_exactly_the_query_and_a_verifiable_signature(outbox: SQLiteOutbox, clock: Clock) -> None:
    seen: list[httpx.Request] = []
    outbox.enqueue([NewEntry("a", URL, "sid=a&type=A&stid=")], clock.now)

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    run_once(outbox, clock, record, DeliveryConfig(secret="s3cret"))
    [request] = seen
    query = urlsplit(str(request.url)).query
    assert request.method == "GET" and query == "sid=a&type=A&stid="
    assert verify("s3cret", query, request.headers[SIGNATURE_HEADER], now=int(clock.now))
    assert not verify("other", query, request.headers[SIGNATURE_HEADER], now=int(clock.now))
    assert not verify("s3cret", query + "x", request.headers[SIGNATURE_HEADER], now=int(clock.now))
    assert not verify("s3cret", query, request.headers[SIGNATURE_HEADER], now=int(clock.now) + 3600)


def test_concurrency_is_limited_per_destination(outbox: SQLiteOutbox, clock: Clock) -> None:
    outbox.enqueue([NewEntry(f"a{i}", URL, f"sid=a{i}") for i in range(12)], clock.now)
    outbox.enqueue([NewEntry(f"b{i}", "http://other.test/cb", f"sid=b{i}") for i in range(12)], clock.now)
    active: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        active[host] = active.get(host, 0) + 1
        peak[host] = max(peak.get(host, 0), active[host])
        await asyncio.sleep(0.01)
        active[host] -= 1
        return httpx.Response(200)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            deliverer = Deliverer(outbox, client, DeliveryConfig(per_destination=3), clock=clock)
            await deliverer.poll()
            await deliverer.drain()

    asyncio.run(go())
    assert peak == {"receiver.test": 3, "other.test": 3}
    assert outbox.counts()[State.DELIVERED] == 24


@pytest.mark.parametrize("stamp", ["\u00b2", "9" * 5000])  # int() refuses both (ValueError)
def test_a_signature_time_that_is_not_plain_digits_does_not_verify(stamp: str) -> None:
    assert not verify("s3cret", "a=1", f"t={stamp},v1=00", now=1_700_000_000)
