"""Capture files, frame by frame: libpcap (``.pcap``) and pcapng.

dpkt parses every header (file, record, block); the loops are ours because dpkt's readers trust the
lengths they read, so one corrupt length would make them read the rest of a 1 GB file into memory,
and its pcapng reader keeps only the first interface's link type. Here an impossible length is a
``Malformed`` region, reading goes on at the next plausible record (``resync``), and each pcapng
interface keeps its own link type and time resolution.

Formats: libpcap, https://www.tcpdump.org/manpages/pcap-savefile.5.html (all four magic numbers:
micro- or nanosecond timestamps, either byte order); pcapng, draft-ietf-opsawg-pcapng (SHB, IDB,
EPB, the obsolete PB and SPB; several sections and interfaces).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from dpkt import pcap, pcapng
from dpkt.dpkt import UnpackError

from hangup.sip.capture.resync import Pushback, pcap_check, pcapng_check, skip_to, time_marker

#: libpcap's own upper bound on a record (MAXIMUM_SNAPLEN); anything longer is a corrupt length.
MAX_FRAME = 262_144
#: pcapng blocks carry options beside the frame: allow them a little room.
MAX_BLOCK = MAX_FRAME + 65_536

PCAP_MAGICS = {
    pcap.TCPDUMP_MAGIC.to_bytes(4, "big"): (">", 1e6),
    pcap.TCPDUMP_MAGIC.to_bytes(4, "little"): ("<", 1e6),
    pcap.TCPDUMP_MAGIC_NANO.to_bytes(4, "big"): (">", 1e9),
    pcap.TCPDUMP_MAGIC_NANO.to_bytes(4, "little"): ("<", 1e9),
}
PCAPNG_MAGIC = struct.pack(">I", pcapng.PCAPNG_BT_SHB)  # the same bytes in either order
BYTE_ORDER_LE = struct.pack("<I", pcapng.BYTE_ORDER_MAGIC)


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame: its link type tells how to read ``data``."""

    number: int  # 1-based, as Wireshark numbers frames
    time: float  # Unix seconds
    linktype: int  # LINKTYPE_* (https://www.tcpdump.org/linktypes.html)
    data: bytes


@dataclass(frozen=True, slots=True)
class Malformed:
    """A region of a capture that could not be read: counted, kept for the rejects, and skipped."""

    location: str  # "frame 12", "offset 1234"
    reason: str
    raw: bytes = b""  # the region's bytes (cut at MAX_FRAME)
    source: str = ""  # "10.0.0.1:5060 > 10.0.0.2:5060" when the addresses were read


def is_capture(head: bytes) -> bool:
    """Whether a file's first bytes are a libpcap or pcapng header."""
    return head[:4] in PCAP_MAGICS or head[:4] == PCAPNG_MAGIC


def frames(stream: IO[bytes]) -> Iterator[Frame | Malformed]:
    """Every frame of a libpcap or pcapng stream, in file order, with its unreadable regions."""
    source = Pushback(stream)
    head = source.read(4)
    if head in PCAP_MAGICS:
        yield from _pcap(source, head)
    elif head == PCAPNG_MAGIC:
        yield from _pcapng(source, head)
    else:
        yield Malformed("offset 0", "not a libpcap or pcapng file", head)


def _pcap(stream: Pushback, magic: bytes) -> Iterator[Frame | Malformed]:
    order, divisor = PCAP_MAGICS[magic]
    header_class = pcap.FileHdr if order == ">" else pcap.LEFileHdr
    record_class = pcap.PktHdr if order == ">" else pcap.LEPktHdr
    rest = stream.read(header_class.__hdr_len__ - 4)
    if len(rest) < header_class.__hdr_len__ - 4:
        yield Malformed("offset 0", "truncated file header", magic + rest)
        return
    linktype = header_class(magic + rest).linktype & 0x0FFFFFFF  # the high bits carry FCS flags
    offset, number, size, last = header_class.__hdr_len__, 0, record_class.__hdr_len__, None
    while True:
        header = stream.read(size)
        if not header:
            return
        if len(header) < size:
            yield Malformed(f"frame {number + 1}", "truncated record header", header)
            return
        record = record_class(header)
        if record.caplen > min(record.len, MAX_FRAME) or record.tv_usec >= divisor:
            skipped = None if last is None else skip_to(stream, header, *time_marker(order, last),
                                                        pcap_check(order, divisor, last))
            yield _corrupt(offset, "record", header, skipped)
            if skipped is None:
                return
            offset += skipped
            continue
        data = stream.read(record.caplen)
        number += 1
        if len(data) < record.caplen:
            yield Malformed(f"frame {number}", "truncated record", header + data)
            return
        last = record.tv_sec
        yield Frame(number, record.tv_sec + record.tv_usec / divisor, linktype, data)
        offset += size + record.caplen


