"""The one parser of database URLs: dialect, file or libpq URI, SQLite options; a bad URL names its fault."""

from __future__ import annotations

import pytest

from hangup.errors import StoreError
from hangup.store.url import parse_url


@pytest.mark.parametrize(
    ("url", "dialect", "path", "options", "conninfo"),
    [
        ("sqlite:///hangup.db", "sqlite", "hangup.db", {}, ""),
        ("sqlite:////abs/hangup.db", "sqlite", "/abs/hangup.db", {}, ""),
        ("sqlite:///hangup.db?synchronous=normal", "sqlite", "hangup.db", {"synchronous": "NORMAL"}, ""),
        ("sqlite+pysqlite:///my%20calls.db", "sqlite", "my calls.db", {}, ""),
        ("calls.db", "sqlite", "calls.db", {}, ""),
        ("postgresql://u@h/db", "postgresql", "", {}, "postgresql://u@h/db"),
        ("postgresql+psycopg://h/db?options=-csearch_path%3Dx", "postgresql", "", {},
         "postgresql://h/db?options=-csearch_path%3Dx"),
        ("postgres://h/db", "postgresql", "", {}, "postgres://h/db"),
    ],
)
def test_a_url_is_parsed_once_into_its_parts(url: str, dialect: str, path: str, options: dict[str, str],
                                            conninfo: str) -> None:
    parsed = parse_url(url)
    assert (parsed.dialect, parsed.path, dict(parsed.options), parsed.conninfo) == (dialect, path, options, conninfo)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("mysql://h/db", "unknown store URL scheme 'mysql'"),
        ("sqlite:///x.db?journal=off", "unknown SQLite URL option 'journal'"),
        ("sqlite:///x.db?synchronous=OFF", "synchronous must be one of"),
        ("sqlite:///:memory:", "file path"),
        ("sqlite://", "file path"),
    ],
)
def test_a_bad_url_is_a_store_error_naming_the_part(url: str, error: str) -> None:
    with pytest.raises(StoreError, match=error):
        parse_url(url)
