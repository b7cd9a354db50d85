"""What every request handler shares: the settings and the open store."""

from __future__ import annotations

from hangup.errors import StoreError
from hangup.settings import Settings
from hangup.store.base import Store


class AppState:
    """The app's settings and store; the store is opened by the lifespan (or handed in by tests)."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self._store = store
        self.owns_store = store is None
        self.started_at = 0.0

    @property
    def store(self) -> Store:
        if self._store is None:
            raise StoreError("the store is not open")
        return self._store

    @store.setter
    def store(self, value: Store | None) -> None:
        self._store = value

    @property
    def has_store(self) -> bool:
        return self._store is not None
