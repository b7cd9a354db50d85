"""Answering-machine detection results that arrive in an event of their own, kept until the call's end.

Plivo (``Event=MachineDetection``), Telnyx (``call.machine.detection.ended``,
``call.machine.premium.detection.ended``) and Vonage (``status`` ``human``/``machine``) report who answered in
a request of its own while the call goes on; the call-end event that follows does not repeat it. The adapter
reads such a request (its ``detection`` method: the platform's call id and the native fields); the receiver
keeps the fields here, in ``call_detections``, and when that call's end arrives ``hangup.ingest`` adds them to
the record's ``extra`` (prefixed ``detection.``) before it is stored, so ``answered_by`` and the human-reach
rate count them. ``hangup reclassify`` carries them over too. A kept detection is of no use once its call's
end has come or will not come: ``prune`` deletes those older than ``KEPT_SECONDS`` (``hangup serve`` runs it
every hour), so the table holds about a day of detections, not every one ever reported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from hangup.store.database import Database
from hangup.store.schema import DETECTIONS_TABLE as TABLE

#: The key prefix of a detection's fields in ``CallRecord.extra``.
PREFIX = "detection."
_SAVE = (f"INSERT INTO {TABLE} (provider, provider_call_id, fields, received_at) VALUES (?, ?, ?, ?) "
         "ON CONFLICT (provider, provider_call_id) DO UPDATE SET fields = excluded.fields, "
         "received_at = excluded.received_at")
_FIND = f"SELECT fields FROM {TABLE} WHERE provider = ? AND provider_call_id = ?"
_PRUNE = f"DELETE FROM {TABLE} WHERE received_at < ?"
#: How long a detection waits for its call's end: a day covers the longest calls the platforms allow
#: (Plivo and Twilio end a call after 24 hours at most).
KEPT_SECONDS = 86_400
#: How often ``hangup serve`` prunes.
PRUNE_SECONDS = 3_600


def save(url: str, provider: str, call_id: str, fields: Mapping[str, str], received_at: float) -> None:
    """Keep a detection result (the latest one of a call wins); returns after the commit."""
    db = Database(url)
    try:
        statement = db.sql(_SAVE)
        params = [provider, call_id, json.dumps(dict(fields), sort_keys=True), received_at]
        db.write(lambda conn: conn.execute(statement, params))
    finally:
        db.close()


def find(url: str, provider: str, call_id: str) -> dict[str, str]:
    """The kept detection fields of a call, prefixed for ``extra`` (empty when none arrived)."""
    db = Database(url)
    try:
        rows = db.read(_FIND, [provider, call_id])
    finally:
        db.close()
    if not rows:
        return {}
    return {PREFIX + str(k): str(v) for k, v in json.loads(rows[0][0]).items()}


def prune(url: str, now: float) -> int:
    """Delete the detections received more than ``KEPT_SECONDS`` before ``now``; how many were."""
    db = Database(url)
    try:
        statement = db.sql(_PRUNE)
        deleted: int = db.write(lambda conn: conn.execute(statement, [now - KEPT_SECONDS]).rowcount)
        return deleted
    finally:
        db.close()
