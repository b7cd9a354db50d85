"""The outbox's statement table: written once with ``?``, rendered per driver paramstyle."""

from __future__ import annotations

from dataclasses import fields

import pytest

from hangup.emit.outbox.sql import PORTABLE, STATEMENTS
from hangup.errors import StoreError
from hangup.store.database import to_paramstyle


def test_sqlite_runs_the_table_as_written() -> None:
    assert STATEMENTS["qmark"] == PORTABLE


def test_postgresql_gets_the_same_statements_with_format_placeholders() -> None:
    for field in fields(PORTABLE):
        portable, rendered = getattr(PORTABLE, field.name), getattr(STATEMENTS["format"], field.name)
        assert "?" not in rendered and rendered.replace("%s", "?") == portable


def test_a_percent_sign_stays_literal_for_psycopg() -> None:
    assert to_paramstyle("SELECT id FROM outbox WHERE sid LIKE '5%' AND id = ?", "format") == (
        "SELECT id FROM outbox WHERE sid LIKE '5%%' AND id = %s"
    )


def test_an_unknown_paramstyle_is_an_error() -> None:
    with pytest.raises(StoreError, match="pyformat"):
        to_paramstyle("SELECT 1", "pyformat")
