"""``hangup quarantine list|replay``: rejected callback requests, kept whole, inspected and re-run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import click

from hangup import ingest
from hangup.cli.db import db_option, open_cli_store
from hangup.cli.output import Format, output_options, write_items
from hangup.errors import HTTPError
from hangup.providers.registry import providers
from hangup.settings import load_settings
from hangup.store.base import QuarantineEntry, Store


@click.group()
def quarantine() -> None:
    """Requests the receiver rejected (bad format, bad signature, disallowed source)."""


@quarantine.command("list")
@db_option
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@output_options
def list_entries(db: str, limit: int, fmt: Format) -> None:
    """Newest rejected requests first (--json: each whole entry, body and kept headers included)."""
    store = open_cli_store(db)
    try:
        entries = store.quarantined(limit)
    finally:
        store.close()
    items = [e.to_json() for e in entries] if fmt == "json" else [_row(e) for e in entries]
    write_items(fmt, items, _COLUMNS, right=(0,))


#: Columns of ``hangup quarantine list`` as a table or CSV.
_COLUMNS = ("id", "received", "provider", "status", "error", "fields", "replayed")


def _row(entry: QuarantineEntry) -> dict[str, Any]:
    fields = ", ".join(f"{d.get('field')}: {d.get('error')}" for d in entry.error.get("details", [])[:3])
    return {
        "id": entry.id,
        "received": datetime.fromtimestamp(entry.received_at, UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "provider": entry.provider,
        "status": entry.status,
        "error": entry.error.get("error", ""),
        "fields": fields,
        "replayed": entry.replay_result if entry.replayed_at else "",
    }


@quarantine.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@db_option
@click.option("--no-verify", is_flag=True, help="Skip the adapter's signature check (e.g. an expired timestamp).")
def replay(ids: tuple[int, ...], db: str, no_verify: bool) -> None:
    """Run quarantined requests through the receiver again (after a fix); store what now passes."""
    store = open_cli_store(db)
    failed = 0
    try:
        for quarantine_id in ids:
            result = _replay_one(store, quarantine_id, not no_verify)
            failed += result.startswith(("rejected", "unknown", "not replayed"))
            click.echo(f"{quarantine_id}: {result}")
    finally:
        store.close()
    if failed:
        raise click.exceptions.Exit(1)


def _replay_one(store: Store, quarantine_id: int, verify: bool) -> str:
    entry = store.quarantine_entry(quarantine_id)
    if entry is None:
        return "unknown quarantine id"
    provider = providers().get(entry.provider)
    if provider is None:
        return f"unknown provider {entry.provider!r}"
    if ingest.is_truncated(entry):
        return "not replayed: only part of the request was kept (HANGUP_QUARANTINE_ENTRY_BYTES)"
    settings = load_settings()
    try:
        request = ingest.request_of(entry, settings.public_url)
        record = ingest.parse(provider, request, settings.secrets(), verify=verify)
    except HTTPError as exc:
        details = "; ".join(f"{d.get('field')}: {d.get('error')}" for d in exc.details)
        result = f"rejected again ({exc.status} {exc.message}{': ' + details if details else ''})"
        store.mark_replayed(quarantine_id, result)
        return result
    # stored as the receiver stores it: an end joined with its call's kept detection, a detection kept
    received = asyncio.run(ingest.store_parsed(provider, request, record, store))
    if received.result is not None:
        result = f"{received.result.status} {received.result.id}"
    else:
        result = "detection kept" if received.detection else "accepted, not a call-end event"
    store.mark_replayed(quarantine_id, result)
    return result
