"""The PostgreSQL store: the same ``Store`` as SQLite, for several hangup nodes on one database.

Selected by a ``postgresql://`` (or ``postgres://``, ``postgresql+psycopg://``) store URL; needs the
``hangup[postgres]`` extra (psycopg 3 and psycopg-pool). The URL is a libpq connection URI
(``hangup.store.url``), so a schema is chosen with ``?options=-csearch_path%3Dmyschema``.

* Writes: one group-commit writer thread per node (``GroupCommitWriter``) on its own connection; a
  batch is one transaction, callers are answered after COMMIT. New calls are claimed in
  ``call_keys`` and copied into ``calls`` (``hangup.store.postgres_writes``). A batch that loses a
  deadlock or serialization race to another node is run again. Batches of ready rows (``add_rows``,
  bulk imports) are copied in with COPY and stored by set-based statements (``hangup.store.postgres_bulk``).
* Reads: the pool of the store's ``Database`` (``hangup.store.database``), shared with the outbox and
  the statistics of the same URL; they never wait for writers. The SQL of most reads is shared with
  SQLite (``hangup.store.shared``).
* Schema: the same named migrations as SQLite, in the same order, applied while holding
  ``pg_advisory_lock`` so nodes starting together apply each one once. ``calls`` is partitioned by
  month of ``ended_at`` (``hangup.store.postgres_schema``); a month's partition is made before the
  first batch that needs it.
* Retention: with ``retention_months`` > 0, partitions older than that many whole months before the
  current one are dropped, at start and then hourly (one node at a time).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from hangup.errors import StoreError
from hangup.records import CallRecord
from hangup.store import postgres_bulk as bulk
from hangup.store import postgres_bulk_load as bulk_load
from hangup.store import postgres_schema as pgschema
from hangup.store import postgres_writes as writes
from hangup.store import sql
from hangup.store.base import CopyBatch, StagedResult, WriteHook
from hangup.store.database import Database
from hangup.store.migrations import MIGRATIONS_TABLE_DDL, Migration, ordered, render
from hangup.store.schema import CALL_COLUMNS
from hangup.store.schema import MIGRATIONS as STORE_MIGRATIONS
from hangup.store.shared import SharedReads
from hangup.store.writer import GroupCommitWriter, Op, WriterBackedStore, joining

log = logging.getLogger("hangup.store.postgres")

DIALECT = "postgresql"
#: Migrations whose PostgreSQL statements differ from the portable ones beyond the dialect tokens.
OVERRIDES: Mapping[str, tuple[str, ...]] = MappingProxyType({"0001_calls": pgschema.CALLS_MIGRATION})
#: How often a batch that lost a deadlock or serialization race is run again before it fails.
RETRIES = 5
MAINTENANCE_SECONDS = 3600.0
MONTHS_AHEAD = 2
_CALL_OPS = frozenset({"call", "calls"})
_ENDED_AT = CALL_COLUMNS.index("ended_at")
_DAY = 86400
_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure, pg_errors.LockNotAvailable)


def statements_of(migration: Migration) -> tuple[str, ...]:
    override = OVERRIDES.get(migration.name)
    if override is not None and DIALECT not in migration.dialects:
        return tuple(render(s, DIALECT) for s in override)
    return migration.statements(DIALECT)


def apply_migrations(conninfo: str, migrations: Sequence[Migration], schema: str) -> list[str]:
    """Apply those of ``migrations`` not yet in ``_migrations``, in order, one transaction each.

    The whole run holds a session advisory lock of the schema, so nodes starting together take turns
    and each migration is applied once; a node that waited finds them recorded and applies nothing.
    """
    applied_now: list[str] = []
    key = pgschema.lock_key("migrate", schema)
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            conn.execute(render(MIGRATIONS_TABLE_DDL, DIALECT))
            for migration in migrations:
                with conn.transaction():
                    done = conn.execute("SELECT 1 FROM _migrations WHERE name = %s", (migration.name,)).fetchone()
                    if done is None:
                        for statement in statements_of(migration):
                            conn.execute(statement)
                        conn.execute("INSERT INTO _migrations VALUES (%s, %s)", (migration.name, time.time()))
                        applied_now.append(migration.name)
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    except psycopg.Error as exc:
        raise StoreError(f"migration failed: {exc}") from exc
    return applied_now


class PostgresStore(SharedReads, WriterBackedStore):
    """The PostgreSQL implementation of ``hangup.store.base.Store`` (see the module docstring).

    ``migrations`` as for ``SQLiteStore``: the call store's own tables unless ``hangup.composition`` hands in more.
    """

    def __init__(
        self,
        url: str,
        *,
        batch_size: int = 256,
        migrate: bool = True,
        pool_size: int = 8,
        retention_months: int = 0,
        maintenance_seconds: float = MAINTENANCE_SECONDS,
        migrations: Sequence[Migration] | None = None,
    ) -> None:
        self.url = url
        self.migrations = ordered(STORE_MIGRATIONS if migrations is None else migrations)
        self.database = Database(url, pool_size=pool_size)
        self.conninfo = self.database.location.conninfo
        self.retention_months = retention_months
        self._hooks: list[WriteHook] = []
        self._months: set[pgschema.Month] = set()
        try:
            self._wconn = self._connect()
        except BaseException:
            self.database.close()
            raise
        try:
            self.schema = self._current_schema()
            if migrate:
                self.migrate()
                with self._wconn.transaction():  # an import that stopped before its end left them out
                    bulk_load.restore(self._wconn, self.schema)
        except BaseException:
            self._wconn.close()
            self.database.close()
            raise
        self._writer = GroupCommitWriter(self._run_batch, max_batch=batch_size, name="hangup-pg-writer")
        self._stop = threading.Event()
        self._maintenance: threading.Thread | None = None
        if migrate:
            try:
                self.maintain()
            except BaseException:
                self.close()
                raise
            self._maintenance = threading.Thread(
                target=self._maintain_loop, args=(maintenance_seconds,), name="hangup-pg-maintenance", daemon=True
            )
            self._maintenance.start()

    # -- connections ---------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        """A connection of the writer's own (the pool's are for reads): the database's one opener."""
        conn: psycopg.Connection[Any] = self.database.connect()
        return conn

    def _current_schema(self) -> str:
        row = self._wconn.execute("SELECT current_schema()").fetchone()
        if row is None or row[0] is None:
            raise StoreError("no schema to use: the search_path of the store URL names no existing schema")
        return str(row[0])

    def _writer_conn(self) -> psycopg.Connection[Any]:
        if self._wconn.closed or self._wconn.broken:
            log.warning("the writer's PostgreSQL connection was lost; reconnecting")
            self._wconn = self._connect()
        return self._wconn

    def close(self) -> None:
        self._stop.set()
        if self._maintenance is not None:
            self._maintenance.join()
        self._writer.close()
        self._wconn.close()
        self.database.close()

    # -- migrations ----------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply pending migrations, one transaction each, holding the schema's migration lock."""
        return apply_migrations(self.conninfo, self.migrations, self.schema)

    # -- partitions and retention ------------------------------------------------------------
    def retention_cutoff(self, now: float | None = None) -> pgschema.Month | None:
        """The oldest month kept (``None``: keep everything)."""
        if self.retention_months <= 0:
            return None
        current = pgschema.month_of(int(time.time() if now is None else now))
        return pgschema.shift(current, -self.retention_months) if current else None

    def ensure_months(self, months: set[pgschema.Month]) -> None:
        """Make the partitions of ``months`` (those within retention) exist before rows are routed to them."""
        cutoff = self.retention_cutoff()
        missing = sorted(m for m in months - self._months if cutoff is None or m >= cutoff)
        conn = self._writer_conn()
        for month in missing:
            with conn.transaction(), conn.cursor() as cur:
                pgschema.ensure_month(cur, month, self.schema)
            self._months.add(month)

    def maintain(self, now: float | None = None) -> list[str]:
        """Make this and the coming months' partitions and apply retention; return the partitions dropped."""
        moment = time.time() if now is None else now
        current = pgschema.month_of(int(moment))
        try:
            with psycopg.connect(self.conninfo, autocommit=True) as conn:
                if current is not None:
                    for ahead in range(MONTHS_AHEAD + 1):
                        with conn.transaction(), conn.cursor() as cur:
                            pgschema.ensure_month(cur, pgschema.shift(current, ahead), self.schema)
                cutoff = self.retention_cutoff(moment)
                if cutoff is None:
                    return []
                with conn.transaction(), conn.cursor() as cur:
                    dropped = pgschema.drop_months_before(cur, cutoff, self.schema)
        except psycopg.Error as exc:
            raise StoreError(f"partition maintenance failed: {exc}") from exc
        self._months = {m for m in self._months if m >= cutoff}
        if dropped:
            log.info("retention: dropped %s", ", ".join(dropped))
        return dropped

    def _maintain_loop(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.maintain()
            except StoreError:
                log.exception("partition maintenance failed; will try again")

    def partitions(self) -> list[str]:
        """Names of the month partitions of ``calls``, oldest first."""
        rows = self.database.read(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'calls'::regclass ORDER BY c.relname"
        )
        return [r[0] for r in rows if pgschema.month_of_name(r[0]) is not None]

    # -- the writer's transaction --------------------------------------------------------
    def _run_batch(self, ops: Sequence[Op]) -> list[Any]:
        months = {pgschema.month_of(sql.ended_at(r)) for r in _records(ops)} | _row_months(ops)
        for attempt in range(RETRIES + 1):
            try:
                self.ensure_months({m for m in months if m is not None})
                return self._transaction(ops)
            except _RETRYABLE as exc:
                if attempt == RETRIES:
                    raise StoreError(f"PostgreSQL write failed: {exc}") from exc
                time.sleep(0.01 * (attempt + 1))
            except psycopg.OperationalError as exc:
                # A lost connection is retried on a new one: even if the lost COMMIT went through, the
                # second run finds the calls claimed and answers "duplicate", so nothing is stored twice.
                if not self._wconn.broken or attempt == RETRIES:
                    raise StoreError(f"PostgreSQL write failed: {exc}") from exc
                time.sleep(0.05 * (attempt + 1))
            except psycopg.Error as exc:  # answered as 503, so the platform delivers again later
                raise StoreError(f"PostgreSQL write failed: {exc}") from exc
        raise AssertionError("unreachable")

    def _transaction(self, ops: Sequence[Op]) -> list[Any]:
        conn = self._writer_conn()
        with conn.transaction(), conn.cursor() as cur:
            return joining(conn, ops, lambda joined: self._run(cur, joined))

    def _run(self, cur: psycopg.Cursor[Any], ops: Sequence[Op]) -> list[Any]:
        """The operations of a batch (joined already), in the transaction of ``cur``."""
        results: list[Any] = [None] * len(ops)
        records = _records(ops)
        statuses: list[Any] = [None] * len(records)
        if records:  # stores them and runs the write hooks on those inserted now
            writes.insert_calls(cur, list(enumerate(records)), statuses, self._hooks)
        start = 0
        for i, (kind, payload) in enumerate(ops):  # "call" gets one status, "calls" a list of them
            if kind in _CALL_OPS:
                count = 1 if kind == "call" else len(payload)
                results[i] = statuses[start] if kind == "call" else statuses[start : start + count]
                start += count
        for i, (kind, payload) in enumerate(ops):
            if kind == "rows":
                results[i] = bulk.add_rows(cur, payload, self._hooks)
            elif kind == "copied":
                results[i] = bulk.add_copied(cur, payload, self._hooks)
            elif kind not in _CALL_OPS:
                results[i] = writes.OTHER_OPS[kind](cur, payload)
        return results

    # -- writes --------------------------------------------------------------------------
    @contextlib.contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Around an import of ``add_copied`` batches: into an empty store the secondary indexes of ``calls``
        are built once at the end (``hangup.store.postgres_bulk_load``)."""
        self._writer.run_sync(("task", lambda conn: bulk_load.defer(conn, self.schema)))
        try:
            yield
        finally:
            self._writer.run_sync(("task", lambda conn: bulk_load.restore(conn, self.schema)))

    def add_copied(self, batch: CopyBatch) -> StagedResult:
        """Store a batch of ``COPY`` text (``CopyStore``) as ``add_rows`` stores rows."""
        result: StagedResult = self._writer.run_sync(("copied", batch))
        return result

    # -- reads (the rest are ``SharedReads``) -------------------------------------------------
    def get(self, call_id: str) -> CallRecord | None:
        with self.database.reading() as conn, conn.cursor() as cur:
            cur.execute("SELECT ended_at FROM call_keys WHERE id = %s", (call_id,))
            key = cur.fetchone()
            found = writes.get_call(cur, call_id, int(key[0])) if key else None
            if found is None:
                cur.execute(
                    f"SELECT {sql.SELECT_COLUMNS} FROM calls WHERE provider_call_id = %s "
                    "ORDER BY received_at LIMIT 1",
                    (call_id,),
                )
                row = cur.fetchone()
                found = sql.row_record(row) if row else None
        return found


def _row_months(ops: Sequence[Op]) -> set[pgschema.Month | None]:
    """The months of the rows of a batch's "rows" operations (looked up once per distinct day)."""
    days = {row[_ENDED_AT] // _DAY for kind, payload in ops if kind == "rows" for row in payload}
    days.update(day for kind, payload in ops if kind == "copied" for day in payload.days)
    return {pgschema.month_of(day * _DAY) for day in days}


def _records(ops: Sequence[Op]) -> list[CallRecord]:
    """The calls of a batch's "call" (one record), "joined" (a record and its join) and "calls" (a list)
    operations, in order."""
    out: list[CallRecord] = []
    for kind, payload in ops:
        if kind == "call":
            out.append(payload)
        elif kind == "joined":  # a join keeps the call's ``ended_at``, so its month
            out.append(payload[0])
        elif kind == "calls":
            out.extend(payload)
    return out

