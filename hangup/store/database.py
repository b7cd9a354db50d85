"""One ``Database`` per URL: the dialect, the one SQLite writer every write goes through, the read connections.

Everything in hangup that touches a database (the call store, the outbox, the statistics, the alert
state, the CLI) opens it as ``Database(url)``. Handles of one URL in one process share one engine,
counted by reference and closed with the last handle:

* **SQLite** (datasette's shape): one writer thread (``GroupCommitWriter``) on one connection commits
  every write of the file, whoever asks: calls and quarantine from the store, outbox rows, alert state,
  rollup maintenance, migrations. A write is an operation ``(part, payload)``; the writer runs a batch of
  them in one ``BEGIN IMMEDIATE`` … ``COMMIT``, each ``WritePart`` once with all its payloads, so the
  calls of a batch still go in with one statement. Before each batch it checks, with one ``stat``, that
  the path still names the file it opened (device and inode): a deleted or replaced file fails the batch
  instead of taking writes nobody will read. Reads use one connection per thread (WAL readers never
  wait for the writer). Every connection is opened by ``connect`` with the same pragmas.
* **PostgreSQL**: reads and ``write`` tasks take a connection from a ``psycopg_pool`` pool that checks
  each connection before handing it out, so a connection the server dropped is replaced, not reused.
  Concurrent writers are the server's business; the call store keeps its own group-commit writer.

SQL is written with ``?`` placeholders; ``sql`` puts a statement in the driver's style.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from hangup.errors import StoreError
from hangup.store.url import SQLITE_OPTIONS, DatabaseURL, parse_url
from hangup.store.writer import GroupCommitWriter, Op

T = TypeVar("T")

PARAMSTYLES = {"sqlite": "qmark", "postgresql": "format"}
#: Pages of WAL after which SQLite checkpoints (~12 MB; see ``SQLiteEngine.__init__``).
CHECKPOINT_PAGES = 3000
_DEFAULT_BATCH = 256


def paramstyle_of(conn: Any) -> str:
    """The placeholder style of a DB-API connection: ``qmark`` for sqlite3, ``format`` for psycopg."""
    return "qmark" if type(conn).__module__.startswith("sqlite3") else "format"


def to_paramstyle(statement: str, paramstyle: str) -> str:
    """``statement`` written with ``?`` placeholders, in a driver's style (``qmark`` or ``format``)."""
    if paramstyle == "qmark":
        return statement
    if paramstyle == "format":  # psycopg reads every % as the start of a placeholder
        return statement.replace("%", "%%").replace("?", "%s")
    raise StoreError(f"no SQL paramstyle {paramstyle!r}; known: {', '.join(PARAMSTYLES.values())}")


class WritePart(ABC):
    """What a kind of writer operation does in the SQLite writer's transaction (see the module docstring).

    ``run`` gets the payloads of one batch's operations of this part, in order, and returns one result
    each. ``prepare`` and ``finish`` run on the writer's connection outside the transaction, before and
    after it (``ATTACH`` cannot run inside one).
    """

    @abstractmethod
    def run(self, conn: sqlite3.Connection, payloads: list[Any]) -> list[Any]: ...

    def prepare(self, conn: sqlite3.Connection, payloads: list[Any]) -> None:
        return None

    def finish(self, conn: sqlite3.Connection, payloads: list[Any]) -> None:
        return None


class _Tasks(WritePart):
    """Operations that are ``task(connection)``: their results are the tasks' results."""

    def run(self, conn: sqlite3.Connection, payloads: list[Any]) -> list[Any]:
        return [task(conn) for task in payloads]


TASKS = _Tasks()


