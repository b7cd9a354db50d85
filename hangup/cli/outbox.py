"""``hangup outbox list|retry|purge``: inspect and repair the emitter's outbox."""

from __future__ import annotations

import json
import sqlite3
import time

import click

from hangup.emit.outbox import Outbox, State, open_outbox
from hangup.errors import HangupError

DB_OPTION = click.option(
    "--db", envvar="HANGUP_DB", default="sqlite:///./hangup.db", show_default=True, help="Store URL (HANGUP_DB)."
)


def _open(db: str) -> Outbox:
    try:
        return open_outbox(db)
    except (HangupError, sqlite3.Error) as exc:
        raise click.ClickException(f"cannot open the outbox at {db}: {exc}") from exc


@click.group("outbox")
def outbox() -> None:
    """Inspect and repair the emitter's outbox of callbacks."""


@outbox.command("list")
@DB_OPTION
@click.option("--state", type=click.Choice([s.value for s in State]), help="Only entries in this state.")
@click.option("--sid", help="Only the entry of this call.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_entries(db: str, state: str | None, sid: str | None, limit: int, as_json: bool) -> None:
    """List outbox entries, newest first, with counts per state."""
    box = _open(db)
    try:
        entries = box.entries(State(state) if state else None, limit, sid)
        counts = box.counts()
    finally:
        box.close()
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry.to_json()))
        return
    click.echo("  ".join(f"{s.value}: {n}" for s, n in counts.items()))
    for e in entries:
        flags = f" [{','.join(e.flags)}]" if e.flags else ""
        last = f" last={e.last_status or '-'} {e.last_error}".rstrip()
        click.echo(f"{e.id:>8}  {e.state.value:<9} {e.sid}  attempts={e.attempts}{last}{flags}")


@outbox.command("retry")
@DB_OPTION
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
@DB_OPTION
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
