"""From a captured frame to transport payloads: link layers, IP, and the tunnels mirrors use.

dpkt decodes each layer (it follows 802.1Q/QinQ tags, IP-in-IP, IPv6-in-IP, GRE and transparent
Ethernet bridging by itself); what it leaves as bytes is handled here:

==================== ============================================================================
what                 how
==================== ============================================================================
link types           Ethernet (1), Linux cooked SLL (113) and SLL2 (276), BSD loopback NULL (0)
                     and LOOP (108), raw IP (101, 12, 14) and IPv4/IPv6 (228/229); on ``any``
                     Linux records a loopback packet twice, the sent copy is dropped
ERSPAN               GRE protocol 0x88BE: type I (no GRE sequence number, no ERSPAN header) or
                     type II (8-byte header); 0x22EB: type III (12 bytes, 8 more when its O bit
                     is set). Linux ``include/net/erspan.h``, draft-foschiano-erspan
VXLAN                UDP port 4789 (RFC 7348), the encapsulation of cloud traffic mirroring
GTP-U                UDP port 2152, a G-PDU's user packet (3GPP TS 29.281 §5): the IP of a mobile
                     network's subscribers, VoLTE's SIP among it, as captured on its S1-U/S5/N3
IP fragments         reassembled by ``hangup.sip.capture.fragments``
SCTP                 every DATA chunk (RFC 9260 §3.3.1); a user message split over chunks is joined
==================== ============================================================================
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dpkt import ethernet, gre, icmp, icmp6, ip, ip6, loopback, sctp, sll, sll2, tcp, udp
from dpkt.dpkt import Packet as DpktPacket
from dpkt.dpkt import UnpackError

from hangup.sip.capture.files import Frame, Malformed
from hangup.sip.capture.fragments import Fragments

ERSPAN_II = 0x88BE  # types I and II
ERSPAN_III = 0x22EB
VXLAN_PORT = 4789
GTP_U_PORT = 2152
GTP_G_PDU = 0xFF  # the message type of a user packet; the others are GTP-U's own signalling
#: Tunnels inside tunnels end here: a loop of encapsulations is a crafted or corrupt frame.
MAX_DEPTH = 8
ARPHRD_LOOPBACK = 772  # Linux if_arp.h: the device type of lo in a cooked header
PACKET_OUTGOING = 4  # Linux if_packet.h: the cooked header's "sent by this host"
MAX_SCTP_MESSAGES = 1024  # split SCTP user messages assembled at once
MAX_SCTP_BYTES = 64 * 1024
SCTP_DATA_FLAGS_WHOLE = 0x03  # B and E bits: the chunk holds a whole user message


@dataclass(frozen=True, slots=True)
class Segment:
    """One transport payload: a UDP datagram, a TCP segment or an SCTP user message."""

    time: float
    src: str
    sport: int
    dst: str
    dport: int
    transport: str  # "udp", "tcp" or "sctp"
    payload: bytes
    seq: int = 0  # TCP sequence number
    flags: int = 0  # TCP flags (SYN, FIN, RST)

    def flow(self) -> str:
        return f"{self.src}:{self.sport} > {self.dst}:{self.dport}"


def _raw_ip(data: bytes) -> DpktPacket:
    return ip6.IP6(data) if data[:1] and data[0] >> 4 == 6 else ip.IP(data)


#: LINKTYPE_* → the dpkt class of that link layer (https://www.tcpdump.org/linktypes.html).
LINK_LAYERS: dict[int, Callable[[bytes], Any]] = {
    0: loopback.Loopback,  # NULL: the address family in the capturing host's byte order
    1: ethernet.Ethernet,
    12: _raw_ip,  # DLT_RAW on OpenBSD
    14: _raw_ip,  # DLT_RAW on BSD/OS
    101: _raw_ip,
    108: loopback.Loopback,  # LOOP: the same, in network byte order
    113: sll.SLL,
    228: ip.IP,
    229: ip6.IP6,
    276: sll2.SLL2,
}


class Decoder:
    """Turns frames into ``Segment``s; holds the IP fragments and SCTP messages still incomplete."""

    def __init__(self) -> None:
        self.fragments = Fragments()
        self._sctp_parts: dict[tuple[str, int], list[bytes]] = {}

    def segments(self, frame: Frame) -> Iterator[Segment | Malformed]:
        layer = LINK_LAYERS.get(frame.linktype)
        if layer is None:
            yield Malformed(f"frame {frame.number}", f"link type {frame.linktype} is not read", frame.data[:256])
            return
        try:
            decoded = layer(frame.data)
            if not _second_copy(decoded):
                yield from self._walk(frame, decoded, 0)
        except (UnpackError, struct.error, IndexError, ValueError) as exc:
            yield Malformed(f"frame {frame.number}", f"undecodable frame: {exc}"[:200], frame.data)

    def _walk(self, frame: Frame, layer: Any, depth: int) -> Iterator[Segment | Malformed]:
        while depth < MAX_DEPTH:
            depth += 1
            if isinstance(layer, ip.IP | ip6.IP6):
                whole = self._whole(frame, layer)
                if whole is None:
                    return
                src, dst = _addresses(layer)
                if isinstance(whole, udp.UDP):
                    yield from self._udp(frame, whole, src, dst, depth)
                    return
                if isinstance(whole, tcp.TCP):
                    yield Segment(frame.time, src, whole.sport, dst, whole.dport, "tcp", bytes(whole.data),
                                  whole.seq, whole.flags)
                    return
                if isinstance(whole, sctp.SCTP):
                    yield from self._sctp(frame, whole, src, dst)
                    return
                if isinstance(whole, icmp.ICMP | icmp6.ICMP6):
                    return  # the datagram an ICMP error quotes was sent before, not again: not traffic
                layer = whole
            elif isinstance(layer, gre.GRE):
                layer = _erspan(layer)
            elif isinstance(layer, DpktPacket):
                if isinstance(layer.data, bytes) and _carries_ip(layer):
                    yield Malformed(f"frame {frame.number}", "undecodable frame: IP header unreadable", frame.data)
                    return
                layer = layer.data  # link layers, VLAN tags, bridged Ethernet
            else:
                return  # ARP, bytes of a protocol SIP does not travel in
        yield Malformed(f"frame {frame.number}", f"more than {MAX_DEPTH} nested encapsulations", frame.data)

    def _whole(self, frame: Frame, packet: Any) -> Any:
        """The packet's payload as dpkt decoded it, or the reassembled datagram once its last fragment is in."""
        if not self.fragments.is_fragment(packet):
            return packet.data
        return self.fragments.add(frame.time, packet)

    def _udp(self, frame: Frame, datagram: udp.UDP, src: str, dst: str, depth: int
             ) -> Iterator[Segment | Malformed]:
        payload = bytes(datagram.data)
        if datagram.ulen and len(payload) < datagram.ulen - 8:
            yield Malformed(f"frame {frame.number}", "datagram cut short by the capture's snap length", payload,
                            f"{src}:{datagram.sport} > {dst}:{datagram.dport}")
            return
        if datagram.dport == VXLAN_PORT and len(payload) > 8 and payload[0] & 0x08:
            yield from self._walk(frame, ethernet.Ethernet(payload[8:]), depth)
            return
        if datagram.dport == GTP_U_PORT and (user := _gtp_user_packet(payload)):
            yield from self._walk(frame, _raw_ip(user), depth)
            return
        yield Segment(frame.time, src, datagram.sport, dst, datagram.dport, "udp", payload)

    def _sctp(self, frame: Frame, packet: sctp.SCTP, src: str, dst: str) -> Iterator[Segment | Malformed]:
        for chunk in packet.chunks:
            if chunk.type != sctp.DATA or len(chunk.data) < 12:
                continue
            stream, = struct.unpack("!H", chunk.data[4:6])
            message = self._sctp_message((f"{src}:{packet.sport}>{dst}:{packet.dport}", stream), chunk)
            if message is not None:
                yield Segment(frame.time, src, packet.sport, dst, packet.dport, "sctp", message)

    def _sctp_message(self, key: tuple[str, int], chunk: Any) -> bytes | None:
        """A DATA chunk's user message, joined from its fragments (B first, E last) when it was split."""
        data, flags = bytes(chunk.data[12:]), chunk.flags & SCTP_DATA_FLAGS_WHOLE
        if flags == SCTP_DATA_FLAGS_WHOLE:
            return data
        if flags & 0x02:  # B: a new message starts, whatever was pending is lost
            self._sctp_parts.pop(key, None)
            self._sctp_parts[key] = [data]
            if len(self._sctp_parts) > MAX_SCTP_MESSAGES:
                del self._sctp_parts[next(iter(self._sctp_parts))]
            return None
        parts = self._sctp_parts.get(key)
        if parts is None:
            return None  # a middle or last piece whose start was not captured
        parts.append(data)
        if sum(map(len, parts)) > MAX_SCTP_BYTES:
            del self._sctp_parts[key]
            return None
        if flags & 0x01:
            del self._sctp_parts[key]
            return b"".join(parts)
        return None


