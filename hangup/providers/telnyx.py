"""Telnyx Call Control webhooks (JSON POST to the application's ``webhook_event_url``).

Only ``call.hangup`` is a call end; every other ``event_type`` parses to ``None``. Fields from
telnyx-python 4.176.0 ``types/call_hangup.py`` and developers.telnyx.com "Call Hangup". Payloads
come in the ``{"data": {"event_type", "id", "occurred_at", "payload": {...}}}`` envelope; the older
flat form (``event_type`` and ``payload`` at the top) is read too. Where each value comes from:

* id: ``payload.call_leg_id`` (unique per leg), else ``call_control_id``; ``call_session_id``
  (all legs of one call) stays in ``extra``.
* parties: ``payload.from`` / ``payload.to``; direction: ``payload.direction`` when present
  (``incoming``/``outgoing``; the hangup event usually has none); route: ``payload.connection_id``.
* times: ``payload.start_time`` (call start, before answer) → ``setup_time``;
  ``payload.end_time``, else ``data.occurred_at`` → ``end_time``. ``call.hangup`` carries no answer
  time: for a completed call ``duration`` is end minus start, which includes ringing (flagged
  ``duration_includes_ringing``).
* cause chain: ``telnyx-cause:<hangup_cause>`` → ``sip:<sip_hangup_cause>`` (only a SIP status,
  100–699: some events put the Q.850 value there) →
  ``freeswitch:<HANGUP_CAUSE>`` (older payloads carry other lower-cased Q.850 names); who hung up:
  ``telnyx-source:<hangup_source>``.

Signature: Ed25519 ``telnyx-signature-ed25519`` (base64) over ``"{telnyx-timestamp}|{raw body}"`` with
the account's public key; a timestamp more than ``TOLERANCE`` seconds away from the receive time is
a replay and is refused (telnyx-python ``telnyx/lib/webhook_verification.py``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from hangup.errors import Forbidden, Unauthorized
from hangup.providers._codes import sip_status
from hangup.providers._common import (
    RecordDraft,
    body_text,
    credential,
    credential_settings,
    flatten,
    header,
    json_object,
    now,
    ref,
    resolve,
    stored_request,
    text,
)
from hangup.providers.base import WebhookRequest
from hangup.providers.reading import JSON_FILES, ImportFormat, json_reader
from hangup.records import CallRecord, Direction

NAME = "telnyx"
SECRET = "telnyx_public_key"
SETTINGS = credential_settings(
    NAME, SECRET, "Telnyx Ed25519 public key (base64): verifies `telnyx-signature-ed25519`.",
    "Accept Telnyx callbacks without a verifiable signature.",
)
TOLERANCE = 300  # seconds, as telnyx-python TIMESTAMP_TOLERANCE_SECONDS
#: Flags this adapter sets itself (``CallRecord.flags``).
FLAGS = {"duration_includes_ringing": "Telnyx reports no answer time: duration is end - start, ringing included"}

DATA = "data"
EVENT_TYPE = "event_type"
EVENT_ID = "id"
OCCURRED_AT = "occurred_at"
PAYLOAD = "payload"
CALL_LEG_ID = "call_leg_id"
CALL_CONTROL_ID = "call_control_id"
CALL_SESSION_ID = "call_session_id"
RESULT = "result"  # payload.result of the machine detection events
#: Events carrying an answering-machine detection result (developers.telnyx.com "Answering Machine Detection").
DETECTION_EVENTS = frozenset({"call.machine.detection.ended", "call.machine.premium.detection.ended"})
FROM = "from"
TO = "to"
DIRECTION = "direction"
CONNECTION_ID = "connection_id"  # the Call Control application / SIP connection the call used: the route
START_TIME = "start_time"
END_TIME = "end_time"
HANGUP_CAUSE = "hangup_cause"
HANGUP_SOURCE = "hangup_source"
SIP_HANGUP_CAUSE = "sip_hangup_cause"

HEADER_SIGNATURE = "telnyx-signature-ed25519"
HEADER_TIMESTAMP = "telnyx-timestamp"

DIRECTIONS: Mapping[str, Direction] = {"incoming": "inbound", "inbound": "inbound",
                                       "outgoing": "outbound", "outbound": "outbound"}


def _hangup(event: Mapping[str, Any], request: WebhookRequest) -> CallRecord:
    payload = event.get(PAYLOAD)
    draft = RecordDraft(NAME, raw=body_text(request.body), received_at=request.received_at)
    if not isinstance(payload, dict):
        draft.error(PAYLOAD, "required object")
        payload = {}
    leg = payload.get(CALL_LEG_ID) or payload.get(CALL_CONTROL_ID)
    draft.provider_call_id = draft.identifier(f"{PAYLOAD}.{CALL_LEG_ID}", text(leg))
    if not draft.provider_call_id:
        draft.error(f"{PAYLOAD}.{CALL_LEG_ID}", "required (or call_control_id)")
    draft.from_user_id = text(payload.get(FROM))
    draft.to_user_id = text(payload.get(TO))
    draft.direction = DIRECTIONS.get(text(payload.get(DIRECTION)).lower(), "unknown")
    draft.route = text(payload.get(CONNECTION_ID))
    draft.setup_time = draft.timestamp(f"{PAYLOAD}.{START_TIME}", payload.get(START_TIME))
    end = payload.get(END_TIME) or event.get(OCCURRED_AT)
    draft.end_time = draft.timestamp(f"{PAYLOAD}.{END_TIME}", end)
    cause = text(payload.get(HANGUP_CAUSE)).strip().lower()
    # Documented as a SIP response code, but some events carry the Q.850 value there ("16" with
    # normal_clearing): only a real SIP status is kept; anything else stays in extra.
    draft.sip = sip_status(payload.get(SIP_HANGUP_CAUSE))
    own = ref("telnyx-cause", cause)
    # Causes outside Telnyx's documented list are lower-cased FreeSWITCH/Q.850 names.
    legacy = ref("freeswitch", cause.upper()) if own and not resolve(own).known else None
    draft.add_chain(own, ref("sip", draft.sip), legacy)
    source = ref("telnyx-source", text(payload.get(HANGUP_SOURCE)).strip().lower())
    if source:
        draft.sources.append(source)
    for key in (EVENT_TYPE, EVENT_ID, OCCURRED_AT):
        if key in event:
            draft.extra[key] = text(event[key])
    flatten("", payload, draft.extra)
    record = draft.finish()
    if record.outcome == "completed" and draft.setup_time and draft.end_time >= draft.setup_time:
        # Telnyx reports no answer time: the whole call length is the best available duration.
        record = replace(record, duration=draft.end_time - draft.setup_time, answered=True,
                         flags=tuple(f for f in record.flags if f != "completed_without_answer")
                         + ("duration_includes_ringing",))
    return record


#: ``data.event_type`` → handler; every other Call Control event is progress, not a call end.
EVENT_HANDLERS: Mapping[str, Callable[[Mapping[str, Any], WebhookRequest], CallRecord]] = {
    "call.hangup": _hangup,
}


#: ``hangup import`` formats this adapter reads, and what in a file's first bytes tells each.
IMPORTS = {NAME: ImportFormat(json_reader(NAME), markers=((JSON_FILES, '"event_type"'),))}


class TelnyxProvider:
    """Telnyx Call Control webhooks (``/callbacks/telnyx``)."""

    name = NAME
    imports = IMPORTS
    settings = SETTINGS
    kept_headers = (HEADER_SIGNATURE, HEADER_TIMESTAMP)
    flags = FLAGS
    methods = ("POST",)

    def verify(self, request: WebhookRequest, secrets: Mapping[str, str]) -> None:
        key_text = credential(secrets, SECRET, NAME)
        if key_text is None:
            return
        signature_text = header(request.headers, HEADER_SIGNATURE, NAME)
        stamp = header(request.headers, HEADER_TIMESTAMP, NAME)
        if not (stamp.isascii() and stamp.isdigit()):  # isdigit() alone takes "²", which int() refuses
            raise Unauthorized("telnyx: malformed timestamp",
                               details=[{"field": HEADER_TIMESTAMP, "error": "not Unix seconds"}])
        if abs(now(request.received_at) - int(stamp)) > TOLERANCE:
            raise Forbidden("telnyx: timestamp outside the tolerance (replayed or delayed request)",
                            details=[{"field": HEADER_TIMESTAMP, "error": f"more than {TOLERANCE} s away"}])
        try:
            signature = base64.b64decode(signature_text, validate=True)
            key = VerifyKey(base64.b64decode(key_text, validate=True))
        except (binascii.Error, ValueError, TypeError):
            raise Forbidden("telnyx: malformed signature or public key",
                            details=[{"field": HEADER_SIGNATURE, "error": "not a base64 Ed25519 value"}]) from None
        if len(signature) != 64:
            raise Forbidden("telnyx: malformed signature",
                            details=[{"field": HEADER_SIGNATURE, "error": "not 64 bytes"}])
        try:
            key.verify(stamp.encode() + b"|" + request.body, signature)
        except BadSignatureError:
            raise Forbidden("telnyx: signature does not match",
                            details=[{"field": HEADER_SIGNATURE, "error": "mismatch"}]) from None

    def parse(self, request: WebhookRequest) -> CallRecord | None:
        event = _event(request)
        handler = EVENT_HANDLERS.get(text(event.get(EVENT_TYPE)))
        return handler(event, request) if handler else None

    def detection(self, request: WebhookRequest) -> tuple[str, dict[str, str]] | None:
        """A machine detection event: the call leg's id and ``payload.result``."""
        event = _event(request)
        payload = event.get(PAYLOAD)
        if text(event.get(EVENT_TYPE)) not in DETECTION_EVENTS or not isinstance(payload, dict):
            return None
        leg = text(payload.get(CALL_LEG_ID) or payload.get(CALL_CONTROL_ID))
        return (leg, {RESULT: text(payload.get(RESULT))}) if leg else None

    def reclassify(self, record: CallRecord) -> CallRecord | None:
        """The stored call read again from its ``raw`` (the JSON body)."""
        return self.parse(stored_request(record, "application/json"))


def _event(request: WebhookRequest) -> Mapping[str, Any]:
    """The event object: the body's ``data`` (the v2 envelope), else the body itself."""
    body = json_object(request.body, NAME)
    data = body.get(DATA)
    return data if isinstance(data, dict) else body


PROVIDER = TelnyxProvider()
