"""``hangup alerts check|show``: evaluate the alert rules once (for cron), or show each rule's state."""

from __future__ import annotations

import json

import click

from hangup.alerts import AlertEngine, load_rules
from hangup.alerts.notify import WebhookNotifier
from hangup.cli.db import db_option, open_cli_store
from hangup.cli.stats import service_for, table
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
@click.option("--json", "as_json", is_flag=True, help="One JSON event per line.")
def check(db: str, rules_path: str, dry_run: bool, as_json: bool) -> None:
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
    for event in events:
        body = event.to_json()
        if as_json:
            click.echo(json.dumps(body, ensure_ascii=False))
        else:
            click.echo(f"{body['status'].upper():8} {body['rule']}: {body['label']} = {body['display']} "
                       f"({body['condition']}, {body['samples']} calls)")
    if not events and not as_json:
        click.echo(f"{len(ruleset.rules)} rules evaluated; nothing fired or recovered")


@alerts.command()
@db_option
@_rules_option
def show(db: str, rules_path: str) -> None:
    """Each rule and whether it is firing."""
    try:
        ruleset = load_rules(rules_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    open_cli_store(db).close()
    stats_db = StatsDB(db)
    try:
        states = AlertEngine(service_for(stats_db), ruleset.rules, lambda e: None).states()
    finally:
        stats_db.close()
    rows = [[r.name, f"{r.metric} {r.condition}", f"{r.window // 60} min", "FIRING" if states[r.name].firing else "ok",
             utc_time(states[r.name].changed_at)] for r in ruleset.rules]
    table(["rule", "condition", "window", "state", "since"], rows)
    if not load_settings().alerts_file:
        click.echo(f"\n(`hangup serve` evaluates these rules only when {ENV} is set)")
