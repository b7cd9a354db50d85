"""``hangup import FILE...``: call records from platform files into the store, with a summary.

Streaming and batched (one transaction per ``--batch-size`` records); re-running an import adds only
what is missing. Rejected events go to a rejects file (JSON Lines, one reason each).
"""

from __future__ import annotations

import json
import os
import sys

import click

from hangup.cli.db import db_option
from hangup.composition import open_configured_store
from hangup.errors import ConfigError, StoreError
from hangup.importer import READERS, Importer, ImportSummary
from hangup.importer.columns import parse_columns
from hangup.importer.parallel import ImportReaderError
from hangup.importer.run import DEFAULT_BATCH
from hangup.providers.draft import zone_named
from hangup.settings import load_settings
from hangup.store.base import Store


def open_import_store(db: str, batch_size: int) -> Store:
    """The store (with the server's write hooks) and a writer batch as large as the import's (one commit per batch)."""
    try:
        return open_configured_store(load_settings(), db, batch_size=batch_size)
    except (StoreError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True, dir_okay=False))
@db_option
@click.option("--format", "fmt", type=click.Choice(tuple(READERS)), default=None,
              help="Format of the files (guessed from name and content when omitted).")
@click.option("--batch-size", default=DEFAULT_BATCH, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Records per transaction.")
@click.option("--rejects", type=click.Path(dir_okay=False), default=None,
              help="Where rejected events are written (default FILE.rejects.jsonl).")
@click.option("--columns", default=None, metavar="SPEC",
              help="CDR CSV columns: 'file_column=variable,…' renames header columns, 'variable,…' names the "
                   "columns of a file without a header; or a file holding either.")
@click.option("--timezone", "time_zone", default=None, metavar="ZONE", callback=lambda _c, _p, v: _zone(v),
              help="Time zone of CDR files' times written without an offset (e.g. Europe/Paris: Asterisk "
                   "without usegmtime, FreeSWITCH *_stamp); default UTC.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_files(files: tuple[str, ...], db: str, fmt: str | None, batch_size: int, rejects: str | None,
                 columns: str | None, time_zone: str | None, quiet: bool, as_json: bool) -> None:
    """Import call records from FILE... ('-' for standard input) into the store."""
    try:
        mapping = parse_columns(columns) if columns is not None else None
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--columns") from exc
    total = sum(os.path.getsize(f) for f in files if f != "-" and os.path.exists(f))
    for name in files:
        if name != "-" and not os.path.exists(name):
            raise click.BadParameter(f"{name} does not exist", param_hint="FILE")
    store = open_import_store(db, batch_size)
    try:
        with click.progressbar(length=total or 1, label="importing", hidden=quiet or not total,
                               file=sys.stderr) as bar:
            importer = Importer(store, batch_size=batch_size, rejects_path=rejects, progress=bar.update,
                                columns=mapping, time_zone=time_zone)
            try:
                summary = importer.run(list(files), fmt)
            except (ValueError, ImportReaderError) as exc:
                raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(json.dumps(summary.to_json(), indent=2) if as_json else describe(summary))


def _zone(name: str | None) -> str | None:
    if name is not None:
        try:
            zone_named(name)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--timezone") from exc
    return name


def describe(summary: ImportSummary) -> str:
    lines = [
        f"imported {summary.imported}, duplicates {summary.duplicates}, conflicts {summary.conflicts}, "
        f"legs {summary.legs}, "
        f"ignored {summary.ignored}, rejected {summary.rejected} "
        f"({summary.read} events from {len(summary.files)} file(s) in {summary.seconds:.1f} s)"
    ]
    if summary.conflict_talk_seconds:
        lines.append(f"  conflicts hold {summary.conflict_talk_seconds} s of talk time the stored calls lack "
                     f"(rows sharing a call id: legs, transfers); see hangup calls show "
                     f"{', '.join(summary.conflict_calls)}")
    for reason, count in summary.reasons.most_common(10):
        lines.append(f"  rejected {count}: {reason}")
    if summary.rejects_path:
        lines.append(f"rejected events written to {summary.rejects_path}")
    return "\n".join(lines)
