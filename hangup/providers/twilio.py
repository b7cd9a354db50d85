"""Twilio Programmable Voice status callback (``StatusCallback``; form POST by default, GET possible).

Twilio sends one callback per subscribed event (``initiated``, ``ringing``, ``answered``,
``completed``); only final ``CallStatus`` values (twilio-status.csv) are call ends, the rest
parse to ``None``. Where each canonical value comes from:

* id: ``CallSid``; parties: ``From`` / ``To``; direction: ``Direction`` (``inbound``,
  ``outbound-api``, ``outbound-dial``, ``trunking-*``); route: ``TrunkSid`` (REST ``trunk_sid``), else the
  account's own number (``To`` inbound, ``From`` outbound).
* end time: ``Timestamp`` (RFC 2822); duration: ``CallDuration`` (seconds; ``Duration`` is
  minutes and stays in ``extra``); answer time: end time minus ``CallDuration`` (Twilio sends no
  answer time in the callback, so it is derived).
* cause chain: ``twilio-status:<CallStatus>``, ``sip:<SipResponseCode>`` (final error statuses
  only; SignalWire's compatibility API names it ``SipResultCode``). ``failed`` is a catch-all, so for it the
  SIP response is tried first. Who hung up: ``twilio-source:<HangupSource>``, which Twilio-compatible APIs
  (Telnyx TeXML) send and Twilio does not; SignalWire sends ``HangupBy`` instead, the address of the party
  that hung up: ``From`` is the caller, ``To`` the callee (its SDK's captured callbacks: a 486 hung up by
  ``To``, a 487 of an unanswered call by ``From``). Without ``HangupBy``, SignalWire's ``HangupDirection`` of
  an outbound call says it: ``inbound``, the hang-up came in from the called party (the callee), ``outbound``,
  the caller's side sent it (the same two captured callbacks, both outbound, say so with the ``HangupBy``
  beside it). Of an inbound call no recorded callback tells which side each value is, so there it is only
  kept in ``extra``.

Answering-machine detection: ``AnsweredBy`` of a status callback (REST ``answered_by``) is read where it comes
(answered_by.csv). A call placed with ``AsyncAmd=true`` posts the result while the call goes on to its
``AsyncAmdStatusCallback``, a request of its own with ``AccountSid``, ``CallSid``, ``AnsweredBy`` and
``MachineDetectionDuration`` (milliseconds) and no ``CallStatus``, signed like every Twilio webhook
(twilio.com/docs/voice/answering-machine-detection; Telnyx's Twilio-compatible TeXML AMD callback sends the
same four). ``parse`` answers it ``None`` and ``detection`` reads it (``hangup.store.detections``).

Signature: ``X-Twilio-Signature`` = base64 HMAC-SHA1 (HMAC-SHA256 when
``X-Twilio-Webhooks-Signature-Settings`` names it) with the auth token over the full URL followed
by each POST parameter name and value, sorted; tried with and without the default port; a JSON body
is covered by the ``bodySHA256`` query parameter instead (twilio-python
``twilio/request_validator.py`` ``RequestValidator.validate``). The scheme has no timestamp, so it
cannot reject a replay; storing is idempotent on ``CallSid`` instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit, urlunsplit

from hangup.errors import Forbidden
from hangup.providers._codes import sip_status
from hangup.providers._common import (
    RecordDraft,
    any_equal,
    body_text,
    credential,
    credential_settings,
    detected_call,
    header,
    own_number,
    ref,
    stored_form,
)
from hangup.providers.base import WebhookRequest
from hangup.providers.reading import JSON_FILES, ImportFormat, form_reader
from hangup.records import CallRecord, Direction

NAME = "twilio"
SECRET = "twilio_auth_token"
SETTINGS = credential_settings(
    NAME, SECRET, "Twilio auth token: verifies `X-Twilio-Signature`.",
    "Accept Twilio callbacks without a verifiable signature.",
)

CALL_SID = "CallSid"
CALL_STATUS = "CallStatus"
CALL_DURATION = "CallDuration"
SIP_RESPONSE_CODE = "SipResponseCode"
SIP_RESULT_CODE = "SipResultCode"  # SignalWire's name for it
HANGUP_BY = "HangupBy"  # SignalWire: the address (From or To) of the party that hung up
HANGUP_DIRECTION = "HangupDirection"  # SignalWire: "inbound" or "outbound", which way the hang-up went
#: ``HangupDirection`` of an outbound call → who hung up (module docstring: read for outbound calls only).
OUTBOUND_HANGUP_DIRECTIONS: Mapping[str, str] = {"inbound": "callee", "outbound": "caller"}
FROM = "From"
TO = "To"
DIRECTION = "Direction"
TIMESTAMP = "Timestamp"
TRUNK_SID = "TrunkSid"  # the SIP trunk of an Elastic SIP Trunking call (Call resource ``trunk_sid``): the route
HANGUP_SOURCE = "HangupSource"  # sent by Twilio-compatible APIs (Telnyx TeXML), not by Twilio itself
ANSWERED_BY = "AnsweredBy"  # the detection result (answered_by.csv reads it)
DETECTION_DURATION = "MachineDetectionDuration"  # milliseconds the detection took

HEADER_SIGNATURE = "x-twilio-signature"
HEADER_SETTINGS = "x-twilio-webhooks-signature-settings"
BODY_HASH_PARAM = "bodySHA256"

ALGORITHMS = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}

#: Statuses that are progress, not a call end.
NOT_ENDED = frozenset({"queued", "initiated", "ringing", "in-progress", "answered"})
#: Statuses so broad that the SIP response says more.
GENERIC = frozenset({"failed"})

DIRECTIONS: Mapping[str, Direction] = {
    "inbound": "inbound",
    "outbound-api": "outbound",
    "outbound-dial": "outbound",
    "trunking-originating": "inbound",  # mapping of trunking directions is hangup's reading, not confirmed
    "trunking-terminating": "outbound",
}


#: Call resource keys of the REST API (``GET /2010-04-01/Accounts/{sid}/Calls.json``, twilio-python
#: ``CallInstance``) → the status callback parameter carrying the same fact.
REST_KEYS: Mapping[str, str] = {
    "sid": CALL_SID, "status": CALL_STATUS, "from": FROM, "to": TO, "direction": DIRECTION,
    "duration": CALL_DURATION, "end_time": TIMESTAMP, "account_sid": "AccountSid",
    "parent_call_sid": "ParentCallSid", "answered_by": "AnsweredBy", "start_time": "StartTime",
}
REST_KEYS = {**REST_KEYS, "trunk_sid": "TrunkSid"}  # an Elastic SIP Trunking call's trunk (the route)


def from_rest(call: Mapping[str, object]) -> dict[str, str]:
    """A call record of the REST call list as the status callback's parameters (a callback passes unchanged)."""
    if CALL_SID in call or "sid" not in call:
        return {k: "" if v is None else str(v) for k, v in call.items()}
    return {REST_KEYS.get(k, k): "" if v is None else str(v) for k, v in call.items() if not isinstance(v, dict)}


