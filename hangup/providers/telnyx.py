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

REST history (``hangup import``, list pages ``{"data": [...], "meta": {...}}`` as saved, pages one after
another): what is confirmed and what is hangup's reading is said with each.

* ``GET /v2/call_events`` (record ``call_event``; telnyx-python ``types/call_event_list_response.py``,
  team-telnyx/telnyx-mock ``spec3.json``): one event of a call leg, ``name`` the webhook's event type.
  Only ``call.hangup`` is a call end. ``call_leg_id`` → id, ``call_session_id`` → ``extra``,
  ``event_timestamp`` → ``end_time``. ``metadata`` is documented only as "event metadata, which includes
  raw event, and extra information based on event type", its layout is not: when it holds the webhook's
  event (``payload``, or ``data.payload``, or the payload keys themselves) that event's fields are read as
  the webhook's; otherwise the call end has no cause, parties or start (the documented example's
  ``metadata`` is ``{}``).
* ``GET /v2/detail_records`` voice records (``filter[record_type]`` ``webrtc``, ``sip-trunking``,
  ``call-control``; record types starting with those names). Fields from the ``webrtc_detail_record``
  example of developers.telnyx.com "WebRTC Voice SDKs Call Detail Records" (telnyx-python types none of
  them): id ``telnyx_leg_id``, else ``call_leg_id``, else ``id``; ``telnyx_session_id`` (else
  ``call_session_id``) → ``extra``; parties ``cli`` / ``cld``; ``direction``; route ``connection_id``;
  ``started_at`` → ``setup_time``; ``finished_at`` (else ``ended_at``) → ``end_time``; ``call_sec`` → talk
  time (answered when above 0: in the example ``call_sec`` 50 is 4 s less than ``finished_at -
  started_at``, so it is read as counted from the answer, and ``start_time`` as end minus ``call_sec``;
  not stated by Telnyx). ``billed_sec`` (rounded up for billing) stays in ``extra``. The example has no
  hangup cause; ``hangup_cause``, ``sip_hangup_cause`` and ``hangup_source``, when a record carries them,
  are read as the webhook's (unconfirmed for detail records). Other detail records (messaging,
  conferences, verify …) are not call ends.

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

