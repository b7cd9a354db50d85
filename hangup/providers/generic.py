"""hangup's own call-end JSON, for any system without an adapter of its own (schema: docs/providers.md).

One JSON object per call end. ``call_id`` is required; causes are catalog references
(``q850:17``, ``sip:486``, ``freeswitch:USER_BUSY`` …), the first known one becomes the primary
cause. Field names also accept the canonical record's own (``provider_call_id``,
``from_user_id``, ``to_user_id``), so an exported record posts back unchanged.

Signature: ``X-Hangup-Signature: sha256=<hex>`` = HMAC-SHA256 with ``generic_secret`` over
``"{X-Hangup-Timestamp}.{raw body}"``; a timestamp more than ``TOLERANCE`` seconds away from the
receive time is refused as a replay.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from hangup import bounds
from hangup.causes import EndedBy, parse_ref
from hangup.errors import CatalogError, Forbidden, Unauthorized
from hangup.providers._common import (
    RecordDraft,
    any_equal,
    body_text,
    credential,
    credential_settings,
    header,
    json_object,
    now,
    stored_json_or_text,
    text,
)
from hangup.providers.base import WebhookRequest
from hangup.records import CallRecord, Direction

NAME = "generic"
SECRET = "generic_secret"
SETTINGS = credential_settings(
    NAME, SECRET, "HMAC-SHA256 secret: verifies `X-Hangup-Signature` of generic callbacks.",
    "Accept generic callbacks without a signature.",
)
TOLERANCE = 300

CALL_ID = ("call_id", "provider_call_id")
FROM = ("from", "from_user_id")
TO = ("to", "to_user_id")
FROM_SERVICE = "from_service_id"
TO_SERVICE = "to_service_id"
DIRECTION = "direction"
ROUTE = ("route", "trunk", "gateway", "carrier")  # the carrier, trunk or next hop the call went through
SETUP_TIME = "setup_time"
START_TIME = "start_time"
END_TIME = "end_time"
DURATION = "duration"
ANSWERED = "answered"
CAUSE = "cause"
CAUSES = "causes"
ENDED_BY = "ended_by"
EXTRA = "extra"
SOURCE = "source"

HEADER_SIGNATURE = "x-hangup-signature"
HEADER_TIMESTAMP = "x-hangup-timestamp"

DIRECTIONS: Mapping[str, Direction] = {"inbound": "inbound", "outbound": "outbound", "unknown": "unknown"}
_ENDED_BY = frozenset(str(e) for e in EndedBy)


def _first(data: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    return next((text(data[k]).strip() for k in keys if data.get(k) not in (None, "")), "")


def record_from_json(data: Mapping[str, Any], raw: str = "", received_at: float = 0.0) -> CallRecord:
    """The canonical record of one generic call-end object."""
    draft = RecordDraft(NAME, raw=raw, received_at=received_at)
    draft.provider_call_id = draft.identifier(CALL_ID[0], _first(data, CALL_ID))
    if not draft.provider_call_id:
        draft.error(CALL_ID[0], "required")
    draft.from_user_id = _first(data, FROM)
    draft.to_user_id = _first(data, TO)
    draft.route = _first(data, ROUTE)
    draft.from_service_id = text(data.get(FROM_SERVICE))
    draft.to_service_id = text(data.get(TO_SERVICE))
    direction = text(data.get(DIRECTION) or "unknown").lower()
    if direction not in DIRECTIONS:
        draft.error(DIRECTION, "expected inbound, outbound or unknown")
    draft.direction = DIRECTIONS.get(direction, "unknown")
    draft.setup_time = draft.timestamp(SETUP_TIME, data.get(SETUP_TIME))
    draft.start_time = draft.timestamp(START_TIME, data.get(START_TIME))
    draft.end_time = draft.timestamp(END_TIME, data.get(END_TIME))
    draft.duration = draft.seconds(DURATION, data.get(DURATION))
    answered = data.get(ANSWERED)
    if answered is not None and not isinstance(answered, bool):
        draft.error(ANSWERED, "expected true or false")
    elif isinstance(answered, bool):
        draft.answered = answered
    more = data.get(CAUSES) or []
    if not isinstance(more, list):
        draft.error(CAUSES, "expected a list of cause references")
        more = []
    refs = ([data[CAUSE]] if data.get(CAUSE) else []) + more
    for item in refs:
        try:
            scheme, key = parse_ref(text(item))
        except CatalogError as exc:
            draft.error(CAUSES, str(exc))
            continue
        draft.add_chain(f"{scheme}:{key}")
    ended_by = text(data.get(ENDED_BY)).strip().lower()
    if ended_by and ended_by not in _ENDED_BY:
        draft.error(ENDED_BY, f"expected one of {', '.join(sorted(_ENDED_BY))}")
    draft.ended_by = ended_by or None
    extra = data.get(EXTRA) or {}
    if not isinstance(extra, dict):
        draft.error(EXTRA, "expected an object of strings")
        extra = {}
    draft.extra = {str(k): text(v) for k, v in extra.items()}
    if data.get(SOURCE):
        draft.extra[SOURCE] = text(data[SOURCE])
    return draft.finish()


class GenericProvider:
    """hangup's canonical call-end JSON (``/callbacks/generic``)."""

    name = NAME
    settings = SETTINGS
    kept_headers = (HEADER_SIGNATURE, HEADER_TIMESTAMP)
    methods = ("POST",)

    def verify(self, request: WebhookRequest, secrets: Mapping[str, str]) -> None:
        verify_signature(request, secrets, NAME, SECRET)

    def parse(self, request: WebhookRequest) -> CallRecord | None:
        data = json_object(request.body, NAME)
        return record_from_json(data, body_text(request.body), request.received_at)

    def reclassify(self, record: CallRecord) -> CallRecord | None:
        """The stored call read again from its ``raw`` (the JSON body)."""
        return self.parse(stored_json_or_text(record))


def verify_signature(request: WebhookRequest, secrets: Mapping[str, str], name: str, secret_key: str) -> None:
    """hangup's own signature scheme (module docstring), for every adapter whose sender signs with it."""
    secret = credential(secrets, secret_key, name)
    if secret is None:
        return
    given = header(request.headers, HEADER_SIGNATURE, name).removeprefix("sha256=")
    stamp = header(request.headers, HEADER_TIMESTAMP, name)
    seconds = bounds.digits(stamp)
    if seconds is None:
        raise Unauthorized(f"{name}: malformed timestamp",
                           details=[{"field": HEADER_TIMESTAMP, "error": "not Unix seconds"}])
    if abs(now(request.received_at) - seconds) > TOLERANCE:
        raise Forbidden(f"{name}: timestamp outside the tolerance (replayed or delayed request)",
                        details=[{"field": HEADER_TIMESTAMP, "error": f"more than {TOLERANCE} s away"}])
    if not any_equal([given.lower()], sign(secret, stamp, request.body)):
        raise Forbidden(f"{name}: signature does not match",
                        details=[{"field": HEADER_SIGNATURE, "error": "mismatch"}])


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The hex signature a sender puts in ``X-Hangup-Signature`` (after ``sha256=``)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


PROVIDER = GenericProvider()
