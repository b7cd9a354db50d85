"""The call store's own tables: calls, delivery conflicts and the quarantine of rejected requests.

Every column of ``calls`` is a ``CallRecord`` field (see ``hangup/records.py`` for meanings and units)
plus three derived for querying: ``flagged`` (at least one flag), ``ended_at`` (``end_time``, or the
receipt time when the platform sent none; the time axis of every query) and ``digest`` (hash of the
platform-supplied facts, to tell a repeated delivery from a conflicting one). Booleans are SMALLINT 0/1
and lists/maps are JSON text so the same statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping

from hangup.record_fields import Kind
from hangup.records import FIELDS
from hangup.store.migrations import Migration

#: The column type of each kind of record field: lists and maps are JSON text, booleans 0/1.
_KIND_TYPES: Mapping[Kind, str] = {
    "text": "TEXT", "integer": "BIGINT", "real": "{real}", "boolean": "SMALLINT", "list": "TEXT", "map": "TEXT",
}
#: Columns migration ``0001_calls`` declared narrower than their kind: a Q.850 cause and a SIP status fit 32 bits.
_NARROWER = {"q850": "INTEGER", "sip": "INTEGER"}
#: Columns that are not record fields, kept for querying (see above); ``hangup.store.sql.record_row`` fills them.
DERIVED_COLUMNS: Mapping[str, str] = {"flagged": "SMALLINT", "ended_at": "BIGINT", "digest": "TEXT"}

#: Each ``calls`` column and its declared type (``NOT NULL`` unless the field may be ``None``): a column per
#: record field, in the record's order, then the derived ones. The migrations must create exactly these
#: (``tests/store/test_schema.py`` checks both back ends); a new field's column comes with a migration of its own.
CALL_COLUMN_TYPES: Mapping[str, str] = {
    **{f.name: _NARROWER.get(f.name, _KIND_TYPES[f.kind]) + ("" if f.nullable else " NOT NULL") for f in FIELDS},
    **{name: f"{kind} NOT NULL" for name, kind in DERIVED_COLUMNS.items()},
}
#: The columns of a ``calls`` row (``hangup.store.sql.record_row``), the digest last.
CALL_COLUMNS: tuple[str, ...] = tuple(CALL_COLUMN_TYPES)

# Migration history: later fields are added by migrations of their own, never by editing this one.
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
    """Each ``calls`` column's kind of value: ``integer``, ``real`` or ``text``."""
    kinds = {"BIGINT": "integer", "INTEGER": "integer", "SMALLINT": "integer", "{real}": "real", "TEXT": "text"}
    return {name: kinds[declared.split()[0]] for name, declared in CALL_COLUMN_TYPES.items()}


# Every index is paid on each insert: CPU, and WAL pages written per commit. Migration 0001 kept the time
# axis every query walks and the two high-cardinality lookups ("this user's calls"), with low-cardinality
# filters riding the time index; a rare value then read most of the table, so migration 0030 gives every
# filter an index (``FILTER_INDEXES``, about 10 µs of CPU per stored call, docs/benchmarks.md "Call log").
# Statistics come from rollups, not from this table.
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
_USER_INDEXES: dict[str, str] = {
    "calls_from_user": "CREATE INDEX IF NOT EXISTS calls_from_user ON calls (from_user_id, ended_at)",
    "calls_to_user": "CREATE INDEX IF NOT EXISTS calls_to_user ON calls (to_user_id, ended_at)",
}
#: One index per call-log filter (``hangup.store.sql.where``), each leading with the filtered column and
#: then the time axis, so a page of any value is a walk of its own entries, newest first, that stops after
#: ``limit`` rows: riding the time index instead reads past every row of other values, which for a rare
#: value (``flagged``, an unusual reason code, a small tenant's service) was a scan of the table. Keys of
#: these lead with few distinct values and end in ``ended_at``, so live ingest appends to one hot page
#: per value. ``flagged = 1`` and ``normal = 0`` are the side a user asks for; partial indexes keep only
#: those rows, and the other side (almost every call) rides ``calls_ended``.
FILTER_INDEXES: dict[str, str] = {
    "calls_flagged": "CREATE INDEX IF NOT EXISTS calls_flagged ON calls (ended_at, id) WHERE flagged = 1",
    "calls_abnormal": "CREATE INDEX IF NOT EXISTS calls_abnormal ON calls (ended_at, id) WHERE normal = 0",
    **{
        f"calls_{name}": f"CREATE INDEX IF NOT EXISTS calls_{name} ON calls ({column}, ended_at)"
        for name, column in (
            ("outcome", "outcome"), ("end_reason", "call_end_reason"), ("from_service", "from_service_id"),
            ("to_service", "to_service_id"), ("type", "call_type"), ("ended_by", "ended_by"),
            ("terminate", "terminate"), ("releaser", "releaser"), ("provider", "provider"),
        )
    },
}
#: Migration ``0001_calls`` created the first two on PostgreSQL already.
_POSTGRES_EARLIER = ("calls_outcome", "calls_end_reason")
#: The same for the filters the route and cause columns brought (routes page and "what changed" drill-downs).
LATER_FILTER_INDEXES: dict[str, str] = {
    f"calls_{name}": f"CREATE INDEX IF NOT EXISTS calls_{name} ON calls ({column}, ended_at)"
    for name, column in (
        ("route", "route"), ("to_country", "to_country"), ("to_prefix", "to_prefix"),
        ("from_country", "from_country"), ("cause", "cause"), ("fault", "fault"),
    )
}
#: The filter indexes are kept up row by row during a bulk import too: their keys lead with a column of few
#: values and end in the time, so a batch in time order touches a few pages per value, and rebuilding
#: 17 of them at the end (a scan of the whole table each) took longer than the import's inserts did.
DEFERRED_INDEXES: dict[str, str] = dict(_USER_INDEXES)

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

