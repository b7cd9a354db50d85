"""The quarantine's limits: per entry, per source and in total, applied before anything is stored."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from receiver_helpers import ClientFactory, planet_query

from hangup.errors import PayloadError
from hangup.ingest import quarantine_entry
from hangup.providers.base import WebhookRequest
from hangup.settings import load_settings
from hangup.store import open_store
from hangup.store.base import Store
from hangup.web.quarantine import QuarantineKeeper

BAD = "/callbacks/planet?" + planet_query(type="X")  # 400: kept in the quarantine
FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_a_large_rejected_body_is_cut_and_its_length_and_hash_kept(make_client: ClientFactory,
                                                                     fresh_store: Store) -> None:
    client = make_client(HANGUP_QUARANTINE_ENTRY_BYTES="4096")
    body = b"x=" + b"y" * (1024 * 1024 - 2)
    assert client.post("/callbacks/planet", content=body, headers=FORM).status_code == 400
    [entry] = fresh_store.quarantined()
    assert len(entry.query) + len(entry.body) <= 4096
    assert entry.error["received"] == {"query_bytes": 0, "body_bytes": len(body),
                                       "body_sha256": hashlib.sha256(body).hexdigest()}


def test_a_small_rejected_request_is_kept_whole(make_client: ClientFactory, fresh_store: Store) -> None:
    assert make_client().get(BAD).status_code == 400
    [entry] = fresh_store.quarantined()
    assert entry.query == BAD.split("?", 1)[1] and "received" not in entry.error


@pytest.mark.parametrize(("query_bytes", "status", "kept"), [(8000, 403, 1024), (9000, 414, None)])
def test_allow_list_refusals_obey_the_size_limits(make_client: ClientFactory, fresh_store: Store, query_bytes: int,
                                                  status: int, kept: int | None) -> None:
    client = make_client(HANGUP_CALLBACK_ALLOW="10.0.0.0/8", HANGUP_QUARANTINE_ENTRY_BYTES="1024")
    assert client.get("/callbacks/planet?q=" + "a" * (query_bytes - 2)).status_code == status
    entries = fresh_store.quarantined()
    assert [len(e.query) for e in entries] == ([kept] if kept else [])


def test_a_source_over_its_rate_is_answered_but_not_kept(make_client: ClientFactory, fresh_store: Store) -> None:
    noisy = make_client(HANGUP_QUARANTINE_PER_MINUTE="3", client=("192.0.2.1", 4000))
    assert [noisy.get(BAD).status_code for _ in range(5)] == [400] * 5
    assert fresh_store.quarantine_count() == 3
    assert 'hangup_quarantine_events_total{event="not_kept_rate"} 2.0' in noisy.get("/metrics").text


def test_the_rate_is_counted_per_source_and_per_minute() -> None:
    now = [0.0]
    keeper = QuarantineKeeper(load_settings({"HANGUP_QUARANTINE_PER_MINUTE": "2"}), clock=lambda: now[0])
    assert [keeper.admit("a") for _ in range(3)] == [True, True, False]
    assert keeper.admit("b")
    now[0] = 60.0
    assert keeper.admit("a")


def _entry(n: int, size: int) -> object:
    request = WebhookRequest("POST", "/callbacks/planet", "", b"b" * size, {}, received_at=time.time() + n,
                             client="192.0.2.9")
    return quarantine_entry("planet", request, "/callbacks/planet", PayloadError(f"bad {n}"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    url = f"sqlite:///{tmp_path}/calls.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = open_store(str(url))
    yield store
    store.close()


def test_the_oldest_entries_go_to_keep_the_total_under_its_limit(any_store: Store) -> None:
    keeper = QuarantineKeeper(load_settings({"HANGUP_QUARANTINE_MAX_BYTES": "20000"}))
    ids = [any_store.quarantine(_entry(n, 1500)) for n in range(40)]  # type: ignore[arg-type]
    assert keeper.evict(any_store) > 0
    left = [e.id for e in any_store.quarantined(limit=1000)]
    assert left == sorted(ids, reverse=True)[: len(left)]  # the newest, in order
    stored = sum(len(json.dumps(e.to_json())) for e in any_store.quarantined(limit=1000))
    assert 0 < len(left) < 40 and stored < 2 * 20000


def test_the_receiver_keeps_the_total_bounded(make_client: ClientFactory, fresh_store: Store) -> None:
    client = make_client(HANGUP_QUARANTINE_MAX_BYTES="32768", HANGUP_QUARANTINE_PER_MINUTE="1000")
    for n in range(200):
        assert client.post("/callbacks/planet", content=f"sid={n}&pad=".encode() + b"p" * 1000,
                           headers=FORM).status_code == 400
    assert fresh_store.quarantine_count() < 60  # about 32 KiB of ~1.5 KiB entries, plus a sixteenth
    assert 'hangup_quarantine_events_total{event="evicted"}' in client.get("/metrics").text