from hangup import bounds
from hangup.errors import Forbidden, Unauthorized
from hangup.providers._codes import sip_status
from hangup.providers._common import (
    RecordDraft,
    body_text,
    credential,
    credential_settings,
    detected_call,
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

# REST history: ``GET /v2/call_events`` and ``GET /v2/detail_records`` (module docstring).
RECORD_TYPE = "record_type"
CALL_EVENT = "call_event"
EVENT_NAME = "name"
EVENT_TIMESTAMP = "event_timestamp"
METADATA = "metadata"
#: ``filter[record_type]`` values of the voice products whose detail records are call legs.
VOICE_RECORDS = ("webrtc", "sip_trunking", "call_control")
CALL_SEC = "call_sec"
#: Detail record key → the webhook payload key carrying the same fact (``_detail_record``).
DETAIL_KEYS: Mapping[str, str] = {
    "cli": FROM, "cld": TO, "direction": DIRECTION, "connection_id": CONNECTION_ID, "started_at": START_TIME,
    "hangup_cause": HANGUP_CAUSE, "sip_hangup_cause": SIP_HANGUP_CAUSE, "hangup_source": HANGUP_SOURCE,
}

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
    _ending(draft, payload)
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


def _ending(draft: RecordDraft, payload: Mapping[str, Any]) -> None:
    """The cause chain, SIP status and who hung up, from a payload's (or detail record's) Telnyx fields."""
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


def _call_event(item: Mapping[str, Any], request: WebhookRequest) -> CallRecord | None:
    """A ``GET /v2/call_events`` record: the ``call.hangup`` webhook it logged, read as the webhook is."""
    if text(item.get(EVENT_NAME)) != "call.hangup":
        return None
    logged = _logged_payload(item.get(METADATA))
    payload = {**logged, CALL_LEG_ID: item.get(CALL_LEG_ID) or logged.get(CALL_LEG_ID),
               CALL_SESSION_ID: item.get(CALL_SESSION_ID) or logged.get(CALL_SESSION_ID)}
    event = {EVENT_TYPE: "call.hangup", OCCURRED_AT: item.get(EVENT_TIMESTAMP), PAYLOAD: payload}
    return _hangup(event, request)


def _logged_payload(metadata: object) -> dict[str, Any]:
    """The webhook payload a call event's ``metadata`` holds (its layout is undocumented), else ``{}``."""
    if not isinstance(metadata, dict):
        return {}
    for holder in (metadata.get(DATA), metadata):
        if isinstance(holder, dict) and isinstance(holder.get(PAYLOAD), dict):
            return dict(holder[PAYLOAD])
    return {k: v for k, v in metadata.items() if k in (HANGUP_CAUSE, SIP_HANGUP_CAUSE, HANGUP_SOURCE, FROM, TO,
                                                       START_TIME, END_TIME, DIRECTION, CONNECTION_ID)}


def _detail_record(item: Mapping[str, Any], request: WebhookRequest) -> CallRecord | None:
    """A voice record of ``GET /v2/detail_records``: one call leg, its talk time ``call_sec``."""
    draft = RecordDraft(NAME, raw=body_text(request.body), received_at=request.received_at)
    leg = item.get("telnyx_leg_id") or item.get(CALL_LEG_ID) or item.get(EVENT_ID)
    draft.provider_call_id = draft.identifier("telnyx_leg_id", text(leg))
    if not draft.provider_call_id:
        draft.error("telnyx_leg_id", "required (or call_leg_id, or id)")
    fields = {DETAIL_KEYS[k]: v for k, v in item.items() if k in DETAIL_KEYS}
    draft.from_user_id, draft.to_user_id = text(fields.get(FROM)), text(fields.get(TO))
    draft.direction = DIRECTIONS.get(text(fields.get(DIRECTION)).lower(), "unknown")
    draft.route = text(fields.get(CONNECTION_ID))
    draft.setup_time = draft.timestamp("started_at", fields.get(START_TIME))
    draft.end_time = draft.timestamp("finished_at", item.get("finished_at") or item.get("ended_at"))
    draft.duration = draft.seconds(CALL_SEC, item.get(CALL_SEC))
    draft.answered = draft.duration > 0
    if draft.answered and draft.end_time:
        draft.start_time = draft.end_time - draft.duration
    _ending(draft, fields)
    flatten("", item, draft.extra)
    return draft.finish()


def _rest_handler(body: Mapping[str, Any]) -> Callable[[Mapping[str, Any], WebhookRequest], CallRecord | None] | None:
    """The reader of a REST history record (``record_type``), ``None`` for a webhook body."""
    kind = text(body.get(RECORD_TYPE)).replace("-", "_").lower()
    if kind == CALL_EVENT:
        return _call_event
    if EVENT_TYPE not in body and kind.startswith(VOICE_RECORDS):
        return _detail_record
    if kind.endswith("detail_record"):  # messaging, conference, verify … records: no call ended
        return _not_a_call_end
    return None


def _not_a_call_end(item: Mapping[str, Any], request: WebhookRequest) -> None:
    return None


#: ``data.event_type`` → handler; every other Call Control event is progress, not a call end.
def _detection(event: Mapping[str, Any], request: WebhookRequest) -> None:
    """A machine detection event is no call end (``detection`` reads it); one naming no call is refused."""
    _detected_leg(event)


EVENT_HANDLERS: Mapping[str, Callable[[Mapping[str, Any], WebhookRequest], CallRecord | None]] = {
    "call.hangup": _hangup, **dict.fromkeys(DETECTION_EVENTS, _detection),
}


#: ``hangup import`` formats this adapter reads, and what in a file's first bytes tells each: webhook bodies by
#: ``event_type``, REST history pages by their records' ``call_event`` or ``telnyx_leg_id``.
IMPORTS = {NAME: ImportFormat(json_reader(NAME), markers=(
    (JSON_FILES, '"event_type"'), (JSON_FILES, '"call_event"'), (JSON_FILES, '"telnyx_leg_id"')))}


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
        seconds = bounds.digits(stamp)
        if seconds is None:
            raise Unauthorized("telnyx: malformed timestamp",
                               details=[{"field": HEADER_TIMESTAMP, "error": "not Unix seconds"}])
        if abs(now(request.received_at) - seconds) > TOLERANCE:
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
        """A webhook body, or one record of the REST history (``hangup import``, module docstring)."""
        body = json_object(request.body, NAME)
        rest = _rest_handler(body)
        if rest is not None:
            return rest(body, request)
        event = _event(request)
        handler = EVENT_HANDLERS.get(text(event.get(EVENT_TYPE)))
        return handler(event, request) if handler else None

    def detection(self, request: WebhookRequest) -> tuple[str, dict[str, str]] | None:
        """A machine detection event: the call leg's id and ``payload.result``."""
        event = _event(request)
        if text(event.get(EVENT_TYPE)) not in DETECTION_EVENTS:
            return None
        return _detected_leg(event), {RESULT: text(_payload(event).get(RESULT))}

    def reclassify(self, record: CallRecord) -> CallRecord | None:
        """The stored call read again from its ``raw`` (the JSON body)."""
        return self.parse(stored_request(record, "application/json"))


def _payload(event: Mapping[str, Any]) -> Mapping[str, Any]:
    payload = event.get(PAYLOAD)
    return payload if isinstance(payload, dict) else {}


def _detected_leg(event: Mapping[str, Any]) -> str:
    """The call leg a detection event reports on (as ``_hangup`` reads the leg)."""
    payload = _payload(event)
    leg = payload.get(CALL_LEG_ID) or payload.get(CALL_CONTROL_ID)
    return detected_call(NAME, f"{PAYLOAD}.{CALL_LEG_ID}", text(leg))


def _event(request: WebhookRequest) -> Mapping[str, Any]:
    """The event object: the body's ``data`` (the v2 envelope), else the body itself."""
    body = json_object(request.body, NAME)
    data = body.get(DATA)
    return data if isinstance(data, dict) else body


PROVIDER = TelnyxProvider()
