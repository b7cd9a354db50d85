"""The call store's own tables: calls, delivery conflicts and the quarantine of rejected requests.

Every column of ``calls`` is a ``CallRecord`` field (see ``hangup/records.py`` for meanings and units)
plus three derived for querying: ``flagged`` (at least one flag), ``ended_at`` (``end_time``, or the
receipt time when the platform sent none; the time axis of every query) and ``digest`` (hash of the
platform-supplied facts, to tell a repeated delivery from a conflicting one). Booleans are SMALLINT 0/1
and lists/maps are JSON text so the same statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from hangup.store.migrations import Migration

CALL_COLUMNS: tuple[str, ...] = (
    "id", "provider", "provider_call_id", "from_service_id", "from_user_id", "to_service_id", "to_user_id",
    "call_type", "setup_time", "start_time", "end_time", "duration", "answered", "direction", "stid", "srcip",
    "dstip", "call_end_reason", "terminate", "releaser", "rel_code", "rel_code_str", "user_rel_code", "cause",
    "causes", "outcome", "ended_by", "fault", "normal", "reason", "q850", "sip", "flags", "extra", "raw",
    "received_at", "flagged", "ended_at", "digest",
)

_CALLS = """
CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    provider_call_id TEXT NOT NULL,
    from_service_id TEXT NOT NULL,
    from_user_id TEXT NOT NULL,
    to_service_id TEXT NOT NULL,
    to_user_id TEXT NOT NULL,
    call_type TEXT NOT NULL,
    setup_time BIGINT NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT NOT NULL,
    duration BIGINT NOT NULL,
    answered SMALLINT NOT NULL,
    direction TEXT NOT NULL,
    stid TEXT,
    srcip TEXT NOT NULL,
    dstip TEXT NOT NULL,
    call_end_reason BIGINT,
    terminate BIGINT,
    releaser TEXT NOT NULL,
    rel_code BIGINT,
    rel_code_str TEXT NOT NULL,
    user_rel_code TEXT,
    cause TEXT NOT NULL,
    causes TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ended_by TEXT NOT NULL,
    fault TEXT NOT NULL,
    normal SMALLINT NOT NULL,
    reason TEXT NOT NULL,
    q850 INTEGER,
    sip INTEGER,
    flags TEXT NOT NULL,
    extra TEXT NOT NULL,
    raw TEXT NOT NULL,
    received_at {real} NOT NULL,
    flagged SMALLINT NOT NULL,
    ended_at BIGINT NOT NULL,
    digest TEXT NOT NULL
)
"""

def call_column_types() -> dict[str, str]:
    """Each ``calls`` column's kind of value: ``integer``, ``real`` or ``text`` (read from the DDL above)."""
    kinds = {"BIGINT": "integer", "INTEGER": "integer", "SMALLINT": "integer", "{real}": "real", "TEXT": "text"}
    declared = dict(line.replace(",", "").split()[:2] for line in _CALLS.strip().splitlines()[1:-1])
    return {name: kinds[declared[name]] for name in CALL_COLUMNS}


# Every index is paid on each insert: CPU, and WAL pages written per commit (each of two dropped
# low-cardinality indexes cost the durable ingest path about a tenth). So: the time axis every query
# walks, and the two high-cardinality lookups ("this user's calls"). Low-cardinality filters (outcome,
# call_end_reason, type …) ride the time index; statistics come from rollups, not from this table.
_CALL_INDEXES = (
    # Unique (provider, provider_call_id): where the platform's id is hangup's id (Planet's sid) the
    # primary key already guarantees it, so only the other rows need entries (one random-key B-tree less
    # per Planet insert). Lookups by a platform's id name the same condition to use it.
    "CREATE UNIQUE INDEX calls_provider_call ON calls (provider_call_id, provider) WHERE provider_call_id <> id",
    "CREATE INDEX calls_ended ON calls (ended_at, id)",
)
#: Indexes a bulk import into an empty SQLite store builds after its rows instead of row by row: their
#: keys arrive in random order, so every batch rewrites most of their pages, while one sort-based build
#: at the end reads the table once (``SQLiteStore.bulk_load``). Neither enforces anything, so a store
#: without them answers the same, only slower; opening a store rebuilds one a stopped import left out.
DEFERRED_INDEXES: dict[str, str] = {
    "calls_from_user": "CREATE INDEX IF NOT EXISTS calls_from_user ON calls (from_user_id, ended_at)",
    "calls_to_user": "CREATE INDEX IF NOT EXISTS calls_to_user ON calls (to_user_id, ended_at)",
}

_CONFLICTS = """
CREATE TABLE call_conflicts (
    id {autoid},
    call_id TEXT NOT NULL,
    received_at {real} NOT NULL,
    raw TEXT NOT NULL,
    differences TEXT NOT NULL
)
"""

#: Columns of ``quarantine`` after its id, in the order the stores write and read them.
QUARANTINE_COLUMNS: tuple[str, ...] = (
    "received_at", "provider", "method", "path", "query", "body_b64", "headers", "client", "status", "error",
    "replayed_at", "replay_result",
)

_QUARANTINE = """
CREATE TABLE quarantine (
    id {autoid},
    received_at {real} NOT NULL,
    provider TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    body_b64 TEXT NOT NULL,
    headers TEXT NOT NULL,
    client TEXT NOT NULL,
    status INTEGER NOT NULL,
    error TEXT NOT NULL,
    replayed_at {real},
    replay_result TEXT NOT NULL
)
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_calls", (_CALLS, *_CALL_INDEXES, *DEFERRED_INDEXES.values())),
    Migration("0002_call_conflicts", (_CONFLICTS, "CREATE INDEX call_conflicts_call ON call_conflicts (call_id)")),
    Migration("0003_quarantine", (_QUARANTINE,)),
)
