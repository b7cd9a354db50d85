"""What the PostgreSQL writer does inside one transaction: claim call ids, copy new calls, keep conflicts.

Several nodes write to one database, so "is this call new?" is answered by the database, not by a
read before the insert: ``INSERT INTO call_keys … ON CONFLICT DO NOTHING RETURNING id`` claims the
ids no committed or concurrent transaction holds (a concurrent claim of the same id waits for that
transaction and then yields to it). Only the claimed calls are copied into ``calls`` (``COPY``, the
fastest bulk path) and handed to the write hooks, so a call delivered to two nodes at once is stored
and counted once. Ids are claimed in sorted order so two batches never wait on each other in a cycle.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from hangup.records import CallRecord
from hangup.store import legs, sql
from hangup.store.base import AddResult, AddStatus, QuarantineEntry, WriteHook
from hangup.store.database import to_paramstyle
from hangup.store.digest import digest, stale
from hangup.store.schema import CALL_COLUMNS, HEARTBEAT_UPSERT
from hangup.store.shards import writer_shard
from hangup.store.shared import INSERT_QUARANTINE, quarantine_values
from hangup.store.sql import text_safe

#: Rows per multi-row INSERT (3 parameters each, far below PostgreSQL's 65,535-parameter limit).
KEYS_PER_STATEMENT = 1000
_COPY_CALLS = f"COPY calls ({', '.join(CALL_COLUMNS)}) FROM STDIN"
_INSERT_QUARANTINE = to_paramstyle(INSERT_QUARANTINE, "format") + " RETURNING id"
_UPDATE_CLASSIFICATION = (
    f"UPDATE calls SET {', '.join(c + ' = %s' for c in sql.CLASSIFICATION_COLUMNS)} WHERE id = %s"
)


def pg_row(record: CallRecord) -> tuple[Any, ...]:
    return tuple(text_safe(v) for v in sql.record_row(record))


def claim_ids(cur: Any, keys: list[tuple[str, int, str]]) -> set[str]:
    """Insert ``(id, ended_at, digest)`` rows that are new; return the ids this transaction claimed."""
    claimed: set[str] = set()
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        chunk = keys[start : start + KEYS_PER_STATEMENT]
        values = ", ".join(["(%s, %s, %s)"] * len(chunk))
        cur.execute(
            f"INSERT INTO call_keys (id, ended_at, digest) VALUES {values} ON CONFLICT (id) DO NOTHING RETURNING id",
            [v for key in chunk for v in key],
        )
        claimed.update(row[0] for row in cur.fetchall())
    return claimed


def insert_calls(cur: Any, calls: list[tuple[int, CallRecord]], results: list[Any],
                 hooks: Sequence[WriteHook] = ()) -> list[CallRecord]:
    """Store the calls of a batch, run ``hooks`` on those inserted now, and fill ``results`` at each call's
    index; return the calls inserted now.

    The repeats are looked at after the hooks: a further leg of a stored call (``hangup.store.legs``) takes
    back what the hooks counted for the call's row, so the row must have been counted first (else a rollup
    key would be taken below zero and keep an empty row when the row is added after)."""
    first: dict[str, tuple[CallRecord, tuple[Any, ...]]] = {}
    for _, record in sorted(calls, key=lambda item: item[1].id):
        if record.id not in first:
            first[record.id] = (record, pg_row(record))
    keys = [(cid, row[-2], row[-1]) for cid, (_, row) in first.items()]
    claimed = claim_ids(cur, keys)
    if claimed:
        with cur.copy(_COPY_CALLS) as copy:
            for cid in claimed:
                copy.write_row(first[cid][1])
    known = stored_digests(cur, [cid for cid in first if cid not in claimed])
    inserted: list[CallRecord] = []
    repeats: list[tuple[int, CallRecord]] = []
    reported: set[str] = set()
    for index, record in calls:
        if record.id in claimed and record.id not in reported:
            reported.add(record.id)
            inserted.append(record)
            results[index] = AddResult(record.id, AddStatus.INSERTED)
        else:
            repeats.append((index, record))
    for hook in hooks:
        hook(cur.connection, inserted)
    for index, record in repeats:
        kept: CallRecord | None
        received = digest(record)
        if record.id in claimed:  # a repeat, inside this batch, of a call the batch inserts
            kept, same = first[record.id][0], first[record.id][1][-1] == received
        else:
            stored_digest, stored_ended = known[record.id]
            same = stored_digest == received
            kept = None if same else get_call(cur, record.id, stored_ended)
        if same:
            results[index] = AddResult(record.id, AddStatus.DUPLICATE)
            continue
        results[index] = not_repeated(cur, kept, record, hooks)
    return inserted


def not_repeated(cur: Any, kept: CallRecord | None, second: CallRecord, hooks: Sequence[WriteHook]) -> AddResult:
    """A second record of a stored call with other facts: a further leg (``hangup.store.legs``; against the
    call's row as it is now, which an earlier leg of the batch may have changed), else a recorded conflict."""
    status = AddStatus.CONFLICT
    # Read as it is now (an earlier leg of the batch may have changed it, its month too), and locked: legs of
    # one call stored by two nodes at once are merged one after the other, each seeing the other's.
    current = get_call(cur, second.id, lock=True) if second.leg_id else None
    if current is not None and legs.are_legs(current, second):
        status, kept = legs.add_leg(cur.connection, current, second, hooks)
    if status is AddStatus.CONFLICT:
        record_conflict(cur, kept, second)
    return AddResult(second.id, status)


def stored_digests(cur: Any, ids: list[str]) -> dict[str, tuple[str, int]]:
    """``(digest, ended_at)`` of the stored calls among ``ids``.

    A call stored by a bulk import has no digest in ``call_keys`` (``hangup.store.postgres_bulk``), and one
    stored by an earlier release may have a stale one (``hangup.store.digest``); it is computed here from the
    stored row, as ``sql.row_digest`` computes it (left as stored if the row is gone).
    """
    if not ids:
        return {}
    cur.execute("SELECT id, digest, ended_at FROM call_keys WHERE id = ANY(%s)", (ids,))
    found = {row[0]: (row[1], int(row[2])) for row in cur.fetchall()}
    missing = [call_id for call_id, (stored, _) in found.items() if stale(stored)]
    if missing:
        cur.execute(
            f"SELECT {sql.SELECT_COLUMNS} FROM calls c WHERE c.id = ANY(%s) "
            "AND c.ended_at = (SELECT k.ended_at FROM call_keys k WHERE k.id = c.id)",
            (missing,),
        )
        for row in cur.fetchall():
            found[row[0]] = (sql.row_digest(row), found[row[0]][1])
    return found


def get_call(cur: Any, call_id: str, ended: int | None = None, *, lock: bool = False) -> CallRecord | None:
    """A stored call by id; with its ``ended_at`` the lookup touches one partition only. ``lock`` holds the row
    until the transaction ends (a leg changing it: another node storing another leg of the call waits)."""
    if ended is None:
        cur.execute(f"SELECT {sql.SELECT_COLUMNS} FROM calls WHERE id = %s{' FOR UPDATE' if lock else ''}",
                    (call_id,))
    else:
        cur.execute(f"SELECT {sql.SELECT_COLUMNS} FROM calls WHERE id = %s AND ended_at = %s", (call_id, ended))
    row = cur.fetchone()
    return sql.row_record(row) if row else None


def record_conflict(cur: Any, kept: CallRecord | None, second: CallRecord) -> None:
    diff = sql.differences(kept, second) if kept is not None else {}
    cur.execute(
        "INSERT INTO call_conflicts (call_id, received_at, raw, differences, digest) VALUES (%s, %s, %s, %s, %s)"
        + sql.CONFLICT_VERSION,
        (second.id, second.received_at, text_safe(second.raw), json.dumps(diff, ensure_ascii=True), digest(second)),
    )


# -- operations other than inserting calls ------------------------------------------------
def insert_quarantine(cur: Any, e: QuarantineEntry) -> int:
    cur.execute(_INSERT_QUARANTINE, tuple(text_safe(v) for v in quarantine_values(e, ascii_json=True)))
    return int(cur.fetchone()[0])


def mark_replayed(cur: Any, payload: tuple[int, str]) -> None:
    quarantine_id, result = payload
    cur.execute(
        "UPDATE quarantine SET replayed_at = %s, replay_result = %s WHERE id = %s",
        (time.time(), text_safe(result), quarantine_id),
    )


def reclassify(cur: Any, records: list[CallRecord]) -> int:
    changed = 0
    for record in records:
        cur.execute(_UPDATE_CLASSIFICATION, tuple(text_safe(v) for v in sql.classification_row(record)))
        changed += max(0, cur.rowcount)
    return changed


def ping(cur: Any, payload: None) -> None:
    """Rewrite this writer's own ``heartbeat`` row: another node's open beat holds a lock on another row."""
    cur.execute(to_paramstyle(HEARTBEAT_UPSERT, "format"), (writer_shard(cur.connection, True), time.time()))


def run_task(cur: Any, task: Any) -> Any:
    """``WriterBackedStore.run_in_writer``: the task gets the connection, as write hooks do."""
    return task(cur.connection)


OTHER_OPS: dict[str, Any] = {
    "quarantine": insert_quarantine,
    "replayed": mark_replayed,
    "reclassify": reclassify,
    "ping": ping,
    "task": run_task,
}
