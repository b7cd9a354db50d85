"""Packet captures read down to SIP messages: files → frames → segments → ``Packet``s.

=================== ===========================================================================
module              concept
=================== ===========================================================================
``files``           libpcap and pcapng framing, corrupt lengths bounded (``Frame``, ``Malformed``)
``layers``          link layers, IP, tunnels (GRE, ERSPAN, IP-in-IP, VXLAN), UDP, TCP, SCTP
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
from hangup.sip.capture.sniff import looks_like_sip
from hangup.sip.capture.streams import Streams
from hangup.sip.packet import Packet

__all__ = ["Malformed", "packets"]


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
    yield from streams.close()
    lost = decoder.fragments.close()
    if lost:
        yield Malformed("capture", "fragmented IP datagrams never completed", str(lost).encode())
