"""The dialog engine: SIP messages in, one classified call per INVITE dialog out.

``DialogEngine.feed`` takes one captured message and returns the calls it finished; ``expire`` closes
what has waited long enough (a dialog whose end may still be reordered, or an orphan); ``flush`` closes
everything at the end of a file. Each source (HEP listener, capture or trace import) drives one engine.

Memory is bounded (``Limits``): at most ``max_open`` open dialogs (beyond it the least recently active
one is closed as orphaned and flagged ``evicted``), ``max_stash`` messages waiting for their INVITE,
``max_finished`` remembered ends, ``max_forwarders`` proxy addresses seen forwarding INVITEs (what tells a
proxy's own reply from a relayed one, ``hangup.sip.proxy``), and ``raw_messages``/``raw_bytes`` of raw text
per call. Each open
dialog costs about 2-4 KB plus its raw text, so the defaults stay under about 1 GB in the worst case
and a few hundred MB for typical traffic.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from hangup.records import CallRecord
from hangup.sip.dialog import Dialog, Ending
from hangup.sip.message import SipMessage, SipParseError, parse
from hangup.sip.packet import Packet
from hangup.sip.proxy import proxy_ending
from hangup.sip.verdict import ORPHANED, record_of

#: Flag of an open dialog closed early because the engine was at ``Limits.max_open``.
EVICTED = "evicted"


@dataclass(frozen=True, slots=True)
class Limits:
    """Timeouts (seconds, on the packets' own clock) and memory bounds of a ``DialogEngine``."""

    max_open: int = 100_000  # open dialogs; beyond, the least recently active is closed (flagged evicted)
    early_timeout: float = 300.0  # an INVITE without a final response (RFC 3261 Timer C is > 3 min)
    answered_timeout: float = 14_400.0  # an answered call without a BYE (and no message at all) for 4 h
    settle: float = 32.0  # wait for a reordered or follow-up message (RFC 3261 Timer B = 64·T1)
    max_stash: int = 10_000  # messages seen before their INVITE, kept ``settle`` seconds
    max_finished: int = 200_000  # ends remembered so late copies of a finished dialog start nothing
    max_forwarders: int = 4096  # addresses seen receiving a caller's INVITE and sending it on
    raw_messages: int = 64  # messages kept as a call's raw text
    raw_bytes: int = 64 * 1024


@dataclass(slots=True)
class Counters:
    """What an engine has seen, for metrics and import summaries."""

    messages: int = 0
    malformed: int = 0  # payloads that were not SIP (counted by ``calls_from``; other callers count their own)
    late: int = 0  # messages of a dialog already finished (the 200 of a BYE, copies on other hops)
    unmatched: int = 0  # messages whose INVITE never came (capture started mid-call), dropped after ``settle``
    calls: int = 0
    orphaned: int = 0
    evicted: int = 0


class DialogEngine:
    """Follows INVITE dialogs across messages and returns each call once it has ended."""

    def __init__(self, limits: Limits | None = None, received_at: Callable[[], float] = time.time) -> None:
        self.limits = limits or Limits()
        self._raw_limit = (self.limits.raw_messages, self.limits.raw_bytes)
        self.counters = Counters()
        self._received_at = received_at
        self._open: OrderedDict[tuple[str, str], Dialog] = OrderedDict()  # least recently active first
        self._stash: OrderedDict[str, list[tuple[Packet, SipMessage]]] = OrderedDict()
        self._stashed = 0
        self._finished: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._forwarders: OrderedDict[tuple[str, int], None] = OrderedDict()  # least recently seen first

    @property
    def open_dialogs(self) -> int:
        return len(self._open)

    def feed(self, packet: Packet) -> list[CallRecord]:
        """The calls this message finished; ``SipParseError`` when its payload is not a SIP message."""
        return self.take(packet, parse(packet.payload))

    def take(self, packet: Packet, message: SipMessage) -> list[CallRecord]:
        """``feed`` of an already parsed message."""
        self.counters.messages += 1
        # the open dialog of a message: its From tag is the caller's (caller side) or its To tag is (callee side)
        key = (message.call_id, message.from_tag)
        dialog = self._open.get(key)
        if dialog is None and message.to_tag:
            key = (message.call_id, message.to_tag)
            dialog = self._open.get(key)
        finished: list[CallRecord] = []
        limit = self._raw_limit
        if dialog is None:
            if not (message.is_request and message.method == "INVITE" and not message.to_tag):
                self._stray(packet, message)
                return finished
            if (message.call_id, message.from_tag) in self._finished:
                self.counters.late += 1
                return finished
            dialog, finished = self._start(packet, message)
            dialog.take(packet, message, limit)
            if message.call_id in self._stash:  # messages that came before their INVITE (reordered): rare
                for early_packet, early in self._unstash(message.call_id, dialog.caller_tag):
                    dialog.take(early_packet, early, limit)
        else:
            dialog.take(packet, message, limit)
            self._open.move_to_end(key)  # the dialog's own key: its caller's tag is the one that matched
        if message.is_request and message.method == "INVITE":
            self._seen_forwarding(dialog)
        if dialog.ending is not None and dialog.finished():
            finished.append(self._close(dialog, dialog.ending))
        return finished

    def expire(self, now: float) -> list[CallRecord]:
        """Dialogs due at ``now``: waits that have settled, and orphans idle past their timeout (flagged)."""
        limits = self.limits
        self._drop_stash(now - limits.settle)
        while self._finished and next(iter(self._finished.values())) < now - 4 * limits.settle:
            self._finished.popitem(last=False)
        closed: list[CallRecord] = []
        for dialog in list(self._open.values()):
            ending = dialog.settled_ending(now, limits.settle)
            if ending is not None:
                closed.append(self._close(dialog, ending))
                continue
            timeout = limits.answered_timeout if dialog.answered is not None else limits.early_timeout
            if now - dialog.last_seen >= timeout:
                closed.append(self._orphan(dialog))
        return closed

    def flush(self) -> list[CallRecord]:
        """Close every open dialog, as the end of an imported file does; forget what waited for an INVITE."""
        closed = []
        for dialog in list(self._open.values()):
            ending = dialog.settled_ending(float("inf"), 0.0)
            closed.append(self._close(dialog, ending) if ending is not None else self._orphan(dialog))
        self._drop_stash(float("inf"))
        self._finished.clear()
        return closed

    def _seen_forwarding(self, dialog: Dialog) -> None:
        forwarder = dialog.forwarder()
        if forwarder is None:
            return
        self._forwarders[forwarder] = None
        self._forwarders.move_to_end(forwarder)
        if len(self._forwarders) > self.limits.max_forwarders:
            self._forwarders.popitem(last=False)

    # -- state across restarts (``hangup.sip.listener`` saves and restores it) -------------------
    def snapshot(self) -> dict[str, Any]:
        """The open dialogs and remembered ends: what a restarted engine needs to go on."""
        return {"open": list(self._open.values()), "finished": list(self._finished.items()),
                "forwarders": list(self._forwarders)}

    def restore(self, snapshot: dict[str, Any]) -> None:
        for dialog in snapshot["open"]:
            if isinstance(dialog, Dialog):
                self._open[(dialog.call_id, dialog.caller_tag)] = dialog
        self._finished.update((tuple(key), float(when)) for key, when in snapshot["finished"])
        self._forwarders.update((tuple(address), None) for address in snapshot.get("forwarders", ()))

    # -- matching ---------------------------------------------------------------------------
    def _start(self, packet: Packet, message: SipMessage) -> tuple[Dialog, list[CallRecord]]:
        evicted: list[CallRecord] = []
        while len(self._open) >= self.limits.max_open:
            _, oldest = next(iter(self._open.items()))
            self.counters.evicted += 1
            evicted.append(self._orphan(oldest, EVICTED))
        dialog = Dialog(message.call_id, message.from_tag, message.from_value, message.to_value, packet.time,
                        len(message.vias), packet.time)
        self._open[(dialog.call_id, dialog.caller_tag)] = dialog
        return dialog, evicted

    # -- messages before their INVITE (reordered) or after their dialog's end -----------------
    def _stray(self, packet: Packet, message: SipMessage) -> None:
        key = message.call_id
        if (key, message.from_tag) in self._finished or (key, message.to_tag) in self._finished:
            self.counters.late += 1
            return
        if self._stashed >= self.limits.max_stash:
            self._drop_oldest_stash()
        self._stash.setdefault(key, []).append((packet, message))
        self._stashed += 1

    def _unstash(self, call_id: str, caller_tag: str) -> list[tuple[Packet, SipMessage]]:
        waiting = self._stash.pop(call_id, [])
        self._stashed -= len(waiting)
        mine = [(p, m) for p, m in waiting if caller_tag in (m.from_tag, m.to_tag)]
        others = [(p, m) for p, m in waiting if caller_tag not in (m.from_tag, m.to_tag)]
        if others:  # another caller's dialog with the same Call-ID: keep waiting for its INVITE
            self._stash[call_id] = others
            self._stashed += len(others)
        return sorted(mine, key=lambda pm: pm[0].time)

    def _drop_stash(self, before: float) -> None:
        while self._stash:
            call_id, waiting = next(iter(self._stash.items()))
            if waiting[0][0].time >= before:
                return
            self._drop_oldest_stash()

    def _drop_oldest_stash(self) -> None:
        _, waiting = self._stash.popitem(last=False)
        self._stashed -= len(waiting)
        self.counters.unmatched += len(waiting)

    # -- closing ----------------------------------------------------------------------------
    def _orphan(self, dialog: Dialog, *flags: str) -> CallRecord:
        self.counters.orphaned += 1
        return self._close(dialog, Ending("orphaned", dialog.last_seen), (ORPHANED, *flags))

    def _close(self, dialog: Dialog, ending: Ending, flags: tuple[str, ...] = ()) -> CallRecord:
        key = (dialog.call_id, dialog.caller_tag)
        self._open.pop(key, None)
        self._finished[key] = ending.time
        self._finished.move_to_end(key)
        if len(self._finished) > self.limits.max_finished:
            self._finished.popitem(last=False)
        self.counters.calls += 1
        generated = proxy_ending(dialog, ending, self._forwarders) if not flags else None
        return record_of(dialog, ending, self._received_at(), flags, generated)


def calls_from(packets: Iterable[Packet], on_error: Callable[[Packet, SipParseError], None] | None = None,
               engine: DialogEngine | None = None) -> Iterator[CallRecord]:
    """Every call in a finite stream of packets (a capture, a trace), those still open at the end included.

    A payload that is not SIP goes to ``on_error`` (or is only counted) and reading goes on. Dialogs are
    expired on the packets' own clock, so a long file is read in bounded memory.
    """
    engine = engine or DialogEngine()
    last_expiry: float | None = None
    for packet in packets:
        try:
            yield from engine.feed(packet)
        except SipParseError as exc:
            engine.counters.malformed += 1
            if on_error is not None:
                on_error(packet, exc)
        if last_expiry is None or packet.time - last_expiry >= engine.limits.settle / 4:
            yield from engine.expire(packet.time)
            last_expiry = packet.time
    yield from engine.flush()
