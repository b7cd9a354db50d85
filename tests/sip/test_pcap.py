"""Captures in every link layer, tunnel and transport give the same SIP messages (crafted with dpkt)."""

from __future__ import annotations

import io
import socket
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from capture_helpers import (
    CALLEE,
    CALLER,
    addresses,
    call_messages,
    capture,
    eth,
    ipv4,
    ipv6,
    kind_of,
    sctp_data,
    sip,
    tcp_segment,
    tunnel_gre,
    udp_ip,
)
from dpkt import gre, icmp, icmp6, tcp
from websockets.frames import Frame, Opcode

from hangup.sip.capture import Malformed, packets
from hangup.sip.packet import Packet

MESSAGES = call_messages()


def read(data: bytes) -> list[Packet | Malformed]:
    return list(packets(io.BytesIO(data)))


def sip_of(found: list[Packet | Malformed]) -> list[tuple[str, int, str, int, bytes]]:
    return [(p.src, p.sport, p.dst, p.dport, p.payload) for p in found if isinstance(p, Packet)]


def expected(v6: bool = False) -> list[tuple[str, int, str, int, bytes]]:
    rows = []
    for forward, message in MESSAGES:
        src, dst = addresses(v6, forward)
        rows.append((src[0], src[1], dst[0], dst[1], message))
    return rows


def udp_frames(frame: Callable[[bytes, object], bytes], v6: bool = False) -> list[tuple[float, bytes]]:
    """One frame per message: ``frame(ip_packet_bytes, ip_packet)`` wraps each IP packet."""
    out = []
    for index, (forward, message) in enumerate(MESSAGES):
        src, dst = addresses(v6, forward)
        packet = udp_ip(message, src, dst)
        out.append((1_700_000_000 + index / 10, frame(bytes(packet), packet)))
    return out


def gtp_u(inner: bytes, options: bytes = b"") -> bytes:
    """A G-PDU between an eNodeB and a gateway (3GPP TS 29.281): flags, type 255, length, TEID, options."""
    flags = 0x30 | (0x04 if options[3:4] not in (b"", b"\x00") else 0) | (0x02 if options else 0)
    header = struct.pack("!BBHI", flags, 0xFF, len(options) + len(inner), 0x7E10B569) + options
    return eth(udp_ip(header + inner, ("198.51.100.1", 2152), ("198.51.100.2", 2152)))


#: a sequence number, then a PDU Session Container (type 0x85, one 4-octet unit) and no next extension
GTP_EXTENSION = b"\x00\x07\x00\x85" + b"\x01\x00\x01\x00"


def erspan3(inner: bytes, subheader: bool) -> bytes:
    header = b"\x20\x00\x00\x01" + b"\x00\x00\x00\x00" + b"\x00\x00\x00" + (b"\x01" if subheader else b"\x00")
    return tunnel_gre(inner, 0x22EB, header + (b"\xaa" * 8 if subheader else b""), gre.GRE_SP)


