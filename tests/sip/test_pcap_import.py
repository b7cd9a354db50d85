"""``hangup import`` of captures: format guessed by magic number, damaged regions rejected, the rest imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from capture_helpers import CALLEE, CALLER, call_messages, capture, eth, import_paths, udp_ip
from dpkt import tcp

from hangup.importer import Importer, guess_format
from hangup.sip.capture import packets
from hangup.sip.capture.files import is_capture
from hangup.sip.packet import Packet
from hangup.store.base import CallQuery, Store


def call_frames(call_id: str, start: float) -> list[tuple[float, bytes]]:
    out = []
    for index, (forward, message) in enumerate(call_messages(call_id)):
        src, dst = (CALLER, CALLEE) if forward else (CALLEE, CALLER)
        out.append((start + index * 0.5, eth(udp_ip(message, src, dst))))
    return out


@pytest.mark.parametrize("ng", [False, True], ids=["pcap", "pcapng"])
@pytest.mark.parametrize("nano", [False, True], ids=["us", "ns"])
def test_captures_are_told_by_their_magic_number(ng: bool, nano: bool) -> None:
    head = capture(call_frames("a@x", 1.0), ng=ng, nano=nano)[:64]
    assert is_capture(head)
    assert guess_format("capture.bin", head.decode("utf-8", "replace")) is None  # the text guess cannot


def import_file(store: Store, tmp_path: Path, data: bytes) -> tuple[dict[str, object], list[dict[str, object]]]:
    path = tmp_path / "capture.cap"  # no telling extension: the content decides
    path.write_bytes(data)
    return import_paths(store, tmp_path, [path])


def not_sip_after_sip(call_id: str) -> list[tuple[float, bytes]]:
    """A SIP-over-TCP flow with garbage between the INVITEs of two calls."""
    first = call_messages(call_id, transport="TCP")[0][1]
    second = call_messages("other-" + call_id, transport="TCP")[0][1]
    garbage = b"\x00\xff" * 200 + b"\r\n\r\n"
    return [
        (10.0, eth(_tcp(b"", 99, tcp.TH_SYN))),
        (10.1, eth(_tcp(first + garbage, 100))),
        (10.2, eth(_tcp(second, 100 + len(first + garbage)))),
    ]


def _tcp(payload: bytes, seq: int, flags: int = tcp.TH_ACK) -> object:
    from capture_helpers import ipv4

    return ipv4(tcp.TCP(sport=40000, dport=5060, seq=seq, flags=flags, data=payload), CALLER[0], CALLEE[0], 6)


@pytest.mark.parametrize(("damage", "reason"), [
    ("truncated-last-record", "truncated record"),
    ("corrupt-record-length", "corrupt record header; rest of file skipped"),
    ("undecodable-frame", "undecodable frame"),
    ("garbage-in-a-sip-stream", "bytes that are not SIP skipped"),
])
def test_damaged_regions_are_rejected_and_the_import_goes_on(damage: str, reason: str, fresh_store: Store,
                                                             tmp_path: Path) -> None:
    frames = call_frames("first@x", 1.0) + call_frames("second@x", 5.0)
    if damage == "undecodable-frame":
        frames.insert(3, (2.6, eth(b"\x45\x00\x00")))  # an IPv4 header cut after three bytes
    if damage == "garbage-in-a-sip-stream":
        frames += not_sip_after_sip("third@x")
    data = capture(frames)
    if damage == "truncated-last-record":
        data += capture([(20.0, eth(udp_ip(b"x" * 100, CALLER, CALLEE)))])[24:24 + 16 + 30]
    if damage == "corrupt-record-length":
        data += (20).to_bytes(4, "little") + b"\x00" * 4 + (0xFFFFFF).to_bytes(4, "little") * 2 + b"junk"
    summary, rejects = import_file(fresh_store, tmp_path, data)
    assert summary["imported"] == 2 + 2 * (damage == "garbage-in-a-sip-stream")
    assert summary["rejected"] == len(rejects) >= 1
    assert any(reason in str(r["error"]) for r in rejects), rejects
    assert all(r["location"] and r["file"].endswith("capture.cap") for r in rejects)
    assert fresh_store.count(CallQuery()) == summary["imported"]


CORRUPT_RECORD = (20).to_bytes(4, "little") + b"\x00" * 4 + (0xFFFFFF).to_bytes(4, "little") * 2 + b"junk" * 9
CORRUPT_BLOCK = (6).to_bytes(4, "little") + (0xFFFFFFF0).to_bytes(4, "little") + b"junk" * 9


@pytest.mark.parametrize("ng", [False, True], ids=["pcap", "pcapng"])
def test_reading_resumes_at_the_record_after_a_corrupt_one(ng: bool, fresh_store: Store, tmp_path: Path) -> None:
    first, second = capture(call_frames("first@x", 1.0), ng=ng), capture(call_frames("second@x", 5.0), ng=ng)
    if ng:  # the second file's blocks after its section and interface headers
        data = first + CORRUPT_BLOCK + second[len(capture([], ng=True)):]
    else:
        data = first + CORRUPT_RECORD + second[24:]
    summary, rejects = import_file(fresh_store, tmp_path, data)
    what = "block" if ng else "record"
    assert (summary["imported"], summary["rejected"]) == (2, 1)
    assert rejects[0]["error"] == f"corrupt {what} header; skipped to the next {what}"


def test_a_message_the_engine_cannot_read_is_rejected_with_its_addresses(fresh_store: Store,
                                                                         tmp_path: Path) -> None:
    broken = b"INVITE sip:bob@example.com SIP/2.0\r\nVia: nonsense\r\n\r\n"  # no Call-ID, From, To, CSeq
    frames = [(0.5, eth(udp_ip(broken, CALLER, CALLEE))), *call_frames("ok@x", 1.0)]
    summary, rejects = import_file(fresh_store, tmp_path, capture(frames))
    assert (summary["imported"], summary["rejected"]) == (1, 1)
    assert "192.0.2.10:5060 > 192.0.2.20:5060" in str(rejects[0]["location"])
    assert str(rejects[0]["raw"]).startswith("INVITE sip:bob@example.com")


def test_captures_commit_in_small_batches(fresh_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call from a capture carries its messages: batches are capped so a large import stays small in memory."""
    from hangup.importer import run

    monkeypatch.setitem(run.SMALL_BATCHES, "pcap", 2)
    sizes: list[int] = []
    add_many = fresh_store.add_many
    monkeypatch.setattr(fresh_store, "add_many", lambda records: sizes.append(len(records)) or add_many(records))
    frames = [f for n in range(5) for f in call_frames(f"call-{n}@x", n * 10.0)]
    path = tmp_path / "five.pcap"
    path.write_bytes(capture(frames))
    summary = Importer(fresh_store, parallel=False).run([str(path)])
    assert (summary.imported, sizes) == (5, [2, 2, 1])


def test_a_capture_written_by_dumpcap(fresh_store: Store) -> None:
    """A real pcapng writer's file: section and interface options, an interface statistics block."""
    path = Path(__file__).resolve().parent.parent / "data" / "sip" / "capture" / "dumpcap-sipp-tcp.pcapng"
    with path.open("rb") as stream:
        assert sum(1 for found in packets(stream) if isinstance(found, Packet)) == 12  # as tshark -Y sip counts
    summary = Importer(fresh_store, parallel=False).run([str(path)])
    assert (summary.formats[str(path)], summary.imported, summary.rejected) == ("pcap", 2, 0)
    calls = fresh_store.query(CallQuery()).calls
    assert sorted((c.provider_call_id, c.outcome, c.ended_by, c.answered) for c in calls) == [
        ("1-8247@127.0.0.1", "completed", "caller", True), ("2-8247@127.0.0.1", "completed", "caller", True)]
