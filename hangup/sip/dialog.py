"""The state of one INVITE dialog while it is open, and what each message does to it.

A dialog here is everything one caller's INVITE started: every early dialog of a forked INVITE, every
INVITE re-sent with credentials after a 401/407 or to a new target after a 3xx, and every copy of a
message captured on another hop of a proxy. It is keyed by Call-ID and the caller's From tag, which
stateful proxies pass unchanged (RFC 3261 §16.6); a B2BUA makes a new Call-ID, so each of its legs is
its own call.

Every update is idempotent, so a retransmission or a second capture of the same message changes
nothing. The rules, in the order ``take`` applies them, are in ``docs/sip.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hangup.sip.message import SipMessage
from hangup.sip.packet import Packet
from hangup.sip.reason import Reason

#: Final responses after which the caller's UA sends the INVITE again (RFC 3261 §22.2, §8.1.3.4): not an end yet.
CHALLENGES: Final = frozenset({401, 407})
MAX_HOPS: Final = 16
MAX_BRANCH_CODES: Final = 16
#: One direction between two transport addresses (elements on one host differ by port).
Hop = tuple[str, int, str, int]


@dataclass(slots=True)
class Ending:
    """How the call ended, or is about to: the message that ended it, when, by whom, with which Reasons."""

    how: str  # "BYE", "CANCEL", "response", "orphaned"
    time: float
    by: str | None = None  # "caller" / "callee" for BYE and CANCEL; None: the catalog decides from the code
    code: int = 0  # the final response code of the INVITE (0 when none was seen)
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class Pending:
    """A 401/407 or 3xx to the caller's INVITE: the end, unless the caller sends a new INVITE."""

    code: int
    time: float
    cseq: int  # of the INVITE it answered
    reasons: tuple[Reason, ...]


@dataclass(slots=True)
class Branch:
    """One INVITE as sent on a hop (its top Via's branch): the best status that came back on it."""

    vias: int  # Via headers of the INVITE: the caller's count, one more for a proxy's branch
    cseq: int
    status: int = 0  # 0: no response yet; 1xx; then the first final response, kept


