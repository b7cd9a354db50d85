"""``hangup explain``, ``hangup translate`` and ``hangup codes``: the catalog from the shell."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import click

from hangup.causes import Cause, CauseCatalog, Outcome, Translation, default_catalog
from hangup.causes.actions import ActionOverrides, Override, actions_by_cause, overrides_from_file
from hangup.cli.output import Format, output_options, write_items
from hangup.errors import CatalogError, ConfigError
from hangup.settings import load_settings

# Columns of `hangup codes`: the table's, then the CSV's (every field of an entry).
CODE_COLUMNS = ("ref", "name", "outcome", "ended_by", "fault", "normal", "action", "q850", "sip", "group")
CSV_COLUMNS = ("scheme", "code", "name", "description", "outcome", "ended_by", "fault", "normal", "q850", "sip",
               "next_steps", "action", "action_source", "group", "aliases", "known")


class CatalogUsageError(click.ClickException):
    """A reference or option the catalog cannot answer; one line on stderr, exit status 2."""

    exit_code = 2


def _catalog() -> CauseCatalog:
    try:
        return default_catalog()
    except CatalogError as exc:  # a broken data file is reported, not dumped as a traceback
        raise CatalogUsageError(f"the cause catalog could not be loaded: {exc}") from exc


def configured_actions() -> ActionOverrides:
    """The overrides file ``HANGUP_ACTIONS_FILE`` names (none when unset); a bad file is a usage error."""
    try:
        return overrides_from_file(load_settings().actions_file)
    except ConfigError as exc:
        raise CatalogUsageError(str(exc)) from exc


def _resolve(catalog: CauseCatalog, ref: str) -> Cause:
    try:
        return catalog.resolve(ref)
    except CatalogError as exc:
        raise CatalogUsageError(str(exc)) from exc


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.command()
@click.argument("refs", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (an array when several references are given).")
def explain(refs: tuple[str, ...], as_json: bool) -> None:
    """Explain release codes given as SCHEME:KEY, e.g. q850:17 sip:486 planet:1003."""
    catalog = _catalog()
    causes = [_resolve(catalog, ref) for ref in refs]
    overrides = actions_by_cause(configured_actions())
    if as_json:
        found = [dict(c.to_json(), overrides=[o.to_json() for o in overrides.get(c.ref, ())]) for c in causes]
        _dump(found[0] if len(found) == 1 else found)
        return
    click.echo("\n\n".join("\n".join(_explain_lines(catalog, c, overrides.get(c.ref, ()))) for c in causes))


def _equivalent(catalog: CauseCatalog, scheme: str, code: int | None) -> str:
    if code is None:
        return "-"
    entry = catalog.lookup(scheme, code)
    return f"{code} {entry.name}" if entry.known else str(code)


def _explain_lines(catalog: CauseCatalog, cause: Cause, overrides: tuple[Override, ...] = ()) -> Iterator[str]:
    yield f"{cause.ref}  {cause.name}" + ("" if cause.known else "  (not in the catalog)")
    yield f"  {cause.description}"
    yield (f"  outcome: {cause.outcome}   ended by: {cause.ended_by}   fault: {cause.fault}   "
           f"normal: {'yes' if cause.normal else 'no'}")
    yield f"  Q.850: {_equivalent(catalog, 'q850', cause.q850)}   SIP: {_equivalent(catalog, 'sip', cause.sip)}"
    if cause.group:
        yield f"  group: {cause.group}"
    if cause.aliases:
        yield f"  also spelled: {', '.join(cause.aliases)}"
    if cause.next_steps:
        yield f"  next steps: {cause.next_steps}"
    yield f"  action: {cause.action}" + (f"   (source: {cause.action_source})" if cause.action_source else "")
    for rule in overrides:
        where = ", ".join(f"{k}={v}" for k, v in rule.where) or "every call"
        yield f"  overridden: {rule.action} for {where} (actions file, override {rule.line}) {rule.reason}".rstrip()


@click.command()
@click.argument("ref")
@click.option("--to", "to_scheme", required=True, help="Target scheme, e.g. q850.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def translate(ref: str, to_scheme: str, as_json: bool) -> None:
    """Give the equivalents of REF in another scheme, best first."""
    catalog = _catalog()
    try:
        result = catalog.translate(ref, to_scheme.strip().lower())
    except CatalogError as exc:
        raise CatalogUsageError(str(exc)) from exc
    if as_json:
        _dump(translation_json(result))
        return
    click.echo(f"{result.cause.ref}  {result.cause.name}  ->  {result.to_scheme}")
    if not result.entries:
        click.echo(f"  no equivalent: {result.reason}")
    for entry, via in zip(result.entries, result.via, strict=True):
        click.echo(f"  {entry.ref}  {entry.name}  ({via})")


def translation_json(result: Translation) -> dict[str, Any]:
    """The JSON answer of ``translate``: the source entry, the equivalents best first and why."""
    return {
        "from": result.cause.to_json(),
        "to_scheme": result.to_scheme,
        "entries": [dict(e.to_json(), via=via) for e, via in zip(result.entries, result.via, strict=True)],
        "reason": result.reason,
    }


@click.command()
@click.option("--scheme", help="Only this scheme, e.g. q850 or plivo.")
@click.option("--outcome", type=click.Choice([str(o) for o in Outcome]), help="Only entries with this outcome.")
@output_options
def codes(scheme: str | None, outcome: str | None, fmt: Format) -> None:
    """List the catalog (a table; --json: one entry per line; --csv: every column)."""
    catalog = _catalog()
    try:
        entries = [e for e in catalog.entries(scheme.strip().lower() if scheme else None)
                   if outcome is None or e.outcome == outcome]
    except CatalogError as exc:
        raise CatalogUsageError(str(exc)) from exc
    columns = CSV_COLUMNS if fmt == "csv" else CODE_COLUMNS
    write_items(fmt, [e.to_json() for e in entries], columns, headers=[c.upper() for c in columns])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "|".join(value)
    return str(value)
