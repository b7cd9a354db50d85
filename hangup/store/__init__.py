"""Call stores: the ``Store`` protocol and ``open_store(url)``, which picks the back end by URL scheme."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from hangup.errors import StoreError
from hangup.store.base import AddResult, AddStatus, CallQuery, Page, Store

if TYPE_CHECKING:
    from hangup.settings import Settings

#: URL scheme -> "module:Class" of the back end (imported only when used, so extras stay optional).
BACKENDS: Mapping[str, str] = MappingProxyType(
    {
        "sqlite": "hangup.store.sqlite:SQLiteStore",
        "postgresql": "hangup.store.postgres:PostgresStore",
        "postgres": "hangup.store.postgres:PostgresStore",
    }
)


def scheme_of(url: str) -> str:
    """The back-end name of a store URL: its scheme (``postgresql+psycopg`` → ``postgresql``); a bare path is SQLite."""
    head, sep, _ = url.partition("://")
    return head.split("+", 1)[0].lower() if sep else "sqlite"


def open_store(url: str, **options: Any) -> Store:
    """Open (and migrate, unless ``migrate=False``) the store at ``url``; a bare path means SQLite."""
    scheme = scheme_of(url)
    target = BACKENDS.get(scheme)
    if target is None:
        raise StoreError(f"unknown store URL scheme {scheme!r}; known: {', '.join(BACKENDS)}")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StoreError(f"the {scheme} store is not available ({exc}); install hangup[{scheme}]") from exc
    return cast(Store, getattr(module, class_name)(url, **options))


#: What every store hangup opens for its own use gets, as ``"module:function"`` applied to the store and the
#: settings (each function idempotent), so calls stored by ``hangup serve``, ``hangup import``, ``hangup ingest``
#: or any other command are counted alike: the statistics' rollups are written in the same transaction as the calls.
STANDARD_HOOKS: tuple[str, ...] = ("hangup.stats.db:attach_rollups",)


def attach_standard_hooks(store: Store, settings: Settings | None = None) -> Store:
    """Register ``STANDARD_HOOKS`` on ``store`` (each called with the store and ``settings``); return it."""
    for target in STANDARD_HOOKS:
        module_name, _, attribute = target.partition(":")
        getattr(importlib.import_module(module_name), attribute)(store, settings)
    return store


def open_configured_store(settings: Settings, url: str | None = None, *, migrate: bool = True,
                          batch_size: int | None = None) -> Store:
    """The store at ``url`` (default ``settings.db``) with the settings' options and hangup's standard write hooks.

    ``batch_size`` raises the writer's group-commit size above ``settings.batch_size`` (bulk imports).
    """
    url = settings.db if url is None else url
    options: dict[str, Any] = {"migrate": migrate, "batch_size": max(settings.batch_size, batch_size or 0)}
    if scheme_of(url) == "sqlite":
        options["synchronous"] = settings.sqlite_synchronous
    else:
        options["retention_months"] = settings.retention_months
    store = open_store(url, **options)
    try:
        return attach_standard_hooks(store, settings)
    except BaseException:
        store.close()
        raise


__all__ = ["AddResult", "AddStatus", "BACKENDS", "CallQuery", "Page", "STANDARD_HOOKS", "Store",
           "attach_standard_hooks", "open_configured_store", "open_store"]
