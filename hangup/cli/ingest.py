"""``hangup ingest FILE``: recorded callbacks (URLs or query strings, one per line) into the store.

Each line goes through the same adapter and classification as the web receiver; lines the adapter
rejects go to the quarantine. Lines may be ``GET http://host/path?query``, ``http://host/path?query``,
``/path?query`` or the bare query string; blank lines and ``#`` comments are skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import IO

import click

from hangup import ingest as pipeline
from hangup.cli.db import db_option, open_cli_store
from hangup.errors import HTTPError
from hangup.providers import planet
from hangup.providers.base import Provider, WebhookRequest
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
    try:
        with click.progressbar(_lines(file), label="ingesting", hidden=quiet, show_pos=True) as lines:
            asyncio.run(_ingest(store, adapter, lines, secrets, counts))
    finally:
        store.close()
    kinds = ("inserted", "duplicate", "conflict", "leg", "ignored", "rejected")
    detections = f", {counts['detection']} detections kept" if counts["detection"] else ""
    click.echo(", ".join(f"{counts[k]} {k}" for k in kinds) + detections)


async def _ingest(store: Store, adapter: Provider, lines: Iterable[str], secrets: dict[str, str],
                  counts: Counter[str]) -> None:
    """The lines in order. Ends go to the store in batches, except those of a platform that reports
    answering-machine detection in requests of its own: those are taken one by one as the receiver takes them
    (an end joined with its call's kept detection, a detection kept and applied to its stored call), so a
    detection before or after its end in the file reaches the call either way."""
    joins = getattr(adapter, "detection", None) is not None
    pending: list[CallRecord] = []
    for line in lines:
        path, query = query_of(line)
        request = WebhookRequest("GET", path, query, received_at=time.time(), client="hangup ingest")
        try:
            record = pipeline.parse(adapter, request, secrets, verify=False)
        except HTTPError as exc:
            store.quarantine(pipeline.quarantine_entry(adapter.name, request, path or "hangup ingest", exc))
            counts["rejected"] += 1
            continue
        if record is not None and not joins:
            pending.append(record)
            if len(pending) >= BATCH:
                _flush(store, pending, counts)
            continue
        received = await pipeline.store_parsed(adapter, request, record, store)
        counts[str(received.result.status) if received.result else "detection" if received.detection
               else "ignored"] += 1
    _flush(store, pending, counts)


def _flush(store: Store, pending: list[CallRecord], counts: Counter[str]) -> None:
    if pending:
        for result in store.add_many(pending):
            counts[str(result.status)] += 1
        pending.clear()
