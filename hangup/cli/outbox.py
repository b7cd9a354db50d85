"""``hangup outbox list|retry|purge``: inspect and repair the emitter's outbox."""

from __future__ import annotations

import sqlite3
import time

import click

from hangup.cli.db import db_option
from hangup.cli.output import Format, output_options, write_items
from hangup.emit.outbox import Outbox, State, open_outbox
from hangup.errors import HangupError


def _open(db: str) -> Outbox:
    try:
        return open_outbox(db)
    except (HangupError, sqlite3.Error) as exc:
        raise click.ClickException(f"cannot open the outbox at {db}: {exc}") from exc


@click.group("outbox")
def outbox() -> None:
    """Inspect and repair the emitter's outbox of callbacks."""


@outbox.command("list")
@db_option
@click.option("--state", type=click.Choice([s.value for s in State]), help="Only entries in this state.")
@click.option("--sid", help="Only the entry of this call.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@output_options
def list_entries(db: str, state: str | None, sid: str | None, limit: int, fmt: Format) -> None:
    """List outbox entries, newest first; the table starts with the count of entries per state."""
    box = _open(db)
    try:
        entries = box.entries(State(state) if state else None, limit, sid)
        counts = box.counts()
    finally:
        box.close()
    if fmt == "table":
        click.echo("  ".join(f"{s.value}: {n}" for s, n in counts.items()))
    items = [e.to_json() for e in entries]
    write_items(fmt, items, ("id", "state", "sid", "attempts", "last_status", "last_error", "flags"), right=(0, 3))


@outbox.command("retry")
@db_option
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_dead", is_flag=True, help="Retry every dead-lettered entry.")
def retry(db: str, ids: tuple[int, ...], all_dead: bool) -> None:
    """Send dead-lettered entries again (by id, or --all)."""
    if bool(ids) == all_dead:
        raise click.UsageError("give entry ids or --all")
    box = _open(db)
    try:
        count = box.retry(None if all_dead else list(ids), time.time())
    finally:
        box.close()
    click.echo(f"{count} entries pending again")


@outbox.command("purge")
@db_option
@click.option("--delivered", is_flag=True, help="Delete delivered entries.")
@click.option("--dead", is_flag=True, help="Delete dead-lettered entries.")
@click.option("--older-than", type=click.FloatRange(min=0), default=86_400.0, show_default=True,
              help="Only entries last updated more than this many seconds ago.")  # fmt: skip
def purge(db: str, delivered: bool, dead: bool, older_than: float) -> None:
    """Delete delivered and/or dead-lettered entries (pending ones are never purged)."""
    states = [s for s, chosen in ((State.DELIVERED, delivered), (State.DEAD, dead)) if chosen]
    if not states:
        raise click.UsageError("give --delivered and/or --dead")
    box = _open(db)
    try:
        count = box.purge(states, time.time() - older_than)
    finally:
        box.close()
    click.echo(f"purged {count} entries")
