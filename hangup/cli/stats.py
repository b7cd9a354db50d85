"""``hangup stats summary|timeseries|breakdown|top|routes``: the dashboard's figures as a table or JSON.

Every command takes the call log's filters (``--outcome``, ``--provider`` …), a range (``--since``/
``--until`` or ``--range 24h``) and prints the same answer ``/api/stats/*`` gives (``--json``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from hangup.cli.calls import FILTER_OPTIONS, filter_options
from hangup.cli.db import db_option, open_cli_store
from hangup.cli.output import Format, output_options, write_document
from hangup.errors import ConfigError, HangupError, PayloadError
from hangup.settings import load_settings
from hangup.stats import explain as changes
from hangup.stats.db import StatsDB
from hangup.stats.dimensions import ROUTE_DIMENSIONS
from hangup.stats.labels import display, utc_time
from hangup.stats.metrics import METRICS
from hangup.stats.route_table import SORTS, route_table
from hangup.stats.service import MAX_MIN_SAMPLES, StatsService
from hangup.stats.windows import DIMENSION_FILTERS, Window, parse_window

#: The call log's filter options, which the statistics commands take as they are.
CALL_FILTER_NAMES = frozenset(name for _, name, _ in FILTER_OPTIONS)
#: What a command shows of its answer as a table or CSV: headers, rows, the columns aligned right.
Rows = tuple[Sequence[str], Sequence[Sequence[str]], Sequence[int]]


def stats_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The shared options: store, range, filters, minimum sample and output."""
    function = output_options(function)
    function = click.option("--min-samples", type=click.IntRange(0, MAX_MIN_SAMPLES), default=None,
                            help="Calls a rate needs (default 10); fewer reads N/A.")(function)
    for name in reversed([n for n in DIMENSION_FILTERS if n not in CALL_FILTER_NAMES]):
        function = click.option(f"--{name}", name, default=None, help=f"Only calls of this {name}.")(function)
    function = click.option("--range", "span", default=None, help="Span ending at --until (or now): 15m, 24h, 7d.")(
        function
    )
    return db_option(filter_options(function))


def _window(options: dict[str, Any]) -> Window:
    pairs = [(name, str(value)) for name, value in options.items() if value is not None and name != "flagged"]
    if options.get("flagged"):
        pairs.append(("flagged", "true"))
    pairs = [("range", v) if k == "span" else (k, v) for k, v in pairs]
    try:
        return parse_window(pairs)
    except PayloadError as exc:
        problems = "; ".join(f"--{d['field'].replace('_', '-')}: {d['error']}" for d in exc.details)
        raise click.UsageError(problems) from None


def service_for(stats_db: StatsDB) -> StatsService:
    """The statistics of ``stats_db`` read as ``hangup serve`` reads them (the same minute-rollup retention)."""
    try:
        days = load_settings().minute_rollup_days
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return StatsService(stats_db, minute_days=days)


def _ask(db: str, ask: Callable[[StatsService], dict[str, Any]]) -> dict[str, Any]:
    open_cli_store(db).close()  # migrations applied, the URL checked, before reading
    stats_db = StatsDB(db)
    try:
        return ask(service_for(stats_db))
    except PayloadError as exc:
        problems = "; ".join(f"--{d['field'].replace('_', '-')}: {d['error']}" for d in exc.details)
        raise click.UsageError(problems or str(exc)) from None
    except HangupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        stats_db.close()


def _emit(fmt: Format, answer: dict[str, Any], show: Callable[[dict[str, Any]], Rows]) -> None:
    """The API's document as JSON, else the rows ``show`` makes of it as a table or CSV."""
    headers, rows, right = show(answer)
    write_document(fmt, answer, headers, rows, right)


def _pct(value: float | None) -> str:
    return "N/A" if value is None else f"{value * 100:.1f} %"


