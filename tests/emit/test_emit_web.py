"""The emitter inside hangup serve: event routes, outbox in the server's database, the demo feed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from test_emit_api import ENDED

from hangup.emit.outbox import SQLiteOutbox, State
from hangup.emit.web import DEMO_STID, feed_demo, load_emit_settings
from hangup.errors import ConfigError
from hangup.settings import load_settings
from hangup.store.base import CallQuery, Store
from hangup.web.state import AppState  # the real server state the hooks are given


def test_serve_queues_call_events_in_its_own_database(make_client: Any, fresh_store: Store) -> None:
    client = make_client(HANGUP_EMIT_URL="http://127.0.0.1:9/call_event", HANGUP_EMIT_DELIVER="false")
    response = client.post("/api/events/call-ended", json=ENDED)
    assert response.status_code == 202, response.text
    outbox = SQLiteOutbox(fresh_store.url)
    try:
        [entry] = outbox.entries(State.PENDING)
    finally:
        outbox.close()
    assert entry.sid == ENDED["sid"] and entry.destination == "http://127.0.0.1:9/call_event"
    for path in ("/metrics/emitter", "/metrics"):  # the emitter's alone, and in the one scrape endpoint
        exposition = client.get(path).text
        assert "hangup_emit_delivered_total" in exposition
        assert "hangup_emit_delivery_latency_seconds_bucket" in exposition
    assert "hangup_calls_total" in exposition


def test_without_an_emit_url_the_event_routes_say_so(make_client: Any) -> None:
    response = make_client().post("/api/events/call-ended", json=ENDED)
    assert response.status_code == 404 and "HANGUP_EMIT_URL" in response.json()["error"]


@pytest.mark.parametrize(
    ("env", "problem"),
    [({"HANGUP_EMIT_TIMEOUT": "0"}, "HANGUP_EMIT_TIMEOUT"), ({"HANGUP_DEMO": "perhaps"}, "HANGUP_DEMO")],
)
def test_bad_emit_settings_name_the_variable(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_emit_settings(env)


def test_emit_settings_are_read_and_cast() -> None:
    settings = load_emit_settings({"HANGUP_EMIT_URL": "http://x/cb", "HANGUP_DEMO": "on", "HANGUP_DEMO_RATE": "4.5"})
    assert (settings.emit_url, settings.demo, settings.demo_rate, settings.emit_deliver) == (
        "http://x/cb", True, 4.5, True
    )


def test_demo_feed_stores_labelled_calls_through_the_receiver_path(fresh_store: Store) -> None:
    state = AppState(load_settings({}), fresh_store)

    async def run() -> None:
        task = asyncio.create_task(feed_demo(state, rate=5.0, backfill=60))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if fresh_store.count() >= 200:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    calls = fresh_store.query(CallQuery(limit=1000)).calls
    assert len(calls) >= 200
    assert {c.stid for c in calls} == {DEMO_STID}
    assert {c.outcome for c in calls} >= {"completed", "busy", "no_answer", "canceled", "rejected", "failed"}
