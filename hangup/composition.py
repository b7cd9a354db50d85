"""The composition root: what hangup's doors open, wired from the packages below them.

The store does not know the packages built on it; this module does. It gathers every package's named
migrations (``MIGRATIONS``), the write hooks every store hangup opens for its own use gets
(``WRITE_HOOKS``), opens stores with them, and lists the work ``hangup serve`` repeats while serving
(``repeating_jobs``: alert evaluation, the minute-rollup prune). ``hangup serve`` and every command that writes calls
(``hangup ingest``, ``hangup import``, ``hangup reclassify`` …) open their store here, so calls stored
outside the server are counted too. Only the doors (``hangup.web``, ``hangup.cli``) and the package
root sit above it (the layering is in docs/architecture.md and enforced by ``tests/test_layers.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hangup import numbers, routes
from hangup.alerts import engine as alert_engine
from hangup.alerts.notify import WebhookNotifier
from hangup.alerts.rules import load_rules
from hangup.emit import schema as emit_schema
from hangup.numbers import parse_regions
from hangup.settings import Settings
from hangup.stats import retention, rollups
from hangup.stats.db import attach_rollups
from hangup.stats.service import StatsService
from hangup.store import Store, detections
from hangup.store import open_store as open_bare_store
from hangup.store import schema as store_schema
from hangup.store.migrations import Migration, ordered
from hangup.store.url import parse_url

#: Every table's named migrations, in application order: the call store's, the emitter's outbox, the
#: statistics' rollups, the alert state.
MIGRATIONS: tuple[Migration, ...] = ordered(
    (*store_schema.MIGRATIONS, *emit_schema.MIGRATIONS, *rollups.MIGRATIONS, *alert_engine.MIGRATIONS)
)

#: ``hook(store, settings)`` applied to every store opened for hangup's own use (each idempotent): the
#: statistics' rollups are written in the same transaction as the calls they count.
WRITE_HOOKS: tuple[Callable[[Store, Settings | None], None], ...] = (attach_rollups,)


def open_store(url: str, **options: Any) -> Store:
    """The store at ``url`` with every package's tables (migrated unless ``migrate=False``), without hooks."""
    options.setdefault("migrations", MIGRATIONS)
    return open_bare_store(url, **options)


def configure_ingest(settings: Settings) -> None:
    """Apply the settings every adapter reads through its ``RecordDraft``: the numbering plan
    (``hangup.numbers``) and the route map (``hangup.routes``)."""
    numbers.configure(numbers.NumberPlan(settings.default_region.upper(), parse_regions(settings.provider_regions),
                                         settings.prefix_depth))
    routes.configure(routes.load_route_map(settings.route_map) if settings.route_map else routes.RouteMap())


def attach_standard_hooks(store: Store, settings: Settings | None = None) -> Store:
    """Register ``WRITE_HOOKS`` on ``store`` (and, given the settings, ``configure_ingest``); return it."""
    if settings is not None:
        configure_ingest(settings)
    for hook in WRITE_HOOKS:
        hook(store, settings)
    return store


def open_configured_store(settings: Settings, url: str | None = None, *, migrate: bool = True,
                          batch_size: int | None = None) -> Store:
    """The store at ``url`` (default ``settings.db``) with the settings' options and ``WRITE_HOOKS``.

    ``batch_size`` raises the writer's group-commit size above ``settings.batch_size`` (bulk imports).
    """
    url = settings.db if url is None else url
    options: dict[str, Any] = {"migrate": migrate, "batch_size": max(settings.batch_size, batch_size or 0)}
    if parse_url(url).dialect == "sqlite":
        options["synchronous"] = settings.sqlite_synchronous
    else:
        options["retention_months"] = settings.retention_months
    store = open_store(url, **options)
    try:
        return attach_standard_hooks(store, settings)
    except BaseException:
        store.close()
        raise


@dataclass(frozen=True, slots=True)
class Job:
    """Work repeated while serving: ``step(stop)`` at start and then every ``every`` seconds.

    A failing step is logged on ``logger`` with ``failure`` and tried again next time. ``stop`` is set when
    the server stops, so a long step (a prune) ends after its current chunk; ``close`` runs after the last step.
    """

    name: str
    every: float
    step: Callable[[threading.Event], object]
    logger: logging.Logger
    failure: str
    close: Callable[[], None] = lambda: None


def repeating_jobs(store: Store, settings: Settings, service: StatsService) -> list[Job]:
    """The jobs the settings ask for: alert rules (``HANGUP_ALERTS_FILE``), the minute-rollup prune; and the
    prune of answering-machine detections whose call's end never came."""
    jobs: list[Job] = []
    if settings.alerts_file:
        ruleset = load_rules(settings.alerts_file)
        notifier = WebhookNotifier()
        evaluator = alert_engine.AlertEngine(service, ruleset.rules, notifier)
        jobs.append(Job("alerts", ruleset.interval, lambda stop: evaluator.check(), logging.getLogger("hangup.alerts"),
                        "alert evaluation failed", notifier.close))
    if settings.minute_rollup_days:
        jobs.append(Job("minute-rollup-prune", retention.PRUNE_SECONDS,
                        _pruner(store, settings.minute_rollup_days), _PRUNE_LOG, "pruning minute rollups failed"))
    url = getattr(store, "url", "")
    if url:
        jobs.append(Job("detection-prune", detections.PRUNE_SECONDS, lambda stop: detections.prune(url, time.time()),
                        logging.getLogger("hangup.ingest"), "pruning kept answering-machine detections failed"))
    return jobs


_PRUNE_LOG = logging.getLogger("hangup.stats.retention")


def _pruner(store: Store, days: int) -> Callable[[threading.Event], None]:
    def prune(stop: threading.Event) -> None:
        deleted = retention.prune(store, days, stop=stop)
        if deleted:
            _PRUNE_LOG.info("deleted %d minute rollup rows older than %d days", deleted, days)

    return prune
