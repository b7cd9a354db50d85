"""``hangup db migrate`` and ``hangup reclassify`` (then a rollup rebuild), plus the shared ``--db`` option."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from hangup.composition import open_configured_store
from hangup.errors import ConfigError, StoreError
from hangup.settings import BY_NAME, load_settings
from hangup.store.base import Store

F = TypeVar("F", bound=Callable[..., Any])


def db_option(function: F) -> F:
    """``--db URL`` defaulting to ``HANGUP_DB`` (then ``sqlite:///./hangup.db``)."""
    setting = BY_NAME["db"]
    option = click.option("--db", "db", envvar=setting.env, default=setting.default, show_default=True,
                          help=f"Store URL ({setting.env}).")
    return option(function)


def open_cli_store(db: str, *, migrate: bool = True) -> Store:
    """The store at ``db`` with the environment's settings and the server's write hooks (rollups).

    A user-fixable failure is a ClickException.
    """
    try:
        return open_configured_store(load_settings(), db, migrate=migrate)
    except (StoreError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def db() -> None:
    """The store's schema."""


@db.command()
@db_option
def migrate(db: str) -> None:
    """Apply pending migrations (named, ordered, recorded in _migrations)."""
    store = open_cli_store(db, migrate=False)
    try:
        applied = store.migrate()
        for name in applied:
            click.echo(f"applied {name}")
        click.echo(f"{len(store.applied_migrations())} migrations applied in total; {len(applied)} now")
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


@click.command()
@db_option
def reclassify(db: str) -> None:
    """Re-apply the current cause catalog to every stored call."""
    from hangup import ingest
    from hangup.providers.registry import providers
    from hangup.stats import rebuild
    from hangup.stats.db import StatsDB

    store = open_cli_store(db)
    try:
        examined, changed = ingest.reclassify(store, providers())
    finally:
        store.close()
    click.echo(f"{examined} calls examined, {changed} reclassified")
    if changed:  # rollups count outcomes and faults, which reclassifying rewrote
        stats_db = StatsDB(db)
        try:
            rows = rebuild.rebuild(stats_db)
        finally:
            stats_db.close()
        click.echo(f"{rows} rollup rows rebuilt")