def _erspan(packet: gre.GRE) -> Any:
    """The mirrored frame inside an ERSPAN GRE packet, else GRE's payload as dpkt decoded it."""
    data = packet.data
    if packet.p == ERSPAN_II and isinstance(data, bytes):
        # Type I carries no sequence number and no header of its own; type II has both.
        return ethernet.Ethernet(data[8:] if packet.flags & gre.GRE_SP else data)
    if packet.p == ERSPAN_III and isinstance(data, bytes) and len(data) >= 12:
        platform_specific = 8 if data[11] & 0x01 else 0  # the O bit
        return ethernet.Ethernet(data[12 + platform_specific:])
    return data


def _gtp_user_packet(payload: bytes) -> bytes:
    """The IP packet a GTP-U G-PDU carries (3GPP TS 29.281 §5.1, §5.2); empty for anything else."""
    if len(payload) < 8 or payload[0] & 0xF0 != 0x30 or payload[1] != GTP_G_PDU:  # version 1, protocol GTP
        return b""
    if not payload[0] & 0x07:  # none of E, S, PN: the 8-byte mandatory header only
        return payload[8:]
    offset, next_type = 12, payload[11:12]  # sequence number, N-PDU number, next extension header type
    while payload[0] & 0x04 and next_type not in (b"", b"\x00"):
        length = 4 * payload[offset] if offset < len(payload) else 0  # in 4-octet units, this byte included
        if not length:
            return b""
        offset += length
        next_type = payload[offset - 1:offset]
    return payload[offset:]


def _second_copy(layer: Any) -> bool:
    """A loopback packet captured on Linux's ``any`` is seen twice, sent then received: keep the received one."""
    return (isinstance(layer, sll.SLL | sll2.SLL2) and layer.hrd == ARPHRD_LOOPBACK
            and layer.type == PACKET_OUTGOING)


def _carries_ip(layer: Any) -> bool:
    """Whether a link layer says IP follows (dpkt leaves an IP header it cannot read as bytes)."""
    kind = getattr(layer, "ethtype", None) if isinstance(layer, sll.SLL | sll2.SLL2) else getattr(layer, "type", None)
    return kind in (ethernet.ETH_TYPE_IP, ethernet.ETH_TYPE_IP6)


def _addresses(packet: Any) -> tuple[str, str]:
    family = socket.AF_INET6 if isinstance(packet, ip6.IP6) else socket.AF_INET
    return socket.inet_ntop(family, packet.src), socket.inet_ntop(family, packet.dst)
