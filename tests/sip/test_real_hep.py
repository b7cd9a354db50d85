"""HEP datagrams other software wrote (``tests/data/sip/real/*.hex``, sources and licences in its README).

Each ``<name>.hex`` sits beside ``<name>.expected.json``: what its sender put in each field, read from the
bytes and from what the other project's own test asserts of them (the README says where they disagree).
The datagram is decoded by ``hangup.sip.hep.decode`` and handed to the HEP listener, as a capture agent's
datagram would be, and the listener's counts must be the expected ones (``malformed``: quarantined,
``not_sip``: another protocol type, dropped; neither stops the listener).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hangup.sip.hep import HepError, HepPacket, decode
from hangup.sip.listener import HepListener
from hangup.store.base import Store

REAL = Path(__file__).resolve().parent.parent / "data" / "sip" / "real"
RECEIVED = 1_700_000_000.0  # the time of receipt handed to the decoder: a v1 packet, timeless, takes it
DATAGRAMS = sorted(path.stem for path in REAL.glob("*.hex"))


def _load(name: str) -> tuple[bytes, dict[str, Any]]:
    data = bytes.fromhex((REAL / f"{name}.hex").read_text().strip())
    return data, json.loads((REAL / f"{name}.expected.json").read_text())


def _fields(hep: HepPacket) -> dict[str, Any]:
    packet = hep.packet
    lines = packet.payload.split(b"\r\n")
    call_id = next((line[9:].decode() for line in lines if line.startswith(b"Call-ID: ")), None)
    first = lines[0].decode() if packet.payload[:1].isalpha() else None  # RTCP reports are JSON, not SIP
    fields = {
        "version": hep.version, "protocol_type": hep.protocol_type, "capture_id": hep.capture_id,
        "time": None if packet.time == RECEIVED else packet.time,
        "src": f"{packet.src}:{packet.sport}", "dst": f"{packet.dst}:{packet.dport}", "transport": packet.transport,
        "payload": {"bytes": len(packet.payload), "first_line": first, "call_id": call_id},
    }
    fields |= {"password": hep.password} if hep.password else {}
    return fields | ({"correlation_id": hep.correlation_id} if hep.correlation_id else {})


@pytest.mark.parametrize("name", DATAGRAMS)
def test_a_real_hep_datagram_decodes_as_its_sender_wrote_it(name: str) -> None:
    data, want = _load(name)
    if "error" not in want:
        assert _fields(decode(data, RECEIVED)) == {k: v for k, v in want.items() if k != "listener"}
        return
    with pytest.raises(HepError) as refused:
        decode(data, RECEIVED)
    assert str(refused.value) == want["error"]
    # the fields the other project's test asserts, read once the total length says what the bytes hold
    cut = data[:4] + len(data).to_bytes(2, "big") + data[6:]
    assert _fields(decode(cut, RECEIVED)) == want["with_its_own_length"]


@pytest.mark.parametrize("name", DATAGRAMS)
def test_the_listener_takes_a_real_hep_datagram_without_stopping(name: str, fresh_store: Store) -> None:
    data, want = _load(name)
    listener = HepListener(fresh_store, address="127.0.0.1:0")
    listener.datagram(data, "127.0.0.1:9060")
    assert dict(listener.stats.counts) == want["listener"]
    assert listener.engine.open_dialogs == 0  # a REGISTER, an OPTIONS' answer, a report: no call opened


def test_every_datagram_has_its_provenance() -> None:
    table = (REAL / "README.md").read_text()
    assert DATAGRAMS and not [name for name in DATAGRAMS if f"`{name}.hex`" not in table]