#: ``hangup import`` formats this adapter reads, and what in a file's first bytes tells each (a REST call
#: list by its ``account_sid``).
IMPORTS = {NAME: ImportFormat(form_reader(NAME, from_rest), markers=(
    (JSON_FILES, '"CallSid"'), (JSON_FILES, '"account_sid"'), ((".csv",), "CallSid"), (("",), "CallSid=")))}


class TwilioProvider:
    """Twilio voice status callbacks (``/callbacks/twilio``)."""

    name = NAME
    imports = IMPORTS
    settings = SETTINGS
    kept_headers = (HEADER_SIGNATURE, HEADER_SETTINGS)
    methods = ("POST", "GET")

    def verify(self, request: WebhookRequest, secrets: Mapping[str, str]) -> None:
        token = credential(secrets, SECRET, NAME)
        if token is None:
            return
        given = header(request.headers, HEADER_SIGNATURE, NAME)
        algorithm = _algorithm(request.headers.get(HEADER_SETTINGS, ""))
        if algorithm is None:
            raise Forbidden("twilio: unsupported signature algorithm",
                            details=[{"field": HEADER_SETTINGS, "error": "unsupported algorithm"}])
        params: Mapping[str, list[str]] = {}
        query = parse_qs(urlsplit(request.url).query)
        if BODY_HASH_PARAM in query and _is_json(request):
            if not any_equal([query[BODY_HASH_PARAM][0]], hashlib.sha256(request.body).hexdigest()):
                raise Forbidden("twilio: body does not match bodySHA256",
                                details=[{"field": BODY_HASH_PARAM, "error": "mismatch"}])
        elif request.method.upper() == "POST" and request.body:
            params = parse_qs(body_text(request.body), keep_blank_values=True)
        candidates = {signature(url, params, token, algorithm) for url in _port_variants(request.url)}
        if not any(any_equal([given], c) for c in candidates):
            raise Forbidden("twilio: signature does not match",
                            details=[{"field": HEADER_SIGNATURE, "error": "mismatch"}])

    def parse(self, request: WebhookRequest) -> CallRecord | None:
        params = request.form()
        status = params.get(CALL_STATUS, "").strip().lower()
        if status in NOT_ENDED:
            return None
        if _is_detection(params):
            detected_call(NAME, CALL_SID, params.get(CALL_SID))  # refuses one naming no call (400 naming CallSid)
            return None
        draft = RecordDraft(NAME, raw=request.query if request.method == "GET" else body_text(request.body),
                            received_at=request.received_at)
        if not status:
            draft.error(CALL_STATUS, "required")
        draft.provider_call_id = draft.identifier(CALL_SID, params.get(CALL_SID))
        if not draft.provider_call_id:
            draft.error(CALL_SID, "required")
        draft.from_user_id = params.get(FROM, "")
        draft.to_user_id = params.get(TO, "")
        draft.direction = DIRECTIONS.get(params.get(DIRECTION, "").lower(), "unknown")
        draft.route = params.get(TRUNK_SID) or own_number(draft.direction, draft.from_user_id, draft.to_user_id)
        draft.end_time = draft.timestamp(TIMESTAMP, params.get(TIMESTAMP))
        draft.duration = draft.seconds(CALL_DURATION, params.get(CALL_DURATION))
        if draft.duration and draft.end_time:
            draft.start_time = draft.end_time - draft.duration
        draft.answered = status == "completed" or draft.duration > 0
        sip_field = SIP_RESPONSE_CODE if SIP_RESPONSE_CODE in params else SIP_RESULT_CODE
        draft.integer(sip_field, params.get(sip_field), default=0)
        sip = sip_status(params.get(sip_field))
        draft.sip = sip
        sip_ref = ref("sip", sip) if sip and sip >= 300 else None
        status_ref = ref("twilio-status", status)
        draft.add_chain(*((sip_ref, status_ref) if status in GENERIC else (status_ref, sip_ref)))
        source = ref("twilio-source", params.get(HANGUP_SOURCE, "").strip().lower() or _party(params, draft.direction))
        if source:
            draft.sources.append(source)
        draft.extra = dict(params)
        return draft.finish()

    def detection(self, request: WebhookRequest) -> tuple[str, dict[str, str]] | None:
        """The ``AsyncAmdStatusCallback`` request (module docstring): CallSid, AnsweredBy and
        MachineDetectionDuration."""
        params = request.form()
        if not _is_detection(params):
            return None
        fields = {k: params[k] for k in (ANSWERED_BY, DETECTION_DURATION) if k in params}
        return detected_call(NAME, CALL_SID, params.get(CALL_SID)), fields

    def reclassify(self, record: CallRecord) -> CallRecord | None:
        """The stored call read again from its ``raw``: the POST body or GET query, or an imported JSON object."""
        return self.parse(stored_form(record))


