"""The statistics' database: reads beside the store, the rollup hook inside its writer.

Statistics read the store's database through its ``Database`` (``hangup.store.database``): on SQLite
one connection per thread (WAL readers never wait for the writer), on PostgreSQL a pooled connection
checked before use, so a dropped connection is replaced. The rollups are written by the store's writer
through ``add_write_hook``, in the same transaction as the calls they count.
"""

from __future__ import annotations

from hangup.settings import Settings
from hangup.stats import rollups
from hangup.store import Store
from hangup.store.database import Database

#: What the statistics read: the ``Database`` of the store's URL (shared with the store in one process).
StatsDB = Database

#: Attribute set on a store once the rollup hook is registered, so it is registered once.
_HOOKED = "_hangup_rollups_hooked"


def attach_rollups(store: Store, settings: Settings | None = None) -> None:
    """Keep rollups current as ``store`` inserts calls (idempotent); with ``settings``, minute rows older
    than their ``minute_rollup_days`` are not written (``rollups.RollupHook``)."""
    if getattr(store, _HOOKED, False):
        return
    days = settings.minute_rollup_days if settings is not None else 0
    store.add_write_hook(rollups.RollupHook(days) if days else rollups.hook)
    try:
        setattr(store, _HOOKED, True)
    except AttributeError:  # a store with __slots__: registering twice is only wasteful, not wrong
        pass
