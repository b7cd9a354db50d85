"""Shared fixtures: a clean environment, a fresh store, an app client factory, Planet callback queries."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import postgres_helpers  # read at import: HANGUP_TEST_POSTGRES is cleared from the environment of each test
import pytest
from receiver_helpers import (  # noqa: F401  (re-exported for tests importing them from conftest)
    DATA,
    PLANET_EVENT,
    SPEC_EXAMPLE,
    ClientFactory,
    SyncClient,
    planet_query,
)

from hangup.composition import open_store
from hangup.settings import load_settings
from hangup.store.base import Store
from hangup.web.app import create_app


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HANGUP_* setting leaks into a test from the shell (the REQUIRE switches stay)."""
    for name in list(os.environ):
        if name.startswith("HANGUP_") and not name.startswith("HANGUP_REQUIRE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path}/calls.db")
    yield store
    store.close()


@pytest.fixture
def make_client(fresh_store: Store) -> Iterator[ClientFactory]:
    """``make_client(HANGUP_X="…", client=("10.0.0.1", 1234))``: an app on ``fresh_store`` with those settings."""
    with ExitStack() as stack:

        def factory(client: tuple[str, int] = ("127.0.0.1", 50000), **env: str) -> SyncClient:
            settings = load_settings(env)
            return SyncClient(create_app(settings, store=fresh_store), stack, client)

        yield factory


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A store URL on a schema of its own in the test PostgreSQL server (``tests/postgres_helpers.py``)."""
    with postgres_helpers.temporary_schema() as url:
        yield url