#: name → (link type, frame builder, IPv6): every row must give the same six messages.
ENCAPSULATIONS: dict[str, tuple[int, Callable[[bytes, object], bytes], bool]] = {
    "ethernet": (1, lambda raw, p: eth(raw, kind_of(p)), False),
    "ethernet-ipv6": (1, lambda raw, p: eth(raw, kind_of(p)), True),
    "vlan-802.1q": (1, lambda raw, p: eth(raw, kind_of(p), [100]), False),
    "vlan-qinq": (1, lambda raw, p: eth(raw, kind_of(p), [200, 100]), False),
    "linux-sll": (113, lambda raw, p: b"\x00\x00\x00\x01\x00\x06" + b"\x02" * 6 + b"\x00\x00\x08\x00" + raw, False),
    "linux-sll2": (276, lambda raw, p: b"\x86\xdd\x00\x00" + struct.pack(">i", 1) + b"\x00\x01\x00\x06"
                   + b"\x02" * 6 + b"\x00\x00" + raw, True),
    "null-loopback": (0, lambda raw, p: struct.pack("=I", 2) + raw, False),
    "loop-openbsd": (108, lambda raw, p: struct.pack(">I", 2) + raw, False),
    "raw-ip": (101, lambda raw, p: raw, False),
    "raw-ipv6": (229, lambda raw, p: raw, True),
    "gre": (1, lambda raw, p: tunnel_gre(raw, 0x0800), False),
    "gre-bridged-ethernet": (1, lambda raw, p: tunnel_gre(eth(raw), 0x6558, flags=gre.GRE_KP), False),
    "erspan-type-i": (1, lambda raw, p: tunnel_gre(eth(raw), 0x88BE), False),
    "erspan-type-ii": (1, lambda raw, p: tunnel_gre(eth(raw, tags=[10]), 0x88BE, b"\x10\x0a\x00\x01" + b"\x00" * 4,
                                                    gre.GRE_SP), False),
    "erspan-type-iii": (1, lambda raw, p: erspan3(eth(raw), False), False),
    "erspan-type-iii-subheader": (1, lambda raw, p: erspan3(eth(raw), True), False),
    "ip-in-ip": (1, lambda raw, p: eth(ipv4(raw, "198.51.100.1", "198.51.100.2", 4)), False),
    "ipv6-in-ipv4": (1, lambda raw, p: eth(ipv4(raw, "198.51.100.1", "198.51.100.2", 41)), True),
    "vxlan": (1, lambda raw, p: eth(udp_ip(b"\x08\x00\x00\x00\x00\x00\x01\x00" + eth(raw, kind_of(p)),
                                           ("198.51.100.1", 40000), ("198.51.100.2", 4789))), False),
    "gtp-u": (1, lambda raw, p: gtp_u(raw), False),
    "gtp-u-ipv6": (1, lambda raw, p: gtp_u(raw), True),
    "gtp-u-sequence-number": (1, lambda raw, p: gtp_u(raw, b"\x00\x07\x00\x00"), False),
    "gtp-u-extension-header": (1, lambda raw, p: gtp_u(raw, GTP_EXTENSION), False),
}


@pytest.mark.parametrize("name", ENCAPSULATIONS)
@pytest.mark.parametrize("ng", [False, True], ids=["pcap", "pcapng"])
def test_every_encapsulation_gives_the_same_messages(name: str, ng: bool) -> None:
    linktype, frame, v6 = ENCAPSULATIONS[name]
    found = read(capture(udp_frames(frame, v6), linktype, ng=ng))
    assert sip_of(found) == expected(v6)
    assert [p for p in found if isinstance(p, Malformed)] == []
    assert {p.transport for p in found if isinstance(p, Packet)} == {"udp"}


@pytest.mark.parametrize("nano", [False, True])
def test_times_keep_their_resolution(nano: bool) -> None:
    found = read(capture(udp_frames(lambda raw, p: eth(raw)), nano=nano))
    assert [round(p.time, 6) for p in found if isinstance(p, Packet)] == [
        round(1_700_000_000 + i / 10, 6) for i in range(len(MESSAGES))]


def tcp_frames(chunks: list[tuple[bool, bytes]], syn: bool = True) -> list[tuple[float, bytes]]:
    """The chunks of each direction sent in order, as TCP segments after an optional handshake."""
    seq = {True: 1000, False: 5000}
    out = []
    if syn:
        out.append((1.0, tcp_segment(b"", CALLER, CALLEE, seq[True] - 1, tcp.TH_SYN)))
        out.append((1.0, tcp_segment(b"", CALLEE, CALLER, seq[False] - 1, tcp.TH_SYN | tcp.TH_ACK)))
    for index, (forward, chunk) in enumerate(chunks):
        src, dst = (CALLER, CALLEE) if forward else (CALLEE, CALLER)
        out.append((2.0 + index, tcp_segment(chunk, src, dst, seq[forward])))
        seq[forward] += len(chunk)
    return out


