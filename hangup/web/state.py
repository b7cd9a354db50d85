"""What every request handler shares: the settings and the open store."""

from __future__ import annotations

import logging

from hangup.causes.actions import NO_OVERRIDES, ActionOverrides, overrides_from_file
from hangup.errors import ConfigError, StoreError
from hangup.settings import Settings
from hangup.store.base import Store


class AppState:
    """The app's settings and store; the store is opened by the lifespan (or handed in by tests)."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self._store = store
        self.owns_store = store is None
        self.started_at = 0.0
        self._actions = NO_OVERRIDES

    @property
    def actions(self) -> ActionOverrides:
        """The action overrides file as it is now; an edit that breaks it keeps the last good rules (logged)."""
        try:
            self._actions = overrides_from_file(self.settings.actions_file)
        except ConfigError as exc:
            logging.getLogger("hangup").warning("action overrides not reloaded: %s", exc)
        return self._actions

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
