"""Packet captures read down to SIP messages: files → frames → segments → ``Packet``s.

=================== ===========================================================================
module              concept
=================== ===========================================================================
``files``           libpcap and pcapng framing, corrupt lengths bounded (``Frame``, ``Malformed``)
``resync``          the next plausible record after a corrupt one
``layers``          link layers, IP, tunnels (GRE, ERSPAN, IP-in-IP, VXLAN, GTP-U), UDP, TCP, SCTP
``mirrors``         HEP datagrams in a capture, and the copies they make of messages on the wire
``fragments``       IPv4/IPv6 fragment reassembly
``streams``         TCP reassembly, SIP framing by Content-Length, SIP over WebSocket
``sniff``           the cheap "is this SIP?" test and a stream message's length
=================== ===========================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from hangup.sip.capture.files import Malformed, frames
from hangup.sip.capture.layers import Decoder
from hangup.sip.capture.mirrors import Copies, is_hep, mirrored
from hangup.sip.capture.sniff import looks_like_sip
from hangup.sip.capture.streams import Streams
from hangup.sip.packet import Packet

__all__ = ["Malformed", "packets"]


def packets(stream: IO[bytes]) -> Iterator[Packet | Malformed]:
    """Every SIP message of a capture in capture order, and every region that could not be read."""
    copies = Copies()
    for found, from_hep in _found(stream):
        if isinstance(found, Malformed) or not copies.is_copy(found.payload, from_hep):
            yield found


def _found(stream: IO[bytes]) -> Iterator[tuple[Packet | Malformed, bool]]:
    """What the capture holds, each SIP message with whether it came from a HEP datagram."""
    decoder, streams = Decoder(), Streams()
    for frame in frames(stream):
        if isinstance(frame, Malformed):
            yield frame, False
            continue
        for segment in decoder.segments(frame):
            if isinstance(segment, Malformed):
                yield segment, False
            elif segment.transport == "tcp":
                yield from ((found, False) for found in streams.add(segment))
            elif looks_like_sip(segment.payload):
                yield Packet(segment.time, segment.src, segment.sport, segment.dst, segment.dport,
                             segment.transport, segment.payload), False
            elif segment.transport == "udp" and is_hep(segment.payload):
                yield from ((found, True) for found in mirrored(segment))
    yield from ((found, False) for found in streams.close())
    lost = decoder.fragments.close()
    if lost:
        yield Malformed("capture", "fragmented IP datagrams never completed", str(lost).encode()), False
