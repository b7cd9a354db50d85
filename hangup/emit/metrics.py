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


_COUNTERS = ("hangup_emit_delivered", "hangup_emit_retried", "hangup_emit_dead_lettered", "hangup_emit_orphaned")
_HISTOGRAM = "hangup_emit_delivery_latency_seconds"
#: Every metric name as exposed (counters gain ``_total`` and ``_created``, histograms ``_bucket``/``_sum``/
#: ``_count``/``_created``).
METRIC_NAMES: tuple[str, ...] = (
    "hangup_emit_pending", "hangup_emit_dead",
    *(f"{name}_{suffix}" for name in _COUNTERS for suffix in ("total", "created")),
    *(f"{_HISTOGRAM}_{suffix}" for suffix in ("bucket", "sum", "count", "created")),
)
