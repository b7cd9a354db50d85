"""``hangup import trace.txt``: plain-text SIP traces, messages one after another.

A message starts at a SIP start line (``INVITE sip:… SIP/2.0``, ``SIP/2.0 180 Ringing``) at the top of
the file or after a blank line, and runs to the next one. An optional line before it says when and
between which addresses it was seen, in the forms these tools write:

* ``2016/10/21 12:34:56.123456 10.0.0.1:5060 -> 10.0.0.2:5060``: sngrep "Save as .txt" (``save_msg_txt``);
* ``U 2016/10/21 12:34:56.123456 10.0.0.1:5060 -> 10.0.0.2:5060``: ngrep ``-t`` (``U``/``T`` for UDP/TCP), or
  ``U 10.0.0.1:5060 -> 10.0.0.2:5060`` without ``-t``; with ``-W byline`` ngrep shows each CR as a "." that
  ends the line, which is dropped;
* ``2024-01-02T03:04:05.678Z [2001:db8::1]:5060 > 10.0.0.2:5060``: an ISO 8601 time, IPv6 in brackets.

Times without a zone are UTC. Without a header line a message has time 0 and no addresses, and the
verdict is still made (durations and delays are then unknown). Lines are joined with CRLF again, so a
body's ``Content-Length`` counts as it did on the wire. A region that does not parse as SIP is a
rejected item with its line number; reading goes on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from hangup.errors import PayloadError
from hangup.providers.reading import Item
from hangup.sip.dialogs import DialogEngine
from hangup.sip.message import SipParseError
from hangup.sip.packet import Packet

FORMAT = "sip-trace"
_START = re.compile(r"^(?:[A-Z][A-Z0-9_.!%*+`'~-]* \S+ SIP/2\.0|SIP/2\.0 \d{3}(?: .*)?)$")
_ADDRESS = r"(\[[0-9A-Fa-f:.]+\]|[0-9A-Za-z.:-]+?):(\d{1,5})"
_HEADER = re.compile(
    r"^(?:(?P<proto>[UTS]) )?(?P<time>\d{4}[/-]\d{2}[/-]\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    rf"\s*{_ADDRESS}\s*-?>\s*{_ADDRESS}(?:\s.*)?$"
)
_TRANSPORTS = {"U": "udp", "T": "tcp", "S": "sctp"}
MAX_MESSAGE_LINES = 2000


@dataclass(frozen=True, slots=True)
class Seen:
    """What a header line says about the message after it."""

    time: float = 0.0
    src: str = ""
    sport: int = 0
    dst: str = ""
    dport: int = 0
    transport: str = "udp"
    dotted: bool = False  # ngrep: every CR shown as "." (each line ends with one; the blank line is ".")


def header_of(line: str) -> Seen | None:
    """The time and addresses of a header line, or ``None`` for any other line."""
    found = _HEADER.match(line.strip())
    if found is None:
        return None
    text = found.group("time")
    return Seen(
        _epoch(text) if text else 0.0, found.group(3).strip("[]"), int(found.group(4)),
        found.group(5).strip("[]"), int(found.group(6)), _TRANSPORTS.get(found.group("proto") or "U", "udp"),
        found.group("proto") is not None,
    )


def _epoch(text: str) -> float:
    normal = text.replace("/", "-").replace(",", ".").replace("Z", "+00:00")
    when = datetime.fromisoformat(normal)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def messages(lines: Iterable[str]) -> Iterator[tuple[int, Seen, bytes]]:
    """(first line number, header, payload) of each message of a trace."""
    seen, start, body = Seen(), 0, list[str]()
    blank = True
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        header = header_of(line) if not line[:1].isspace() else None
        if header is not None or (blank and _START.match(line)) or len(body) >= MAX_MESSAGE_LINES:
            if body:
                yield start, seen, _payload(body, seen.dotted)
            seen = header if header is not None else (seen if not body else Seen())
            body, start = ([] if header is not None else [line]), number
        elif body or line.strip():
            body.append(line)
        blank = not line.strip()
    if body:
        yield start, seen, _payload(body, seen.dotted)


def _payload(lines: list[str], dotted: bool = False) -> bytes:
    if dotted:
        lines = [line[:-1] if line.endswith(".") else line for line in lines]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if "" in lines:  # a body follows the blank line: it ended with CRLF on the wire
        return ("\r\n".join(lines) + "\r\n").encode()
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_trace(stream: IO[str], received_at: float) -> Iterator[Item]:
    """The importer's reader: the calls of a trace, and a rejected item per region that is not SIP."""
    engine = DialogEngine(received_at=lambda: received_at)
    expired = 0.0
    for number, seen, payload in messages(stream):
        packet = Packet(seen.time, seen.src, seen.sport, seen.dst, seen.dport, seen.transport, payload)
        try:
            records = engine.feed(packet)
        except SipParseError as exc:
            yield _rejected(number, seen, payload, str(exc))
            continue
        if packet.time - expired >= 1.0:
            records += engine.expire(packet.time)
            expired = packet.time
        yield from (Item(f"line {number}", record) for record in records)
    yield from (Item("end of file", record) for record in engine.flush())


def _rejected(number: int, seen: Seen, payload: bytes, reason: str) -> Item:
    source = f" ({seen.src}:{seen.sport} > {seen.dst}:{seen.dport})" if seen.src else ""
    error = PayloadError(f"not a SIP message: {reason}"[:200], details=[{"field": "message", "error": reason[:200]}])
    return Item(f"line {number}{source}", None, error, payload.decode("utf-8", "replace"))