def _corrupt(offset: int, what: str, head: bytes, skipped: int | None) -> Malformed:
    if skipped is None:
        return Malformed(f"offset {offset}", f"corrupt {what} header; rest of file skipped", head)
    return Malformed(f"offset {offset}", f"corrupt {what} header; skipped to the next {what}", head)


@dataclass(slots=True)
class _Interface:
    linktype: int
    divisor: float = 1e6
    offset: int = 0  # if_tsoffset, seconds


def _pcapng(stream: Pushback, magic: bytes) -> Iterator[Frame | Malformed]:
    order = "<"
    interfaces: list[_Interface] = []
    offset, number, pending = 0, 0, magic
    while True:
        head, pending = pending + stream.read(8 - len(pending)), b""
        if not head:
            return
        if head[:4] == PCAPNG_MAGIC:  # a section header: its byte-order magic sets the order from here on
            head += stream.read(4)
            order = "<" if head[8:12] == BYTE_ORDER_LE else ">"
            interfaces = []
        if len(head) < 8:
            yield Malformed(f"offset {offset}", "truncated block header", head)
            return
        kind, length = struct.unpack(order + "II", head[:8])
        if length < 12 or length % 4 or length > MAX_BLOCK:
            skipped = skip_to(stream, head, struct.pack(order + "I", pcapng.PCAPNG_BT_EPB), 0,
                              pcapng_check(order, MAX_BLOCK))
            yield _corrupt(offset, "block", head, skipped)
            if skipped is None:
                return
            offset += skipped
            continue
        block = head + stream.read(length - len(head))
        if len(block) < length:
            yield Malformed(f"offset {offset}", "truncated block", block)
            return
        try:
            item = _block(kind, order, block, interfaces, number + 1)
        except (UnpackError, struct.error, IndexError, ValueError) as exc:
            item = Malformed(f"offset {offset}", f"unreadable block type {kind:#x}: {exc}"[:200], block)
        if isinstance(item, Frame):
            number += 1
        if item is not None:
            yield item
        offset += length


def _block(kind: int, order: str, block: bytes, interfaces: list[_Interface], number: int
           ) -> Frame | Malformed | None:
    little = order == "<"
    if kind == pcapng.PCAPNG_BT_IDB:
        idb = pcapng.InterfaceDescriptionBlockLE(block) if little else pcapng.InterfaceDescriptionBlock(block)
        interfaces.append(_interface(idb, order))
        return None
    if kind in (pcapng.PCAPNG_BT_EPB, pcapng.PCAPNG_BT_PB):
        if kind == pcapng.PCAPNG_BT_EPB:
            epb = pcapng.EnhancedPacketBlockLE(block) if little else pcapng.EnhancedPacketBlock(block)
        else:
            epb = pcapng.PacketBlockLE(block) if little else pcapng.PacketBlock(block)
        if epb.iface_id >= len(interfaces):
            return Malformed(f"frame {number}", f"packet of undeclared interface {epb.iface_id}", block)
        interface = interfaces[epb.iface_id]
        stamp = ((epb.ts_high << 32) | epb.ts_low) / interface.divisor + interface.offset
        return Frame(number, stamp, interface.linktype, bytes(epb.pkt_data))
    if kind == pcapng.PCAPNG_BT_SPB:  # no time, no interface field: the first interface by definition
        if not interfaces:
            return Malformed(f"frame {number}", "simple packet before any interface", block)
        (original,) = struct.unpack(order + "I", block[8:12])
        return Frame(number, 0.0, interfaces[0].linktype, block[12:12 + min(original, len(block) - 16)])
    return None  # statistics, name resolution, custom blocks: nothing SIP needs


def _interface(idb: pcapng.InterfaceDescriptionBlock, order: str) -> _Interface:
    interface = _Interface(idb.linktype)
    for option in idb.opts:
        if option.code == pcapng.PCAPNG_OPT_IF_TSRESOL and option.data:
            value = option.data[0]  # high bit: a negative power of 2, else of 10
            interface.divisor = float(2 ** (value & 0x7F) if value & 0x80 else 10 ** (value & 0x7F))
        elif option.code == pcapng.PCAPNG_OPT_IF_TSOFFSET and len(option.data) >= 8:
            interface.offset = struct.unpack(order + "q", option.data[:8])[0]
    return interface
