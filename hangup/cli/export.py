"""``hangup export``: the canonical call log as JSON Lines, CSV or Parquet (newest first)."""

from __future__ import annotations

import sys

import click

from hangup.cli.db import db_option, open_cli_store
from hangup.importer.export import FORMATS, write_parquet, write_text
from hangup.providers._common import parse_time
from hangup.store.base import CallQuery


def _time(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    parsed = parse_time(value)
    if parsed is None:
        raise click.BadParameter("expected Unix seconds or an ISO 8601 time", param_hint=name)
    return parsed


@click.command("export")
@db_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option("-o", "--output", default="-", show_default=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="Output file ('-' for standard output; Parquet needs a file).")
@click.option("--since", default=None, help="Calls that ended at or after this time (Unix s or ISO 8601).")
@click.option("--until", default=None, help="Calls that ended before this time.")
@click.option("--provider", default=None, help="Only calls of this adapter.")
def export_calls(db: str, fmt: str, output: str, since: str | None, until: str | None, provider: str | None) -> None:
    """Write the call log as JSON Lines, CSV or Parquet (import it again with `hangup import`)."""
    query = CallQuery(since=_time(since, "--since"), until=_time(until, "--until"), provider=provider)
    if fmt == "parquet" and output == "-":
        raise click.BadParameter("Parquet needs a file: give -o FILE", param_hint="--output")
    store = open_cli_store(db)
    try:
        records = store.iter_calls(query)
        if fmt == "parquet":
            count = write_parquet(records, output)
        elif output == "-":
            count = write_text(records, fmt, sys.stdout)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out:
                count = write_text(records, fmt, out)
    finally:
        store.close()
    if output != "-":
        click.echo(f"exported {count} calls to {output}", err=True)
