"""Plivo Voice API hangup callback (``hangup_url``; form POST by default, GET when ``hangup_method=GET``).

Fields as documented by Plivo ("Hangup Causes", "Make a Call", "Request parameters") and seen in
captured callbacks. Where each canonical value comes from:

* id: ``CallUUID``; parties: ``From`` / ``To``; direction: ``Direction``; route: the account's own number
  (``To`` inbound, ``From`` outbound; Plivo reports no trunk or application on a call).
* times: ``StartTime`` (set-up), ``AnswerTime`` (answer, empty when unanswered), ``EndTime``;
  Plivo writes them as ``YYYY-MM-DD HH:MM:SS`` in the account's time zone (an Indian account's
  callback: ``StartTime=2024-09-26 14:05:08`` with ``SessionStart=2024-09-26 08:35:10.910772``, UTC;
  Plivo's REST call records say ``+05:30`` outright). ``SessionStart`` gives the offset
  (``account_offset``), which is taken off all three; without it they are read as UTC unless they
  carry an offset.
* duration: ``Duration`` (``BillDuration`` is the billed, rounded value and stays in ``extra``).
* cause chain: ``plivo:<HangupCauseCode>`` (else ``plivo:<HangupCauseName>``) → ``freeswitch:<HangupCause>``
  (Plivo's ``HangupCause`` is the FreeSWITCH/Q.850 cause name); who hung up: ``plivo-source:<HangupSource>``.

Signature: ``X-Plivo-Signature-V3`` (account or sub-account token) and ``X-Plivo-Signature-Ma-V3``
(main account token) with ``X-Plivo-Signature-V3-Nonce``, computed exactly as plivo-python
``plivo.utils.signature_v3.validate_v3_signature`` does; either header may hold several
comma-separated signatures. The scheme has no timestamp, so it cannot reject a replay; storing is
idempotent on ``CallUUID`` instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit, urlunsplit

from hangup.errors import Forbidden
from hangup.providers._common import (
    RecordDraft,
    any_equal,
    body_text,
    credential,
    credential_settings,
    detected_call,
    header,
    own_number,
    parse_time,
    ref,
    stored_form,
)
from hangup.providers.base import WebhookRequest
from hangup.providers.reading import JSON_FILES, ImportFormat, form_reader
from hangup.records import CallRecord, Direction

NAME = "plivo"
SECRET = "plivo_auth_token"
SETTINGS = credential_settings(
    NAME, SECRET, "Plivo auth token: verifies `X-Plivo-Signature-V3`.",
    "Accept Plivo callbacks without a verifiable signature.",
)

CALL_UUID = "CallUUID"
FROM = "From"
TO = "To"
DIRECTION = "Direction"
CALL_STATUS = "CallStatus"
EVENT = "Event"
MACHINE = "Machine"  # true when a machine answered (Event=MachineDetection)
HANGUP_CAUSE = "HangupCause"
HANGUP_CAUSE_CODE = "HangupCauseCode"
HANGUP_CAUSE_NAME = "HangupCauseName"
HANGUP_SOURCE = "HangupSource"
DURATION = "Duration"
BILL_DURATION = "BillDuration"
START_TIME = "StartTime"
ANSWER_TIME = "AnswerTime"
END_TIME = "EndTime"
SESSION_START = "SessionStart"

#: Time zones are whole quarter hours; the largest offsets are ±14 h (Kiribati, UTC+14).
ZONE_STEP = 15 * 60
MAX_OFFSET = 14 * 3600

HEADER_V3 = "x-plivo-signature-v3"
HEADER_MA_V3 = "x-plivo-signature-ma-v3"
HEADER_NONCE = "x-plivo-signature-v3-nonce"

#: Call statuses of progress callbacks that reach the hangup URL's neighbours; they are not call ends.
NOT_ENDED = frozenset({"ringing", "in-progress", "early-media", "queued"})

DIRECTIONS: Mapping[str, Direction] = {"inbound": "inbound", "outbound": "outbound"}


def _hangup(params: Mapping[str, str], request: WebhookRequest) -> CallRecord | None:
    if params.get(CALL_STATUS, "").lower() in NOT_ENDED and not params.get(HANGUP_CAUSE_CODE):
        return None
    draft = RecordDraft(NAME, raw=request.query if request.method == "GET" else body_text(request.body),
                        received_at=request.received_at)
    draft.provider_call_id = draft.identifier(CALL_UUID, params.get(CALL_UUID))
    if not draft.provider_call_id:
        draft.error(CALL_UUID, "required")
    draft.from_user_id = params.get(FROM, "")
    draft.to_user_id = params.get(TO, "")
    draft.direction = DIRECTIONS.get(params.get(DIRECTION, "").lower(), "unknown")
    # Plivo reports no trunk or application on a call: its route is the account's own number on it.
    draft.route = own_number(draft.direction, draft.from_user_id, draft.to_user_id)
    draft.setup_time = draft.timestamp(START_TIME, params.get(START_TIME))
    draft.start_time = draft.timestamp(ANSWER_TIME, params.get(ANSWER_TIME))
    draft.end_time = draft.timestamp(END_TIME, params.get(END_TIME))
    offset = account_offset(draft.setup_time, parse_time(params.get(SESSION_START, "").strip()))
    if offset:
        draft.setup_time, draft.start_time, draft.end_time = (
            t - offset if t else 0 for t in (draft.setup_time, draft.start_time, draft.end_time))
    draft.duration = draft.seconds(DURATION, params.get(DURATION))
    draft.seconds(BILL_DURATION, params.get(BILL_DURATION))
    if params.get(CALL_STATUS, "").lower() == "completed":
        draft.answered = True
    code = params.get(HANGUP_CAUSE_CODE, "").strip()
    if code and not code.isdigit():
        draft.error(HANGUP_CAUSE_CODE, f"expected a number, got {code[:20]!r}")
        code = ""
    # The name is only a fallback: it spells the same entry as the code.
    draft.add_chain(ref("plivo", code) or ref("plivo", params.get(HANGUP_CAUSE_NAME)),
                    ref("freeswitch", params.get(HANGUP_CAUSE)))
    # "Callee" (Plivo's CDR spelling) is an alias in plivo-source.csv; finish() stores the entry's own name
    source = ref("plivo-source", params.get(HANGUP_SOURCE))
    if source:
        draft.sources.append(source)
    draft.extra = dict(params)
    return draft.finish()


def account_offset(start: int, session_start: int | None) -> int:
    """Seconds the account's local time is ahead of UTC, read from the callback itself.

    ``StartTime``/``AnswerTime``/``EndTime`` are written in the account's time zone without an offset
    (an Indian account sends ``StartTime=14:05:08`` with ``SessionStart=08:35:10.91``, UTC); both mark
    the call's start, so their difference rounded to a quarter hour is the zone's offset. 0 when
    ``SessionStart`` is absent or the difference is no time zone.
    """
    if not start or not session_start:
        return 0
    offset = round((start - session_start) / ZONE_STEP) * ZONE_STEP
    return offset if abs(offset) <= MAX_OFFSET else 0


def _detection(params: Mapping[str, str], request: WebhookRequest) -> None:
    """The ``MachineDetection`` request is no call end (``detection`` reads it); one naming no call is refused."""
    detected_call(NAME, CALL_UUID, params.get(CALL_UUID))


#: ``Event`` values of the hangup URL; an absent ``Event`` is the classic hangup callback.
EVENT_HANDLERS = {"": _hangup, "hangup": _hangup, "machinedetection": _detection}


#: Call record keys of the REST API (``GET /v1/Account/{auth_id}/Call/``, plivo-python
#: ``resources/calls.py``) → the hangup callback parameter carrying the same fact.
REST_KEYS: Mapping[str, str] = {
    "call_uuid": CALL_UUID, "from_number": FROM, "to_number": TO, "call_direction": DIRECTION,
    "initiation_time": START_TIME, "answer_time": ANSWER_TIME, "end_time": END_TIME, "call_duration": DURATION,
    "bill_duration": BILL_DURATION, "hangup_cause_code": HANGUP_CAUSE_CODE, "hangup_cause_name": HANGUP_CAUSE_NAME,
    "hangup_source": HANGUP_SOURCE, "parent_call_uuid": "ParentCallUUID",
}


def from_rest(call: Mapping[str, object]) -> dict[str, str]:
    """A call record of the REST call list as the hangup callback's parameters (a callback passes unchanged)."""
    if CALL_UUID in call or "call_uuid" not in call:
        return {k: "" if v is None else str(v) for k, v in call.items()}
    return {REST_KEYS.get(k, k): "" if v is None else str(v) for k, v in call.items()}


