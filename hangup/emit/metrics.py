"""Prometheus metrics of the emitter, kept in their own registry.

``hangup serve`` includes them in its one ``/metrics`` exposition (beside the call log's, and alone at
``/metrics/emitter``); ``hangup emitter --listen`` serves them at ``/metrics``. ``PENDING`` and ``DEAD``
count the shared outbox; the counters and the histogram count this process's deliveries.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

PENDING = Gauge("hangup_emit_pending", "Callbacks waiting in the outbox", registry=REGISTRY)
DEAD = Gauge("hangup_emit_dead", "Callbacks in the dead-letter list", registry=REGISTRY)
DELIVERED = Counter("hangup_emit_delivered", "Callbacks the receiver accepted (2xx)", registry=REGISTRY)
RETRIED = Counter(
    "hangup_emit_retried", "Delivery attempts to retry (network error, timeout, 5xx, 429)", registry=REGISTRY
)
DEAD_LETTERED = Counter("hangup_emit_dead_lettered", "Callbacks moved to the dead-letter list", registry=REGISTRY)
ORPHANED = Counter(
    "hangup_emit_orphaned", "Started calls closed as orphaned because no end arrived in time", registry=REGISTRY
)
LATENCY = Histogram(
    "hangup_emit_delivery_latency_seconds",
    "Seconds from enqueue to the receiver's 2xx",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
    registry=REGISTRY,
)


#: Every metric name as exposed (counters gain ``_total``, histograms ``_bucket``/``_sum``/``_count``).
METRIC_NAMES: tuple[str, ...] = (
    "hangup_emit_pending", "hangup_emit_dead", "hangup_emit_delivered_total", "hangup_emit_retried_total",
    "hangup_emit_dead_lettered_total", "hangup_emit_orphaned_total", "hangup_emit_delivery_latency_seconds_bucket",
    "hangup_emit_delivery_latency_seconds_sum", "hangup_emit_delivery_latency_seconds_count",
)