class Dialog:
    """One call being followed; see the module docstring for what it spans.

    A plain class with an ``__init__`` of its own, which mypyc compiles (a dataclass's generated one runs
    interpreted, at ten times the cost of a call's first message). Every argument has a default so that
    unpickling, which makes the object empty and then sets its state, can make one.
    """

    def __init__(self, call_id: str = "", caller_tag: str = "", from_value: str = "", to_value: str = "",
                 setup: float = 0.0, min_vias: int = 0, last_seen: float = 0.0) -> None:
        self.call_id = call_id
        self.caller_tag = caller_tag  # the From tag of the caller's INVITE
        self.from_value = from_value  # From and To of the first INVITE
        self.to_value = to_value
        self.setup = setup  # first INVITE seen
        self.min_vias = min_vias  # fewest Via headers on an INVITE: the hop nearest the caller that was captured
        self.last_seen = last_seen
        self.initial_cseqs: set[int] = set()  # CSeq numbers of the caller's out-of-dialog INVITEs
        self.invites = 0  # distinct initial INVITE transactions (1 + challenges and redirects followed)
        self.ringing: float | None = None  # first 180/183 to the INVITE
        self.answered: float | None = None  # first 2xx to the INVITE
        self.answer_tag = ""  # To tag of the answering early dialog
        self.early_tags: set[str] = set()  # To tags of every early dialog (forks)
        self.pending: Pending | None = None  # a 401/407/3xx waiting for the caller's new INVITE
        self.challenges = 0
        self.redirects: list[int] = []
        self.branch_codes: list[int] = []  # final failures on hops further from the caller
        self.cancel: Ending | None = None
        self.ending: Ending | None = None  # set once the call has ended (BYE, final failure)
        self.reasons: list[str] = []  # every Reason value seen, in order, once each
        self.hops: list[str] = []  # "src:port>dst:port" of each address pair seen, in order
        self.vias: tuple[str, ...] = ()  # the Via headers of the INVITE with the most of them (the whole path)
        self.transport = ""
        self.raw: list[str] = []
        self.raw_bytes = 0
        self.digests: set[int] = set()
        self.invite_vias: dict[Hop, int] = {}  # hop → Via headers of the INVITE there
        self.response_vias: dict[Hop, int] = {}  # hop → Via headers of the INVITE's responses
        self.branches: dict[str, Branch] = {}  # top Via branch of each INVITE sent → its replies
        self.entry: tuple[str, int] | None = None  # where the caller's INVITE went (the first element on the path)
        # the route: where the INVITE furthest from the caller (most Vias) was sent, its destination address when
        # captured with addresses, else its Request-URI (the next hop a proxy chose, RFC 3261 §16.6)
        self.route = ""

    # -- what a message does ------------------------------------------------------------------
    def take(self, packet: Packet, message: SipMessage, raw_limit: tuple[int, int]) -> None:
        """Apply one message of this dialog (from either party, on any hop)."""
        time = packet.time
        if time > self.last_seen:
            self.last_seen = time
        hop = _hop(packet)  # made once: the key of three lookups
        self._note(packet, hop, message, raw_limit)
        from_caller = message.from_tag == self.caller_tag
        if message.is_request:
            self._request(packet, hop, message, from_caller)
        elif from_caller and message.cseq_method == "INVITE" and message.cseq in self.initial_cseqs:
            self._invite_response(packet, hop, message)

    def _request(self, packet: Packet, hop: Hop, message: SipMessage, from_caller: bool) -> None:
        method = message.method
        if method == "INVITE" and from_caller and not message.to_tag:
            self._initial_invite(packet, hop, message)
        elif method == "CANCEL" and from_caller and self.cancel is None and self.sender(hop, message) == "caller":
            self.cancel = Ending("CANCEL", packet.time, "caller", 487, tuple(message.reasons()))
        elif method == "BYE" and self.ending is None:
            self.ending = Ending("BYE", packet.time, self.sender(hop, message), 0, tuple(message.reasons()))
        # re-INVITE, UPDATE, ACK, PRACK, INFO, REFER, NOTIFY, OPTIONS; a proxy's CANCEL of its other branches:
        # the call goes on

    def sender(self, hop: Hop, message: SipMessage) -> str:
        """Who sent an in-dialog request: the caller, the callee, or an element on the path ("platform").

        A request from a party carries, on each hop, as many Via headers as that party's messages do there:
        the caller's as many as its INVITE had on the same hop; the callee's as many as the INVITE's responses
        had on the hop the other way round, counted from the callee's end. Fewer means a proxy made it (a
        dialog torn down at a timeout, the CANCEL of a forking proxy's other branches).
        """
        count = len(message.vias)
        by_tag = "caller" if message.from_tag == self.caller_tag else "callee"
        if not hop[0]:
            return by_tag  # a trace without addresses (no source): one hop, nothing to compare
        if by_tag == "caller":
            expected = self.invite_vias.get(hop, 0)
            return "platform" if count < expected else "caller"
        known = self.response_vias.get(hop)
        if known is None:
            return "callee"
        return "platform" if count < max(self.response_vias.values()) - known + 1 else "callee"

    def _initial_invite(self, packet: Packet, hop: Hop, message: SipMessage) -> None:
        self.min_vias = min(self.min_vias, len(message.vias))
        self.invite_vias.setdefault(hop, len(message.vias))
        if len(message.vias) == self.min_vias and packet.src:
            self.entry = (packet.dst, packet.dport)
        if message.branch not in self.branches and len(self.branches) < MAX_BRANCH_CODES:
            self.branches[message.branch] = Branch(len(message.vias), message.cseq)
        if len(message.vias) >= len(self.vias):
            self.route = packet.dst or message.uri
        if len(message.vias) > len(self.vias):
            self.vias = message.vias
        if message.cseq in self.initial_cseqs:
            return  # a retransmission, or the same INVITE on another hop
        self.initial_cseqs.add(message.cseq)
        self.invites += 1
        if self.pending is not None and message.cseq > self.pending.cseq:
            self.pending = None  # the caller followed the challenge or the redirect

    def _invite_response(self, packet: Packet, hop: Hop, message: SipMessage) -> None:
        status, tag, vias = message.status, message.to_tag, len(message.vias)
        self.response_vias.setdefault(hop, vias)
        branch = self.branches.get(message.branch)
        if branch is not None and branch.vias == vias and branch.status < status and branch.status < 200:
            branch.status = status
        if 101 <= status < 300 and tag:
            self.early_tags.add(tag)
        if status in (180, 183) and self.ringing is None:
            self.ringing = packet.time
        if 200 <= status < 300:
            if self.answered is None or packet.time < self.answered:
                self.answered, self.answer_tag = packet.time, tag
            self.pending = None
        elif status >= 300:
            self._final_failure(packet, message)

    def _final_failure(self, packet: Packet, message: SipMessage) -> None:
        status = message.status
        if len(message.vias) > self.min_vias:
            # A proxy's branch failed; the proxy may still try another target (serial forking, failover).
            if status not in self.branch_codes and len(self.branch_codes) < MAX_BRANCH_CODES:
                self.branch_codes.append(status)
            return
        if self.answered is not None or self.ending is not None:
            return  # another fork's failure after the answer, or a late retransmission
        if message.cseq != max(self.initial_cseqs):
            return  # the answer to an INVITE the caller already re-sent
        reasons = tuple(message.reasons())
        if status in CHALLENGES or 300 <= status < 400:
            if self.pending is None or self.pending.cseq != message.cseq:
                self.pending = Pending(status, packet.time, message.cseq, reasons)
                if status in CHALLENGES:
                    self.challenges += 1
                else:
                    self.redirects.append(status)
            return
        if self.cancel is not None and status == 487:
            self.ending = Ending("response", packet.time, "caller", status, self.cancel.reasons + reasons)
        else:
            self.ending = Ending("response", packet.time, None, status, reasons)

    # -- bookkeeping ------------------------------------------------------------------------
    def _note(self, packet: Packet, hop: Hop, message: SipMessage, raw_limit: tuple[int, int]) -> None:
        text, hops, transport = _HOP_TEXT.get(hop) or _hop_text(hop), self.hops, packet.transport
        if text not in hops and len(hops) < MAX_HOPS:
            hops.append(text)
        if not self.transport:
            self.transport = transport
        if message.reason_values:  # most messages have none
            self._note_reasons(message.reason_values)
        payload, digests, raw = packet.payload, self.digests, self.raw
        digest = hash(payload)  # per process; after a restart a repeated message may be kept twice
        most, most_bytes = raw_limit
        if digest in digests or len(raw) >= most or self.raw_bytes + len(payload) > most_bytes:
            return
        digests.add(digest)
        raw.append(f"{fixed_point(packet.time, 6)} {text} {transport}\n{payload.decode('utf-8', 'replace')}")
        self.raw_bytes += len(payload)

    def _note_reasons(self, values: tuple[str, ...]) -> None:
        for reason in values:
            if reason not in self.reasons and len(self.reasons) < MAX_BRANCH_CODES:
                self.reasons.append(reason)

    # -- questions the engine asks ------------------------------------------------------------
    def forwarder(self) -> tuple[str, int] | None:
        """The address of the element nearest the caller once it was seen sending the INVITE on."""
        if self.entry is None or not any(b.vias > self.min_vias for b in self.branches.values()):
            return None
        return self.entry

    def finished(self) -> bool:
        """Ended for good: a BYE of an answered call, or the caller-side final failure of the INVITE."""
        if self.ending is None:
            return False
        return self.ending.how == "response" or self.answered is not None

    def settled_ending(self, now: float, settle: float) -> Ending | None:
        """The ending due at ``now`` for a dialog waiting on a message that may still come, else ``None``.

        A BYE seen before the 200 of the INVITE (captures reorder), a CANCEL not yet answered by a 487,
        a 401/407/3xx not yet followed by a new INVITE: each is given ``settle`` seconds (RFC 3261 Timer
        B, 64·T1) for the missing message before it is taken as the end.
        """
        if self.ending is not None and self.ending.how == "BYE" and now - self.ending.time >= settle:
            return self.ending
        if self.answered is not None or self.ending is not None:
            return None
        if self.pending is not None and now - self.pending.time >= settle:
            return Ending("response", self.pending.time, None, self.pending.code, self.pending.reasons)
        if self.cancel is not None and now - self.cancel.time >= settle:
            return self.cancel
        return None


