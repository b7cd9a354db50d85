"""What both back ends share: call-log pages and counts, conflicts, quarantine rows read and written.

They run through the store's ``Database`` (``read``: this thread's connection on SQLite, a checked
pooled one on PostgreSQL), written once with ``?`` placeholders. Only ``get`` differs per back end
(PostgreSQL looks the month up in ``call_keys`` first), so it stays in each.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

from hangup.records import CallRecord
from hangup.store import legs, sql
from hangup.store.base import CallQuery, Conflict, Page, QuarantineEntry
from hangup.store.database import Database
from hangup.store.schema import QUARANTINE_COLUMNS

_QUARANTINE = f"SELECT id, {', '.join(QUARANTINE_COLUMNS)} FROM quarantine"
#: The INSERT of a quarantine row (``quarantine_values``), ``?`` placeholders.
INSERT_QUARANTINE = (
    f"INSERT INTO quarantine ({', '.join(QUARANTINE_COLUMNS)}) VALUES ({', '.join('?' * len(QUARANTINE_COLUMNS))})"
)
_CONFLICTS = "SELECT id, call_id, received_at, raw, differences FROM call_conflicts"


class SharedReads:
    """The ``Store`` reads of both back ends; a back end sets ``database``."""

    database: Database

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.database.read("SELECT name FROM _migrations ORDER BY name")]

    def query(self, query: CallQuery) -> Page:
        statement, params, limit = sql.page_sql(query, "?")
        return sql.page_of(self.database.read(statement, params), limit)

    def iter_calls(self, query: CallQuery, batch: int = 1000) -> Iterator[CallRecord]:
        return sql.iter_pages(self.query, query, batch)

    def count(self, query: CallQuery | None = None) -> int:
        w = sql.where(query or CallQuery(), "?", with_cursor=False)
        return int(self.database.read(f"SELECT COUNT(*) FROM calls{w.sql}", w.params)[0][0])

    def conflicts(self, call_id: str | None = None, limit: int = 100) -> list[Conflict]:
        if call_id is None:
            rows = self.database.read(f"{_CONFLICTS} ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self.database.read(f"{_CONFLICTS} WHERE call_id = ? ORDER BY id LIMIT ?", (call_id, limit))
        return [Conflict(int(r[0]), r[1], float(r[2]), r[3], _differences(r[4])) for r in rows]

    def legs(self, call_id: str) -> list[CallRecord]:
        return legs.records_of(self.database.read(legs.SELECT_LEGS, (call_id,)))

    def quarantined(self, limit: int = 100, offset_id: int | None = None) -> list[QuarantineEntry]:
        if offset_id is None:
            rows = self.database.read(f"{_QUARANTINE} ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self.database.read(f"{_QUARANTINE} WHERE id < ? ORDER BY id DESC LIMIT ?", (offset_id, limit))
        return [sql.quarantine_entry(r) for r in rows]

    def quarantine_entry(self, quarantine_id: int) -> QuarantineEntry | None:
        rows = self.database.read(f"{_QUARANTINE} WHERE id = ?", (quarantine_id,))
        return sql.quarantine_entry(rows[0]) if rows else None

    def quarantine_count(self) -> int:
        return int(self.database.read("SELECT COUNT(*) FROM quarantine")[0][0])


def quarantine_values(e: QuarantineEntry, *, ascii_json: bool = False) -> tuple[Any, ...]:
    """The values of ``INSERT_QUARANTINE`` for an entry (the body as base64, headers and error as JSON).

    ``ascii_json`` escapes every non-ASCII character, for a database whose text cannot hold a lone surrogate.
    """
    return (
        e.received_at, e.provider, e.method, e.path, e.query, base64.b64encode(e.body).decode("ascii"),
        json.dumps(e.headers, ensure_ascii=ascii_json), e.client, e.status,
        json.dumps(e.error, ensure_ascii=ascii_json), e.replayed_at, e.replay_result,
    )


def _differences(text: str) -> dict[str, list[Any]]:
    value: dict[str, list[Any]] = json.loads(text)
    return value
