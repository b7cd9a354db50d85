"""HEP (Homer Encapsulation Protocol) v1, v2 and v3: a mirrored SIP message with its addresses and time.

HEP v3 (sipcapture/HEP, "HEP3 Network Protocol Specification"): ``HEP3``, a 16-bit total length, then
chunks of (vendor id, type id, length including the 6-byte chunk header, value), all big-endian. The
generic chunks (vendor 0) read here:

==== ========= =====================================================
type value     meaning
==== ========= =====================================================
1    uint8     IP family (2 = IPv4, 10 = IPv6)
2    uint8     IP protocol (6 TCP, 17 UDP, 132 SCTP)
3/4  4 bytes   IPv4 source / destination address
5/6  16 bytes  IPv6 source / destination address
7/8  uint16    source / destination port
9    uint32    timestamp, seconds since the epoch
10   uint32    timestamp, microseconds
11   uint8     protocol type: 1 = SIP (others — RTCP, logs, QoS — are not calls)
12   uint32    capture id: the sending node's number (16-bit from some)
14   string    authentication key (the capture password)
15   bytes     the captured payload
16   bytes     the payload, zlib-compressed
17   string    internal correlation id
==== ========= =====================================================

Other chunks and other vendors are skipped. HEP v1 and v2 (Kamailio ``siptrace`` ``hep_version``,
``hep.h``): version, header length (16 for IPv4, 40 for IPv6), family, protocol, source and destination
ports (network order) and addresses, then for v2 a ``hep_timehdr`` of seconds, microseconds (both
little-endian, as ``siptrace`` writes them) and a 16-bit capture id, padded to 12 bytes; the payload
follows. v1 has no time: the time of receipt is used.

Bytes that are not HEP raise ``HepError`` naming what is wrong.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import zlib
from dataclasses import dataclass
from socket import inet_ntop
from typing import Final, NamedTuple, NoReturn, cast

from hangup.sip.packet import Packet

SIP = 1
_CHUNK: Final = struct.Struct("!HHH")  # vendor id, type id, length
_LENGTH: Final = struct.Struct("!H")
_TRANSPORTS: Final = {6: "tcp", 17: "udp", 132: "sctp"}
_PROTOCOLS = {v: k for k, v in _TRANSPORTS.items()} | {"tls": 6, "ws": 6, "wss": 6}
#: What ``_Layout.values`` unpacks: the total length, the family, the protocol, the two addresses, the two ports,
#: seconds, microseconds, the protocol type, the capture id, then the next chunk's vendor, type and length.
_Values = tuple[int, int, int, bytes, bytes, int, int, int, int, int, int, int, int, int]
MAX_PAYLOAD = 256 * 1024  # a decompressed payload larger than this is refused (zip bombs)
_tuple_new: Final = tuple.__new__
_from_bytes: Final = int.from_bytes  # bound once: compiled, ``int.from_bytes(…)`` looks the method up per call


class HepError(ValueError):
    """The bytes are not a readable HEP packet; ``what`` names the part at fault."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.detail = detail


class HepPacket(NamedTuple):
    """One decoded HEP packet: the captured message and what its sender said about it (a tuple, as ``Packet``)."""

    version: int
    packet: Packet
    protocol_type: int  # 1 = SIP
    capture_id: int | None = None
    password: str = ""
    correlation_id: str = ""


def decode(data: bytes, received_at: float) -> HepPacket:
    """Decode one HEP v1/v2/v3 packet; ``received_at`` times the packets that carry no time (v1)."""
    if data.startswith(b"HEP3"):  # not data[:4], which makes a copy to compare
        return _decode_v3(data)
    if data[:1] in (b"\x01", b"\x02"):
        return _decode_v12(data, received_at)
    raise HepError("header", f"not HEP: starts with {data[:4]!r}")