def _hop(packet: Packet) -> Hop:
    return packet.src, packet.sport, packet.dst, packet.dport


def _hop_text(hop: Hop) -> str:
    """``src:port>dst:port``, remembered in ``_HOP_TEXT``: a capture sees the same few address pairs over and over."""
    if len(_HOP_TEXT) >= 4096:
        _HOP_TEXT.clear()
    src, sport, dst, dport = hop
    text = _HOP_TEXT[hop] = f"{_host(src)}:{sport}>{_host(dst)}:{dport}"
    return text


_HOP_TEXT: Final[dict[Hop, str]] = {}


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def fixed_point(value: float, places: int) -> str:
    """``f"{value:.{places}f}"`` (1 ≤ ``places`` ≤ 6), most often in a fifth of the instructions of float formatting.

    A positive value under 2**52 whose fraction has at most 32 bits after the binary point (a Unix time as a
    float has 22 or fewer; so has a difference of two) gives an exact product of its fraction and 10**6 in a
    float, so rounding that product half to even, as here, is the format's own exact decimal rounding. Any other
    value is formatted.
    """
    if not 0.0 < value < 4_503_599_627_370_496.0:
        return f"{value:.{places}f}"
    whole = int(value)
    fraction = value - whole  # exact
    bits = fraction * 4_294_967_296.0  # exact: a multiplication by a power of two
    if float(int(bits)) != bits:
        return f"{value:.{places}f}"
    unit = _UNITS[places]
    scaled = fraction * unit  # exact
    units = int(scaled)
    rest = scaled - units
    if rest > 0.5 or (rest == 0.5 and units % 2 == 1):
        units += 1
    if units == unit:
        whole, units = whole + 1, 0
    return f"{whole}.{str(unit + units)[1:]}"  # the digits after the point, leading zeros kept


#: 10**places by places: a list, as compiled code reads an item of a Final list natively (of a tuple, it boxes
#: the whole tuple first; and 10**places is a generic power)
_UNITS: Final[list[int]] = [10**places for places in range(7)]