def split(message: bytes, *cuts: int) -> list[bytes]:
    edges = [0, *cuts, len(message)]
    return [message[a:b] for a, b in zip(edges, edges[1:], strict=False)]


STREAM_CASES: dict[str, list[tuple[bool, bytes]]] = {
    "one-per-segment": MESSAGES,
    "split-across-segments": [(f, part) for f, m in MESSAGES for part in split(m, 10, len(m) - 5)],
    "several-per-segment": [(True, MESSAGES[0][1]), (False, MESSAGES[1][1] + MESSAGES[2][1]),
                            (True, MESSAGES[3][1] + MESSAGES[4][1][:40]), (True, MESSAGES[4][1][40:]),
                            (False, MESSAGES[5][1])],
    "keepalives-between": [(f, b"\r\n\r\n" + m) for f, m in MESSAGES],
}


@pytest.mark.parametrize("case", STREAM_CASES)
def test_tcp_streams_are_cut_at_content_length(case: str) -> None:
    found = read(capture(tcp_frames(STREAM_CASES[case])))
    assert [p.payload for p in found if isinstance(p, Packet)] == [m for _, m in MESSAGES]
    assert [p for p in found if isinstance(p, Malformed)] == []


def lf_head(message: bytes, empty_line: bytes = b"\n\n") -> bytes:
    """The message with its header lines ended by LF alone and its head by ``empty_line``; the body as it was."""
    head, _, body = message.partition(b"\r\n\r\n")
    return head.replace(b"\r\n", b"\n") + empty_line + body


SDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\n\r\n"  # CRLF lines, and an empty one, inside the body
LF_MESSAGES = [(f, lf_head(m)) for f, m in call_messages(body=SDP, transport="TCP")]


def recorded(name: str) -> list[tuple[bool, bytes]]:
    """(a request, SIP payload) of each SIP message in a capture of ``tests/data/sip/real``."""
    with (Path(__file__).resolve().parent.parent / "data" / "sip" / "real" / name).open("rb") as stream:
        return [(not p.payload.startswith(b"SIP/2.0 "), p.payload) for p in packets(stream) if isinstance(p, Packet)]


#: hepgen.js (tests/data/sip/real/hepgenjs-default.pcap, the four messages whose Content-Length is right): header
#: lines ended by LF alone, the last one and the empty line by CRLF
HEPGEN = recorded("hepgenjs-default.pcap")[1:5]  # 100 Trying, 407, OPTIONS, 200 Alive
#: name → (chunks sent, messages expected): heads whose lines end in LF alone are framed as CRLF heads are
LF_STREAM_CASES: dict[str, tuple[list[tuple[bool, bytes]], list[bytes]]] = {
    "one-per-segment": (LF_MESSAGES, [m for _, m in LF_MESSAGES]),
    "split-in-the-head": ([(f, part) for f, m in LF_MESSAGES for part in split(m, 10, 60)],
                          [m for _, m in LF_MESSAGES]),
    "split-inside-the-empty-line": ([(f, part) for f, m in LF_MESSAGES for part in split(m, m.index(b"\n\n") + 1)],
                                    [m for _, m in LF_MESSAGES]),
    "split-in-the-body": ([(f, part) for f, m in LF_MESSAGES for part in split(m, len(m) - 3)],
                          [m for _, m in LF_MESSAGES]),
    "several-per-segment": ([(True, LF_MESSAGES[0][1]), (False, LF_MESSAGES[1][1] + LF_MESSAGES[2][1]),
                             (True, LF_MESSAGES[3][1] + LF_MESSAGES[4][1][:40]), (True, LF_MESSAGES[4][1][40:]),
                             (False, LF_MESSAGES[5][1])], [m for _, m in LF_MESSAGES]),
    "lf-then-crlf-empty-line": ([(f, lf_head(m, b"\n\r\n")) for f, m in MESSAGES],
                                [lf_head(m, b"\n\r\n") for _, m in MESSAGES]),
    "lf-and-crlf-heads-in-one-flow": ([(True, MESSAGES[0][1] + LF_MESSAGES[3][1] + MESSAGES[4][1])],
                                      [MESSAGES[0][1], LF_MESSAGES[3][1], MESSAGES[4][1]]),
    "hepgen.js-one-segment-each-way": ([(False, HEPGEN[0][1] + HEPGEN[1][1] + HEPGEN[3][1]), (True, HEPGEN[2][1])],
                                       [HEPGEN[0][1], HEPGEN[1][1], HEPGEN[3][1], HEPGEN[2][1]]),
    "hepgen.js-split": ([(f, part) for f, m in HEPGEN for part in split(m, len(m) - 3, len(m) - 1)],
                        [m for _, m in HEPGEN]),
}


