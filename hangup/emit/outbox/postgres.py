"""The PostgreSQL outbox: the same contract as SQLite, for emitters on several nodes sharing one database.

``claim`` picks due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and pushes their lease forward in the
same statement, so two nodes claiming at once get disjoint rows and never wait on each other; a row
whose node died becomes due again when its lease runs out (at-least-once, receivers dedupe by
``sid``). Every method is one transaction on a connection of the pool of the URL's ``Database``
(``hangup.store.database``), shared with the store and the statistics. The emitter's tables
come from its named migrations, applied here under the store's migration lock when missing. The other
statements are the portable ones of ``hangup.emit.outbox.sql``.
"""

from __future__ import annotations

from typing import Any

from hangup.emit import schema
from hangup.emit.outbox.base import Entry, NewEntry, State
from hangup.emit.outbox.sql import COLUMNS, DUE, PORTABLE, Connection, SQLOutbox, entry_of, entry_values
from hangup.store.database import to_paramstyle
from hangup.store.postgres import apply_migrations

_CLAIM = to_paramstyle(
    f"WITH due AS (SELECT id {DUE} FOR UPDATE SKIP LOCKED) "
    "UPDATE outbox o SET next_attempt_at = ?, attempts = o.attempts + 1, updated_at = ? "
    f"FROM due WHERE o.id = due.id RETURNING {', '.join('o.' + c for c in COLUMNS)}",
    "format",
)
# RETURNING gives a new entry's id in the insert's own round trip
_INSERT_ENTRY = to_paramstyle(PORTABLE.insert_entry, "format") + " RETURNING id"


class PostgresOutbox(SQLOutbox):
    """``Outbox`` on PostgreSQL (see the module docstring)."""

    binds_arrays = True

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        super().__init__(url, pool_size=pool_size)

    def _text(self, value: str) -> str:
        return value.replace("\x00", "\ufffd")  # a PostgreSQL text value cannot hold NUL

    def migrate(self) -> list[str]:
        current = self._read("SELECT current_schema()")[0][0]
        return apply_migrations(self.database.location.conninfo, schema.MIGRATIONS, str(current))

    # -- queue ------------------------------------------------------------------------------
    def _insert(self, db: Connection, new: NewEntry, now: float) -> tuple[int, bool]:
        row = db.execute(_INSERT_ENTRY, entry_values(new, now)).fetchone()
        created = row is not None
        if row is None:  # a repeat: the first entry (committed, possibly by another node) stands
            row = db.execute(self._sql.entry_id, (new.sid, new.destination)).fetchone()
        return (int(row[0]), created) if row else (0, False)

    def claim(self, limit: int, now: float, lease: float) -> list[Entry]:
        if limit <= 0:
            return []
        params = (State.PENDING, now, limit, now + lease, now)
        rows: list[Any] = self._write(lambda db: db.execute(_CLAIM, params).fetchall())
        return sorted((entry_of(row) for row in rows), key=lambda e: e.id)
