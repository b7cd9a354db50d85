"""Prometheus metrics of the HEP listener, kept in their own registry (part of ``hangup serve``'s ``/metrics``).

They count this process's listener: what became of each HEP packet, the calls it finished, and the dialogs it is
following (``docs/dashboard.md``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry()

PACKETS = Counter("hangup_hep_packets", "HEP packets received, by what became of them (sip, not_sip, malformed, "
                  "unauthorized)", ["result"], registry=REGISTRY)
SIP_PACKETS = PACKETS.labels("sip")  # counted for every packet: looked up once, not per packet
CALLS = Counter("hangup_sip_calls", "Calls the HEP listener's dialog engine finished", registry=REGISTRY)
OPEN_DIALOGS = Gauge("hangup_sip_open_dialogs", "SIP dialogs the HEP listener is following", registry=REGISTRY)

#: Every metric name as exposed (counters gain ``_total`` and ``_created``).
METRIC_NAMES: tuple[str, ...] = (
    *(f"{name}_{suffix}" for name in ("hangup_hep_packets", "hangup_sip_calls") for suffix in ("total", "created")),
    "hangup_sip_open_dialogs",
)