def frame_length(header: bytes) -> int:
    """The total length of a HEP3 packet from its first 6 bytes (TCP streams frames back to back)."""
    if len(header) < 6 or header[:4] != b"HEP3":
        raise HepError("header", f"not a HEP3 frame: starts with {header[:4]!r}")
    length: int = struct.unpack("!H", header[4:6])[0]
    if length < 6:
        raise HepError("length", f"{length} is shorter than the header")
    return length


def _decode_v3(data: bytes) -> HepPacket:
    length = len(data)
    layout = _LAYOUTS.get(data[12]) if length > 12 else None
    if (layout is not None and length >= layout.end + 6
            and _from_bytes(data[6:layout.end], "big") & layout.head_bits == layout.heads):
        # the total length, the fixed chunks' values and the next chunk's header: one unpack
        # (typed, so that the compiled comparisons and arithmetic below are on C integers, not objects)
        (said, _, protocol, src, dst, sport, dport, seconds, micros, kind, capture, vendor, after,
         size) = cast(_Values, layout.values.unpack_from(data, 4))
        if said != length:
            _wrong_length(data)
        source = _ADDRESS_TEXT.get(src) or _text_address(layout.family, src)
        destination = _ADDRESS_TEXT.get(dst) or _text_address(layout.family, dst)
        end = layout.end
        if vendor == 0 and after == 15 and size == length - end:  # the payload, last: the usual packet
            # the named tuples made as their own __new__ makes them, without its Python frame: once per message
            packet = _tuple_new(Packet, (seconds + micros / 1e6, source, sport, destination, dport,
                                         _TRANSPORTS.get(protocol, "udp"), data[end + 6:]))
            return _tuple_new(HepPacket, (3, packet, kind, capture, "", ""))
        chunks = _chunks(data, end)
        if not chunks.keys() & layout.kinds:  # else a repeated chunk wins, as in the chunk-by-chunk read
            return _packet(chunks, source, destination, sport, dport, seconds, micros, protocol, kind, capture)
    elif length < 6 or _LENGTH.unpack_from(data, 4)[0] != length:
        _wrong_length(data)
    return _from_chunks(_chunks(data, 6))


def _wrong_length(data: bytes) -> NoReturn:
    said = frame_length(data)  # names what is wrong with the header, if anything
    raise HepError("length", f"says {said} bytes, the packet has {len(data)}")


def _text_address(family: int, raw: bytes) -> str:
    """``inet_ntop``, remembered in ``_ADDRESS_TEXT``: a capture node sends the same few addresses over and over.

    An IPv4-mapped address (``::ffff:a.b.c.d``, 16 bytes where the IPv4 chunk's 4 belong, as some agents send:
    sip3's decoder test) is the IPv4 host and is written as one, as sip3 and Go's ``net.IP`` print it: the
    same host must not be two addresses depending on which agent mirrored the message.
    """
    if len(_ADDRESS_TEXT) >= 4096:
        _ADDRESS_TEXT.clear()
    address = raw[12:] if raw[:12] == _MAPPED else raw
    text = _ADDRESS_TEXT[raw] = inet_ntop(socket.AF_INET if len(address) == 4 else family, address)
    return text


def _chunks(data: bytes, offset: int) -> dict[int, bytes]:
    """The vendor-0 chunks from ``offset`` to the end, by type (a repeated type: the last one)."""
    chunks: dict[int, bytes] = {}
    length, unpack = len(data), _CHUNK.unpack_from
    while offset < length:
        if length - offset < 6:
            raise HepError("chunk", f"{length - offset} stray bytes at offset {offset}")
        vendor, kind, size = unpack(data, offset)
        if size < 6 or offset + size > length:
            raise HepError("chunk", f"type {kind} at offset {offset} has length {size}")
        if vendor == 0:
            chunks[kind] = data[offset + 6:offset + size]
        offset += size
    return chunks


