"""``hangup rollups rebuild|check|prune``: recompute the statistics' rollups, prove they match the raw calls,
or delete the minute rows past their retention."""

from __future__ import annotations

import time

import click

from hangup.cli.db import db_option, open_cli_store
from hangup.cli.stats import service_for
from hangup.settings import BY_NAME
from hangup.stats import buckets, raw, retention
from hangup.stats import rebuild as rebuilding
from hangup.stats import rollup_reads as kept
from hangup.stats.db import StatsDB
from hangup.stats.dimensions import BREAKDOWNS, CAPS
from hangup.stats.labels import utc_time
from hangup.stats.windows import Window, parse_span

_DAYS = BY_NAME["minute_rollup_days"]


@click.group()
def rollups() -> None:
    """The per-minute/hour/day aggregates the dashboard reads."""


@rollups.command()
@db_option
def rebuild(db: str) -> None:
    """Recompute every rollup exactly from the stored calls (after reclassify or a restore)."""
    open_cli_store(db).close()
    stats_db = StatsDB(db)
    started = time.perf_counter()
    try:
        rows = rebuilding.rebuild(stats_db)
    finally:
        stats_db.close()
    click.echo(f"{rows} rollup rows rebuilt in {time.perf_counter() - started:.1f} s")


@rollups.command()
@db_option
@click.option("--range", "span", default="7d", show_default=True, help="Span ending now to compare.")
def check(db: str, span: str) -> None:
    """Compare rollup figures with the same figures counted from raw rows; exit 1 on any difference."""
    open_cli_store(db).close()
    stats_db = StatsDB(db)
    end = int(time.time())
    try:
        service = service_for(stats_db)
        window = service.aligned(Window(end - parse_span(span), end))
        differences = []
        with stats_db.reading() as conn:
            if service.totals(window)[0] != raw.totals(conn, window, stats_db.paramstyle):
                differences.append("totals")
            for dim in BREAKDOWNS:
                counted = raw.kept_breakdown if dim in CAPS else raw.breakdown  # capped: values folded as kept
                if kept.breakdown(conn, window.start, window.end, dim) != counted(conn, window, dim,
                                                                                  stats_db.paramstyle):
                    differences.append(dim)
    finally:
        stats_db.close()
    if differences:
        raise click.ClickException(f"rollups differ from raw calls in: {', '.join(differences)}; "
                                   "run `hangup rollups rebuild`")
    click.echo(f"rollups match the raw calls over the last {span} ({len(BREAKDOWNS)} breakdowns and the totals)")


@rollups.command()
@db_option
@click.option("--days", type=click.IntRange(0), envvar=_DAYS.env, default=int(_DAYS.default), show_default=True,
              help=f"Keep minute rows of this many days ({_DAYS.env}); 0 keeps them all.")
def prune(db: str, days: int) -> None:
    """Delete minute rows past their retention now (`hangup serve` does it hourly); hour and day rows stay."""
    now = time.time()
    cutoff = buckets.prune_before(now, days)
    if cutoff is None:
        click.echo("minute rows are kept (--days 0)")
        return
    store = open_cli_store(db)
    started = time.perf_counter()
    try:
        deleted = retention.prune(store, days, now)
    finally:
        store.close()
    click.echo(f"{deleted} minute rollup rows before {utc_time(cutoff)} deleted "
               f"in {time.perf_counter() - started:.1f} s")
