"""Captures built frame by frame with dpkt's writers: one SIP call in any encapsulation.

``call_messages`` is one answered call (INVITE, 180, 200, ACK, BYE, 200) between 192.0.2.10 and
192.0.2.20; ``wrap`` puts a transport payload inside the link layers and tunnels a test names.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Sequence
from pathlib import Path

from dpkt import ethernet, gre, ip, ip6, pcap, pcapng, sctp, tcp, udp

from hangup.importer import Importer
from hangup.store.base import Store

CALLER, CALLEE = ("192.0.2.10", 5060), ("192.0.2.20", 5060)
CALLER6, CALLEE6 = ("2001:db8::10", 5060), ("2001:db8::20", 5060)
ETH_SRC, ETH_DST = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"


def sip(start: str, cseq: str, call_id: str, *, to_tag: str = "", body: str = "", transport: str = "UDP") -> bytes:
    lines = [
        start,
        f"Via: SIP/2.0/{transport} 192.0.2.10:5060;branch=z9hG4bK-{call_id}-{cseq.split()[0]}",
        "From: <sip:alice@example.com>;tag=a1",
        "To: <sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq}",
        f"Content-Length: {len(body.encode())}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def call_messages(call_id: str = "c1@example.com", transport: str = "UDP", body: str = ""
                  ) -> list[tuple[bool, bytes]]:
    """(sent by the caller, message) of one answered call ended by the caller's BYE."""
    uri = "sip:bob@example.com SIP/2.0"
    return [
        (True, sip(f"INVITE {uri}", "1 INVITE", call_id, body=body, transport=transport)),
        (False, sip("SIP/2.0 180 Ringing", "1 INVITE", call_id, to_tag="b2", transport=transport)),
        (False, sip("SIP/2.0 200 OK", "1 INVITE", call_id, to_tag="b2", transport=transport)),
        (True, sip(f"ACK {uri}", "1 ACK", call_id, to_tag="b2", transport=transport)),
        (True, sip(f"BYE {uri}", "2 BYE", call_id, to_tag="b2", transport=transport)),
        (False, sip("SIP/2.0 200 OK", "2 BYE", call_id, to_tag="b2", transport=transport)),
    ]


def addresses(v6: bool, forward: bool) -> tuple[tuple[str, int], tuple[str, int]]:
    pair = (CALLER6, CALLEE6) if v6 else (CALLER, CALLEE)
    return pair if forward else (pair[1], pair[0])


def ipv4(payload: object, src: str, dst: str, proto: int, **fields: int) -> ip.IP:
    return ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, data=payload, ttl=64, **fields)


def ipv6(payload: object, src: str, dst: str, proto: int) -> ip6.IP6:
    packet = ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src), dst=socket.inet_pton(socket.AF_INET6, dst),
                     nxt=proto, hlim=64, data=payload)
    packet.plen = len(bytes(payload))  # type: ignore[arg-type]
    return packet


def udp_ip(payload: bytes, src: tuple[str, int], dst: tuple[str, int]) -> ip.IP | ip6.IP6:
    datagram = udp.UDP(sport=src[1], dport=dst[1], data=payload)
    datagram.ulen = 8 + len(payload)
    if ":" in src[0]:
        return ipv6(datagram, src[0], dst[0], 17)
    return ipv4(datagram, src[0], dst[0], 17)


def eth(payload: object, kind: int = ethernet.ETH_TYPE_IP, tags: Sequence[int] = ()) -> bytes:
    """An Ethernet frame, with 802.1Q tags (outer first) when given."""
    head = ETH_DST + ETH_SRC
    for index, vlan in enumerate(tags):
        head += (0x88A8 if index == 0 and len(tags) > 1 else 0x8100).to_bytes(2, "big") + vlan.to_bytes(2, "big")
    return head + kind.to_bytes(2, "big") + bytes(payload)  # type: ignore[call-overload]


def kind_of(packet: object) -> int:
    return ethernet.ETH_TYPE_IP6 if isinstance(packet, ip6.IP6) else ethernet.ETH_TYPE_IP


def tunnel_gre(inner: bytes, proto: int, header: bytes = b"", flags: int = 0) -> bytes:
    """Ethernet / IPv4 / GRE(proto) / header / inner, between two mirror addresses."""
    packet = gre.GRE(flags=flags, p=proto, data=header + inner)
    if flags & gre.GRE_SP:
        packet.seq = 7
    if flags & gre.GRE_KP:
        packet.key = 42
    return eth(ipv4(packet, "198.51.100.1", "198.51.100.2", 47))


def capture(frames: Sequence[tuple[float, bytes]], linktype: int = 1, *, ng: bool = False, nano: bool = False
            ) -> bytes:
    """A libpcap (or pcapng) file of ``frames`` with one link type."""
    out = io.BytesIO()
    writer = pcapng.Writer(out, linktype=linktype) if ng else pcap.Writer(out, linktype=linktype, nano=nano)
    for stamp, frame in frames:
        writer.writepkt(frame, ts=stamp)
    return out.getvalue()


def tcp_segment(payload: bytes, src: tuple[str, int], dst: tuple[str, int], seq: int, flags: int = tcp.TH_ACK
                ) -> bytes:
    segment = tcp.TCP(sport=src[1], dport=dst[1], seq=seq, flags=flags, data=payload)
    return eth(ipv4(segment, src[0], dst[0], 6))


def sctp_data(payloads: Sequence[tuple[bytes, int]], src: tuple[str, int], dst: tuple[str, int]) -> bytes:
    """One SCTP packet with a DATA chunk per (user data, B/E flags)."""
    chunks = []
    for tsn, (data, flags) in enumerate(payloads, 1):
        body = tsn.to_bytes(4, "big") + b"\x00\x01\x00\x00" + (39).to_bytes(4, "big") + data  # PPID 39: SIP
        chunk = sctp.Chunk(type=sctp.DATA, flags=flags, len=4 + len(body), data=body)
        chunk.padding = b"\x00" * (-chunk.len % 4)  # DATA chunks are padded to 4 bytes
        chunks.append(chunk)
    packet = sctp.SCTP(sport=src[1], dport=dst[1], vtag=1)
    packet.chunks = chunks
    packet.data = b""
    return eth(ipv4(packet, src[0], dst[0], 132))


def import_paths(store: Store, tmp_path: Path, paths: Sequence[Path]
                 ) -> tuple[dict[str, object], list[dict[str, object]]]:
    """``hangup import`` of files: the summary and the rejects file's lines."""
    rejects = tmp_path / "rejects.jsonl"
    summary = Importer(store, parallel=False, rejects_path=str(rejects)).run([str(path) for path in paths])
    lines = [json.loads(line) for line in rejects.read_text().splitlines()] if rejects.exists() else []
    return summary.to_json(), lines
