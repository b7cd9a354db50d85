"""Prometheus metrics at ``/metrics`` (prometheus-client text format): the call log's and the emitter's.

Call counters are read from the rollups when scraped, so they are exact, survive restarts and agree
between worker processes (every worker reports the database's totals). Process-local figures (the
ingest latency histogram, the writer's queue) describe the worker that answers the scrape.

The emitter's metrics (``hangup.emit.metrics``) are part of the same exposition, so one scrape target per
node covers everything. ``METRIC_NAMES`` lists every metric hangup exports; ``deploy/grafana/hangup.json``
uses only these.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hangup.causes import default_catalog
from hangup.emit import metrics as emit_metrics
from hangup.errors import CatalogError
from hangup.records import CallRecord
from hangup.sip import metrics as sip_metrics
from hangup.stats.buckets import DAY
from hangup.stats.rollups import TABLE
from hangup.stats.totals import FAULT_DOMAINS as _FAULTS
from hangup.web.dashboard_api import stats_service
from hangup.web.quarantine import QuarantineKeeper, keeper
from hangup.web.state import AppState

CALLS = "hangup_calls"  # counter: calls stored, by outcome
CALLS_BY_PROVIDER = "hangup_calls_by_provider"  # counter: by adapter
CALLS_BY_CAUSE = "hangup_calls_by_cause"  # counter: by primary cause reference (catalog entries only)
FAILED_BY_FAULT = "hangup_failed_calls_by_fault"  # counter: calls that did not end normally, by fault domain
ANSWERED = "hangup_answered_calls"  # counter
#: counter: answered calls the platform's answering-machine detection said a person took; the human-reach
#: rate is rate(hangup_human_answered_calls_total) / rate of the sum of hangup_calls_total
HUMAN_ANSWERED = "hangup_human_answered_calls"
CONVERSATION = "hangup_conversation_seconds"  # counter: seconds of conversation of answered calls
INGEST_LATENCY = "hangup_ingest_latency_seconds"  # histogram: receipt -> insert transaction
QUARANTINED = "hangup_quarantined_requests"  # gauge: requests kept in the quarantine
#: counter, by what became of a rejected request: kept, kept_truncated, not_kept_rate (its source was over
#: HANGUP_QUARANTINE_PER_MINUTE), evicted (deleted to stay under HANGUP_QUARANTINE_MAX_BYTES); this worker's
QUARANTINE_EVENTS = "hangup_quarantine_events"
WRITER_QUEUE = "hangup_writer_queue_depth"  # gauge: events waiting for the store writer
WRITER_BATCHES = "hangup_writer_batches"  # counter: transactions committed by this worker's writer
WRITER_EVENTS = "hangup_writer_events"  # counter: events committed by this worker's writer
WRITER_LAST_BATCH = "hangup_writer_last_batch_size"  # gauge

#: Every metric name (as exposed: counters gain ``_total``, histograms ``_bucket``/``_sum``/``_count``).
METRIC_NAMES: tuple[str, ...] = (
    f"{CALLS}_total", f"{CALLS_BY_PROVIDER}_total", f"{CALLS_BY_CAUSE}_total", f"{FAILED_BY_FAULT}_total",
    f"{ANSWERED}_total", f"{HUMAN_ANSWERED}_total", f"{CONVERSATION}_total", f"{INGEST_LATENCY}_bucket",
    f"{INGEST_LATENCY}_sum",
    f"{INGEST_LATENCY}_count", f"{INGEST_LATENCY}_created", QUARANTINED, f"{QUARANTINE_EVENTS}_total",
    WRITER_QUEUE, f"{WRITER_BATCHES}_total", f"{WRITER_EVENTS}_total", WRITER_LAST_BATCH,
    *emit_metrics.METRIC_NAMES, *sip_metrics.METRIC_NAMES,
)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_ATTR = "_hangup_metrics"


class StoreCollector(Collector):
    """Reads call totals from the rollups and the store's own gauges at scrape time."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Any]:
        if not self.state.has_store:
            return
        store = self.state.store
        yield from _call_families(_rollup_totals(self.state))
        quarantined = GaugeMetricFamily(QUARANTINED, "Rejected requests kept in the quarantine.")
        quarantined.add_metric([], store.quarantine_count())
        yield quarantined
        yield _quarantine_events(keeper(self.state))
        writer = store.writer_stats()
        queue = GaugeMetricFamily(WRITER_QUEUE, "Events waiting for the store writer (this worker).")
        queue.add_metric([], writer.queue_depth)
        yield queue
        batches = CounterMetricFamily(WRITER_BATCHES, "Transactions committed by the writer (this worker).")
        batches.add_metric([], writer.batches)
        yield batches
        events = CounterMetricFamily(WRITER_EVENTS, "Events committed by the writer (this worker).")
        events.add_metric([], writer.events)
        yield events
        last = GaugeMetricFamily(WRITER_LAST_BATCH, "Size of the writer's last batch (this worker).")
        last.add_metric([], writer.last_batch_size)
        yield last