# A row per writer, rewritten by every readiness check (``/readyz``): proof that a write commits, not only a
# read. Until 0310 every node rewrote row 1, so nodes sharing a PostgreSQL database waited on each other's row
# lock to answer ``/readyz``; now ``id`` is the writer's shard (``hangup.store.shards``), which also bounds the
# table to ``MAX_SHARDS`` rows whatever the nodes that came and went. The column keeps its name and type so
# nodes of the earlier release, still running during a rolling upgrade, keep beating (on row 1, as before)
# instead of turning unready when the first new node migrates; the shared row meant no writer's beat, so 0310
# drops it.
_HEARTBEAT = "CREATE TABLE heartbeat (id INTEGER PRIMARY KEY, beat_at {real} NOT NULL)"
#: Parameters: the writer's shard, the time of the beat.
HEARTBEAT_UPSERT = (
    "INSERT INTO heartbeat (id, beat_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at"
)

# The legs of calls made of several (``hangup.legs``): each leg's own record, as a ``calls`` row in JSON
# (``record``), beside the facts a listing orders and reads them by. A call of one leg has no rows here: its
# ``calls`` row is its leg, copied here when a second leg arrives.
_CALL_LEGS = """
CREATE TABLE call_legs (
    call_id TEXT NOT NULL,
    leg_id TEXT NOT NULL,
    setup_time BIGINT NOT NULL,
    end_time BIGINT NOT NULL,
    answered SMALLINT NOT NULL,
    duration BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    cause TEXT NOT NULL,
    received_at {real} NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (call_id, leg_id)
)
"""
#: Columns of the route and the normalised numbers (``hangup.routes``, ``hangup.numbers``), added by ``0010``.
ROUTE_COLUMNS = ("route", "from_e164", "from_country", "to_e164", "to_country", "to_number_type", "to_prefix")
#: Answering-machine detection results kept until their call's end arrives (``hangup.store.detections``).
DETECTIONS_TABLE = "call_detections"
_DETECTIONS = (f"CREATE TABLE {DETECTIONS_TABLE} (provider TEXT NOT NULL, provider_call_id TEXT NOT NULL, "
               "fields TEXT NOT NULL, received_at {real} NOT NULL, PRIMARY KEY (provider, provider_call_id))")

#: Each version of a call's conflicting delivery is kept once (its digest; rows kept before 0320 have none).
_CONFLICT_VERSION = "CREATE UNIQUE INDEX call_conflicts_version ON call_conflicts (call_id, digest) WHERE digest <> ''"
#: The other rows of a ``call_conflicts`` row's call holding the same body (``later``: the name is 0340's, which
#: reads it both ways).
_REPEATS = ("call_conflicts later WHERE later.call_id = call_conflicts.call_id AND later.raw = call_conflicts.raw")

MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_calls", (_CALLS, *_CALL_INDEXES, *_USER_INDEXES.values())),
    Migration("0002_call_conflicts", (_CONFLICTS, "CREATE INDEX call_conflicts_call ON call_conflicts (call_id)")),
    Migration("0003_quarantine", (_QUARANTINE,)),
    Migration("0004_heartbeat", (_HEARTBEAT,)),
    Migration("0010_call_routes", tuple(f"ALTER TABLE calls ADD COLUMN {name} TEXT NOT NULL DEFAULT ''"
                                        for name in ROUTE_COLUMNS)),
    # stored calls read as "unknown" until ``hangup reclassify`` reads their native fields again
    Migration("0020_calls_answered_by", ("ALTER TABLE calls ADD COLUMN answered_by TEXT NOT NULL DEFAULT 'unknown'",)),
    Migration("0021_call_detections", (_DETECTIONS,)),
    Migration("0030_call_filter_indexes", tuple(FILTER_INDEXES.values()), dialects={"postgresql": tuple(
        ddl for name, ddl in FILTER_INDEXES.items() if name not in _POSTGRES_EARLIER)}),
    Migration("0031_call_route_filter_indexes", tuple(LATER_FILTER_INDEXES.values())),
    Migration("0050_call_legs", ("ALTER TABLE calls ADD COLUMN leg_id TEXT NOT NULL DEFAULT ''", _CALL_LEGS)),
    Migration("0310_heartbeat_per_writer", ("DELETE FROM heartbeat",)),
    # a conflicting version is kept once, however often the platform retries it: its digest, unique per call
    # (rows kept before have none; 0340 deletes their repeats)
    Migration("0320_call_conflict_versions", (
        "ALTER TABLE call_conflicts ADD COLUMN digest TEXT NOT NULL DEFAULT ''",
        _CONFLICT_VERSION)),
    # the repeats kept before 0320 (no digest): a version is the call and the body as received (a platform's retry
    # sends the same body); the first kept stays, with the digest of a repeat kept since 0320 if one was
    Migration("0340_call_conflict_repeats", (
        "DROP INDEX call_conflicts_version",  # the first and its later repeat hold one digest until the repeat goes
        f"UPDATE call_conflicts SET digest = (SELECT MIN(later.digest) FROM {_REPEATS} AND later.digest <> '') "
        f"WHERE digest = '' AND EXISTS (SELECT 1 FROM {_REPEATS} AND later.digest <> '')",
        f"DELETE FROM call_conflicts WHERE EXISTS (SELECT 1 FROM {_REPEATS} "
        "AND later.id < call_conflicts.id AND later.digest = call_conflicts.digest)",
        _CONFLICT_VERSION)),
)
