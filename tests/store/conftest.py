"""Every store test runs on both back ends: ``fresh_store`` and ``store_url`` are parametrized here.

The ``postgres`` case is marked ``postgres`` (skipped loudly without a server, a failure under
``HANGUP_REQUIRE_POSTGRES=1``) and runs on a schema of its own, dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hangup.store import open_store
from hangup.store.base import Store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A URL of an empty database on the back end under test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/calls.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def fresh_store(store_url: str) -> Iterator[Store]:
    store = open_store(store_url)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A SQLite store, for tests of SQLite's own behaviour (WAL, query plans)."""
    store = open_store(f"sqlite:///{tmp_path}/sqlite-only.db")
    yield store
    store.close()
