"""The dialog engine: SIP messages in, one classified call per INVITE dialog out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hangup.records import CallRecord
from hangup.sip.packet import Packet


class DialogEngine:
    """Follows INVITE dialogs across messages and returns each call once it has ended."""

    def feed(self, packet: Packet) -> list[CallRecord]:
        """The calls this message finished."""
        raise NotImplementedError

    def expire(self, now: float) -> list[CallRecord]:
        """Dialogs idle past the orphan timeout at ``now``, closed and flagged."""
        raise NotImplementedError

    def flush(self) -> list[CallRecord]:
        """Close every open dialog, as the end of an imported file does."""
        raise NotImplementedError


def calls_from(packets: Iterable[Packet]) -> Iterator[CallRecord]:
    """Every call in a finite stream of packets, those still open at the end included."""
    engine = DialogEngine()
    for packet in packets:
        yield from engine.feed(packet)
    yield from engine.flush()
