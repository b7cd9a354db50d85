"""What the SIP modules of hangup/native.txt make of every SIP file under tests/data/sip, as JSON lines.

``tests/test_native.py`` runs it twice, compiled and with ``HANGUP_PURE_PYTHON=1``, and compares: every
call (all its fields but the receipt time), every rejection and every parse of the messages, whole and
mutated (case, folds, bare line feeds, cut short), must be the same.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

from hangup import native
from hangup.records import CallRecord
from hangup.sip.capture import Malformed, packets
from hangup.sip.dialogs import DialogEngine, calls_from
from hangup.sip.hep import HepError, decode
from hangup.sip.message import SipParseError, parse
from hangup.sip.packet import Packet
from hangup.sip.trace import read_trace

DATA = Path(__file__).resolve().parent / "data" / "sip"
MUTATIONS = 20


def mutations(payload: bytes, rng: random.Random) -> Iterator[bytes]:
    yield payload
    yield payload.replace(b"\r\n", b"\n")
    yield payload.replace(b"\r\nVia:", b"\r\n v:").replace(b"Call-ID:", b"i:").replace(b"From:", b"f:")
    yield payload.replace(b"\r\nCSeq:", b"\r\nCSeq:\r\n ")
    for _ in range(MUTATIONS):
        cut = rng.randrange(len(payload) + 1)
        yield rng.choice([payload[:cut], payload[:cut] + payload[cut + 1:], payload[:cut] + b"\r" + payload[cut:],
                          payload[:cut] + payload[cut:cut + 1].swapcase() + payload[cut + 1:]])


def parsed(data: bytes) -> str:
    try:
        m = parse(data)
    except SipParseError as exc:
        return f"error {exc.what}: {exc.detail}"
    return repr((m.method, m.uri, m.status, m.phrase, m.body, m.call_id, m.cseq, m.cseq_method, m.from_tag,
                 m.to_tag, m.vias, m.reason_values, m.branch, m.headers))


def call(record: CallRecord) -> str:
    fields = record.to_json()
    fields.pop("received_at")
    return json.dumps(fields, sort_keys=True)


def main() -> None:
    rng = random.Random(3261)
    out: dict[str, list[str]] = {"mode": [native.MODE]}
    for path in sorted(DATA.rglob("*")):
        name = str(path.relative_to(DATA))
        if path.suffix in (".pcap", ".pcapng"):
            with path.open("rb") as stream:
                found = list(packets(stream))
            sip = [p for p in found if isinstance(p, Packet)]
            out[name] = [call(r) for r in calls_from(sip, engine=DialogEngine(received_at=lambda: 0.0))]
            out[name] += [f"malformed {m.what}" for m in found if isinstance(m, Malformed)]
            out[name] += [parsed(m) for p in sip for m in mutations(p.payload, rng)]
        elif path.suffix == ".txt":
            with path.open(encoding="utf-8") as text:
                out[name] = [call(i.record) if i.record else f"rejected {i.error}" for i in read_trace(text, 0.0)]
        elif path.suffix == ".hex":
            try:
                out[name] = [repr(decode(bytes.fromhex(path.read_text()), 0.0))]
            except (HepError, ValueError) as exc:
                out[name] = [f"error {exc}"]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
