"""What only the PostgreSQL store does: month partitions, retention, several nodes on one database."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from store_fixtures import backend_fixture, fresh_store_fixture, sqlite_store_fixture, store_url_fixture  # noqa: F401
from test_sqlite import call

from hangup.composition import MIGRATIONS, open_store
from hangup.records import CallRecord
from hangup.stats import raw, rollup_reads, traffic
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.dimensions import ALL
from hangup.stats.rebuild import rebuild
from hangup.stats.windows import Window
from hangup.store.base import AddStatus, CallQuery
from hangup.store.postgres import PostgresStore
from hangup.store.postgres_schema import bounds, month_of, partition_name, shift
from hangup.store.url import parse_url

pytestmark = pytest.mark.postgres


def at(year: int, month: int, day: int = 15) -> int:
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp())


def ended(n: int, when: int, **changes: Any) -> CallRecord:
    """Call ``n`` ending at ``when`` (Unix seconds)."""
    return call(n, setup_time=when - 40, start_time=when - 30, end_time=when, received_at=when + 1.0, **changes)


def scalar(url: str, statement: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(parse_url(url).conninfo) as conn:
        row = conn.execute(statement, params).fetchone()  # type: ignore[arg-type]
    return None if row is None else row[0]


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(postgres_url, migrations=MIGRATIONS)
    yield store
    store.close()


@pytest.mark.parametrize(
    ("url", "conninfo"),
    [("postgresql://u@h/db", "postgresql://u@h/db"), ("postgresql+psycopg://h/db?x=1", "postgresql://h/db?x=1"),
     ("postgres://h/db", "postgres://h/db")],
)
def test_store_urls_become_libpq_uris(url: str, conninfo: str) -> None:
    assert parse_url(url).conninfo == conninfo


def test_a_postgres_url_opens_the_postgres_store(postgres_url: str) -> None:
    store = open_store(postgres_url)
    assert isinstance(store, PostgresStore)
    assert store.applied_migrations() == [m.name for m in MIGRATIONS]
    store.close()


def test_calls_land_in_the_partition_of_their_month(pg: PostgresStore) -> None:
    pg.add_many([ended(1, at(2024, 1)), ended(2, at(2024, 1, 31)), ended(3, at(2024, 3))])
    assert {"calls_p202401", "calls_p202403"} <= set(pg.partitions())
    assert "calls_p202402" not in pg.partitions()  # made on demand, not for every month in between
    placed = dict(
        (r[0], r[1])
        for r in pg.database.read("SELECT id, tableoid::regclass::text FROM calls")  # noqa: SLF001 - checking placement
    )
    assert placed == {call(1).id: "calls_p202401", call(2).id: "calls_p202401", call(3).id: "calls_p202403"}
    assert pg.count(CallQuery(since=at(2024, 3, 1), until=at(2024, 4, 1))) == 1


def test_the_current_and_coming_months_exist_from_the_start(pg: PostgresStore) -> None:
    now = month_of(int(datetime.now(UTC).timestamp()))
    assert now is not None
    assert {partition_name(shift(now, k)) for k in range(3)} <= set(pg.partitions())


def test_a_time_range_query_reads_only_its_months(pg: PostgresStore) -> None:
    pg.add_many([ended(n, at(2024, 1 + n % 6)) for n in range(30)])
    start, end = bounds((2024, 3))
    plan = " ".join(
        r[0] for r in pg.database.read(f"EXPLAIN SELECT id FROM calls WHERE ended_at >= {start} AND ended_at < {end}")  # noqa: SLF001
    )
    assert "calls_p202403" in plan and "calls_p202402" not in plan and "calls_p202404" not in plan


def test_nodes_starting_together_apply_each_migration_once(postgres_url: str) -> None:
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(4)

    def start() -> None:
        gate.wait()
        try:
            stores.append(PostgresStore(postgres_url, migrations=MIGRATIONS))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert scalar(postgres_url, "SELECT COUNT(*) FROM _migrations") == len(MIGRATIONS)
    for store in stores:
        store.close()


def test_the_same_calls_sent_to_two_nodes_at_once_are_stored_once(postgres_url: str) -> None:
    nodes = [PostgresStore(postgres_url, batch_size=16, migrations=MIGRATIONS) for _ in range(2)]
    records = [ended(n, at(2024, 5) + n) for n in range(400)]
    statuses: list[list[AddStatus]] = [[], []]
    gate = threading.Barrier(2)

    def send(k: int) -> None:
        gate.wait()
        mine = records if k == 0 else list(reversed(records))  # opposite orders: the worst case for locks
        for i in range(0, len(mine), 10):
            statuses[k].extend(r.status for r in nodes[k].add_many(mine[i : i + 10]))

    threads = [threading.Thread(target=send, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    inserted = sum(s == AddStatus.INSERTED for got in statuses for s in got)
    assert inserted == 400 and nodes[0].count() == 400
    assert all(s in (AddStatus.INSERTED, AddStatus.DUPLICATE) for got in statuses for s in got)
    assert nodes[1].conflicts() == []
    for node in nodes:
        node.close()


def test_a_conflicting_delivery_on_another_node_is_recorded_there(postgres_url: str) -> None:
    a, b = PostgresStore(postgres_url, migrations=MIGRATIONS), PostgresStore(postgres_url, migrations=MIGRATIONS)
    a.add_many([ended(1, at(2024, 2))])
    assert b.add_many([ended(1, at(2024, 2, 16))])[0].status == AddStatus.CONFLICT
    (conflict,) = b.conflicts()
    assert conflict.differences["end_time"] == [at(2024, 2), at(2024, 2, 16)]
    assert a.count() == 1 and a.get(call(1).id) == ended(1, at(2024, 2))
    a.close()
    b.close()


def test_retention_drops_whole_months_and_what_they_held(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, retention_months=2, migrations=MIGRATIONS)
    now = at(2026, 6, 10)
    # each call made of two legs (``hangup.legs``): the dropped call's legs go with it
    old, kept = (dataclasses.replace(ended(n, at(2026, month)), leg_id="a") for n, month in ((1, 1), (2, 5)))
    store.retention_months = 0  # store both before retention applies, as if configured later
    attach_rollups(store)
    store.add_many([old, kept])
    store.add_many([dataclasses.replace(c, leg_id="b", duration=c.duration + 1) for c in (old, kept)])
    assert scalar(postgres_url, "SELECT COUNT(*) FROM call_legs") == 4
    store.retention_months = 2
    assert store.maintain(now) == ["calls_p202601"]
    assert scalar(postgres_url, "SELECT COUNT(*) FROM call_legs WHERE call_id = %s", (kept.id,)) == 2
    assert scalar(postgres_url, "SELECT COUNT(*) FROM call_legs") == 2
    assert "calls_p202605" in store.partitions() and "calls_p202601" not in store.partitions()
    assert [c.id for c in store.iter_calls(CallQuery())] == [kept.id]
    assert scalar(postgres_url, "SELECT COUNT(*) FROM call_keys") == 1
    assert scalar(postgres_url, "SELECT COUNT(*) FROM stats_rollups WHERE bucket < %s", (at(2026, 4, 1),)) == 0
    store.close()


def test_a_late_call_older_than_retention_waits_in_the_default_partition(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, retention_months=1, migrations=MIGRATIONS)
    late = ended(1, at(2020, 1))
    assert store.add_many([late])[0].status == AddStatus.INSERTED
    assert "calls_p202001" not in store.partitions()
    assert scalar(postgres_url, "SELECT COUNT(*) FROM calls_default") == 1
    store.maintain()
    assert store.count() == 0 and scalar(postgres_url, "SELECT COUNT(*) FROM call_keys") == 0
    store.close()


def test_rows_in_the_default_partition_move_when_their_month_gets_a_table(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, retention_months=1, migrations=MIGRATIONS)
    store.add_many([ended(1, at(2021, 7))])  # beyond retention: kept in the default partition for now
    store.retention_months = 0
    store.add_many([ended(2, at(2021, 7, 20))])  # now the month gets its table, and the waiting row moves in
    assert scalar(postgres_url, "SELECT COUNT(*) FROM calls_default") == 0
    assert scalar(postgres_url, "SELECT COUNT(*) FROM calls_p202107") == 2
    store.close()


def test_text_with_nul_is_stored_not_refused(pg: PostgresStore) -> None:
    record = ended(1, at(2024, 8), from_user_id="a\x00b", raw="sid=a%00b\x00")
    assert pg.add_many([record])[0].status == AddStatus.INSERTED
    stored = pg.get(record.id)
    assert stored is not None and stored.from_user_id == "a\ufffdb"
    assert pg.add_many([record])[0].status == AddStatus.DUPLICATE  # the digest is of the record as received


def test_a_lost_writer_connection_is_replaced(pg: PostgresStore, postgres_url: str) -> None:
    pg.add_many([ended(1, at(2024, 9))])
    pid = pg._wconn.info.backend_pid  # noqa: SLF001 - the writer's session
    scalar(postgres_url, "SELECT pg_terminate_backend(%s)", (pid,))
    assert pg.add_many([ended(2, at(2024, 9))])[0].status == AddStatus.INSERTED
    assert pg.count() == 2


def test_rollups_kept_by_two_nodes_equal_the_raw_rows(postgres_url: str) -> None:
    start, end = at(2024, 10, 1), at(2024, 10, 3)
    records = list(traffic.generate(1200, start, end, seed=5, users=30))
    nodes = [PostgresStore(postgres_url, batch_size=64, migrations=MIGRATIONS) for _ in range(2)]
    for node in nodes:
        attach_rollups(node)
    overlap = [dataclasses.replace(r, received_at=r.received_at + 1) for r in records[::3]]  # redelivered

    def send(k: int, batch: list[CallRecord]) -> None:
        for i in range(0, len(batch), 50):
            nodes[k].add_many(batch[i : i + 50])

    threads = [threading.Thread(target=send, args=(0, records)), threading.Thread(target=send, args=(1, overlap))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db = StatsDB(postgres_url)
    try:
        conn = db.reader()
        window = Window(start - start % 60, end - end % 60 + 60)
        from_rollups = rollup_reads.totals(conn, window.start, window.end, ALL, "")
        from_raw = raw.totals(conn, window, db.paramstyle)
        assert from_rollups == from_raw and from_raw.attempts == 1200
        rebuild(db)
        assert rollup_reads.totals(conn, window.start, window.end, ALL, "") == from_raw
    finally:
        db.close()
        for node in nodes:
            node.close()


@pytest.mark.parametrize("filters", [{}, {"call_type": "A"}, {"call_type": "A", "provider": "planet"}],
                         ids=["rollups", "one-filter", "raw-rows"])
def test_statistics_answers_are_the_same_on_both_back_ends(
    postgres_url: str, tmp_path: Any, filters: dict[str, str]
) -> None:
    from hangup.stats.service import StatsService

    start, end = at(2024, 11, 1), at(2024, 11, 3)
    records = list(traffic.generate(600, start, end, seed=9, users=20))
    answers = []
    for url in (f"sqlite:///{tmp_path}/s.db", postgres_url):
        store = open_store(url)
        attach_rollups(store)
        store.add_many(records)
        db = StatsDB(url)
        service = StatsService(db)
        window = Window(start, end, dict(filters))
        answers.append([
            service.summary(window), service.timeseries(window, "asr", "hour"),
            service.breakdown(window, "outcome"), service.top(window, "user", 5),
        ])
        db.close()
        store.close()
    assert answers[0] == answers[1]


def test_db_migrate_on_postgres_applies_everything_once(postgres_url: str) -> None:
    from click.testing import CliRunner

    from hangup.cli import _register, cli

    _register()
    first = CliRunner().invoke(cli, ["db", "migrate", "--db", postgres_url])
    again = CliRunner().invoke(cli, ["db", "migrate", "--db", postgres_url])
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    applied = [line.split()[1] for line in first.output.splitlines() if line.startswith("applied ")]
    assert applied == [m.name for m in MIGRATIONS]
    assert f"{len(MIGRATIONS)} migrations applied in total; 0 now" in again.output


def test_retention_comes_from_the_settings(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from hangup.cli.db import open_cli_store

    monkeypatch.setenv("HANGUP_RETENTION_MONTHS", "6")
    store = open_cli_store(postgres_url)
    assert isinstance(store, PostgresStore) and store.retention_months == 6
    store.close()