@pytest.mark.parametrize("case", LF_STREAM_CASES)
def test_tcp_heads_ended_by_lf_alone_are_framed_at_their_first_empty_line(case: str) -> None:
    chunks, messages = LF_STREAM_CASES[case]
    found = read(capture(tcp_frames(chunks)))
    assert [p.payload for p in found if isinstance(p, Packet)] == messages
    assert [p for p in found if isinstance(p, Malformed)] == []


def test_a_body_is_kept_with_its_message_over_tcp() -> None:
    messages = call_messages(body="v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\n", transport="TCP")
    chunks = [(f, part) for f, m in messages for part in split(m, len(m) - 3)]
    found = read(capture(tcp_frames(chunks)))
    assert [p.payload for p in found if isinstance(p, Packet)] == [m for _, m in messages]


def test_retransmitted_and_reordered_segments_count_once() -> None:
    frames = tcp_frames(MESSAGES)
    reordered = frames[:3] + [frames[4], frames[3], frames[3]] + frames[5:]  # early segment, then a retransmission
    found = read(capture(reordered))
    assert [p.payload for p in found if isinstance(p, Packet)] == [m for _, m in MESSAGES]


def test_a_flow_joined_mid_message_starts_at_the_next_message() -> None:
    tail = MESSAGES[0][1][30:]
    found = read(capture(tcp_frames([(True, tail), *MESSAGES[1:]], syn=False)))
    assert [p.payload for p in found if isinstance(p, Packet)] == [m for _, m in MESSAGES[1:]]


def test_tcp_that_is_not_sip_is_ignored() -> None:
    http = [(True, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), (False, b"HTTP/1.1 200 OK\r\n\r\n")]
    found = read(capture(tcp_frames(http)))
    assert found == []


@pytest.mark.parametrize(("chunks", "syn", "reasons"), [
    ([(True, b"\x00\x11\x22\x22\x01\x00\x00\x01\x00\x00")], True, []),  # DNS over TCP: no line end, ever
    ([(True, b"\x17\x03\x03\x00\x20" + b"\xaa" * 32)], False, []),  # TLS records, the handshake not captured
    ([(True, MESSAGES[0][1][:-10])], True, ["connection ended inside a message"]),
    ([(True, MESSAGES[0][1][30:] + MESSAGES[1][1][:-10])], False, ["connection ended inside a message"]),
], ids=["binary-protocol", "joined-mid-connection", "sip-cut", "sip-joined-then-cut"])
def test_only_a_sip_flow_can_end_inside_a_message(chunks: list[tuple[bool, bytes]], syn: bool,
                                                  reasons: list[str]) -> None:
    found = read(capture(tcp_frames(chunks, syn=syn)))
    assert [m.reason for m in found if isinstance(m, Malformed)] == reasons


