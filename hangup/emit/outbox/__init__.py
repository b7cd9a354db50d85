"""The durable outbox of callbacks: the contract in ``base``, back ends one per module."""

from __future__ import annotations

from collections.abc import Callable

from hangup.emit.outbox.base import Entry, NewEntry, Outbox, StartedCall, State
from hangup.emit.outbox.sqlite import SQLiteOutbox
from hangup.errors import ConfigError


def open_outbox(url: str) -> Outbox:
    """The outbox for a store URL; ``sqlite:///PATH`` is built in, other back ends register in ``BACKENDS``."""
    scheme = url.split("://", 1)[0] if "://" in url else "sqlite"
    factory = BACKENDS.get(scheme)
    if factory is None:
        raise ConfigError(f"no outbox back end for {scheme}:// URLs (known: {', '.join(sorted(BACKENDS))})")
    return factory(url)


def _postgres(url: str) -> Outbox:
    from hangup.emit.outbox.postgres import PostgresOutbox  # needs the hangup[postgres] extra

    return PostgresOutbox(url)


#: URL scheme -> outbox factory.
BACKENDS: dict[str, Callable[[str], Outbox]] = {"sqlite": SQLiteOutbox, "postgresql": _postgres, "postgres": _postgres}


__all__ = ["BACKENDS", "Entry", "NewEntry", "Outbox", "SQLiteOutbox", "StartedCall", "State", "open_outbox"]
