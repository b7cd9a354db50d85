"""One captured SIP message, as every source hands it to the dialog engine."""

from __future__ import annotations

from typing import NamedTuple


class Packet(NamedTuple):
    """One SIP message as captured: when, between which addresses, over which transport, its bytes.

    A named tuple rather than a frozen dataclass: one is built for every message received, and a tuple
    is built several times faster.
    """

    time: float  # Unix seconds (fractional) when it was seen
    src: str  # source IP address text
    sport: int
    dst: str
    dport: int
    transport: str  # "udp", "tcp", "tls", "sctp", "ws", "wss"
    payload: bytes  # exactly one SIP message
