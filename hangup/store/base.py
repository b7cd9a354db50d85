"""The ``Store`` protocol every back end implements, and the values it takes and returns.

Writes go through ``add`` / ``add_many``: a back end commits concurrent events together (group
commit) and resolves each caller only after COMMIT, so "stored" always means durable. Reads never
wait for writes. Extra work that must be atomic with a batch of inserted calls (rollups, an outbox)
is registered with ``add_write_hook``: the hook runs inside the writer's transaction with the
connection and the calls that batch actually inserted (duplicates are not passed again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar, runtime_checkable

from hangup.records import CallRecord

T = TypeVar("T")
#: ``hook(connection, inserted_records)``: runs in the writer's transaction, after the calls are inserted.
WriteHook = Callable[[Any, Sequence[CallRecord]], None]


@runtime_checkable
class RowsWriteHook(Protocol):
    """A write hook that also takes the inserted calls as ``calls`` rows (``hangup.store.sql.record_row``).

    A store that holds rows (bulk imports bring rows, not records) calls ``from_rows`` and spares
    rebuilding a record per call; ``__call__`` stays the hook for stores that hold records.
    """

    def __call__(self, conn: Any, records: Sequence[CallRecord]) -> None: ...

    def from_rows(self, conn: Any, rows: Sequence[tuple[Any, ...]]) -> None: ...


@runtime_checkable
class SourceWriteHook(Protocol):
    """A write hook that can read the inserted calls from a table instead (SQLite bulk imports).

    The rows of ``table`` (``calls`` columns) matching ``where`` (e.g. ``rowid BETWEEN ? AND ?``, with
    ``params``) are exactly the calls the batch inserted; ``sums``, when given, names a table of their
    rollup sums computed by the reading process (``hangup.stats.arrow_rollups``). A hook without
    ``from_source`` is given records read back.
    """

    def __call__(self, conn: Any, records: Sequence[CallRecord]) -> None: ...

    def from_source(self, conn: Any, table: str, where: str, params: Sequence[Any], sums: str | None) -> None: ...


@runtime_checkable
class RetractingWriteHook(Protocol):
    """A write hook that can take back what it added for calls (the rollups).

    When a later leg or a late answering-machine detection changes a stored call (``hangup.store.rewrite``),
    the store calls the hook with the call as it is now and ``retract`` with the call as it was, in the same
    transaction; a hook without ``retract`` counted the call once when it was first stored and is not told again.
    """

    def __call__(self, conn: Any, records: Sequence[CallRecord]) -> None: ...

    def retract(self, conn: Any, records: Sequence[CallRecord]) -> None: ...


def sums_floor(hooks: Sequence[WriteHook]) -> int | None:
    """The earliest minute a bulk batch's rollup sums (``SourceWriteHook``'s ``sums``) must hold for
    ``hooks``: the reading process leaves older minute keys out. A hook that reads sums and keeps every
    minute (no ``minute_floor``, or one that says ``None``) needs them all."""
    floors: list[int] = []
    for hook in hooks:
        if isinstance(hook, SourceWriteHook):
            floor: int | None = getattr(hook, "minute_floor", lambda: None)()
            if floor is None:
                return None
            floors.append(floor)
    return min(floors, default=None)


@dataclass(frozen=True, slots=True)
class CopyBatch:
    """One bulk batch as ``COPY`` text (built by ``hangup.store.copy_batch``): ``rows`` holds ``CALL_COLUMNS``
    per line, ``keys`` the row's position (``seq``) and its ``id, ended_at, digest`` per line, in order."""

    rows: bytes
    keys: bytes
    count: int
    days: tuple[int, ...]  # the distinct days (``ended_at // 86400``) of the rows: their months' partitions
    sums: bytes  # the rollup keys and sums of every row, columns ``sum_columns``
    sum_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StagedResult:
    """What storing one staged batch did (``SQLiteStore.add_staged``): counts, not one result per call."""

    inserted: int
    duplicates: int
    conflicts: int
    legs: int = 0  # further legs of calls the store holds (``hangup.store.legs``)


