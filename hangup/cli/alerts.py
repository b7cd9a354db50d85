"""``hangup alerts check|show``: evaluate the alert rules once (for cron), or show each rule's state."""

from __future__ import annotations

import click

from hangup.alerts import AlertEngine, load_rules
from hangup.alerts.notify import WebhookNotifier
from hangup.cli.db import db_option, open_cli_store
from hangup.cli.output import Format, output_options, write_items
from hangup.cli.stats import service_for
from hangup.errors import ConfigError
from hangup.settings import BY_NAME, load_settings
from hangup.stats.db import StatsDB
from hangup.stats.labels import utc_time

ENV = BY_NAME["alerts_file"].env


def _rules_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option("--rules", "rules_path", envvar=ENV, required=True, type=click.Path(dir_okay=False),
                        help=f"Alert rules file (TOML; {ENV}).")(function)


@click.group()
def alerts() -> None:
    """Alert rules over the statistics (docs/alerts.md)."""


@alerts.command()
@db_option
@_rules_option
@click.option("--dry-run", is_flag=True, help="Evaluate and print, but post no webhook.")
@output_options
def check(db: str, rules_path: str, dry_run: bool, fmt: Format) -> None:
    """Evaluate every rule once; post and print the rules that fired or recovered."""
    try:
        ruleset = load_rules(rules_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    open_cli_store(db).close()
    stats_db = StatsDB(db)
    notifier = WebhookNotifier()
    try:
        engine = AlertEngine(service_for(stats_db), ruleset.rules, (lambda e: None) if dry_run else notifier,
                             persist=not dry_run)
        events = engine.check()
    finally:
        notifier.close()
        stats_db.close()
    if not events and fmt == "table":
        click.echo(f"{len(ruleset.rules)} rules evaluated; nothing fired or recovered")
        return
    write_items(fmt, [event.to_json() for event in events], _EVENT_COLUMNS)


#: Columns of the events ``hangup alerts check`` prints as a table or CSV (--json prints each whole event).
_EVENT_COLUMNS = ("status", "rule", "of", "label", "display", "condition", "samples", "reason")


@alerts.command()
@db_option
@_rules_option
@output_options
def show(db: str, rules_path: str, fmt: Format) -> None:
    """Each rule and whether it is firing."""
    try:
        ruleset = load_rules(rules_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    open_cli_store(db).close()
    stats_db = StatsDB(db)
    try:
        engine = AlertEngine(service_for(stats_db), ruleset.rules, lambda e: None)
        states = engine.states()
        firing = {r.name: engine.firing_values(r) for r in ruleset.rules if r.each}
    finally:
        stats_db.close()
    rows = [{"rule": r.name, "condition": f"{r.metric} {r.condition}" + (f" for each {r.each}" if r.each else ""),
             "window": f"{r.window // 60} min",
             "state": ("FIRING" if states[r.name].firing else "ok")
             + (f" ({', '.join(firing[r.name])})" if firing.get(r.name) else ""),
             "since": utc_time(states[r.name].changed_at)}
            for r in ruleset.rules]
    write_items(fmt, rows, ("rule", "condition", "window", "state", "since"))
    if fmt == "table" and not load_settings().alerts_file:
        click.echo(f"\n(`hangup serve` evaluates these rules only when {ENV} is set)")
