"""The one parser of database URLs: which dialect, which file or server, which options.

Accepted forms (the scheme may carry a driver, ``postgresql+psycopg://``, which is dropped)::

    sqlite:///relative/path.db          a file relative to the working directory
    sqlite:////absolute/path.db         an absolute path
    sqlite:///calls.db?synchronous=NORMAL
    calls.db                            a bare path is SQLite
    postgresql://user@host:5432/db?options=-csearch_path%3Dmyschema
    postgres://…                        the same

A SQLite URL's query string holds hangup's options for the file (``SQLITE_OPTIONS``); an unknown one is
an error, so a typo never opens a file named after it. A PostgreSQL URL is a libpq connection URI: its
query string (``sslmode``, ``options`` …) is libpq's and passed on unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, unquote, urlsplit

from hangup.errors import StoreError

#: URL scheme (without a ``+driver`` suffix) -> dialect.
DIALECTS: Mapping[str, str] = MappingProxyType(
    {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql"}
)
#: Query parameters a SQLite URL may carry -> the values each accepts.
SQLITE_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({"synchronous": ("FULL", "NORMAL", "EXTRA")})


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed database URL (``parse_url``)."""

    url: str  # as given
    dialect: str  # "sqlite" | "postgresql"
    path: str = ""  # SQLite: the database file
    options: Mapping[str, str] = field(default_factory=dict)  # SQLite: ``SQLITE_OPTIONS`` given in the URL
    conninfo: str = ""  # PostgreSQL: the libpq URI (driver suffix dropped, query string kept)


def parse_url(url: str) -> DatabaseURL:
    """Parse a store URL (see the module docstring); ``StoreError`` names what is wrong."""
    head, sep, rest = url.partition("://")
    if not sep:
        return _sqlite(url, url, "")
    scheme = head.split("+", 1)[0].lower()
    dialect = DIALECTS.get(scheme)
    if dialect is None:
        raise StoreError(f"unknown store URL scheme {scheme!r}; known: {', '.join(DIALECTS)}")
    if dialect == "postgresql":
        return DatabaseURL(url, dialect, conninfo=f"{scheme}://{rest}")
    parts = urlsplit(f"sqlite://{rest}")
    path = unquote(parts.path)
    return _sqlite(url, path[1:] if path.startswith("/") else path, parts.query)


def _sqlite(url: str, path: str, query: str) -> DatabaseURL:
    if not path or path == ":memory:":
        raise StoreError("a SQLite store needs a file path (the writer and the readers share it)")
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        allowed = SQLITE_OPTIONS.get(name)
        if allowed is None:
            raise StoreError(f"unknown SQLite URL option {name!r}; known: {', '.join(SQLITE_OPTIONS)}")
        if value.upper() not in allowed:
            raise StoreError(f"SQLite URL option {name} must be one of {', '.join(allowed)}")
        options[name] = value.upper()
    return DatabaseURL(url, "sqlite", path=path, options=MappingProxyType(options))
