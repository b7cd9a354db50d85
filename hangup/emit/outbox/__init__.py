"""The durable outbox of callbacks: the contract in ``base``, back ends one per module."""

from __future__ import annotations

from hangup.emit.outbox.base import Entry, NewEntry, Outbox, StartedCall, State
from hangup.emit.outbox.sqlite import SQLiteOutbox


def open_outbox(url: str) -> Outbox:
    """The outbox for a store URL; only ``sqlite:///PATH`` is built in."""
    return SQLiteOutbox(url)


__all__ = ["Entry", "NewEntry", "Outbox", "SQLiteOutbox", "StartedCall", "State", "open_outbox"]