def _quarantine_events(kept: QuarantineKeeper) -> CounterMetricFamily:
    events = CounterMetricFamily(QUARANTINE_EVENTS, "Rejected requests by what the quarantine did with them "
                                 "(this worker).", labels=["event"])
    for event, count in (("kept", kept.kept), ("kept_truncated", kept.truncated), ("not_kept_rate", kept.dropped),
                         ("evicted", kept.evicted)):
        events.add_metric([event], count)
    return events


_Sums = tuple[str, int, int, int, int, list[int]]


def _rollup_totals(state: AppState) -> dict[str, list[_Sums]]:
    """Per dimension: (value, attempts, answered, duration_sum, answered_human, failed-by-fault) over every day."""
    db = stats_service(state).db
    query = (
        "SELECT dim, value, SUM(attempts), SUM(answered), SUM(duration_sum), SUM(answered_human), "
        + ", ".join(f"SUM(failed_{d})" for d in _FAULTS)
        + f" FROM {TABLE} "
        "WHERE level = ? AND dim IN ('', 'outcome', 'provider', 'cause') GROUP BY dim, value"
    )
    found: dict[str, list[_Sums]] = {}
    for row in db.read(query, [DAY]):
        found.setdefault(row[0], []).append(
            (row[1], int(row[2]), int(row[3]), int(row[4]), int(row[5]), [int(v) for v in row[6:]]))
    return found




def _call_families(found: dict[str, list[_Sums]]) -> Iterator[Any]:
    calls = CounterMetricFamily(CALLS, "Calls stored, by outcome.", labels=["outcome"])
    for value, attempts, *_ in found.get("outcome", []):
        calls.add_metric([value], attempts)
    yield calls
    providers = CounterMetricFamily(CALLS_BY_PROVIDER, "Calls stored, by provider.", labels=["provider"])
    for value, attempts, *_ in found.get("provider", []):
        providers.add_metric([value], attempts)
    yield providers
    causes = CounterMetricFamily(CALLS_BY_CAUSE, "Calls stored, by primary cause.", labels=["cause"])
    for label, attempts in _cause_counts(found.get("cause", [])).items():
        causes.add_metric([label], attempts)
    yield causes
    total = found.get("", [("", 0, 0, 0, 0, [0] * len(_FAULTS))])[0]
    faults = CounterMetricFamily(FAILED_BY_FAULT, "Calls that did not end normally, by fault.", labels=["fault"])
    for fault, count in zip(_FAULTS, total[5], strict=True):
        faults.add_metric([fault], count)
    yield faults
    answered = CounterMetricFamily(ANSWERED, "Answered calls stored.")
    answered.add_metric([], total[2])
    yield answered
    human = CounterMetricFamily(HUMAN_ANSWERED, "Answered calls a person took (answering-machine detection).")
    human.add_metric([], total[4])
    yield human
    seconds = CounterMetricFamily(CONVERSATION, "Seconds of conversation of answered calls stored.")
    seconds.add_metric([], total[3])
    yield seconds


def _cause_counts(rows: Sequence[_Sums]) -> dict[str, int]:
    """Causes outside the catalog are one ``unknown`` series, so a stream of odd codes cannot add series."""
    counts: dict[str, int] = {}
    for value, attempts, *_ in rows:
        label = value if _known(value) else "unknown"
        counts[label] = counts.get(label, 0) + attempts
    return counts


def _known(ref: str) -> bool:
    try:
        return bool(ref) and default_catalog().resolve(ref).known
    except CatalogError:
        return False


class RegistryCollector(Collector):
    """Another registry's metrics, collected as part of this one (the emitter's and the HEP listener's, whose
    objects are module-level)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        yield from self.registry.collect()


class Metrics:
    """The app's registry: the store collector, the ingest latency histogram, the emitter's and the HEP listener's."""

    def __init__(self, state: AppState) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(StoreCollector(state))
        self.registry.register(RegistryCollector(emit_metrics.REGISTRY))
        self.registry.register(RegistryCollector(sip_metrics.REGISTRY))
        self.latency = Histogram(
            INGEST_LATENCY, "Seconds from receiving a call-end event to its insert transaction (this worker).",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )

    def observe(self, conn: Any, records: Sequence[CallRecord]) -> None:
        """Store write hook: how long each inserted call waited since it was received."""
        now = time.time()
        for record in records:
            if record.received_at > 0:
                self.latency.observe(max(0.0, now - record.received_at))


def metrics_of(state: AppState) -> Metrics:
    found: Metrics | None = getattr(state, _ATTR, None)
    if found is None:
        found = Metrics(state)
        setattr(state, _ATTR, found)
    return found


@contextlib.asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    state.store.add_write_hook(metrics_of(state).observe)
    yield


async def metrics(request: Request) -> Response:
    registry = metrics_of(request.app.state.hangup).registry
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


routes: list[BaseRoute] = [Route("/metrics", metrics, methods=["GET"])]
