"""``hangup rollups rebuild|check``: recompute the statistics' rollups, or prove they match the raw calls."""

from __future__ import annotations

import time

import click

from hangup.cli.db import db_option, open_cli_store
from hangup.stats import raw
from hangup.stats import rebuild as rebuilding
from hangup.stats import rollups as kept
from hangup.stats.db import StatsDB
from hangup.stats.dimensions import BREAKDOWNS
from hangup.stats.service import StatsService, aligned
from hangup.stats.windows import Window, parse_span


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
        window = aligned(Window(end - parse_span(span), end))
        service = StatsService(stats_db)
        conn = stats_db.reader()
        differences = []
        if service.totals(window)[0] != raw.totals(conn, window, stats_db.paramstyle):
            differences.append("totals")
        for dim in BREAKDOWNS:
            if kept.breakdown(conn, window.start, window.end, dim) != raw.breakdown(conn, window, dim,
                                                                                    stats_db.paramstyle):
                differences.append(dim)
    finally:
        stats_db.close()
    if differences:
        raise click.ClickException(f"rollups differ from raw calls in: {', '.join(differences)}; "
                                   "run `hangup rollups rebuild`")
    click.echo(f"rollups match the raw calls over the last {span} ({len(BREAKDOWNS)} breakdowns and the totals)")
