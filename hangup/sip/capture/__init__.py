"""Packet captures read down to SIP messages: files → frames → segments → ``Packet``s.

=================== ===========================================================================
module              concept
=================== ===========================================================================
``files``           libpcap and pcapng framing, corrupt lengths bounded (``Frame``, ``Malformed``)
``layers``          link layers, IP, tunnels (GRE, ERSPAN, IP-in-IP, VXLAN), UDP, TCP, SCTP;
                    HEP in UDP is decoded by ``hangup.sip.hep``
``fragments``       IPv4/IPv6 fragment reassembly
``streams``         TCP reassembly, SIP framing by Content-Length, SIP over WebSocket
``sniff``           the cheap "is this SIP?" test and a stream message's length
=================== ===========================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from hangup.sip import hep
from hangup.sip.capture.files import Malformed, frames
from hangup.sip.capture.layers import Decoder, Segment
from hangup.sip.capture.sniff import looks_like_sip
from hangup.sip.capture.streams import Streams
from hangup.sip.packet import Packet

__all__ = ["Malformed", "is_hep", "packets"]

HEP_FAMILIES = (2, 10)  # AF_INET, AF_INET6 in a HEP v1/v2 header


def packets(stream: IO[bytes]) -> Iterator[Packet | Malformed]:
    """Every SIP message of a capture in capture order, and every region that could not be read."""
    decoder, streams = Decoder(), Streams()
    for frame in frames(stream):
        if isinstance(frame, Malformed):
            yield frame
            continue
        for segment in decoder.segments(frame):
            if isinstance(segment, Malformed):
                yield segment
            elif segment.transport == "tcp":
                yield from streams.add(segment)
            elif looks_like_sip(segment.payload):
                yield Packet(segment.time, segment.src, segment.sport, segment.dst, segment.dport,
                             segment.transport, segment.payload)
            elif segment.transport == "udp" and is_hep(segment.payload):
                yield from _mirrored(segment)
    yield from streams.close()
    lost = decoder.fragments.close()
    if lost:
        yield Malformed("capture", "fragmented IP datagrams never completed", str(lost).encode())


def is_hep(payload: bytes) -> bool:
    """Whether a UDP payload is HEP: the ``HEP3`` magic, or a v1/v2 header's version, length and family."""
    if payload[:4] == b"HEP3":
        return True
    return len(payload) > 16 and payload[0] in (1, 2) and payload[1] in (16, 40) and payload[2] in HEP_FAMILIES


def _mirrored(segment: Segment) -> Iterator[Packet | Malformed]:
    """The SIP message a capture agent mirrored as HEP (a capture taken in front of a HEP collector)."""
    try:
        decoded = hep.decode(segment.payload, segment.time)
    except ValueError as exc:
        yield Malformed("hep", f"unreadable HEP packet: {exc}"[:200], segment.payload, segment.flow())
        return
    if decoded.protocol_type == hep.SIP and looks_like_sip(decoded.packet.payload):
        yield decoded.packet