@runtime_checkable
class StagingStore(Protocol):
    """A store that takes bulk imports as staging files (``hangup.store.staging``): SQLite."""

    def staging_dir(self) -> str:
        """A folder for staging files, on the store's file system."""
        ...

    def add_staged(self, path: str) -> StagedResult: ...

    def minute_sums_floor(self) -> int | None:
        """The earliest minute a batch's rollup sums must hold for the store's hooks (``sums_floor``)."""
        ...

    def bulk_load(self) -> AbstractContextManager[None]:
        """Around a run of ``add_staged`` calls: what a bulk load may defer, done (and synced) on leaving."""
        ...


@runtime_checkable
class CopyStore(Protocol):
    """A store that takes bulk import batches as ``COPY`` text (``hangup.store.copy_batch``): PostgreSQL."""

    def add_copied(self, batch: CopyBatch) -> StagedResult:
        """Store the batch as ``add_rows`` would store its rows; counts, not one result per call."""
        ...

    def minute_sums_floor(self) -> int | None:
        """The earliest minute a batch's rollup sums must hold for the store's hooks (``sums_floor``)."""
        ...

    def bulk_load(self) -> AbstractContextManager[None]:
        """Around a run of ``add_copied`` calls: what a bulk load may defer, done on leaving."""
        ...


MAX_LIMIT = 1000


class AddStatus(StrEnum):
    """What storing one call did."""

    INSERTED = "inserted"  # a new call
    DUPLICATE = "duplicate"  # the same call with the same content was already stored
    CONFLICT = "conflict"  # the same call id with different content: the first is kept, the conflict recorded
    LEG = "leg"  # another leg of a stored call (``hangup.legs``): kept, and the call now merges its legs


@dataclass(frozen=True, slots=True)
class AddResult:
    """The durable outcome of storing one call."""

    id: str
    status: AddStatus


@dataclass(frozen=True, slots=True)
class CallQuery:
    """Filters of the call log; every field ``None`` means "any". Times are Unix seconds on ``ended_at``."""

    since: int | None = None  # ended_at >= since
    until: int | None = None  # ended_at < until
    from_user_id: str | None = None
    to_user_id: str | None = None
    from_service_id: str | None = None
    to_service_id: str | None = None
    call_type: str | None = None  # "A" | "V"
    outcome: str | None = None
    ended_by: str | None = None
    call_end_reason: int | None = None
    terminate: int | None = None
    releaser: str | None = None
    normal: bool | None = None
    provider: str | None = None
    provider_call_id: str | None = None  # the platform's own call id (a SIP Call-ID, a Twilio CallSid …)
    cause: str | None = None  # the primary cause reference, e.g. "sip:503" (a statistics explanation's link)
    fault: str | None = None  # hangup.causes.Fault value
    min_duration: int | None = None  # duration >= min_duration (seconds; a timer cluster's link)
    max_duration: int | None = None  # duration <= max_duration
    flagged: bool | None = None  # True: only calls with at least one flag
    route: str | None = None  # the call's route (carrier, trunk or next hop)
    destination_country: str | None = None  # to_country: the callee's ISO 3166 region
    destination_prefix: str | None = None  # to_prefix: the callee's E.164 prefix
    origin_country: str | None = None  # from_country: the caller's ISO 3166 region
    limit: int = 100  # 1..MAX_LIMIT
    cursor: str | None = None  # opaque keyset cursor from a previous page


