"""The outbox contract: a durable queue of callbacks with at-least-once delivery.

Every method commits before it returns. ``claim`` hands out due rows and leases them by moving
``next_attempt_at`` forward, so two workers never send the same row at once and a row whose worker died is
sent again once its lease runs out. The SQLite back end is ``hangup.emit.outbox.sqlite``; a PostgreSQL back end
implements the same protocol with ``SELECT … FOR UPDATE SKIP LOCKED`` in ``claim``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class State(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Entry:
    """One callback in the outbox."""

    id: int
    sid: str
    destination: str  # the receiver URL, without the query
    query: str  # the callback's query string, exactly as it is sent
    state: State
    flags: tuple[str, ...]  # e.g. ("orphaned",)
    attempts: int  # delivery attempts started so far
    created_at: float
    next_attempt_at: float
    updated_at: float
    delivered_at: float | None
    last_status: int | None  # HTTP status of the last answer; None when there was none
    last_error: str
    response_body: str  # the receiver's answer that dead-lettered the entry (truncated)

    @property
    def url(self) -> str:
        return f"{self.destination}?{self.query}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "sid": self.sid, "destination": self.destination, "query": self.query,
            "state": str(self.state), "flags": list(self.flags), "attempts": self.attempts,
            "created_at": self.created_at, "next_attempt_at": self.next_attempt_at, "updated_at": self.updated_at,
            "delivered_at": self.delivered_at, "last_status": self.last_status, "last_error": self.last_error,
            "response_body": self.response_body,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class NewEntry:
    """A callback to enqueue."""

    sid: str
    destination: str
    query: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StartedCall:
    """A call reported as started; ``facts`` is the JSON of its known facts."""

    sid: str
    facts: str
    created_at: float
    deadline: float


class Outbox(Protocol):
    """What the emitter needs from durable storage."""

    def enqueue(self, entries: Sequence[NewEntry], now: float) -> list[tuple[int, bool]]:
        """Store entries durably; return ``(id, created)`` for each (``created`` False for a repeat sid)."""
        ...

    def claim(self, limit: int, now: float, lease: float) -> list[Entry]:
        """Up to ``limit`` due pending entries, leased until ``now + lease``, their ``attempts`` counted."""
        ...

    def mark_delivered(self, entry_id: int, status: int, now: float) -> None: ...

    def mark_retry(self, entry_id: int, next_attempt_at: float, status: int | None, error: str, now: float) -> None:
        ...

    def mark_dead(self, entry_id: int, status: int | None, error: str, body: str, now: float) -> None: ...

    def get(self, entry_id: int) -> Entry | None: ...

    def entries(self, state: State | None = None, limit: int = 100, sid: str | None = None) -> list[Entry]: ...

    def counts(self) -> dict[State, int]: ...

    def retry(self, entry_ids: Sequence[int] | None, now: float) -> int:
        """Make dead entries pending again (all dead ones when ``entry_ids`` is None); return how many."""
        ...

    def purge(self, states: Sequence[State], older_than: float) -> int:
        """Delete entries in ``states`` last updated before ``older_than``; return how many."""
        ...

    # -- started calls (orphan detection) -------------------------------------------------
    def start_call(self, call: StartedCall) -> bool:
        """Remember a started call; False when the sid is already known (started or ended)."""
        ...

    def end_call(self, sid: str) -> None:
        """Forget a started call because its end arrived."""
        ...

    def due_starts(self, now: float, limit: int) -> list[StartedCall]: ...

    def close_orphans(self, sids: Sequence[str], entries: Sequence[NewEntry], now: float) -> None:
        """Atomically forget the started calls and enqueue their orphan callbacks."""
        ...

    def close(self) -> None: ...
