"""Kamailio call-end events: the raw facts of one INVITE dialog, sent by ``deploy/kamailio/kamailio.cfg``.

The configuration decides nothing; this adapter turns the facts into a verdict with the same rules
the SIP dialog engine applies to captured signalling (``hangup.sip.verdict.chain_of``), so a call
seen both ways gets the same answer. Schema (docs/kamailio.md), one JSON object per dialog end:

* ``event``: ``dialog:end`` (answered, then a BYE or the proxy's lifetime limit) or
  ``dialog:failed`` (never answered); ``v``: schema version, 1.
* ``call_id`` → ``provider_call_id`` (the SIP Call-ID, as the HEP path uses);
  ``from_uri``/``to_uri`` (the INVITE's) → user parts as ``from_user_id``/``to_user_id``.
* ``setup_time`` (INVITE arrived), ``ring_time`` (first 18x), ``answer_time`` (2xx), ``end_time``:
  Unix seconds with microseconds as text (Kamailio's ``$TV(Sn)``).
* ``final_code``/``final_reason``: the INVITE's final negative reply; ``final_reply_by``:
  ``downstream`` (relayed) or ``proxy`` (tm's own 408 on a timer, the script's 503 on a send failure).
* ``bye_by``: ``caller``/``callee`` (the BYE's From tag against the dialog's) or ``proxy`` (lifetime).
* ``canceled``: the caller's CANCEL; ``cancel_reasons``: its ``Reason`` values.
* ``reasons``: every ``Reason`` value of the message that ended the call (BYE or final reply), comma-joined
  as SIP joins a repeated header.
* ``timeout``: ``no_answer`` (the no-answer timer ran out after a provisional), ``no_response`` (the
  next hop never replied) or ``lifetime`` (the dialog outlived ``DIALOG_TIMEOUT``).
* ``relay_error``: why the proxy could not send the INVITE on (the call then ends with its own 503).
* ``next_hop``: where the proxy sent the INVITE (``$du``, the dispatcher or LCR destination, else the
  request URI ``$ru``) → ``route``, its host (``hangup.routes``).

What the proxy alone knows refines the dialog rules: its no-answer timer puts ``q850:19`` (no answer)
before its 408, a dialog it timed out is ``q850:102`` (recovery on timer expiry), and every ending the
proxy caused is ``ended_by = platform``. A 401/407 challenge or a 3xx redirect is not a call end (the
caller sends a new INVITE, which is the call), so such an event is acknowledged and not stored.

Signature: hangup's own scheme (``hangup.providers.generic``) with ``kamailio_secret``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from hangup import bounds
from hangup.providers._common import (
    MAX_TIME,
    RecordDraft,
    body_text,
    credential_settings,
    json_object,
    stored_json_or_text,
    text,
)
from hangup.providers.base import WebhookRequest
from hangup.providers.generic import HEADER_SIGNATURE, HEADER_TIMESTAMP, verify_signature
from hangup.providers.reading import ImportFormat, Item, attempt
from hangup.records import CallRecord
from hangup.sip.dialog import Ending
from hangup.sip.message import split_list, user_of
from hangup.sip.reason import Reason, parse_reason
from hangup.sip.verdict import chain_of

NAME = "kamailio"
SECRET = "kamailio_secret"
SETTINGS = credential_settings(
    NAME, SECRET, "HMAC-SHA256 secret: verifies `X-Hangup-Signature` of Kamailio call-end events.",
    "Accept Kamailio call-end events without a signature.",
)
#: What precedes the event's JSON on each call-end line of Kamailio's log (the delivery's fallback).
LOG_MARKER = "HANGUP_CALL_END "
SCHEMA_VERSION = 1

VERSION = "v"
EVENT = "event"
CALL_ID = "call_id"
FROM_URI = "from_uri"
TO_URI = "to_uri"
NEXT_HOP = "next_hop"
SETUP_TIME = "setup_time"
RING_TIME = "ring_time"
ANSWER_TIME = "answer_time"
END_TIME = "end_time"
FINAL_CODE = "final_code"
FINAL_REASON = "final_reason"
FINAL_REPLY_BY = "final_reply_by"
BYE_BY = "bye_by"
CANCELED = "canceled"
REASONS = "reasons"
CANCEL_REASONS = "cancel_reasons"
TIMEOUT = "timeout"
RELAY_ERROR = "relay_error"

ANSWERED = "dialog:end"
FAILED = "dialog:failed"
REPLY_BY = frozenset({"downstream", "proxy"})
BYE_SENDERS = frozenset({"caller", "callee", "proxy"})
TIMEOUTS = frozenset({"no_answer", "no_response", "lifetime"})
#: Final codes after which the caller sends a new INVITE (RFC 3261 §8.1.3.4, §22.2): not the call's end.
RETRIED = frozenset({401, 407}) | frozenset(range(300, 400))
#: The facts kept in ``extra`` as sent.
KEPT = (EVENT, FROM_URI, TO_URI, SETUP_TIME, RING_TIME, ANSWER_TIME, END_TIME, FINAL_CODE, FINAL_REASON,
        FINAL_REPLY_BY, BYE_BY, CANCELED, REASONS, CANCEL_REASONS, TIMEOUT, RELAY_ERROR, NEXT_HOP)


class Facts:
    """The validated facts of one event; bad fields are recorded on the draft, never raised one by one."""

    def __init__(self, data: Mapping[str, Any], draft: RecordDraft) -> None:
        self.data = data
        self.draft = draft

    def time(self, name: str, required: bool) -> float | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                self.draft.error(name, "required")
            return None
        try:
            seconds = float(text(value)) if not isinstance(value, bool) else -1.0
        except ValueError:
            seconds = -1.0
        if not 0 < seconds <= MAX_TIME:
            self.draft.error(name, f"expected Unix seconds from 1970 to 2099, got {text(value)[:40]!r}")
            return None
        return seconds

    def choice(self, name: str, allowed: frozenset[str], required: bool = False) -> str | None:
        value = text(self.data.get(name)).strip()
        if not value:
            if required:
                self.draft.error(name, "required")
            return None
        if value not in allowed:
            self.draft.error(name, f"expected one of {', '.join(sorted(allowed))}")
            return None
        return value

    def code(self) -> int:
        value = self.data.get(FINAL_CODE)
        if isinstance(value, int) and not isinstance(value, bool) and 300 <= value <= 699:
            return value
        self.draft.error(FINAL_CODE, "required: the final SIP status (300-699)" if value is None
                         else f"expected a SIP status 300-699, got {text(value)[:20]!r}")
        return 0

    def flag(self, name: str) -> bool:
        value = self.data.get(name, False)
        if not isinstance(value, bool):
            self.draft.error(name, "expected true or false")
            return False
        return value

    def reasons(self, name: str) -> tuple[Reason, ...]:
        value = self.data.get(name)
        if value is None:
            return ()
        if not isinstance(value, str):
            self.draft.error(name, "expected the Reason header values as text")
            return ()
        return tuple(parse_reason(part) for part in split_list(value))


def _answered(facts: Facts, end: float) -> Ending | None:
    draft = facts.draft
    answer = facts.time(ANSWER_TIME, required=True)
    bye_by = facts.choice(BYE_BY, BYE_SENDERS, required=True)
    if answer is not None:
        draft.start_time = int(answer)
        duration = max(0, round(end - answer))
        problem = bounds.DURATION.error(duration)
        if problem:
            draft.error(END_TIME, f"{problem} after {ANSWER_TIME}")
        else:
            draft.duration = duration
    draft.answered = True
    draft.sip = 200
    if bye_by == "proxy":
        # the proxy tore down a dialog that outlived its lifetime: no party hung up
        draft.ended_by = "platform"
        return Ending("orphaned", end, reasons=facts.reasons(REASONS))
    return Ending("BYE", end, by=bye_by, reasons=facts.reasons(REASONS))


def _failed(facts: Facts, end: float) -> Ending | None:
    draft = facts.draft
    code = facts.code()
    by = facts.choice(FINAL_REPLY_BY, REPLY_BY, required=True)
    timeout = facts.choice(TIMEOUT, TIMEOUTS)
    canceled = facts.flag(CANCELED)
    reasons = facts.reasons(REASONS)
    draft.answered = False
    draft.sip = code or None
    if code in RETRIED and not canceled:
        return None
    if canceled:
        # the caller gave up; tm may still end the INVITE with its own 408 if the callee ignores the CANCEL
        return Ending("CANCEL", end, by="caller", code=487, reasons=facts.reasons(CANCEL_REASONS) + reasons)
    if by == "proxy":
        draft.ended_by = "platform"
    if timeout == "no_answer":
        draft.add_chain("q850:19")  # it rang and nobody answered before the proxy's no-answer timer
    return Ending("response", end, code=code, reasons=reasons)


#: ``event`` → the handler that reads its facts and returns how the call ended (``None``: not an end).
HANDLERS: Mapping[str, Callable[[Facts, float], Ending | None]] = {ANSWERED: _answered, FAILED: _failed}


def record_from_event(data: Mapping[str, Any], raw: str = "", received_at: float = 0.0) -> CallRecord | None:
    """The classified record of one event; ``None`` for a challenge or redirect the caller will retry."""
    draft = RecordDraft(NAME, raw=raw, received_at=received_at)
    facts = Facts(data, draft)
    version = data.get(VERSION, SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        draft.error(VERSION, f"unsupported schema version {text(version)[:10]!r} (this hangup reads {SCHEMA_VERSION})")
    draft.provider_call_id = draft.identifier(CALL_ID, text(data.get(CALL_ID)))
    if not draft.provider_call_id:
        draft.error(CALL_ID, "required")
    draft.from_user_id = user_of(text(data.get(FROM_URI)))
    draft.to_user_id = user_of(text(data.get(TO_URI)))
    draft.route = text(data.get(NEXT_HOP))
    setup = facts.time(SETUP_TIME, required=True)
    end = facts.time(END_TIME, required=True)
    ring = facts.time(RING_TIME, required=False)
    handler = HANDLERS.get(text(data.get(EVENT)))
    if handler is None:
        draft.error(EVENT, f"expected {ANSWERED} or {FAILED}")
        return draft.finish()
    ending = handler(facts, end or 0.0)
    if draft.errors:
        return draft.finish()  # raises InvalidPayload naming every bad field
    if ending is None:
        return None
    draft.setup_time = int(setup or 0)
    draft.end_time = int(max(end or 0.0, setup or 0.0))
    draft.add_chain(*_lifetime_or_chain(ending, draft.answered is True))
    draft.ended_by = draft.ended_by or ending.by
    draft.q850 = next((r.cause for r in ending.reasons if r.protocol.upper() == "Q.850"), None)
    problem = bounds.Q850.error(draft.q850) if draft.q850 is not None else None
    if problem:
        draft.error(REASONS, problem)  # a Q.850 cause is 7 bits (ITU-T Q.850 §2.2.5)
    draft.extra = {key: text(data[key]) for key in KEPT if data.get(key) not in (None, "")}
    if ring is not None and setup is not None:
        draft.extra["pdd"] = f"{max(0.0, ring - setup):.3f}"
    return draft.finish()


def _lifetime_or_chain(ending: Ending, answered: bool) -> list[str]:
    if ending.how == "orphaned":
        return ["q850:102", *chain_of(ending, answered)]  # Recovery on timer expiry: the proxy's own limit
    return chain_of(ending, answered)


def read_log(stream: IO[str], received_at: float) -> Iterator[Item]:
    """``hangup import`` of Kamailio's log: the event of every ``HANGUP_CALL_END {json}`` line; others skipped."""
    for number, line in enumerate(stream, 1):
        _, marker, event = line.partition(LOG_MARKER)
        if marker:
            body = event.strip()
            yield attempt(f"line {number}", body, _from_log, body, received_at)


def _from_log(body: str, received_at: float) -> CallRecord | None:
    return record_from_event(json_object(body.encode("utf-8", "replace"), NAME), body, received_at)


IMPORTS = {"kamailio-log": ImportFormat(read_log, markers=((("",), LOG_MARKER + "{"),))}


class KamailioProvider:
    """Call-end events of hangup's Kamailio configuration (``/callbacks/kamailio``)."""

    name = NAME
    methods = ("POST",)
    settings = SETTINGS
    kept_headers = (HEADER_SIGNATURE, HEADER_TIMESTAMP)
    imports = IMPORTS

    def verify(self, request: WebhookRequest, secrets: Mapping[str, str]) -> None:
        verify_signature(request, secrets, NAME, SECRET)

    def parse(self, request: WebhookRequest) -> CallRecord | None:
        data = json_object(request.body, NAME)
        return record_from_event(data, body_text(request.body), request.received_at)

    def reclassify(self, record: CallRecord) -> CallRecord | None:
        """The stored call read again from its ``raw`` (the event's JSON)."""
        return self.parse(stored_json_or_text(record))


PROVIDER = KamailioProvider()
