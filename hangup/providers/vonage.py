"""Vonage Voice API event webhook (``event_url``; JSON POST by default, query string with GET).

Vonage sends one event per call-state change; only final ``status`` values (vonage-status.csv)
are call ends, other statuses and events without a ``status`` (``input``, ``record``,
``transfer`` …) parse to ``None``. Fields from developer.vonage.com "Voice API Webhook Reference"
and vonage-python-sdk ``vonage_voice`` 1.4.0 (``CallState``). Where each value comes from:

* id: ``uuid`` (the leg), else ``call_uuid``; ``conversation_uuid`` stays in ``extra``.
* parties: ``from`` / ``to`` (a string, or an object with ``number``/``uri``/``user``);
  direction: ``direction``; route: ``network`` (MCC-MNC or a label), else the account's own number.
* times: ``start_time`` (answer) and ``end_time`` on ``completed``, else ``timestamp`` as end;
  duration: ``duration`` (seconds).
* cause chain: ``vonage-detail:<detail>`` (failed/rejected/unanswered refinements) →
  ``sip:<sip_code>`` (error responses) → ``vonage-status:<status>``; ``sip_code`` (vonage-java-sdk
  ``EventWebhook.getSipCode``) is the record's SIP status when it is one. ``disconnected_by``
  (``platform``/``user``, vonage-java-sdk ``DisconnectedBy``) is not in Vonage's reference; ``platform``
  is read as ended by the platform, ``user`` (which party is not said) is kept in ``extra`` only.

Signature: signed webhooks carry ``Authorization: Bearer <JWT>`` signed HS256 with the account's
signature secret (vonage-python-sdk ``vonage_jwt.verify_jwt.verify_signature``); hangup also checks
the ``payload_hash`` claim (SHA-256 hex of the body) and refuses an ``iat`` older than
``MAX_AGE`` seconds, which the SDK does not.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from hangup.errors import Forbidden, Unauthorized
from hangup.providers._codes import sip_status
from hangup.providers._common import (
    RecordDraft,
    any_equal,
    body_text,
    credential,
    credential_settings,
    detected_call,
    flatten,
    header,
    json_object,
    now,
    own_number,
    ref,
    stored_request,
    text,
)
from hangup.providers.base import WebhookRequest
from hangup.providers.reading import JSON_FILES, ImportFormat, json_reader
from hangup.records import CallRecord, Direction

NAME = "vonage"
SECRET = "vonage_signature_secret"
SETTINGS = credential_settings(
    NAME, SECRET, "Vonage signature secret: verifies the signed webhook JWT.",
    "Accept Vonage callbacks without a verifiable signature.",
)
MAX_AGE = 300  # seconds an iat may lag the receive time (Vonage retries once, quickly)

UUID = "uuid"
CALL_UUID = "call_uuid"  # the leg's id in human/machine events, and an alias of uuid (vonage-java-sdk EventWebhook)
CONVERSATION_UUID = "conversation_uuid"
STATUS = "status"
DETAIL = "detail"
FROM = "from"
TO = "to"
DIRECTION = "direction"
START_TIME = "start_time"
END_TIME = "end_time"
TIMESTAMP = "timestamp"
DURATION = "duration"
NETWORK = "network"  # the network the call was connected to (MCC-MNC such as 23410, or a label): the route
DISCONNECTED_BY = "disconnected_by"
SIP_CODE = "sip_code"

CLAIM_PAYLOAD_HASH = "payload_hash"
CLAIM_IAT = "iat"

#: Statuses of a call that is still going on.
#: ``status`` values of advanced machine detection (developer.vonage.com "Voice API Webhook Reference").
DETECTED = frozenset({"human", "machine"})
NOT_ENDED = frozenset({"started", "ringing", "answered", "machine", "human", "disconnected"})
#: Endpoint objects name the party by one of these keys.
ENDPOINT_KEYS = ("number", "uri", "user", "id")

DIRECTIONS: Mapping[str, Direction] = {"inbound": "inbound", "outbound": "outbound"}


def _party(value: object) -> str:
    if isinstance(value, dict):
        return next((text(value[k]) for k in ENDPOINT_KEYS if value.get(k)), "")
    return text(value)


def _ended(event: Mapping[str, Any], request: WebhookRequest) -> CallRecord:
    raw = request.query if request.method == "GET" else body_text(request.body)
    draft = RecordDraft(NAME, raw=raw, received_at=request.received_at)
    draft.provider_call_id = draft.identifier(UUID, text(event.get(UUID) or event.get(CALL_UUID)))
    if not draft.provider_call_id:
        draft.error(UUID, "required (or call_uuid)")
    draft.from_user_id = _party(event.get(FROM))
    draft.to_user_id = _party(event.get(TO))
    draft.direction = DIRECTIONS.get(text(event.get(DIRECTION)).lower(), "unknown")
    draft.route = text(event.get(NETWORK)) or own_number(draft.direction, draft.from_user_id, draft.to_user_id)
    draft.start_time = draft.timestamp(START_TIME, event.get(START_TIME))
    draft.end_time = draft.timestamp(END_TIME, event.get(END_TIME) or event.get(TIMESTAMP))
    draft.duration = draft.seconds(DURATION, event.get(DURATION))
    status = text(event.get(STATUS)).strip().lower()
    # The SIP response Vonage reports is the platform's own fact, kept as the record's SIP status. On a
    # call that did not complete it is tried after the detail and before the broad status (a failed
    # call's 404 says more than "failed"); a completed call's detail and code do not make it a failure.
    draft.sip = sip_status(event.get(SIP_CODE))
    if status == "completed":
        draft.add_chain(ref("vonage-status", status))
    else:
        sip_ref = ref("sip", draft.sip) if draft.sip and draft.sip >= 300 else None
        draft.add_chain(ref("vonage-detail", text(event.get(DETAIL)).strip().lower()), sip_ref,
                        ref("vonage-status", status))
    if text(event.get(DISCONNECTED_BY)).lower() == "platform":
        draft.ended_by = "platform"
    flatten("", event, draft.extra)
    return draft.finish()


#: ``hangup import`` formats this adapter reads, and what in a file's first bytes tells each.
IMPORTS = {NAME: ImportFormat(json_reader(NAME), markers=((JSON_FILES, '"conversation_uuid"'),))}


class VonageProvider:
    """Vonage Voice API event webhooks (``/callbacks/vonage``)."""

    name = NAME
    imports = IMPORTS
    settings = SETTINGS
    methods = ("POST", "GET")

    def verify(self, request: WebhookRequest, secrets: Mapping[str, str]) -> None:
        secret = credential(secrets, SECRET, NAME)
        if secret is None:
            return
        scheme, _, token = header(request.headers, "authorization", NAME).partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("vonage: expected a Bearer JWT",
                               details=[{"field": "authorization", "error": "not a Bearer token"}])
        try:
            with warnings.catch_warnings():
                # The secret's length is Vonage's choice (dashboard), not something a receiver can fix.
                warnings.simplefilter("ignore", InsecureKeyLengthWarning)
                # Without iat a captured token would verify forever: MAX_AGE could not be checked.
                claims = jwt.decode(token.strip(), secret, algorithms=["HS256"],
                                    options={"verify_aud": False, "require": [CLAIM_IAT]})
        except jwt.InvalidTokenError as exc:
            raise Forbidden("vonage: JWT signature does not verify",
                            details=[{"field": "authorization", "error": type(exc).__name__}]) from None
        expected = claims.get(CLAIM_PAYLOAD_HASH)
        if request.body and not isinstance(expected, str):
            raise Forbidden("vonage: JWT has no payload_hash for a request with a body",
                            details=[{"field": CLAIM_PAYLOAD_HASH, "error": "missing"}])
        if isinstance(expected, str) and not any_equal([expected.lower()], hashlib.sha256(request.body).hexdigest()):
            raise Forbidden("vonage: body does not match payload_hash",
                            details=[{"field": CLAIM_PAYLOAD_HASH, "error": "mismatch"}])
        issued = claims.get(CLAIM_IAT)
        if not isinstance(issued, int | float) or isinstance(issued, bool) or \
                now(request.received_at) - issued > MAX_AGE:
            raise Forbidden("vonage: JWT is too old (replayed or delayed request)",
                            details=[{"field": CLAIM_IAT, "error": f"older than {MAX_AGE} s"}])

    def detection(self, request: WebhookRequest) -> tuple[str, dict[str, str]] | None:
        """An advanced machine detection event: ``status`` ``human`` or ``machine`` of the call's ``uuid``."""
        event = _event(request)
        status = text(event.get(STATUS)).strip().lower()
        return (_detected_call(event), {STATUS: status}) if status in DETECTED else None

    def parse(self, request: WebhookRequest) -> CallRecord | None:
        event = _event(request)
        status = text(event.get(STATUS)).strip().lower()
        if status in DETECTED:
            _detected_call(event)  # refuses one naming no call (400), before it is kept
        if not status or status in NOT_ENDED:
            return None
        return _ended(event, request)

    def reclassify(self, record: CallRecord) -> CallRecord | None:
        """The stored call read again from its ``raw``: the JSON body, or the query of a GET."""
        if record.raw.startswith("{"):
            return self.parse(stored_request(record, "application/json"))
        return self.parse(WebhookRequest("GET", "", record.raw, received_at=record.received_at))


def _detected_call(event: Mapping[str, Any]) -> str:
    return detected_call(NAME, UUID, text(event.get(UUID) or event.get(CALL_UUID)))


def _event(request: WebhookRequest) -> Mapping[str, Any]:
    """The event: the query of a GET, else the JSON body."""
    if request.method.upper() == "GET" or not request.body:
        return request.form()
    return json_object(request.body, NAME)


PROVIDER = VonageProvider()
