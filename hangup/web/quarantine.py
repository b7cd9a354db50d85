"""What the callback receiver keeps of rejected requests: bounded per entry, per source and in total.

Every rejected callback (400, 401, 403) is kept for inspection and replay, which makes the quarantine a
place any client on the internet can write to. Three limits, applied before anything is stored:

* per entry (``HANGUP_QUARANTINE_ENTRY_BYTES``): query and body together are cut to this size; the
  request's lengths and the body's SHA-256 stay in the entry (``hangup.ingest.quarantine_entry``);
* per source (``HANGUP_QUARANTINE_PER_MINUTE``): entries per client address and minute; a rejection above
  it is answered the same but not kept;
* in total (``HANGUP_QUARANTINE_MAX_BYTES``): once the entries kept since the last check add up to a
  sixteenth of the limit, the oldest entries beyond it are deleted, so the quarantine never holds much
  more than the limit.

The counters are this worker's; ``/metrics`` exports them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from hangup import ingest
from hangup.errors import HTTPError, StoreError
from hangup.providers.base import WebhookRequest
from hangup.settings import Settings
from hangup.store.base import QuarantineEntry, Store
from hangup.store.database import Database, to_paramstyle

WINDOW = 60.0  # seconds of one per-source count
#: Sources counted one by one; beyond, they share one count (memory stays bounded under a spoofed flood).
MAX_SOURCES = 10_000
_SHARED = "*"
_SIZE = "LENGTH(query) + LENGTH(body_b64) + LENGTH(headers) + LENGTH(error)"
#: The newest id whose entries, with all newer ones, exceed the limit: it and every older one go.
_BOUNDARY = (f"SELECT id FROM (SELECT id, SUM({_SIZE}) OVER (ORDER BY id DESC) AS newer FROM quarantine) AS q "
             "WHERE newer > ? ORDER BY id DESC LIMIT 1")
_EVICT = "DELETE FROM quarantine WHERE id <= ?"


def evict(conn: Any, max_bytes: int) -> int:
    """Delete the oldest entries beyond ``max_bytes`` (as stored); return how many. Inside a transaction."""
    style = "qmark" if type(conn).__module__.startswith("sqlite3") else "format"
    row = conn.execute(to_paramstyle(_BOUNDARY, style), (max_bytes,)).fetchone()
    if row is None:
        return 0
    return int(conn.execute(to_paramstyle(_EVICT, style), (row[0],)).rowcount)


def stored_size(entry: QuarantineEntry) -> int:
    """About what ``_SIZE`` counts for the entry once stored (the body as base64)."""
    return len(entry.query) + (len(entry.body) + 2) // 3 * 4 + 200


class QuarantineKeeper:
    """Keeps rejected requests within the three limits of the module docstring."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.entry_bytes = settings.quarantine_entry_bytes
        self.max_bytes = settings.quarantine_max_bytes
        self.per_minute = settings.quarantine_per_minute
        self.clock = clock
        self.kept = self.truncated = self.dropped = self.evicted = 0
        self._window = clock()
        self._counts: dict[str, int] = {}
        self._since_check = 0

    def admit(self, client: str) -> bool:
        """Whether one more entry from ``client`` may be kept this minute (counting it if so)."""
        now = self.clock()
        if now - self._window >= WINDOW:
            self._window, self._counts = now, {}
        key = client if client in self._counts or len(self._counts) < MAX_SOURCES else _SHARED
        count = self._counts.get(key, 0)
        if count >= self.per_minute:
            self.dropped += 1
            return False
        self._counts[key] = count + 1
        return True

    async def keep(self, store: Store, provider: str, request: WebhookRequest, path: str, error: HTTPError) -> None:
        """Store the bounded entry of a rejected request, unless its source is over its rate."""
        if not self.admit(request.client):
            return
        entry = ingest.quarantine_entry(provider, request, path, error, self.entry_bytes)
        self.truncated += ingest.is_truncated(entry)
        await store.aquarantine(entry)
        self.kept += 1
        self._since_check += stored_size(entry)
        if self._since_check * 16 >= self.max_bytes:
            self._since_check = 0
            self.evicted += await run_in_threadpool(self.evict, store)

    def evict(self, store: Store) -> int:
        """Run ``evict`` as one write of the store's database: an operation of the SQLite writer, queued in
        line with the calls, or a transaction on a pooled PostgreSQL connection (``Database.write``)."""
        database = getattr(store, "database", None)
        if not isinstance(database, Database):
            raise StoreError(f"{type(store).__name__} has no database to bound the quarantine in")
        return database.write(lambda conn: evict(conn, self.max_bytes))


_ATTR = "_hangup_quarantine"


def keeper(state: Any) -> QuarantineKeeper:
    """The app's keeper (created on first use, like the statistics service)."""
    found: QuarantineKeeper | None = getattr(state, _ATTR, None)
    if found is None:
        found = QuarantineKeeper(state.settings)
        setattr(state, _ATTR, found)
    return found
