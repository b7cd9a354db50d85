"""Prometheus metrics of the emitter, registered once in the default registry."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PENDING = Gauge("hangup_emit_pending", "Callbacks waiting in the outbox")
DEAD = Gauge("hangup_emit_dead", "Callbacks in the dead-letter list")
DELIVERED = Counter("hangup_emit_delivered", "Callbacks the receiver accepted (2xx)")
RETRIED = Counter("hangup_emit_retried", "Delivery attempts that will be retried (network error, timeout, 5xx, 429)")
DEAD_LETTERED = Counter("hangup_emit_dead_lettered", "Callbacks moved to the dead-letter list")
ORPHANED = Counter("hangup_emit_orphaned", "Started calls closed as orphaned because no end arrived in time")
LATENCY = Histogram(
    "hangup_emit_delivery_latency_seconds",
    "Seconds from enqueue to the receiver's 2xx",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
