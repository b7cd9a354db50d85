"""``hangup import capture.pcap``: SIP messages out of libpcap and pcapng files, into the dialog engine.

The capture is read as a stream, frame by frame (``hangup.sip.capture``): memory holds the open
dialogs, the TCP flows and IP fragments in progress, each bounded, never the file. Every SIP message
found (UDP datagram, TCP or WebSocket message, SCTP user message, on any port: content decides)
goes to one ``DialogEngine``; each call it finishes is an imported record. Every region that
cannot be read (corrupt file structure, an undecodable frame, a stream that is not SIP where SIP
was, a message the engine rejects) is a rejected item with its place in the file and its
addresses, and reading goes on.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, cast

from hangup.errors import PayloadError
from hangup.providers.reading import Item
from hangup.records import CallRecord
from hangup.sip.capture import packets
from hangup.sip.capture.files import Malformed, is_capture
from hangup.sip.dialogs import DialogEngine
from hangup.sip.packet import Packet

__all__ = ["FORMAT", "is_capture", "read_capture"]

FORMAT = "pcap"
#: Orphaned dialogs are closed as capture time passes, so a long capture does not hold them all.
EXPIRE_EVERY = 1.0  # seconds of capture time


def read_capture(stream: IO[str] | IO[bytes], received_at: float) -> Iterator[Item]:
    """The importer's reader: calls (and rejected regions) of a capture, opened as text by the importer."""
    engine, expired = DialogEngine(), 0.0
    for found in packets(_bytes_of(stream)):
        if isinstance(found, Malformed):
            yield rejected(found)
            continue
        try:
            records = engine.feed(found)
        except ValueError as exc:  # SipParseError and other values the engine could not read
            yield rejected(Malformed(f"{found.transport} message", str(exc)[:200], found.payload, _source(found)))
            continue
        if found.time - expired >= EXPIRE_EVERY:
            records = records + engine.expire(found.time)
            expired = found.time
        yield from _items(records)
    yield from _items(engine.flush())


def _bytes_of(stream: IO[str] | IO[bytes]) -> IO[bytes]:
    """The byte stream under the text stream every importer reader is given (a capture is binary)."""
    if isinstance(stream, io.TextIOWrapper):
        return cast(IO[bytes], stream.buffer)
    return cast(IO[bytes], stream)


def rejected(region: Malformed) -> Item:
    """A rejected ``Item`` of a region: where it is, why, and its bytes (text if SIP, else hex)."""
    location = f"{region.location} ({region.source})" if region.source else region.location
    error = PayloadError(region.reason, details=[{"field": "capture", "error": region.reason}])
    return Item(location, None, error, _text(region.raw))


def _items(records: list[CallRecord]) -> Iterator[Item]:
    for record in records:
        yield Item(f"call {record.provider_call_id}", record)


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.hex()


def _source(packet: Packet) -> str:
    return f"{packet.src}:{packet.sport} > {packet.dst}:{packet.dport}"
