"""PostgreSQL for tests: is the server there, and a uniquely named schema per test that is dropped afterwards.

The server is ``HANGUP_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``, trust auth).
Without it, tests marked ``postgres`` are skipped with a loud reason, unless ``HANGUP_REQUIRE_POSTGRES=1``
(CI) turns the skip into a failure. Each test gets its own schema, so parallel runs and leftovers of an
interrupted run never meet; a store URL selects it with libpq's ``options=-csearch_path%3D…``.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

SERVER = os.environ.get("HANGUP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRED = os.environ.get("HANGUP_REQUIRE_POSTGRES", "") == "1"


@functools.cache
def unavailable() -> str:
    """Why PostgreSQL cannot be used ("" when it can)."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg is not installed ({exc}); install hangup[postgres]"
    try:
        with psycopg.connect(SERVER, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"no PostgreSQL at {SERVER} ({str(exc).strip()})"
    return ""


def require_postgres() -> None:
    """Skip loudly (or fail under ``HANGUP_REQUIRE_POSTGRES=1``) when the server is not there."""
    reason = unavailable()
    if not reason:
        return
    if REQUIRED:
        pytest.fail(f"HANGUP_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(f"POSTGRESQL TESTS SKIPPED: {reason}; set HANGUP_REQUIRE_POSTGRES=1 to make this a failure")


def url_for(schema: str) -> str:
    separator = "&" if "?" in SERVER else "?"
    return f"{SERVER}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def temporary_schema(prefix: str = "hangup_test") -> Iterator[str]:
    """A new empty schema; yields a store URL that uses it, drops it (and everything in it) afterwards."""
    import psycopg

    require_postgres()
    schema = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield url_for(schema)
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
