"""One ``Database`` per URL: every spelling of a URL opening every door, the shared SQLite writer, PostgreSQL
reads that survive a dropped connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hangup.alerts.engine import AlertEngine
from hangup.alerts.rules import Rule
from hangup.cli import _register, cli
from hangup.composition import attach_standard_hooks, open_store
from hangup.emit.outbox import NewEntry, open_outbox
from hangup.records import CallRecord
from hangup.stats.db import StatsDB
from hangup.stats.service import StatsService
from hangup.stats.windows import Window
from hangup.store.database import Database
from hangup.store.url import parse_url


def _spellings(tmp_path: Path, postgres: bool) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{tmp_path}/calls.db?synchronous=NORMAL"
        yield f"sqlite+pysqlite:///{tmp_path}/calls.db"
        return
    import postgres_helpers

    with postgres_helpers.temporary_schema() as url:
        yield "postgresql+psycopg" + url[url.index("://"):]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_every_spelling_opens_the_store_outbox_statistics_and_cli(tmp_path: Path, backend: str) -> None:
    for url in _spellings(tmp_path, backend == "postgresql"):
        store = open_store(url)
        outbox = open_outbox(url)
        db = StatsDB(url)
        try:
            assert store.count() == 0
            assert outbox.enqueue([NewEntry("s1", "http://r.test/cb", "a=1")], 1.0)[0][0] > 0
            assert StatsService(db).summary(Window(0, 3600))["totals"]["attempts"] == 0
        finally:
            db.close()
            outbox.close()
            store.close()
        _register()
        for command in (["calls", "list"], ["outbox", "list"], ["rollups", "check"]):
            result = CliRunner().invoke(cli, [*command, "--db", url])
            assert result.exit_code == 0, (command, result.output)
    if backend == "sqlite":  # the options went to the file, not into its name
        assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["calls.db"]


def test_outbox_and_alert_writes_go_through_the_one_writer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/calls.db"
    store = attach_standard_hooks(open_store(url))  # rollups count the call the alert rule reads
    outbox = open_outbox(url)
    db = StatsDB(url)
    try:
        store.add_many([_failed_call()])
        before = store.writer_stats().events
        outbox.enqueue([NewEntry("s1", "http://r.test/cb", "a=1")], 1.0)
        outbox.mark_delivered(1, 200, 2.0)
        rule = Rule(name="low-asr", metric="asr", op="<", threshold=0.5, window=3600, min_samples=1, cooldown=0)
        fired = AlertEngine(StatsService(db), [rule], notify=lambda event: None).check(now=1800)
        assert [event.status for event in fired] == ["firing"]
        assert store.writer_stats().events - before == 3  # enqueue, delivered, the alert's state
        assert [row[0] for row in db.read("SELECT state FROM outbox")] == ["delivered"]
        assert db.read("SELECT rule, firing FROM alert_state") == [("low-asr", 1)]
    finally:
        db.close()
        outbox.close()
        store.close()


def _failed_call() -> CallRecord:
    return CallRecord(
        id="c1", provider="planet", provider_call_id="c1", from_service_id="svc", from_user_id="u1",
        to_service_id="svc", to_user_id="v1", call_type="A", setup_time=1000, start_time=0, end_time=1010,
        duration=0, answered=False, call_end_reason=1005, terminate=0, releaser="network", cause="planet:1005",
        causes=("planet:1005",), outcome="failed", ended_by="network", fault="network", normal=False,
        reason="Network failure", raw="sid=c1", received_at=1010.0,
    )


def test_one_url_in_one_process_is_one_writer(tmp_path: Path) -> None:
    first = Database(f"sqlite:///{tmp_path}/calls.db")
    second = Database(str(tmp_path / "calls.db"))  # another spelling of the same file
    try:
        assert first.writer is second.writer
        assert first.write(lambda conn: conn.execute("CREATE TABLE t (x INTEGER)").rowcount) == -1
        assert second.read("SELECT COUNT(*) FROM t") == [(0,)]
    finally:
        first.close()
    assert second.write(lambda conn: conn.execute("INSERT INTO t VALUES (1)").rowcount) == 1  # still open
    second.close()
    assert sqlite3.connect(tmp_path / "calls.db").execute("SELECT x FROM t").fetchall() == [(1,)]


@pytest.mark.postgres
def test_statistics_survive_a_dropped_read_connection(postgres_url: str) -> None:
    import psycopg

    store = open_store(postgres_url)
    db = StatsDB(postgres_url)
    try:
        service = StatsService(db)
        assert service.summary(Window(0, 3600))["totals"]["attempts"] == 0
        with db.reading() as conn:
            pid = conn.info.backend_pid
        with psycopg.connect(parse_url(postgres_url).conninfo, autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        assert service.summary(Window(0, 3600))["totals"]["attempts"] == 0
    finally:
        db.close()
        store.close()


def test_a_write_asked_for_inside_the_writer_joins_its_transaction(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/calls.db"
    store, db = open_store(url), Database(url)
    db.write(lambda conn: conn.execute("CREATE TABLE seen (id TEXT)"))

    def hook(conn: object, records: object) -> None:  # e.g. a hook that queues an outbox row
        db.write(lambda c: c.execute("INSERT INTO seen SELECT id FROM calls"))

    store.add_write_hook(hook)
    try:
        store.add_many([_failed_call()])  # would wait for itself forever if the hook's write were queued
        assert db.read("SELECT id FROM seen") == [("c1",)]
    finally:
        db.close()
        store.close()