@pytest.mark.parametrize("v6", [False, True], ids=["icmp", "icmpv6"])
@pytest.mark.parametrize("quoted", [None, 200], ids=["whole-datagram", "first-200-bytes"])
def test_the_datagram_an_icmp_error_quotes_is_not_traffic(v6: bool, quoted: int | None) -> None:
    """A phone gone away answers the INVITE with port unreachable, quoting it: still one INVITE, nothing broken."""
    forward, message = MESSAGES[0]
    caller, callee = addresses(v6, forward)
    invite = udp_ip(message, caller, callee)
    if v6:
        error = icmp6.ICMP6(type=icmp6.ICMP6_DST_UNREACH, code=4, data=icmp6.ICMP6.Unreach(data=bytes(invite)[:quoted]))
        reply = ipv6(error, callee[0], caller[0], 58)
    else:
        error = icmp.ICMP(type=icmp.ICMP_UNREACH, code=icmp.ICMP_UNREACH_PORT,
                          data=icmp.ICMP.Unreach(data=bytes(invite)[:quoted]))
        reply = ipv4(error, callee[0], caller[0], 1)
    found = read(capture([(1.0, eth(bytes(invite), kind_of(invite))), (1.1, eth(bytes(reply), kind_of(reply)))]))
    assert found == [Packet(1.0, caller[0], caller[1], callee[0], callee[1], "udp", message)]


