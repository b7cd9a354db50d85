"""HEP v1/v2/v3 decoding: the HEP3 specification's example packet, round trips, and broken packets."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from sip_helpers import invite

from hangup.sip.hep import HepError, decode, encode_v2, encode_v3, frame_length
from hangup.sip.packet import Packet

# The example packet of the HEP3 specification (sipcapture/HEP, rev. 37), as transcribed octet by octet in
# FihlaTV/tapir (a fork of sip3io/tapir, Apache-2.0) @ 51e47acbc7afa1df50d064c624aefaca71f7c033,
# salto/src/test/java/io/sip3/tapir/salto/handler/ByteBufferHepHandlerTest.java (HEP_MESSAGE).
SPEC_EXAMPLE = bytes([
    0x48, 0x45, 0x50, 0x33, 0x00, 0x71,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x07, 0x02,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x07, 0x11,
    0x00, 0x00, 0x00, 0x03, 0x00, 0x0a, 0xd4, 0xca, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x0a, 0x52, 0x74, 0x00, 0xd3,
    0x00, 0x00, 0x00, 0x07, 0x00, 0x08, 0x2e, 0xea,
    0x00, 0x00, 0x00, 0x08, 0x00, 0x08, 0x13, 0xc4,
    0x00, 0x00, 0x00, 0x09, 0x00, 0x0a, 0x4e, 0x49, 0x82, 0xcb,
    0x00, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0x00, 0x01, 0xe2, 0x40,
    0x00, 0x00, 0x00, 0x0b, 0x00, 0x07, 0x01,
    0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x00, 0x00, 0xe4,
    0x00, 0x00, 0x00, 0x0f, 0x00, 0x14, 0x49, 0x4e, 0x56, 0x49, 0x54, 0x45, 0x20, 0x73, 0x69, 0x70, 0x3a, 0x62,
    0x6f, 0x62,
])
DATA = Path(__file__).resolve().parent.parent / "data" / "sip"
PACKET = Packet(1_700_000_000.25, "10.0.0.1", 5060, "10.0.0.2", 5080, "udp", invite())
PACKET6 = Packet(1_700_000_000.5, "2001:db8::1", 5060, "2001:db8::2", 5060, "tcp", invite())


def test_the_specification_example() -> None:
    hep = decode(SPEC_EXAMPLE, 0.0)
    assert (hep.version, hep.protocol_type, hep.capture_id) == (3, 1, 228)
    assert hep.packet == Packet(1313440459.123456, "212.202.0.1", 12010, "82.116.0.211", 5060, "udp",
                                b"INVITE sip:bob")
    assert frame_length(SPEC_EXAMPLE[:6]) == 113


@pytest.mark.parametrize("version", [2, 3])
def test_what_kamailio_siptrace_sends(version: int) -> None:
    """Datagrams recorded from Kamailio 5.6.3 ``siptrace`` (tests/data/sip/README.md)."""
    data = bytes.fromhex((DATA / f"kamailio-5.6.3-siptrace-hep{version}.hex").read_text().strip())
    hep = decode(data, 0.0)
    assert (hep.version, hep.capture_id, hep.protocol_type) == (version, 7, 1)
    assert (hep.packet.src, hep.packet.dst, hep.packet.transport) == ("127.0.0.1", "127.0.0.1", "udp")
    assert 1_700_000_000 < hep.packet.time < 2_000_000_000  # seconds and microseconds in their places
    assert hep.packet.payload.startswith(b"INVITE sip:bob@127.0.0.1 SIP/2.0\r\n")
    assert f"Call-ID: hep-v{version}-recording@127.0.0.1".encode() in hep.packet.payload
    assert hep.packet.payload.endswith(b"\r\n\r\n")
    encode = encode_v2 if version == 2 else encode_v3  # hangup's encoders lay packets out as Kamailio does
    assert encode(hep.packet, capture_id=7) == data


@pytest.mark.parametrize("packet", [PACKET, PACKET6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("options", [
    {}, {"compress": True}, {"password": "s3cret", "correlation_id": "abc@x", "capture_id": 2001},
])
def test_v3_round_trip(packet: Packet, options: dict[str, object]) -> None:
    hep = decode(encode_v3(packet, **options), 0.0)  # type: ignore[arg-type]
    assert hep.packet == packet and hep.version == 3
    assert (hep.password, hep.correlation_id) == (options.get("password", ""), options.get("correlation_id", ""))


@pytest.mark.parametrize("packet", [PACKET, PACKET6], ids=["ipv4", "ipv6"])
def test_v2_round_trip_and_v1_takes_the_time_of_receipt(packet: Packet) -> None:
    v2 = decode(encode_v2(packet, capture_id=7), 0.0)
    assert (v2.version, v2.packet, v2.capture_id) == (2, packet, 7)
    v1 = decode(encode_v2(packet, version=1), 42.0)
    assert v1.version == 1 and v1.packet.time == 42.0 and v1.packet.payload == packet.payload


def test_unknown_chunks_and_vendors_are_skipped() -> None:
    data = encode_v3(PACKET)
    extra = struct.pack("!HHH", 0x0b, 1, 9) + b"xyz" + struct.pack("!HHH", 0, 99, 8) + b"zz"
    patched = b"HEP3" + struct.pack("!H", len(data) + len(extra)) + data[6:] + extra
    assert decode(patched, 0.0).packet == PACKET


def _v3(*chunks: tuple[int, bytes]) -> bytes:
    body = b"".join(struct.pack("!HHH", 0, kind, 6 + len(value)) + value for kind, value in chunks)
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


ADDRESSES = ((3, bytes([10, 0, 0, 1])), (4, bytes([10, 0, 0, 2])))
# The chunks encode_v3 writes for PACKET, in its order: the layout read in one unpack.
LAID_OUT = ((1, b"\x02"), (2, b"\x11"), *ADDRESSES, (7, struct.pack("!H", 5060)), (8, struct.pack("!H", 5080)),
            (9, struct.pack("!I", 1_700_000_000)), (10, struct.pack("!I", 250_000)), (11, b"\x01"),
            (12, struct.pack("!I", 0)))


@pytest.mark.parametrize(("chunks", "changed"), [
    ((*LAID_OUT, (15, PACKET.payload)), {}),
    ((*reversed(LAID_OUT), (15, PACKET.payload)), {}),
    ((*LAID_OUT[:4], (7, struct.pack("!I", 5060)), *LAID_OUT[5:], (15, PACKET.payload)), {}),  # a 4-byte port
    ((*LAID_OUT, (15, PACKET.payload), (8, struct.pack("!H", 5090))), {"dport": 5090}),  # sent again: the last
    ((*LAID_OUT, (15, PACKET.payload), (3, bytes([10, 0, 0, 9]))), {"src": "10.0.0.9"}),
    ((*LAID_OUT, (14, b"pw"), (15, PACKET.payload)), {}),
])
def test_chunks_in_any_order_and_repeated_read_alike(chunks: tuple[tuple[int, bytes], ...],
                                                     changed: dict[str, object]) -> None:
    assert decode(_v3(*chunks), 0.0).packet == PACKET._replace(**changed)


MAPPED_SRC, MAPPED_DST = bytes(10) + b"\xff\xff" + bytes([10, 0, 0, 1]), bytes(10) + b"\xff\xff" + bytes([10, 0, 0, 2])
V6_PACKET = PACKET._replace(src="2001:db8::1", dst="2001:db8::2")


@pytest.mark.parametrize(("data", "packet"), [
    # sip3's decoder test (tests/data/sip/real/sip3-salto-hep3-notify.hex): 16 bytes in the IPv4 chunks
    (_v3((1, b"\x02"), (3, MAPPED_SRC), (4, MAPPED_DST), *LAID_OUT[4:], (15, PACKET.payload)), PACKET),
    # family 10 and the IPv6 chunks, as an agent on a dual-stack socket reports an IPv4 peer
    (_v3((1, b"\x0a"), (2, b"\x11"), (5, MAPPED_SRC), (6, MAPPED_DST), *LAID_OUT[4:], (15, PACKET.payload)), PACKET),
    (encode_v2(PACKET6._replace(src="::ffff:10.0.0.1", dst="::ffff:10.0.0.2")),
     PACKET6._replace(src="10.0.0.1", dst="10.0.0.2")),
    (encode_v3(V6_PACKET), V6_PACKET),  # an IPv6 address stays one
    (encode_v2(PACKET6), PACKET6),
])
def test_an_ipv4_mapped_address_is_the_ipv4_host(data: bytes, packet: Packet) -> None:
    """``::ffff:10.0.0.1`` is 10.0.0.1: one host, whichever way its agent wrote it."""
    assert decode(data, 0.0).packet == packet


@pytest.mark.parametrize(("data", "what"), [
    (b"", "header"),
    (b"GET / HTTP/1.1\r\n\r\n", "header"),
    (b"HEP3\x00\x03", "length"),
    (encode_v3(PACKET) + b"x", "length"),
    (encode_v3(PACKET)[:-1], "length"),
    (b"HEP3\x00\x0a\x00\x00\x00\x0f", "chunk"),
    (b"HEP3\x00\x0c\x00\x00\x00\x0f\x00\x40", "chunk"),
    (_v3(*ADDRESSES), "payload"),
    (_v3((3, b"\x01\x02"), ADDRESSES[1], (15, b"x")), "source address"),
    (_v3(ADDRESSES[0], (15, b"x")), "destination address"),
    (_v3(*ADDRESSES, (16, b"not zlib")), "payload"),
    (_v3(*ADDRESSES, (16, zlib.compress(b"\x00" * 300_000))), "payload"),
    (_v3(*ADDRESSES, (7, b"\x01\x02\x03"), (15, b"x")), "chunk 7"),
    (b"\x02\x10\x02\x11" + b"\x00" * 4, "header"),
    (b"\x02\x11\x02\x11" + b"\x00" * 30, "header"),
    (encode_v2(PACKET)[:20], "time header"),
])
def test_broken_packets_name_what_is_wrong(data: bytes, what: str) -> None:
    with pytest.raises(HepError) as raised:
        decode(data, 0.0)
    assert raised.value.what == what
