"""Answering-machine detection results that arrive in an event of their own, applied to their call.

Plivo (``Event=MachineDetection``), Telnyx (``call.machine.detection.ended``,
``call.machine.premium.detection.ended``), Twilio (the ``AsyncAmdStatusCallback`` request of a call placed with
``AsyncAmd=true``) and Vonage (``status`` ``human``/``machine``) report who answered in a request of its own;
the call-end event need not repeat it. The adapter reads such a request (its
``detection`` method: the platform's call id and the native fields) and ``keep`` runs in the store's writer
transaction: it keeps the fields in ``call_detections`` and, when the call is stored already (the detection
came after the end, as asynchronous detection often does), rewrites the stored call with them
(``with_detection``, through ``hangup.store.rewrite``, so the rollups move the call from its old
``answered_by`` to the new one in the same commit). The end of such a platform is stored with ``joined`` as
its join (``hangup.ingest.store_call``, ``WriterBackedStore.add_joined``): in the writer's transaction that
inserts it, before its digest is compared with a stored one, the end gets the kept fields, so the call is
stored joined and a retried end is a duplicate of it. ``keep`` and ``joined`` take the same lock on
PostgreSQL, so of a detection and its end written at once by two nodes, whichever commits second sees the
other: either order leaves the same call; a detection applied again changes nothing.

The fields go into ``extra`` prefixed ``detection.``, and ``answered_by`` reads them before a field of the
same name in the end event itself (``hangup.providers.answered``): the detection's own report is the
platform's result. Twilio documents its asynchronous detection that way: the result is posted to
``AsyncAmdStatusCallback`` while the call goes on (twilio.com/docs/voice/answering-machine-detection), and is in
the Calls resource's ``answered_by`` once the call completes (error 21262), which a status callback or an
imported call list may carry as ``AnsweredBy``.

``hangup reclassify`` carries the fields over. A kept detection is of no use once its call's end has come or
will not come: ``prune`` deletes those older than ``KEPT_SECONDS`` (``hangup serve`` runs it every hour), so
the table holds about a day of detections, not every one ever reported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from hangup.providers.answered import DETECTION_PREFIX as PREFIX
from hangup.providers.answered import answered_by
from hangup.records import CallRecord
from hangup.store import sql
from hangup.store.base import CallQuery, WriteHook
from hangup.store.database import Database, paramstyle_of, to_paramstyle
from hangup.store.digest import digest
from hangup.store.rewrite import rewrite
from hangup.store.schema import DETECTIONS_TABLE as TABLE

_SAVE = (f"INSERT INTO {TABLE} (provider, provider_call_id, fields, received_at) VALUES (?, ?, ?, ?) "
         "ON CONFLICT (provider, provider_call_id) DO UPDATE SET fields = excluded.fields, "
         "received_at = excluded.received_at")
_FIND = f"SELECT fields FROM {TABLE} WHERE provider = ? AND provider_call_id = ?"
_PRUNE = f"DELETE FROM {TABLE} WHERE received_at < ?"
# PostgreSQL: a detection and its call's end may be written by two nodes at once; each takes this lock first,
# so whichever commits second sees what the other wrote (READ COMMITTED reads per statement).
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('hangup:detection:' || current_schema() || ':' || ?, 0))"
#: How long a detection waits for its call's end: a day covers the longest calls the platforms allow
#: (Plivo and Twilio end a call after 24 hours at most).
KEPT_SECONDS = 86_400
#: How often ``hangup serve`` prunes.
PRUNE_SECONDS = 3_600


def with_detection(record: CallRecord, fields: Mapping[str, str]) -> CallRecord:
    """The record with a separately reported detection's fields (prefixed) in ``extra`` and ``answered_by``
    read again."""
    if not fields:
        return record
    extra = {**record.extra, **fields}
    return replace(record, extra=extra, answered_by=answered_by(record.provider, extra, record.answered))


def keep(conn: Any, provider: str, call_id: str, fields: Mapping[str, str], received_at: float,
         hooks: Sequence[WriteHook]) -> CallRecord | None:
    """In the writer's transaction: keep a detection (the latest one of a call wins) and apply it to its call
    if that is stored; the call as rewritten, ``None`` when none is stored or it already read so."""
    style = paramstyle_of(conn)
    _lock(conn, style, provider, call_id)
    text = json.dumps(dict(fields), sort_keys=True)
    conn.execute(to_paramstyle(_SAVE, style), (provider, call_id, text, received_at))
    return _apply(conn, style, provider, call_id, _prefixed(text), hooks)


def joined(conn: Any, record: CallRecord) -> CallRecord:
    """In the writer's transaction that stores a call's end (``add_joined``'s join): the end with the detection
    kept for its call, if one is. Under the lock ``keep`` takes, so of a detection and its end written at once
    (by two nodes), whichever commits second sees the other."""
    style = paramstyle_of(conn)
    _lock(conn, style, record.provider, record.provider_call_id)
    row = conn.execute(to_paramstyle(_FIND, style), (record.provider, record.provider_call_id)).fetchone()
    return with_detection(record, _prefixed(row[0])) if row else record


def _lock(conn: Any, style: str, provider: str, call_id: str) -> None:
    # PostgreSQL only ("format" is psycopg's paramstyle): SQLite has one writer, its transactions never overlap
    if style == "format":
        conn.execute(to_paramstyle(_LOCK, style), (f"{provider}:{call_id}",))


def _apply(conn: Any, style: str, provider: str, call_id: str, fields: Mapping[str, str],
           hooks: Sequence[WriteHook]) -> CallRecord | None:
    w = sql.where(CallQuery(provider=provider, provider_call_id=call_id), "?", with_cursor=False)
    lock = " FOR UPDATE" if style == "format" else ""  # a leg or a reclassify of the call waits for this one
    row = conn.execute(to_paramstyle(f"SELECT {sql.SELECT_COLUMNS} FROM calls{w.sql}{lock}", style),
                       w.params).fetchone()
    if row is None:
        return None
    kept = sql.row_record(row)
    call = with_detection(kept, fields)
    # the same facts (``extra`` included) and the same reading: a detection applied again changes nothing
    if digest(call) == digest(kept) and call.answered_by == kept.answered_by:
        return None
    rewrite(conn, kept, call, hooks)
    return call


def _prefixed(text: str) -> dict[str, str]:
    return {PREFIX + str(k): str(v) for k, v in json.loads(text).items()}


def prune(url: str, now: float) -> int:
    """Delete the detections received more than ``KEPT_SECONDS`` before ``now``; how many were."""
    db = Database(url)
    try:
        statement = db.sql(_PRUNE)
        deleted: int = db.write(lambda conn: conn.execute(statement, [now - KEPT_SECONDS]).rowcount)
        return deleted
    finally:
        db.close()
