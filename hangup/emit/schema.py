"""The emitter's tables, added to the store through its named migrations.

``outbox``: one row per callback to deliver. ``state`` is ``pending`` until a 2xx answer (``delivered``) or a
permanent failure (``dead``). ``next_attempt_at`` doubles as the lease: a worker that claims a row pushes it
``lease`` seconds into the future, so a worker killed mid-delivery leaves a row that becomes due again and is sent
again (receivers dedupe by ``sid``). ``call_starts``: calls reported as started and not yet ended, closed as
orphaned after their ``deadline``. Times are Unix seconds (fractional).
"""

from __future__ import annotations

from hangup.store.migrations import Migration

_OUTBOX = """
CREATE TABLE outbox (
    id {autoid},
    sid TEXT NOT NULL,
    destination TEXT NOT NULL,
    query TEXT NOT NULL,
    state TEXT NOT NULL,
    flags TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at {real} NOT NULL,
    next_attempt_at {real} NOT NULL,
    updated_at {real} NOT NULL,
    delivered_at {real},
    last_status INTEGER,
    last_error TEXT NOT NULL,
    response_body TEXT NOT NULL,
    UNIQUE (sid, destination)
)
"""

_CALL_STARTS = """
CREATE TABLE call_starts (
    sid TEXT PRIMARY KEY,
    facts TEXT NOT NULL,
    created_at {real} NOT NULL,
    deadline {real} NOT NULL
)
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration("0500_outbox", (_OUTBOX, "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)")),
    Migration("0501_call_starts", (_CALL_STARTS, "CREATE INDEX call_starts_deadline ON call_starts (deadline)")),
)