def websocket_chunks(line_end: bytes = b"\r\n") -> list[tuple[bool, bytes]]:
    """The HTTP upgrade and its answer, their lines ended by ``line_end``, then the call in WebSocket frames."""
    upgrade = (b"GET / HTTP/1.1\r\nHost: 192.0.2.20\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
    answer = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
    chunks = [(True, upgrade.replace(b"\r\n", line_end)), (False, answer.replace(b"\r\n", line_end))]
    for index, (forward, message) in enumerate(MESSAGES):
        if index == 2:  # a message in two frames: text, then a continuation
            first = Frame(Opcode.TEXT, message[:20], fin=False).serialize(mask=forward)
            chunks.append((forward, first + Frame(Opcode.CONT, message[20:]).serialize(mask=forward)))
        else:
            chunks.append((forward, Frame(Opcode.TEXT, message).serialize(mask=forward)))
        if index == 3:
            chunks.append((False, Frame(Opcode.PING, b"x").serialize(mask=False)))
    return chunks


@pytest.mark.parametrize("line_end", [b"\r\n", b"\n"], ids=["crlf", "lf"])  # RFC 9112 §2.2: a bare LF may be taken
def test_sip_over_websocket_masked_and_unmasked_frames(line_end: bytes) -> None:
    found = read(capture(tcp_frames(websocket_chunks(line_end))))
    assert [p.payload for p in found if isinstance(p, Packet)] == [m for _, m in MESSAGES]
    assert {p.transport for p in found if isinstance(p, Packet)} == {"ws"}


def test_sip_over_websocket_frames_split_across_segments() -> None:
    chunks = [(f, part) for f, c in websocket_chunks() for part in split(c, 1, 3)]
    found = read(capture(tcp_frames(chunks)))
    assert [p.payload for p in found if isinstance(p, Packet)] == [m for _, m in MESSAGES]


def test_sctp_data_chunks_and_split_user_messages() -> None:
    first, second = MESSAGES[0][1], MESSAGES[1][1]
    frames = [
        (1.0, sctp_data([(first, 0x03), (MESSAGES[2][1], 0x03)], CALLER, CALLEE)),  # two messages, one packet
        (2.0, sctp_data([(second[:25], 0x02)], CALLEE, CALLER)),  # one message in three chunks
        (2.1, sctp_data([(second[25:50], 0x00)], CALLEE, CALLER)),
        (2.2, sctp_data([(second[50:], 0x01)], CALLEE, CALLER)),
    ]
    found = read(capture(frames))
    assert [(p.transport, p.payload) for p in found if isinstance(p, Packet)] == [
        ("sctp", first), ("sctp", MESSAGES[2][1]), ("sctp", second)]


def fragments(message: bytes, size: int, ident: int) -> list[bytes]:
    """An IPv4 UDP datagram cut into fragments of ``size`` payload bytes (a multiple of 8)."""
    whole = bytes(udp_ip(message, CALLER, CALLEE).data)  # type: ignore[arg-type]
    pieces = []
    for offset in range(0, len(whole), size):
        more = offset + size < len(whole)
        flags = (0x2000 if more else 0) | offset // 8
        packet = ipv4(whole[offset:offset + size], CALLER[0], CALLEE[0], 17, id=ident, _flags_offset=flags)
        pieces.append(eth(packet))
    return pieces


def test_ip_fragments_are_reassembled_in_any_order() -> None:
    big = call_messages(body="a=x-padding:" + "y" * 3000 + "\r\n")[0][1]
    pieces = fragments(big, 1480, 7)
    found = read(capture([(1.0, piece) for piece in [pieces[2], pieces[0], pieces[1]]]))
    assert [p.payload for p in found if isinstance(p, Packet)] == [big]


def test_fragments_never_completed_are_counted() -> None:
    big = call_messages(body="y" * 3000)[0][1]
    found = read(capture([(1.0, piece) for piece in fragments(big, 1480, 9)[:2]]))
    assert [(m.location, m.reason, m.raw) for m in found if isinstance(m, Malformed)] == [
        ("capture", "fragmented IP datagrams never completed", b"1")]


def test_sip_is_found_on_any_port_and_other_udp_is_skipped() -> None:
    rtp = udp_ip(b"\x80\x00" + b"\x00" * 170, ("192.0.2.10", 40000), ("192.0.2.20", 40002))
    sip_elsewhere = udp_ip(MESSAGES[0][1], ("192.0.2.10", 31337), ("192.0.2.20", 7777))
    found = read(capture([(1.0, eth(rtp)), (2.0, eth(sip_elsewhere))]))
    assert sip_of(found) == [("192.0.2.10", 31337, "192.0.2.20", 7777, MESSAGES[0][1])]


def test_pcapng_interfaces_keep_their_own_link_types() -> None:
    from dpkt import pcapng

    messages = udp_frames(lambda raw, p: raw)  # bare IP packets, wrapped per interface below
    blocks = [pcapng.SectionHeaderBlockLE(), pcapng.InterfaceDescriptionBlockLE(linktype=1),
              pcapng.InterfaceDescriptionBlockLE(linktype=101)]
    for index, (stamp, raw) in enumerate(messages):
        on_ethernet = index % 2 == 0
        micros = int(stamp * 1e6)
        blocks.append(pcapng.EnhancedPacketBlockLE(
            iface_id=0 if on_ethernet else 1, ts_high=micros >> 32, ts_low=micros & 0xFFFFFFFF,
            pkt_data=eth(raw) if on_ethernet else raw))
    found = read(b"".join(bytes(block) for block in blocks))
    assert sip_of(found) == expected()


def test_ipv6_fragments_are_reassembled() -> None:
    from dpkt import ip6

    big = call_messages(body="a=x-padding:" + "y" * 2000 + "\r\n")[0][1]
    whole = bytes(udp_ip(big, ("2001:db8::10", 5060), ("2001:db8::20", 5060)).data)  # type: ignore[arg-type]
    frames = []
    for offset in range(0, len(whole), 1232):
        more = offset + 1232 < len(whole)
        header = bytes([17, 0]) + ((offset // 8) << 3 | more).to_bytes(2, "big") + (99).to_bytes(4, "big")
        packet = ip6.IP6(src=socket.inet_pton(socket.AF_INET6, "2001:db8::10"),
                         dst=socket.inet_pton(socket.AF_INET6, "2001:db8::20"),
                         nxt=44, hlim=64, data=header + whole[offset:offset + 1232])
        packet.plen = len(packet.data)
        frames.append((1.0, eth(bytes(packet), 0x86DD)))
    found = read(capture(frames[::-1]))
    assert [p.payload for p in found if isinstance(p, Packet)] == [big]


def test_a_gap_that_never_fills_loses_one_message_not_the_flow() -> None:
    """The 180's segment was never captured: what follows waits, then reading goes on without it."""
    extras = [sip("SIP/2.0 200 OK", f"{n} OPTIONS", "c1@example.com", to_tag="b2") for n in range(3, 73)]
    frames = tcp_frames([*MESSAGES, *((False, extra) for extra in extras)])
    del frames[3]  # SYN, SYN-ACK, INVITE, then the 180
    found = read(capture(frames))
    replies = [p.payload for p in found if isinstance(p, Packet) and p.src == CALLEE[0]]
    requests = [p.payload for p in found if isinstance(p, Packet) and p.src == CALLER[0]]
    assert requests == [MESSAGES[0][1], MESSAGES[3][1], MESSAGES[4][1]]
    assert replies == [MESSAGES[2][1], MESSAGES[5][1], *extras]


@pytest.mark.parametrize("version", [2, 3])
def test_hep_mirrored_to_a_collector_gives_the_mirrored_messages(version: int) -> None:
    from hangup.sip import hep

    frames = []
    for index, (forward, message) in enumerate(MESSAGES):
        src, dst = addresses(False, forward)
        mirrored = Packet(1_600_000_000.0 + index, src[0], src[1], dst[0], dst[1], "udp", message)
        datagram = hep.encode_v3(mirrored) if version == 3 else hep.encode_v2(mirrored)
        frames.append((1_700_000_000.0 + index, eth(udp_ip(datagram, ("198.51.100.1", 40000),
                                                           ("198.51.100.2", 9060)))))
    found = read(capture(frames))
    assert sip_of(found) == expected()
    assert [p.time for p in found if isinstance(p, Packet)] == [1_600_000_000.0 + i for i in range(len(MESSAGES))]


def test_an_unreadable_hep_packet_is_a_malformed_region() -> None:
    found = read(capture([(1.0, eth(udp_ip(b"HEP3\x00\x40" + b"\x00" * 10, ("198.51.100.1", 1), CALLEE)))]))
    assert [(m.location, m.reason.split(":")[0]) for m in found if isinstance(m, Malformed)] == [
        ("hep", "unreadable HEP packet")]


@pytest.mark.parametrize("linktype", [113, 276], ids=["sll", "sll2"])
def test_a_loopback_packet_recorded_twice_on_any_counts_once(linktype: int) -> None:
    def cooked(raw: bytes, direction: int) -> bytes:
        if linktype == 113:
            return struct.pack(">HHH", direction, 772, 0) + b"\x00" * 8 + b"\x08\x00" + raw
        return b"\x08\x00\x00\x00" + struct.pack(">iHBB", 1, 772, direction, 0) + b"\x00" * 8 + raw

    frames = [(stamp, cooked(raw, direction)) for stamp, raw in udp_frames(lambda raw, p: raw)
              for direction in (4, 0)]  # sent by this host, then received by it
    assert sip_of(read(capture(frames, linktype))) == expected()


def test_a_message_both_on_the_wire_and_mirrored_as_hep_counts_once() -> None:
    """A capture on a proxy that mirrors to a collector: wire copy, HEP copy, then a real retransmission."""
    from hangup.sip import hep

    (forward, invite) = MESSAGES[0]
    src, dst = addresses(False, forward)
    on_wire = eth(udp_ip(invite, src, dst))
    as_hep = eth(udp_ip(hep.encode_v3(Packet(1.0, src[0], src[1], dst[0], dst[1], "udp", invite)),
                        ("198.51.100.1", 40000), ("198.51.100.2", 9060)))
    found = read(capture([(1.0, as_hep), (1.0001, on_wire), (1.5, on_wire), (1.5001, as_hep)]))
    assert [(round(p.time, 4), p.payload) for p in found if isinstance(p, Packet)] == [(1.0, invite), (1.5, invite)]