#: ``hangup import`` formats this adapter reads, and what in a file's first bytes tells each. A REST call
#: list is told by ``bill_duration``: its ``call_uuid`` is also a key of some Vonage events.
IMPORTS = {NAME: ImportFormat(form_reader(NAME, from_rest), markers=(
    (JSON_FILES, '"CallUUID"'), (JSON_FILES, '"bill_duration"'), ((".csv",), "CallUUID"), (("",), "CallUUID=")))}


class PlivoProvider:
    """Plivo hangup callbacks (``/callbacks/plivo``)."""

    name = NAME
    imports = IMPORTS
    settings = SETTINGS
    kept_headers = (HEADER_V3, HEADER_MA_V3, HEADER_NONCE)
    methods = ("POST", "GET")

    def verify(self, request: WebhookRequest, secrets: Mapping[str, str]) -> None:
        token = credential(secrets, SECRET, NAME)
        if token is None:
            return
        nonce = header(request.headers, HEADER_NONCE, NAME)
        given = [s for name in (HEADER_V3, HEADER_MA_V3) for s in request.headers.get(name, "").split(",") if s]
        if not given:
            header(request.headers, HEADER_V3, NAME)  # raises 401 naming the header
        expected = signature_v3(request.method, request.url, _post_params(request), nonce, token)
        if not any_equal(given, expected):
            raise Forbidden("plivo: signature does not match", details=[{"field": HEADER_V3, "error": "mismatch"}])

    def parse(self, request: WebhookRequest) -> CallRecord | None:
        params = request.form()
        handler = EVENT_HANDLERS.get(params.get(EVENT, "").strip().lower())
        return handler(params, request) if handler else None

    def detection(self, request: WebhookRequest) -> tuple[str, dict[str, str]] | None:
        """The ``MachineDetection`` request (plivo.com "Asynchronous machine detection"): CallUUID and Machine."""
        params = request.form()
        if params.get(EVENT, "").strip().lower() != "machinedetection":
            return None
        return detected_call(NAME, CALL_UUID, params.get(CALL_UUID)), {MACHINE: params.get(MACHINE, "")}

    def reclassify(self, record: CallRecord) -> CallRecord | None:
        """The stored call read again from its ``raw``: the POST body or GET query, or an imported JSON object."""
        return self.parse(stored_form(record))


def _post_params(request: WebhookRequest) -> dict[str, list[str]]:
    if request.method.upper() != "POST" or not request.body:
        return {}
    return parse_qs(body_text(request.body), keep_blank_values=True)


def signature_v3(method: str, url: str, post: Mapping[str, list[str]], nonce: str, token: str) -> str:
    """Plivo's V3 signature: HMAC-SHA256 over the sorted URL (+ sorted POST params) and the nonce, base64."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    query = parse_qs(parts.query, keep_blank_values=True)
    sorted_query = "&".join(f"{k}={v}" for k in sorted(query) for v in sorted(query[k]))
    if method.upper() == "GET" or not post:
        message = base + (f"?{sorted_query}" if sorted_query else "")
    else:
        message = f"{base}?{sorted_query}" + ("." if sorted_query else "")
        message += "".join(f"{k}{v}" for k in sorted(post) for v in sorted(post[k]))
    digest = hmac.new(token.encode(), f"{message}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


PROVIDER = PlivoProvider()