def _is_detection(params: Mapping[str, str]) -> bool:
    """An ``AsyncAmdStatusCallback`` request: a result without a call status (status callbacks always have one)."""
    return ANSWERED_BY in params and CALL_STATUS not in params


def _party(params: Mapping[str, str], direction: Direction) -> str:
    """``caller`` or ``callee`` when SignalWire's ``HangupBy`` is the call's ``From`` or ``To``; without
    ``HangupBy``, what ``HangupDirection`` says of an outbound call; else nothing."""
    by = params.get(HANGUP_BY, "").strip()
    if not by:
        towards = params.get(HANGUP_DIRECTION, "").strip().lower()
        return OUTBOUND_HANGUP_DIRECTIONS.get(towards, "") if direction == "outbound" else ""
    return "caller" if by == params.get(FROM) else "callee" if by == params.get(TO) else ""


def signature(url: str, params: Mapping[str, list[str]], token: str, algorithm: str = "HMAC_SHA1") -> str:
    """Twilio's request signature of ``url`` and POST ``params``."""
    message = url + "".join(name + value for name in sorted(params) for value in sorted(set(params[name])))
    digest = hmac.new(token.encode(), message.encode(), ALGORITHMS[algorithm]).digest()
    return base64.b64encode(digest).decode()


def _algorithm(settings: str) -> str | None:
    for part in settings.split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "algorithm" and value.strip():
            chosen = value.strip().upper()
            return chosen if chosen in ALGORITHMS else None
    return "HMAC_SHA1"


def _port_variants(url: str) -> tuple[str, str]:
    """The URL with its port removed and with the default port added (Twilio signs either form)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        without = urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0]))
        return without, url
    port = 443 if parts.scheme == "https" else 80
    with_port = urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}")) if host else url
    return url, with_port


def _is_json(request: WebhookRequest) -> bool:
    return "json" in request.headers.get("content-type", "")


PROVIDER = TwilioProvider()
