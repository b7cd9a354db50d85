"""HEP inside a capture, and the copies it makes of messages the capture also holds.

A capture taken in front of a HEP collector holds SIP only as HEP datagrams: they are decoded by
``hangup.sip.hep``, as the HEP listener decodes them, and keep the agent's time and addresses. A
capture taken on a proxy that mirrors to a collector holds each message twice, on the wire and as
HEP: whichever copy comes first is kept and the other dropped (``Copies``), so the dialog engine
sees each message once. Retransmissions on the wire are identical too and stay: only a copy from the
other source is dropped.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator

from hangup.sip import hep
from hangup.sip.capture.files import Malformed
from hangup.sip.capture.layers import Segment
from hangup.sip.capture.sniff import looks_like_sip
from hangup.sip.packet import Packet

HEP_FAMILIES = (2, 10)  # AF_INET, AF_INET6 in a HEP v1/v2 header
#: Messages remembered to match their other copy: a mirror sends its copy within milliseconds.
MAX_REMEMBERED = 8192


def is_hep(payload: bytes) -> bool:
    """Whether a UDP payload is HEP: the ``HEP3`` magic, or a v1/v2 header's version, length and family."""
    if payload[:4] == b"HEP3":
        return True
    return len(payload) > 16 and payload[0] in (1, 2) and payload[1] in (16, 40) and payload[2] in HEP_FAMILIES


def mirrored(segment: Segment) -> Iterator[Packet | Malformed]:
    """The SIP message a capture agent mirrored as HEP in this datagram."""
    try:
        decoded = hep.decode(segment.payload, segment.time)
    except ValueError as exc:
        yield Malformed("hep", f"unreadable HEP packet: {exc}"[:200], segment.payload, segment.flow())
        return
    if decoded.protocol_type == hep.SIP and looks_like_sip(decoded.packet.payload):
        yield decoded.packet


class Copies:
    """Remembers recent messages by content and source (wire or HEP) to drop the other source's copy."""

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[bytes, bool], None] = OrderedDict()

    def is_copy(self, payload: bytes, from_hep: bool) -> bool:
        digest = hashlib.blake2b(payload, digest_size=16).digest()
        if (digest, not from_hep) in self._seen:
            del self._seen[(digest, not from_hep)]  # each copy pairs once: a later retransmission is new
            return True
        self._seen[(digest, from_hep)] = None
        if len(self._seen) > MAX_REMEMBERED:
            self._seen.popitem(last=False)
        return False