class SQLiteEngine:
    """The shared state of one SQLite file: its writer thread and connection, its readers."""

    def __init__(self, location: DatabaseURL, synchronous: str, batch_size: int) -> None:
        self.path = location.path
        self.synchronous = synchronous
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.wconn = self.connect()
        self._identity = file_identity(self.path)
        self._applied_synchronous = synchronous
        # The writer walks random-key B-trees (call ids are UUIDs): keep their pages in memory, not the OS cache.
        self.wconn.execute("PRAGMA cache_size=-65536")
        # Checkpoint every ~12 MB of WAL instead of ~4 MB: a page rewritten by many commits is copied back
        # once, which takes CPU off every call. Not more: the checkpoint runs inside a commit and the calls
        # waiting on it wait for the copy too (~40 MB cost ~15 ms, the ingest p99; docs/benchmarks.md, "Ingest").
        self.wconn.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
        self.writer = GroupCommitWriter(self._run_batch, max_batch=batch_size)

    def connect(self) -> sqlite3.Connection:
        """A new connection to the file with hangup's pragmas (WAL, the synchronous level, a busy timeout)."""
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        return conn

    def reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.connect()
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def _run_batch(self, ops: Sequence[Op]) -> list[Any]:
        """One transaction for the batch: each part once, with its payloads in order."""
        self.check_file()
        first = ops[0][0]
        if all(part is first for part, _ in ops):  # the usual batch: one part (calls only)
            groups: dict[WritePart, list[int]] = {first: list(range(len(ops)))}
            payloads = {first: [payload for _, payload in ops]}
        else:
            groups = {}
            for index, (part, _) in enumerate(ops):
                groups.setdefault(part, []).append(index)
            payloads = {part: [ops[i][1] for i in indexes] for part, indexes in groups.items()}
        try:
            return self._transaction(groups, payloads, len(ops))
        except sqlite3.Error as exc:
            raise StoreError(f"the store could not commit: {exc}{self._read_only_hint()}") from exc

    def check_file(self) -> None:
        """``StoreError`` unless the path still names the file the writer opened (one ``stat`` per batch).

        A file deleted or replaced under a running server would take commits nobody will ever read: the
        writer's connection keeps writing into the unlinked inode, so every acknowledged call would be lost.
        """
        found = file_identity(self.path)
        if found == self._identity:
            return
        if found is None:
            raise StoreError(f"the database file {self.path} was deleted while open")
        raise StoreError(f"the database file {self.path} was replaced by another file while open")

    def _read_only_hint(self) -> str:
        """`` (… is read-only)`` when the file or its WAL cannot be written (SQLite says only "disk I/O error").

        ``access`` answers for root too: an immutable file (``chattr +i``) or a read-only mount is refused.
        """
        for name in (self.path, f"{self.path}-wal"):
            if os.path.exists(name) and not os.access(name, os.W_OK):
                return f" ({name} is read-only)"
        return ""

    def _transaction(self, groups: dict[WritePart, list[int]], payloads: dict[WritePart, list[Any]],
                     size: int) -> list[Any]:
        conn = self.wconn
        if self._applied_synchronous != self.synchronous:
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            self._applied_synchronous = self.synchronous
        results: list[Any] = [None] * size
        prepared: list[WritePart] = []
        try:
            for part in groups:
                part.prepare(conn, payloads[part])
                prepared.append(part)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for part, indexes in groups.items():
                    for index, result in zip(indexes, part.run(conn, payloads[part]), strict=True):
                        results[index] = result
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            for part in prepared:
                part.finish(conn, payloads[part])
        return results

    def close(self) -> None:
        self.writer.close()
        self.wconn.close()
        with self._lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()


def file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``; ``None`` when there is none."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


