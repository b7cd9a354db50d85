"""Every store test runs on both back ends: ``fresh_store`` and ``store_url`` are parametrized here.

Test modules import these fixtures by name (a ``conftest.py`` here would shadow the root one, whose
helpers other test modules import as ``conftest``).

The ``postgres`` case is marked ``postgres`` (skipped loudly without a server, a failure under
``HANGUP_REQUIRE_POSTGRES=1``) and runs on a schema of its own, dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hangup.composition import open_store
from hangup.store.base import Store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS, name="backend")
def backend_fixture(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(name="store_url")
def store_url_fixture(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A URL of an empty database on the back end under test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/calls.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(name="fresh_store")
def fresh_store_fixture(store_url: str) -> Iterator[Store]:
    store = open_store(store_url)
    yield store
    store.close()


@pytest.fixture(name="sqlite_store")
def sqlite_store_fixture(tmp_path: Path) -> Iterator[Store]:
    """A SQLite store, for tests of SQLite's own behaviour (WAL, query plans)."""
    store = open_store(f"sqlite:///{tmp_path}/sqlite-only.db")
    yield store
    store.close()
