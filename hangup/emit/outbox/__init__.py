"""The durable outbox of callbacks: the contract in ``base``, back ends one per module."""

from __future__ import annotations

from collections.abc import Callable

from hangup.emit.outbox.base import Entry, NewEntry, Outbox, StartedCall, State
from hangup.emit.outbox.sqlite import SQLiteOutbox
from hangup.store.url import parse_url


def open_outbox(url: str) -> Outbox:
    """The outbox for a store URL (``hangup.store.url``: SQLite built in, PostgreSQL with the extra)."""
    return BACKENDS[parse_url(url).dialect](url)


def _postgres(url: str) -> Outbox:
    from hangup.emit.outbox.postgres import PostgresOutbox  # needs the hangup[postgres] extra

    return PostgresOutbox(url)


#: Dialect -> outbox factory.
BACKENDS: dict[str, Callable[[str], Outbox]] = {"sqlite": SQLiteOutbox, "postgresql": _postgres}


__all__ = ["BACKENDS", "Entry", "NewEntry", "Outbox", "SQLiteOutbox", "StartedCall", "State", "open_outbox"]
