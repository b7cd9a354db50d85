"""Database connections of the statistics: reads beside the store, the rollup hook inside its writer.

Statistics read the store's database through their own connections (one per thread, as the SQLite
store's readers do; WAL readers never wait for the writer). The rollups are written by the store's
writer through ``add_write_hook``, in the same transaction as the calls they count.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from hangup.errors import StoreError
from hangup.settings import Settings
from hangup.stats import rollups
from hangup.store import Store, scheme_of
from hangup.store.sqlite import path_from_url

#: Attribute set on a store once the rollup hook is registered, so it is registered once.
_HOOKED = "_hangup_rollups_hooked"


def attach_rollups(store: Store, settings: Settings | None = None) -> None:
    """Keep rollups current as ``store`` inserts calls (idempotent); with ``settings``, minute rows older
    than their ``minute_rollup_days`` are not written (``rollups.RollupHook``)."""
    if getattr(store, _HOOKED, False):
        return
    days = settings.minute_rollup_days if settings is not None else 0
    store.add_write_hook(rollups.RollupHook(days) if days else rollups.hook)
    try:
        setattr(store, _HOOKED, True)
    except AttributeError:  # a store with __slots__: registering twice is only wasteful, not wrong
        pass


class StatsDB:
    """Connections to the database behind a store URL (SQLite file or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = "sqlite" if scheme_of(url) == "sqlite" else "postgresql"
        self.paramstyle = "qmark" if self.dialect == "sqlite" else "format"
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    def connect(self) -> Any:
        """A new connection in autocommit mode (the caller closes it)."""
        if self.dialect == "sqlite":
            path = path_from_url(self.url.split("?", 1)[0])
            try:
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
                conn.execute("PRAGMA busy_timeout=30000")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open {path}: {exc}") from exc
            return conn
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - the postgres extra is missing
            raise StoreError(f"PostgreSQL needs hangup[postgres] ({exc})") from exc
        return psycopg.connect(self.url, autocommit=True)

    def reader(self) -> Any:
        """This thread's read connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.connect()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