@click.group()
def stats() -> None:
    """KPIs of the call log: ASR, NER, ACD, time to answer, failure rates, breakdowns."""


@stats.command()
@stats_options
def summary(db: str, fmt: Format, min_samples: int | None, **options: Any) -> None:
    """The KPI tiles of the dashboard for a range and filters."""
    window = _window(options)
    answer = _ask(db, lambda s: s.summary(window, min_samples))

    def show(a: dict[str, Any]) -> Rows:
        return ["metric", "value"], [[m["label"], m["display"]] for m in a["metrics"] + a["failure_rates"]], (1,)

    _emit(fmt, answer, show)


@stats.command()
@stats_options
@click.option("--metric", default="asr", show_default=True, help="Metric id (hangup stats metrics).")
@click.option("--bucket", default="hour", show_default=True, type=click.Choice(["minute", "hour", "day"]))
def timeseries(db: str, fmt: Format, min_samples: int | None, metric: str, bucket: str, **options: Any) -> None:
    """One metric per minute, hour or day."""
    window = _window(options)
    answer = _ask(db, lambda s: s.timeseries(window, metric, bucket, min_samples))

    def show(a: dict[str, Any]) -> Rows:
        spec = METRICS[a["metric"]]
        rows = [[utc_time(p["t"]), f"{p['attempts']:,}", display(spec, p["value"])] for p in a["points"]]
        return ["bucket (UTC)", "calls", spec.label], rows, (1, 2)

    _emit(fmt, answer, show)


@stats.command()
@stats_options
@click.option("--by", default="call_end_reason", show_default=True, help="Dimension id (hangup stats metrics).")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
def breakdown(db: str, fmt: Format, min_samples: int | None, by: str, limit: int, **options: Any) -> None:
    """Calls and rates per value of a dimension (reason, outcome, provider, service …)."""
    window = _window(options)
    answer = _ask(db, lambda s: s.breakdown(window, by, min_samples, limit))
    if "attempts" not in answer:  # a top dimension answers with failures
        _emit(fmt, answer, _show_top)
        return

    def show(a: dict[str, Any]) -> Rows:
        acd = METRICS["acd"]
        rows = [
            [r["label"], f"{r['attempts']:,}", _pct(r["share"]), _pct(r["asr"]), _pct(r["ner"]),
             display(acd, r["acd"]), _pct(r["failure_rate"])]
            for r in a["rows"]
        ]
        return [a["label"], "calls", "share", "ASR", "NER", "ACD", "failure rate"], rows, (1, 2, 3, 4, 5, 6)

    _emit(fmt, answer, show)


@stats.command()
@stats_options
@click.option("--by", default="user", show_default=True, type=click.Choice(["user", "destination", "ip_pair"]))
@click.option("--limit", type=click.IntRange(1, 500), default=10, show_default=True)
def top(db: str, fmt: Format, min_samples: int | None, by: str, limit: int, **options: Any) -> None:
    """Callers, callees or IP pairs with the most failed calls (per whole UTC day)."""
    window = _window(options)
    _emit(fmt, _ask(db, lambda s: s.top(window, by, limit)), _show_top)


@stats.command("routes")
@stats_options
@click.option("--by", default="route", show_default=True, type=click.Choice(ROUTE_DIMENSIONS))
@click.option("--sort", default="attempts", show_default=True, type=click.Choice(SORTS))
@click.option("--order", default="desc", show_default=True, type=click.Choice(["desc", "asc"]))
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
def routes_command(db: str, fmt: Format, min_samples: int | None, by: str, sort: str, order: str, limit: int,
                   **options: Any) -> None:
    """Routes and destinations: calls, ASR, NER, ACD, PDD, failures and the change from a week earlier."""
    window = _window(options)
    answer = _ask(db, lambda s: route_table(s, window, by, sort=sort, descending=order == "desc", limit=limit,
                                            min_samples=min_samples))

    def show(a: dict[str, Any]) -> Rows:
        seconds = METRICS["acd"]
        rows = [
            [r["label"], f"{r['attempts']:,}", _pct(r["asr"]), _pct(r["ner"]), display(seconds, r["acd"]),
             display(seconds, r["pdd"]), f"{r['failed']:,}", _points(r["change"]["asr"]),
             ", ".join(f"{k} {v}" for k, v in r["failure_mix"].items())]
            for r in a["rows"]
        ]
        return ([a["label"], "calls", "ASR", "NER", "ACD", "PDD", "failed", "ASR vs last week", "failure mix"], rows,
                (1, 2, 3, 4, 5, 6, 7))

    _emit(fmt, answer, show)