def _from_chunks(chunks: dict[int, bytes]) -> HepPacket:
    src, dst = _address(chunks, 3, 5, "source"), _address(chunks, 4, 6, "destination")
    return _packet(chunks, src, dst, _uint(chunks, 7, 0), _uint(chunks, 8, 0), _uint(chunks, 9, 0),
                   _uint(chunks, 10, 0), _uint(chunks, 2, 17), _uint(chunks, 11, SIP), _uint(chunks, 12, -1))


def _packet(chunks: dict[int, bytes], src: str, dst: str, sport: int, dport: int, seconds: int, micros: int,
            protocol: int, kind: int, capture: int) -> HepPacket:
    payload = chunks.get(15)
    if payload is None and 16 in chunks:
        payload = _inflate(chunks[16])
    if payload is None:
        raise HepError("payload", "no payload chunk (15 or 16)")
    packet = Packet(seconds + micros / 1e6, src, sport, dst, dport, _TRANSPORTS.get(protocol, "udp"), payload)
    password, correlation = chunks.get(14), chunks.get(17)
    return HepPacket(3, packet, kind, None if capture < 0 else capture,
                     password.decode("utf-8", "replace") if password else "",
                     correlation.decode("utf-8", "replace") if correlation else "")


@dataclass(frozen=True, slots=True)
class _Layout:
    """The fixed-size chunks that heplify, Kamailio ``siptrace`` and ``encode_v3`` send first, in order.

    A packet that starts with exactly these chunk headers has all their values read by one unpack,
    instead of chunk by chunk; any other packet is read chunk by chunk, with the same result. The headers
    are compared as one big-endian integer of the chunks' bytes, values masked out: one integer operation
    instead of unpacking and comparing thirty numbers.
    """

    family: int
    heads: int  # the chunk headers, (vendor 0, type, length) each, at their places; values zero
    head_bits: int  # ones where ``heads`` has a header byte
    values: struct.Struct  # from byte 4: the total length, the values (chunk headers skipped), the next chunk's header
    kinds: frozenset[int]
    end: int  # where the chunk after them starts


def _layout(family: int, address: str) -> _Layout:
    v6 = address == "16s"
    chunks = ((1, "B"), (2, "B"), (5 if v6 else 3, address), (6 if v6 else 4, address), (7, "H"), (8, "H"),
              (9, "I"), (10, "I"), (11, "B"), (12, "I"))
    sizes = [struct.calcsize("!" + value) for _, value in chunks]
    heads = b"".join(_CHUNK.pack(0, kind, 6 + size) + bytes(size)
                     for (kind, _), size in zip(chunks, sizes, strict=True))
    bits = b"".join(b"\xff" * 6 + bytes(size) for size in sizes)
    return _Layout(family, int.from_bytes(heads, "big"), int.from_bytes(bits, "big"),
                   struct.Struct("!H" + "".join(f"6x{value}" for _, value in chunks) + "HHH"),
                   frozenset(kind for kind, _ in chunks), 6 + sum(6 + size for size in sizes))


#: By the value of the first chunk (IP family: 2 IPv4, 10 IPv6), at byte 12.
_ADDRESS_TEXT: Final[dict[bytes, str]] = {}
_MAPPED: Final = bytes(10) + b"\xff\xff"  # the first 12 bytes of an IPv4-mapped IPv6 address (RFC 4291, 2.5.5.2)
_LAYOUTS: Final = {2: _layout(socket.AF_INET, "4s"), 10: _layout(socket.AF_INET6, "16s")}


def _address(chunks: dict[int, bytes], v4: int, v6: int, name: str) -> str:
    raw = chunks.get(v4) if v4 in chunks else chunks.get(v6)
    if raw is None or len(raw) not in (4, 16):
        raise HepError(f"{name} address", "missing or not 4 or 16 bytes")
    return _ADDRESS_TEXT.get(raw) or _text_address(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _uint(chunks: dict[int, bytes], kind: int, default: int) -> int:
    raw = chunks.get(kind)
    if raw is None:
        return default
    if len(raw) not in (1, 2, 4, 8):
        raise HepError(f"chunk {kind}", f"an integer of {len(raw)} bytes")
    return int.from_bytes(raw, "big")


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_PAYLOAD + 1)
    except zlib.error as exc:
        raise HepError("payload", f"compressed payload does not inflate: {exc}") from None
    if len(out) > MAX_PAYLOAD:
        raise HepError("payload", f"inflates to more than {MAX_PAYLOAD} bytes")
    return out


