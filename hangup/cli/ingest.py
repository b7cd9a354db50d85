"""``hangup ingest FILE``: recorded callbacks (URLs or query strings, one per line) into the store.

Each line goes through the same adapter and classification as the web receiver; lines the adapter
rejects go to the quarantine. Lines may be ``GET http://host/path?query``, ``http://host/path?query``,
``/path?query`` or the bare query string; blank lines and ``#`` comments are skipped.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import IO

import click

from hangup import ingest as pipeline
from hangup.cli.db import db_option, open_cli_store
from hangup.errors import HTTPError
from hangup.providers import planet
from hangup.providers.base import WebhookRequest
from hangup.providers.registry import providers
from hangup.records import CallRecord
from hangup.settings import load_settings
from hangup.store.base import Store

BATCH = 256


def query_of(line: str) -> tuple[str, str]:
    """(path, query string) of one recorded callback line: the Planet reader's split, the URL cut to its path."""
    target, query = planet.query_of(line)
    if "://" in target:
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    return target, query


def _lines(stream: IO[str]) -> Iterator[str]:
    for line in stream:
        if line.strip() and not line.lstrip().startswith("#"):
            yield line


@click.command("ingest")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@db_option
@click.option("--provider", default="planet", show_default=True, help="Adapter the lines are for.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def ingest_file(file: IO[str], db: str, provider: str, quiet: bool) -> None:
    """Store recorded callbacks from FILE ('-' for standard input)."""
    adapter = providers().get(provider)
    if adapter is None:
        raise click.BadParameter(f"unknown provider; known: {', '.join(sorted(providers()))}", param_hint="--provider")
    secrets = load_settings().secrets()
    counts: Counter[str] = Counter()
    store = open_cli_store(db)
    pending: list[CallRecord] = []
    try:
        with click.progressbar(_lines(file), label="ingesting", hidden=quiet, show_pos=True) as lines:
            for line in lines:
                record = _parse_line(store, adapter.name, line, secrets, counts)
                if record is not None:
                    pending.append(record)
                if len(pending) >= BATCH:
                    _flush(store, pending, counts)
        _flush(store, pending, counts)
    finally:
        store.close()
    kinds = ("inserted", "duplicate", "conflict", "leg", "ignored", "rejected")
    click.echo(", ".join(f"{counts[k]} {k}" for k in kinds))


def _parse_line(store: Store, name: str, line: str, secrets: dict[str, str], counts: Counter[str]
                ) -> CallRecord | None:
    path, query = query_of(line)
    request = WebhookRequest("GET", path, query, received_at=time.time(), client="hangup ingest")
    adapter = providers()[name]
    try:
        record = pipeline.parse(adapter, request, secrets, verify=False)
    except HTTPError as exc:
        store.quarantine(pipeline.quarantine_entry(name, request, path or "hangup ingest", exc))
        counts["rejected"] += 1
        return None
    if record is None:
        counts["ignored"] += 1
    return record


def _flush(store: Store, pending: list[CallRecord], counts: Counter[str]) -> None:
    if pending:
        for result in store.add_many(pending):
            counts[str(result.status)] += 1
        pending.clear()
