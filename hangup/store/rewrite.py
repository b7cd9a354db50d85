"""Rewriting a stored call's row in the writer's transaction, with the statistics moved along.

Two things change a call after it was stored: a further leg (``hangup.store.legs``) and an answering-machine
detection that arrives after the call's end (``hangup.store.detections``). Both go through ``rewrite``, so
the row, PostgreSQL's claim of the id (``call_keys``: the digest a second delivery is compared with) and the
rollups change together, and a call is counted once, as it is now.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hangup.records import CallRecord
from hangup.store import sql
from hangup.store.base import RetractingWriteHook, WriteHook
from hangup.store.database import paramstyle_of, to_paramstyle
from hangup.store.schema import CALL_COLUMNS
from hangup.store.sql import text_safe

_UPDATE_CALL = f"UPDATE calls SET {', '.join(c + ' = ?' for c in CALL_COLUMNS[1:])} WHERE id = ?"
# PostgreSQL's claim of the id (``hangup.store.postgres_writes``) holds the row's month and digest too.
_UPDATE_KEY = "UPDATE call_keys SET ended_at = ?, digest = ? WHERE id = ?"


def rewrite(conn: Any, kept: CallRecord, call: CallRecord, hooks: Sequence[WriteHook]) -> None:
    """Replace the stored row of ``kept`` with ``call`` (same id) and move its rollup counts from the one to
    the other: each hook that can (``RetractingWriteHook``) adds ``call`` and takes ``kept`` back.

    The new version is added before the old one is taken back: a capped dimension's value the day admitted
    (``hangup.stats.fold``) still has its rows then, so the call stays under it instead of being taken out,
    leaving the value's rows empty and deleted, and added again under ``OTHER``."""
    style = paramstyle_of(conn)
    row = sql.record_row(call)
    if style == "format":
        row = tuple(map(text_safe, row))
        conn.execute(to_paramstyle(_UPDATE_KEY, style), (row[-2], row[-1], call.id))
    conn.execute(to_paramstyle(_UPDATE_CALL, style), (*row[1:], call.id))
    for hook in hooks:
        if isinstance(hook, RetractingWriteHook):
            hook(conn, [call])
            hook.retract(conn, [kept])