def _decode_v12(data: bytes, received_at: float) -> HepPacket:
    if len(data) < 16:
        raise HepError("header", f"{len(data)} bytes is too short for HEP v1/v2")
    version, header, _family, protocol, sport, dport = struct.unpack("!BBBBHH", data[:8])
    if header not in (16, 40):
        raise HepError("header", f"header length {header} is neither 16 (IPv4) nor 40 (IPv6)")
    size = 4 if header == 16 else 16
    if len(data) < header:
        raise HepError("header", "shorter than its header")
    family = socket.AF_INET if size == 4 else socket.AF_INET6
    src, dst = _text_address(family, data[8:8 + size]), _text_address(family, data[8 + size:8 + 2 * size])
    when, capture, offset = received_at, None, header
    if version == 2:
        if len(data) < header + 12:
            raise HepError("time header", "missing")
        seconds, micros, capture = struct.unpack("<IIH", data[header:header + 10])
        when, offset = seconds + micros / 1e6, header + 12
    packet = Packet(when, src, sport, dst, dport, _TRANSPORTS.get(protocol, "udp"), data[offset:])
    return HepPacket(version, packet, SIP, capture)


# -- encoding: what capturing SIP elements send (tests and benchmarks speak HEP through these) ----------
def encode_v3(packet: Packet, *, capture_id: int = 0, password: str = "", correlation_id: str = "",
              protocol_type: int = SIP, compress: bool = False) -> bytes:
    """A HEP3 packet of ``packet``, chunk by chunk as heplify and Kamailio ``siptrace`` lay them out."""
    src, dst = ipaddress.ip_address(packet.src), ipaddress.ip_address(packet.dst)
    v6 = src.version == 6
    seconds = int(packet.time)
    body = b"".join((
        _chunk(1, struct.pack("!B", 10 if v6 else 2)),
        _chunk(2, struct.pack("!B", _PROTOCOLS.get(packet.transport, 17))),
        _chunk(5 if v6 else 3, src.packed), _chunk(6 if v6 else 4, dst.packed),
        _chunk(7, struct.pack("!H", packet.sport)), _chunk(8, struct.pack("!H", packet.dport)),
        _chunk(9, struct.pack("!I", seconds)),
        _chunk(10, struct.pack("!I", round((packet.time - seconds) * 1e6) % 1_000_000)),
        _chunk(11, struct.pack("!B", protocol_type)), _chunk(12, struct.pack("!I", capture_id)),
        _chunk(14, password.encode()) if password else b"",
        _chunk(16, zlib.compress(packet.payload)) if compress else _chunk(15, packet.payload),
        _chunk(17, correlation_id.encode()) if correlation_id else b"",
    ))
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


def encode_v2(packet: Packet, *, capture_id: int = 0, version: int = 2) -> bytes:
    """A HEP v2 (or v1) packet of ``packet``, as Kamailio ``siptrace`` packs it."""
    src, dst = ipaddress.ip_address(packet.src), ipaddress.ip_address(packet.dst)
    header = 16 if src.version == 4 else 40
    head = struct.pack("!BBBBHH", version, header, 2 if header == 16 else 10,
                       _PROTOCOLS.get(packet.transport, 17), packet.sport, packet.dport)
    seconds = int(packet.time)
    timing = struct.pack("<IIHxx", seconds, round((packet.time - seconds) * 1e6) % 1_000_000, capture_id)
    return head + src.packed + dst.packed + (timing if version == 2 else b"") + packet.payload


def _chunk(kind: int, value: bytes) -> bytes:
    return struct.pack("!HHH", 0, kind, 6 + len(value)) + value
