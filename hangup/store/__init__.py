"""Call stores: the ``Store`` protocol and ``open_store(url)``, which picks the back end by URL scheme."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast

from hangup.errors import StoreError
from hangup.store.base import AddResult, AddStatus, CallQuery, Page, Store

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


__all__ = ["AddResult", "AddStatus", "BACKENDS", "CallQuery", "Page", "Store", "open_store"]
