"""The composition root: what hangup's doors open, wired from the packages below them.

The store does not know the packages built on it; this module does. It gathers every package's named
migrations (``MIGRATIONS``), the write hooks every store hangup opens for its own use gets
(``WRITE_HOOKS``), and opens stores with them. ``hangup serve`` and every command that writes calls
(``hangup ingest``, ``hangup import``, ``hangup reclassify`` …) open their store here, so calls stored
outside the server are counted too. Only the doors (``hangup.web``, ``hangup.cli``) and the package
root sit above it (the layering is in docs/architecture.md and enforced by ``tests/test_layers.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hangup.alerts import engine as alert_engine
from hangup.emit import schema as emit_schema
from hangup.settings import Settings
from hangup.stats import rollups
from hangup.stats.db import attach_rollups
from hangup.store import Store
from hangup.store import open_store as open_bare_store
from hangup.store import schema as store_schema
from hangup.store.migrations import Migration, ordered
from hangup.store.url import parse_url

#: Every table's named migrations, in application order: the call store's, the emitter's outbox, the
#: statistics' rollups, the alert state.
MIGRATIONS: tuple[Migration, ...] = ordered(
    (*store_schema.MIGRATIONS, *emit_schema.MIGRATIONS, *rollups.MIGRATIONS, *alert_engine.MIGRATIONS)
)

#: ``hook(store, settings)`` applied to every store opened for hangup's own use (each idempotent): the
#: statistics' rollups are written in the same transaction as the calls they count.
WRITE_HOOKS: tuple[Callable[[Store, Settings | None], None], ...] = (attach_rollups,)


def open_store(url: str, **options: Any) -> Store:
    """The store at ``url`` with every package's tables (migrated unless ``migrate=False``), without hooks."""
    options.setdefault("migrations", MIGRATIONS)
    return open_bare_store(url, **options)


def attach_standard_hooks(store: Store, settings: Settings | None = None) -> Store:
    """Register ``WRITE_HOOKS`` on ``store``; return it."""
    for hook in WRITE_HOOKS:
        hook(store, settings)
    return store


def open_configured_store(settings: Settings, url: str | None = None, *, migrate: bool = True,
                          batch_size: int | None = None) -> Store:
    """The store at ``url`` (default ``settings.db``) with the settings' options and ``WRITE_HOOKS``.

    ``batch_size`` raises the writer's group-commit size above ``settings.batch_size`` (bulk imports).
    """
    url = settings.db if url is None else url
    options: dict[str, Any] = {"migrate": migrate, "batch_size": max(settings.batch_size, batch_size or 0)}
    if parse_url(url).dialect == "sqlite":
        options["synchronous"] = settings.sqlite_synchronous
    else:
        options["retention_months"] = settings.retention_months
    store = open_store(url, **options)
    try:
        return attach_standard_hooks(store, settings)
    except BaseException:
        store.close()
        raise
