"""IPv4 and IPv6 fragment reassembly, bounded.

A SIP INVITE with a large SDP body over UDP is larger than an Ethernet MTU, so it travels as IP
fragments (RFC 791 §2.3; IPv6 fragment header, RFC 8200 §4.5). Pieces are held per datagram
(source, destination, protocol, identification) until every byte from offset 0 to the last piece
is in. At most ``MAX_DATAGRAMS`` are pending; a datagram still incomplete after ``TIMEOUT``
seconds of capture time, or pushed out by newer ones, is dropped and counted in ``lost``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from dpkt import ip, ip6

MAX_DATAGRAMS = 4096
TIMEOUT = 30.0  # seconds; Linux's ipfrag_time
FRAGMENT_HEADER = 44  # IPv6 next-header value of the fragment header


@dataclass(slots=True)
class _Datagram:
    started: float
    pieces: dict[int, bytes] = field(default_factory=dict)  # byte offset → bytes
    end: int | None = None  # total length, known once the last piece is in


class Fragments:
    """Pending fragmented datagrams; ``add`` answers the reassembled payload when one completes."""

    def __init__(self) -> None:
        self._pending: OrderedDict[tuple[bytes, bytes, int, int], _Datagram] = OrderedDict()
        self.seen = 0  # fragments read
        self.reassembled = 0  # datagrams completed
        self.lost = 0  # datagrams dropped incomplete

    @staticmethod
    def is_fragment(packet: Any) -> bool:
        if isinstance(packet, ip6.IP6):
            return FRAGMENT_HEADER in packet.extension_hdrs
        return bool(packet.mf or packet.offset)

    def add(self, time: float, packet: Any) -> Any:
        """Keep one fragment; the decoded payload (dpkt UDP, TCP …) once the datagram is whole, else None."""
        self.seen += 1
        self._expire(time)
        if isinstance(packet, ip6.IP6):
            header = packet.extension_hdrs[FRAGMENT_HEADER]
            key, offset, more = (packet.src, packet.dst, packet.p, header.id), header.frag_off * 8, header.m_flag
        else:
            key, offset, more = (packet.src, packet.dst, packet.p, packet.id), packet.offset * 8, packet.mf
        datagram = self._pending.get(key)
        if datagram is None:
            datagram = self._pending[key] = _Datagram(time)
            if len(self._pending) > MAX_DATAGRAMS:
                self._pending.popitem(last=False)
                self.lost += 1
        data = bytes(packet.data)
        datagram.pieces[offset] = data
        if not more:
            datagram.end = offset + len(data)
        whole = _joined(datagram)
        if whole is None:
            return None
        del self._pending[key]
        self.reassembled += 1
        decode = ip.IP._protosw.get(key[2])
        return decode(whole) if decode is not None else whole

    def _expire(self, now: float) -> None:
        while self._pending:
            key, oldest = next(iter(self._pending.items()))
            if now - oldest.started < TIMEOUT:
                return
            del self._pending[key]
            self.lost += 1

    def close(self) -> int:
        """Drop what is still incomplete at the end of the capture; the number of datagrams lost in all."""
        self.lost += len(self._pending)
        self._pending.clear()
        return self.lost


def _joined(datagram: _Datagram) -> bytes | None:
    if datagram.end is None:
        return None
    parts, position = [], 0
    for offset in sorted(datagram.pieces):
        if offset > position:
            return None  # a hole: a piece is still missing
        piece = datagram.pieces[offset]
        parts.append(piece[position - offset:])
        position = max(position, offset + len(piece))
    return b"".join(parts) if position >= datagram.end else None
