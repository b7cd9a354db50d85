"""Storing a call's legs (``hangup.legs``): every leg kept in ``call_legs``, the call's row their merge.

Every write path (``add``/``add_many``/``add_rows`` on SQLite and PostgreSQL, staged SQLite imports) first
stores a call as usual; a second record of a stored call id whose facts differ reaches ``add_leg`` when both
it and the stored call carry a ``leg_id``, instead of being set aside as a conflict. In the writer's
transaction, ``add_leg``

1. copies the stored row into ``call_legs`` as the call's first leg, if the call had one leg until now;
2. tells a leg it holds already (a duplicate, or a conflict when its facts differ) from a new one;
3. stores a new leg and rewrites the call's row as the merge of all its legs (``hangup.store.rewrite``,
   which corrects the statistics: the call is counted once, by its deciding leg, in the same transaction).

The merge depends on the set of legs only, so legs arriving in any order leave the same call. Every write
path runs the hooks on a batch's new calls before it stores the batch's further legs, so what a leg takes
back was counted first and no rollup key is left counting nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hangup.legs import merge
from hangup.records import CallRecord
from hangup.store import sql
from hangup.store.base import AddStatus, WriteHook
from hangup.store.database import paramstyle_of, to_paramstyle
from hangup.store.digest import digest
from hangup.store.rewrite import rewrite
from hangup.store.sql import text_safe

_LEG_COLUMNS = ("call_id", "leg_id", "setup_time", "end_time", "answered", "duration", "outcome", "cause",
                "received_at", "record")
_INSERT_LEG = (f"INSERT INTO call_legs ({', '.join(_LEG_COLUMNS)}) VALUES ({', '.join('?' * len(_LEG_COLUMNS))}) "
               "ON CONFLICT (call_id, leg_id) DO NOTHING")
#: The legs of a call, earliest first (one parameter: the call's id).
SELECT_LEGS = "SELECT record FROM call_legs WHERE call_id = ? ORDER BY setup_time, end_time, leg_id"


def are_legs(kept: CallRecord | None, second: CallRecord) -> bool:
    """Whether ``second`` is another leg of the stored ``kept`` rather than a second version of it."""
    return kept is not None and bool(kept.leg_id) and bool(second.leg_id)


def add_leg(conn: Any, kept: CallRecord, leg: CallRecord, hooks: Sequence[WriteHook]
            ) -> tuple[AddStatus, CallRecord]:
    """Store ``leg`` of the call stored as ``kept`` (its row as it is now); the status, and the record a
    conflict is recorded against (the stored version of the same leg)."""
    style = paramstyle_of(conn)
    stored = legs_of(conn, kept.id)
    if not stored:
        stored = [kept]
        _insert(conn, style, kept)
    same = next((known for known in stored if known.leg_id == leg.leg_id), None)
    if same is not None:
        return (AddStatus.DUPLICATE if digest(same) == digest(leg) else AddStatus.CONFLICT), same
    _insert(conn, style, leg)
    call = merge([*stored, leg])
    rewrite(conn, kept, call, hooks)
    return AddStatus.LEG, call


def legs_of(conn: Any, call_id: str) -> list[CallRecord]:
    """The legs stored for a call, earliest first; empty for a call of one leg (its row is its leg)."""
    return records_of(conn.execute(to_paramstyle(SELECT_LEGS, paramstyle_of(conn)), (call_id,)).fetchall())


def records_of(rows: Sequence[Sequence[Any]]) -> list[CallRecord]:
    """The legs of ``SELECT_LEGS`` rows."""
    return [sql.row_record(json.loads(text)) for (text,) in rows]


def _insert(conn: Any, style: str, leg: CallRecord) -> None:
    record = json.dumps(sql.record_row(leg))  # ASCII: no NUL or lone surrogate reaches either back end
    values = (leg.id, leg.leg_id, leg.setup_time, leg.end_time, int(leg.answered), leg.duration, leg.outcome,
              leg.cause, leg.received_at, record)
    conn.execute(to_paramstyle(_INSERT_LEG, style), tuple(map(text_safe, values)) if style == "format" else values)
