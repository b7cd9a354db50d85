"""Call stores: the ``Store`` protocol and ``open_store(url)``, which picks the back end by the URL's dialect.

``open_store`` is the bare opener: the call store's own tables, no write hooks. hangup's doors open
stores through the composition root (``hangup.composition``), which adds every package's migrations and
the standard write hooks.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast

from hangup.errors import StoreError
from hangup.store.base import AddResult, AddStatus, CallQuery, Page, Store
from hangup.store.url import parse_url

#: Dialect -> "module:Class" of the back end (imported only when used, so extras stay optional).
BACKENDS: Mapping[str, str] = MappingProxyType(
    {
        "sqlite": "hangup.store.sqlite:SQLiteStore",
        "postgresql": "hangup.store.postgres:PostgresStore",
    }
)


def open_store(url: str, **options: Any) -> Store:
    """Open (and migrate, unless ``migrate=False``) the store at ``url``; a bare path means SQLite."""
    dialect = parse_url(url).dialect
    module_name, _, class_name = BACKENDS[dialect].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StoreError(f"the {dialect} store is not available ({exc}); install hangup[postgres]") from exc
    return cast(Store, getattr(module, class_name)(url, **options))


__all__ = ["AddResult", "AddStatus", "BACKENDS", "CallQuery", "Page", "Store", "open_store"]