@dataclass(frozen=True, slots=True)
class Page:
    """One page of the call log, newest first; ``next_cursor`` is ``None`` on the last page."""

    calls: list[CallRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Conflict:
    """A second delivery of a stored call whose content differs from the first (which is kept)."""

    id: int
    call_id: str
    received_at: float
    raw: str
    differences: dict[str, list[Any]]  # field -> [stored value, received value]


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A rejected request kept whole so it can be inspected and replayed."""

    id: int
    received_at: float
    provider: str
    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]
    client: str
    status: int
    error: dict[str, Any]  # the JSON error body that was answered
    replayed_at: float | None = None
    replay_result: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": self.received_at,
            "provider": self.provider,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": self.body.decode("utf-8", "replace"),
            "headers": self.headers,
            "client": self.client,
            "status": self.status,
            "error": self.error,
            "replayed_at": self.replayed_at,
            "replay_result": self.replay_result,
        }


@dataclass(slots=True)
class WriterStats:
    """Counters of the group-commit writer (read by metrics)."""

    queue_depth: int = 0
    batches: int = 0
    events: int = 0
    last_batch_size: int = 0
    errors: int = 0


class Store(Protocol):
    """What the web layer, the CLI and other modules need from a call store."""

    url: str

    # -- lifecycle -----------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied now."""
        ...

    def applied_migrations(self) -> list[str]: ...

    def close(self) -> None: ...

    def ping(self) -> None:
        """Raise ``StoreError`` unless the store can commit a write right now."""
        ...

    async def aping(self) -> None: ...

    # -- writes (durable when they return) ------------------------------------------------
    async def add(self, record: CallRecord) -> AddResult: ...

    async def add_joined(self, record: CallRecord, join: Callable[[Any, CallRecord], CallRecord]
                         ) -> tuple[CallRecord, AddResult]:
        """``add`` of ``join(connection, record)``, run in the writer's transaction that stores it, before the
        call is told new, duplicate or conflict; the call as joined and its result."""
        ...

    def add_many(self, records: Sequence[CallRecord]) -> list[AddResult]: ...

    def add_rows(self, rows: Sequence[tuple[Any, ...]]) -> list[AddResult]:
        """``add_many`` of ``calls`` rows as ``hangup.store.sql.record_row`` builds them (bulk imports)."""
        ...

    def add_write_hook(self, hook: WriteHook) -> None: ...

    def quarantine(self, entry: QuarantineEntry) -> int:
        """Keep a rejected request; return its id."""
        ...

    async def aquarantine(self, entry: QuarantineEntry) -> int: ...

    def mark_replayed(self, quarantine_id: int, result: str) -> None: ...

    def replace_classification(self, records: Sequence[CallRecord]) -> int:
        """Overwrite the derived fields of stored calls (``hangup reclassify``); return how many changed."""
        ...

    async def write_with_hooks(self, task: Callable[[Any, Sequence[WriteHook]], T]) -> T:
        """``task(connection, write hooks)`` in one durable writer transaction; its result after COMMIT."""
        ...

    # -- reads --------------------------------------------------------------------------
    def get(self, call_id: str) -> CallRecord | None:
        """A call by hangup id, else by the platform's call id."""
        ...

    def query(self, query: CallQuery) -> Page: ...

    def iter_calls(self, query: CallQuery, batch: int = 1000) -> Iterator[CallRecord]:
        """Every call matching ``query`` (ignoring ``limit``), newest first, fetched in batches."""
        ...

    def count(self, query: CallQuery | None = None) -> int: ...

    def conflicts(self, call_id: str | None = None, limit: int = 100) -> list[Conflict]: ...

    def legs(self, call_id: str) -> list[CallRecord]:
        """The legs of a call made of several (``hangup.legs``), earliest first; empty when its record is the
        whole call (one leg, or a platform that reports calls, not legs)."""
        ...

    def quarantined(self, limit: int = 100, offset_id: int | None = None) -> list[QuarantineEntry]: ...

    def quarantine_entry(self, quarantine_id: int) -> QuarantineEntry | None: ...

    def quarantine_count(self) -> int: ...

    def writer_stats(self) -> WriterStats: ...
