"""The outbox's statement table: written once with ``?``, rendered per dialect."""

from __future__ import annotations

from dataclasses import fields

import pytest

from hangup.emit.outbox.sql import PORTABLE, STATEMENTS, render
from hangup.errors import StoreError


def test_sqlite_runs_the_table_as_written() -> None:
    assert STATEMENTS["sqlite"] == PORTABLE


def test_postgresql_gets_the_same_statements_with_format_placeholders() -> None:
    for field in fields(PORTABLE):
        portable, rendered = getattr(PORTABLE, field.name), getattr(STATEMENTS["postgresql"], field.name)
        assert "?" not in rendered and rendered.replace("%s", "?") == portable


def test_a_percent_sign_stays_literal_for_psycopg() -> None:
    assert render("SELECT id FROM outbox WHERE sid LIKE '5%' AND id = ?", "postgresql") == (
        "SELECT id FROM outbox WHERE sid LIKE '5%%' AND id = %s"
    )


def test_an_unknown_dialect_is_an_error() -> None:
    with pytest.raises(StoreError, match="mysql"):
        render("SELECT 1", "mysql")