def _points(change: float | None) -> str:
    return "N/A" if change is None else f"{change * 100:+.1f} pts"


def _show_top(a: dict[str, Any]) -> Rows:
    rows = [[r["label"], f"{r['failures']:,}", ", ".join(f"{k} {v}" for k, v in r["by_fault"].items())]
            for r in a["rows"]]
    return [a["label"], "failed", "by fault"], rows, (1,)


@stats.command("explain")
@stats_options
@click.option("--metric", default="asr", show_default=True, help="Metric id (hangup stats metrics).")
@click.option("--by", default=None, help="Comma-separated dimensions (default: every breakdown dimension).")
@click.option("--shift", default=None, help="Baseline: the same range this far back (default 7d).")
@click.option("--baseline-from", default=None, help="Baseline start (with --baseline-to), instead of --shift.")
@click.option("--baseline-to", default=None, help="Baseline end.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
def explain_change(db: str, fmt: Format, min_samples: int | None, metric: str, by: str | None, shift: str | None,
                   baseline_from: str | None, baseline_to: str | None, limit: int, **options: Any) -> None:
    """What moved a KPI: its change against a baseline range, split over the values of each dimension."""
    window = _window(options)
    given = {"metric": metric, "by": by or "", "shift": shift or "", "baseline_from": baseline_from or "",
             "baseline_to": baseline_to or "", "limit": str(limit)}
    answer = _ask(db, lambda s: changes.explain(s, changes.question_from(given, window), min_samples))

    def show(a: dict[str, Any]) -> Rows:
        spec = METRICS[a["metric"]]
        rows = [[r["dimension_label"], r["label"], f"{r['contribution']:+.4g}", _pct(r["share"]),
                 display(spec, r["baseline"]["value"]), display(spec, r["now"]["value"]),
                 f"{r['baseline']['attempts']:,} → {r['now']['attempts']:,}"] for r in a["contributions"]]
        rows.insert(0, ["(total)", f"{a['baseline_display']} → {a['display']}",
                        "N/A" if a["change"] is None else f"{a['change']:+.4g}", "100.0 %", a["baseline_display"],
                        a["display"], f"{a['baseline_attempts']:,} → {a['attempts']:,}"])
        return ["dimension", "value", "contribution", "share of change", "baseline", "now", "calls"], rows, (2, 3, 4, 5)

    _emit(fmt, answer, show)


@stats.command("metrics")
@output_options
def list_metrics(fmt: Format) -> None:
    """The metric and dimension ids statistics understand."""
    from hangup.stats.dimensions import DIMENSIONS

    answer = {
        "metrics": [{"id": m.id, "label": m.label, "unit": m.unit} for m in METRICS.values()],
        "dimensions": [{"id": d.id, "label": d.label, "top": d.top} for d in DIMENSIONS.values()],
    }

    def show(a: dict[str, Any]) -> Rows:
        rows = [["metric", m["id"], m["label"], m["unit"]] for m in a["metrics"]]
        rows += [["dimension", d["id"], d["label"] + (" (top list)" if d["top"] else ""), ""] for d in a["dimensions"]]
        return ["kind", "id", "label", "unit"], rows, ()

    _emit(fmt, answer, show)
