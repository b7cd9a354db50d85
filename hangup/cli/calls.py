"""``hangup calls list|show|status``: the call log from the shell, with the API's filters."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from hangup import ingest
from hangup.cli.causes import configured_actions
from hangup.cli.db import db_option, open_cli_store
from hangup.cli.output import Format, output_options, write_items
from hangup.errors import PayloadError
from hangup.legs import leg_json
from hangup.records import CallRecord
from hangup.store.base import CallQuery, Store
from hangup.store.export import csv_lines, jsonl_lines
from hangup.store.params import call_query

F = TypeVar("F", bound=Callable[..., Any])

#: (option, parameter name of hangup.store.params, help) — the same names as the API's query parameters.
FILTER_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("--since", "since", "Calls that ended at or after this time (Unix seconds or ISO 8601)."),
    ("--until", "until", "Calls that ended before this time."),
    ("--from-user-id", "from_user_id", "Caller user id."),
    ("--to-user-id", "to_user_id", "Callee user id."),
    ("--from-service-id", "from_service_id", "Caller service id."),
    ("--to-service-id", "to_service_id", "Callee service id."),
    ("--type", "type", "A (audio) or V (video)."),
    ("--outcome", "outcome", "completed, busy, no_answer, rejected, canceled, … (hangup explain --help)."),
    ("--ended-by", "ended_by", "caller, callee, platform, carrier, api, application, unknown."),
    ("--call-end-reason", "call_end_reason", "Planet call_end_reason code, e.g. 1003."),
    ("--terminate", "terminate", "Planet terminate code, e.g. 17."),
    ("--releaser", "releaser", "Planet releaser: initiator, responder or a server hostname."),
    ("--normal", "normal", "true: only normal endings; false: only abnormal ones."),
    ("--provider", "provider", "Adapter name, e.g. planet, plivo."),
    ("--provider-call-id", "provider_call_id", "The platform's own call id, e.g. a SIP Call-ID or a Twilio CallSid."),
    ("--route", "route", "The call's route: carrier, trunk or next hop (docs/routes.md)."),
    ("--destination-country", "destination_country", "The callee's ISO 3166 region, e.g. DE."),
    ("--destination-prefix", "destination_prefix", "The callee's E.164 prefix, e.g. 4930."),
    ("--origin-country", "origin_country", "The caller's ISO 3166 region."),
    ("--cause", "cause", "Primary cause reference, e.g. sip:503 or planet:1011."),
    ("--min-duration", "min_duration", "Calls that lasted at least this many seconds."),
    ("--max-duration", "max_duration", "Calls that lasted at most this many seconds."),
    ("--fault", "fault", "caller_side, callee_side, network, platform, application, configuration, account, none."),
)
_LIST_COLUMNS = ("id", "end_time", "from_user_id", "to_user_id", "type", "outcome", "ended_by", "duration", "flags")


def filter_options(function: F) -> F:
    for option, name, help_text in reversed(FILTER_OPTIONS):
        function = click.option(option, name, default=None, help=help_text)(function)
    function = click.option("--flagged", is_flag=True, help="Only calls with at least one flag.")(function)
    return function


def query_from_options(options: dict[str, Any], limit: int | None) -> CallQuery:
    pairs = [(name, str(value)) for name, value in options.items() if value is not None and name != "flagged"]
    if options.get("flagged"):
        pairs.append(("flagged", "true"))
    if limit is not None:
        pairs.append(("limit", str(limit)))
    try:
        return call_query(pairs)
    except PayloadError as exc:
        problems = "; ".join(f"--{d['field'].replace('_', '-')}: {d['error']}" for d in exc.details)
        raise click.UsageError(problems) from None


@click.group()
def calls() -> None:
    """The call log: list, show and status of stored calls."""


@calls.command("list")
@filter_options
@db_option
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Most calls to print.")
@click.option("--all", "everything", is_flag=True, help="Every matching call (streamed), ignoring --limit.")
@output_options
def list_calls(db: str, limit: int, everything: bool, fmt: Format, **filters: Any) -> None:
    """List stored calls, newest first (--json and --csv carry every field, as `hangup export` does)."""
    query = query_from_options(filters, limit)
    store = open_cli_store(db)
    try:
        records: Iterable[CallRecord] = store.iter_calls(query) if everything else store.query(query).calls
        if fmt == "json":
            sys.stdout.writelines(jsonl_lines(records))  # streamed: --all never holds the log in memory
        elif fmt == "csv":
            sys.stdout.writelines(csv_lines(records))
        else:
            write_items(fmt, [_row(r) for r in records], _LIST_COLUMNS)
    finally:
        store.close()


def _row(record: CallRecord) -> dict[str, Any]:
    data = record.to_json()
    data["flags"] = ",".join(record.flags)
    return data


def _get(store: Store, call_id: str) -> CallRecord:
    record = store.get(call_id)
    if record is None:
        raise click.ClickException(f"no call {call_id!r} (tried the hangup id and the platform's call id)")
    return record


@calls.command()
@click.argument("call_id")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def show(call_id: str, db: str, as_json: bool) -> None:
    """One call explained: classification, flags, every code, raw request, conflicts, legs."""
    store = open_cli_store(db)
    try:
        record = _get(store, call_id)
        detail = ingest.explain(record, overrides=configured_actions())
        detail["conflicts"] = [{"received_at": c.received_at, "raw": c.raw, "differences": c.differences}
                               for c in store.conflicts(record.id)]
        detail["legs"] = [leg_json(leg) for leg in store.legs(record.id)]
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(detail, ensure_ascii=False, indent=2))
        return
    status = detail["status"]
    click.echo(f"{record.id}  ({record.provider})")
    click.echo(f"  outcome   {status['outcome']}  ended by {status['ended_by']}  fault {status['fault']}  "
               f"normal {status['ended_normally']}")
    click.echo(f"  reason    {status['reason']}")
    action = detail["action"]
    origin = f"override {action['override']['rule']}: {action['override']['reason']}" if action["override"] else \
        f"catalog {action['cause']}"
    click.echo(f"  action    {action['action']}  ({origin})")
    click.echo(f"  answered  {'yes' if status['answered'] else 'no'}, by {status['answered_by']}  "
               f"duration {status['duration']} s")
    for code in detail["codes"]:
        click.echo(f"  code      {code['ref']} {code['name']}: {code['description']}")
    for flag in detail["flags"]:
        click.echo(f"  flag      {flag['flag']}: {flag['meaning']}")
    for conflict in detail["conflicts"]:
        click.echo(f"  conflict  {json.dumps(conflict['differences'], ensure_ascii=False)}")
    for leg in detail["legs"]:
        deciding = " (deciding)" if leg["leg_id"] == record.leg_id else ""
        click.echo(f"  leg       {leg['leg_id']}  {leg['outcome']}  {leg['duration']} s  {leg['cause']}{deciding}")
    click.echo(f"  raw       {record.raw}")


@calls.command()
@click.argument("call_id")
@db_option
def status(call_id: str, db: str) -> None:
    """Did the call end normally, and why did it end? (JSON)"""
    store = open_cli_store(db)
    try:
        record = _get(store, call_id)
    finally:
        store.close()
    click.echo(json.dumps(ingest.status(record, configured_actions()), ensure_ascii=False, indent=2))