class PostgresEngine:
    """The shared state of one PostgreSQL database: a pool of autocommit connections, checked when taken."""

    def __init__(self, location: DatabaseURL, pool_size: int) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise StoreError(f"the postgresql store is not available ({exc}); install hangup[postgres]") from exc
        self.conninfo = location.conninfo
        self._error: type[Exception] = psycopg.Error
        try:
            self.pool: Any = ConnectionPool(
                self.conninfo, min_size=1, max_size=max(1, pool_size), kwargs={"autocommit": True}, open=True,
                name="hangup-readers", check=ConnectionPool.check_connection,
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc

    def connect(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except self._error as exc:
            raise StoreError(f"PostgreSQL failed: {exc}") from exc

    def write(self, task: Callable[[Any], T]) -> T:
        with self.connection() as conn, conn.transaction():
            return task(conn)

    def close(self) -> None:
        self.pool.close()


Engine = SQLiteEngine | PostgresEngine
_ENGINES: dict[str, tuple[Engine, int]] = {}  # URL key -> (engine, handles open)
_ENGINES_LOCK = threading.Lock()
# A forked child has none of its parent's threads: it must open its own engines, not reuse a dead writer.
os.register_at_fork(after_in_child=_ENGINES.clear)


def _acquire(location: DatabaseURL, synchronous: str | None, batch_size: int | None, pool_size: int) -> Engine:
    if synchronous is not None and synchronous.upper() not in SQLITE_OPTIONS["synchronous"]:
        raise StoreError(f"synchronous must be one of {', '.join(SQLITE_OPTIONS['synchronous'])}")
    key = _key(location)
    with _ENGINES_LOCK:
        found = _ENGINES.get(key)
        if found is None:
            engine: Engine
            if location.dialect == "sqlite":
                level = location.options.get("synchronous") or (synchronous or "FULL").upper()
                engine = SQLiteEngine(location, level, batch_size or _DEFAULT_BATCH)
            else:
                engine = PostgresEngine(location, pool_size)
            _ENGINES[key] = (engine, 1)
            return engine
        engine, handles = found
        _ENGINES[key] = (engine, handles + 1)
    if isinstance(engine, SQLiteEngine):
        if synchronous is not None and "synchronous" not in location.options:
            engine.synchronous = synchronous.upper()  # applied before the writer's next batch
        if batch_size:
            engine.writer.at_least(batch_size)
    return engine


def _release(location: DatabaseURL) -> None:
    key = _key(location)
    with _ENGINES_LOCK:
        engine, handles = _ENGINES[key]
        if handles > 1:
            _ENGINES[key] = (engine, handles - 1)
            return
        del _ENGINES[key]
    engine.close()


def _key(location: DatabaseURL) -> str:
    return f"sqlite:{os.path.abspath(location.path)}" if location.dialect == "sqlite" else location.conninfo


class Database:
    """A handle on the database at ``url`` (see the module docstring); ``close`` releases it once.

    ``synchronous`` (SQLite) is the level used unless the URL names one; ``batch_size`` raises the
    writer's largest batch; ``pool_size`` (PostgreSQL) bounds the pool of the first handle.
    """

    def __init__(self, url: str, *, synchronous: str | None = None, batch_size: int | None = None,
                 pool_size: int = 8) -> None:
        self.url = url
        self.location = parse_url(url)
        self.dialect = self.location.dialect
        self.paramstyle = PARAMSTYLES[self.dialect]
        self._engine = _acquire(self.location, synchronous, batch_size, pool_size)
        self._own: Any = None  # PostgreSQL: the connection ``reader`` hands out
        self._closed = False

    def sql(self, statement: str) -> str:
        """``statement`` (``?`` placeholders) in this database's driver style."""
        return to_paramstyle(statement, self.paramstyle)

    # -- connections -----------------------------------------------------------------------
    def connect(self) -> Any:
        """A new connection of its own, in autocommit mode (the caller closes it). SQLite: read with it only."""
        return self._engine.connect()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        """A connection to read with: this thread's on SQLite, a checked one from the pool on PostgreSQL."""
        if isinstance(self._engine, SQLiteEngine):
            yield self._engine.reader()
        else:
            with self._engine.connection() as conn:
                yield conn

    def reader(self) -> Any:
        """A connection to read with outside a ``with`` block (tools, tests): this thread's on SQLite, one of
        this handle's own on PostgreSQL, opened again when found closed or broken. Services use ``reading``."""
        if isinstance(self._engine, SQLiteEngine):
            return self._engine.reader()
        if self._own is None or self._own.closed or self._own.broken:
            self._own = self._engine.connect()
        return self._own

    def read(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one ``?``-placeholder statement."""
        with self.reading() as conn:
            rows: list[tuple[Any, ...]] = conn.execute(self.sql(statement), params).fetchall()
            return rows

    # -- writes ----------------------------------------------------------------------------
    @property
    def writer(self) -> GroupCommitWriter:
        """The SQLite writer of the file (``StoreError`` on PostgreSQL, which has none shared)."""
        if not isinstance(self._engine, SQLiteEngine):
            raise StoreError("a PostgreSQL database has no shared writer")
        return self._engine.writer

    @property
    def sqlite_path(self) -> str:
        return self.location.path

    @property
    def synchronous(self) -> str:
        return self._engine.synchronous if isinstance(self._engine, SQLiteEngine) else ""

    def write(self, task: Callable[[Any], T]) -> T:
        """Run ``task(connection)`` in one committed write transaction; its result.

        On SQLite the task is an operation of the writer: it waits for the writes queued before it and
        may share their transaction; if that batch fails its operations run again one by one, so the
        task must be safe to run twice. On PostgreSQL it runs on a pooled connection.
        """
        if isinstance(self._engine, SQLiteEngine):
            if self._engine.writer.in_writer_thread():  # asked by a write hook: already in the transaction
                return task(self._engine.wconn)
            result: T = self._engine.writer.run_sync((TASKS, task))
            return result
        return self._engine.write(task)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._own is not None:
                self._own.close()
            _release(self.location)
