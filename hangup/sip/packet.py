"""One captured SIP message, as every source hands it to the dialog engine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Packet:
    """One SIP message as captured: when, between which addresses, over which transport, its bytes."""

    time: float  # Unix seconds (fractional) when it was seen
    src: str  # source IP address text
    sport: int
    dst: str
    dport: int
    transport: str  # "udp", "tcp", "tls", "sctp", "ws", "wss"
    payload: bytes  # exactly one SIP message
