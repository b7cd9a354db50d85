"""Contact-centre call records: Call Status + Last Response Code + Bye Reason, as JSON or CSV.

The vocabulary is the FreeSWITCH-based contact centre's "Call Status and Bye Reason" (schemes
``callcenter-status`` and ``callcenter``). That document names the values but not a wire format,
so the record layout is hangup's own (docs/providers.md): keys are matched case-insensitively with
spaces, hyphens and underscores alike, so both ``Call Status`` and ``call_status`` work.

* id: ``call_id`` (aliases ``id``, ``uuid``); parties: ``from``/``caller``, ``to``/``callee``; route: ``route``
  (aliases ``trunk``, ``gateway``, ``carrier``).
* times: ``start_time`` (set-up), ``answer_time``, ``end_time`` (epoch seconds or ISO 8601);
  duration: ``duration`` (seconds of conversation).
* cause chain: ``callcenter-status:<Call Status>`` first, because the status is the centre's own
  verdict (``Abandoned`` says more than ``NORMAL_CLEARING``); for the broad ``Call Ended`` and
  ``Call Failed`` the bye reason comes first: ``callcenter:<Bye Reason>`` →
  ``callcenter:<Last Response Code>`` (custom codes 901–909) → ``sip:<Last Response Code>``.

Credentials: HTTP Basic ``callcenter_basic_auth`` (``user:password``) on posted records.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from typing import IO, Any

from hangup.errors import PayloadError
from hangup.providers._common import (
    BasicAuthVerifier,
    RecordDraft,
    body_text,
    credential_settings,
    json_object,
    ref,
    stored_json_or_text,
    text,
    zone_setting,
)
from hangup.providers.base import WebhookRequest
from hangup.providers.reading import JSON_FILES, ImportFormat, Item, attempt, guarded, json_objects, peek
from hangup.records import CallRecord, Direction

NAME = "callcenter"
SECRET = "callcenter_basic_auth"
SETTINGS = (*credential_settings(
    NAME, SECRET, "`user:password` contact-centre call records must present (HTTP Basic).",
    "Accept contact-centre call records without credentials.",
), zone_setting(NAME, "posted call records' times"))

CALL_ID = ("call_id", "id", "uuid", "callid")
FROM = ("from", "caller", "from_number", "caller_number")
TO = ("to", "callee", "to_number", "destination")
DIRECTION = "direction"
ROUTE = ("route", "trunk", "gateway", "carrier")  # the carrier, trunk or next hop the call went through
CALL_STATUS = "call_status"
LAST_RESPONSE_CODE = "last_response_code"
BYE_REASON = "bye_reason"
START_TIME = "start_time"
ANSWER_TIME = "answer_time"
END_TIME = "end_time"
DURATION = "duration"

#: Statuses that say only "ended" or "failed": the bye reason explains them better.
GENERIC = frozenset({"call_ended", "call_failed", "called_failed"})
NOT_APPLICABLE = frozenset({"", "n/a", "na", "-"})

DIRECTIONS: Mapping[str, Direction] = {"inbound": "inbound", "incoming": "inbound",
                                       "outbound": "outbound", "outgoing": "outbound"}
_KEY = re.compile(r"[\s\-_]+")


def normalize_keys(data: Mapping[str, Any]) -> dict[str, str]:
    return {_KEY.sub("_", str(k).strip()).lower(): text(v).strip() for k, v in data.items()}


def _first(row: Mapping[str, str], keys: tuple[str, ...]) -> str:
    return next((row[k] for k in keys if row.get(k)), "")


def record_from_row(row: Mapping[str, str], raw: str = "", received_at: float = 0.0) -> CallRecord:
    """The canonical record of one contact-centre row (keys already normalised)."""
    draft = RecordDraft(NAME, raw=raw, received_at=received_at)
    draft.provider_call_id = draft.identifier(CALL_ID[0], _first(row, CALL_ID))
    if not draft.provider_call_id:
        draft.error(CALL_ID[0], "required")
    draft.from_user_id = _first(row, FROM)
    draft.to_user_id = _first(row, TO)
    draft.route = _first(row, ROUTE)
    draft.direction = DIRECTIONS.get(row.get(DIRECTION, "").lower(), "unknown")
    draft.setup_time = draft.timestamp(START_TIME, row.get(START_TIME))
    draft.start_time = draft.timestamp(ANSWER_TIME, row.get(ANSWER_TIME))
    draft.end_time = draft.timestamp(END_TIME, row.get(END_TIME))
    draft.duration = draft.seconds(DURATION, row.get(DURATION))
    status = row.get(CALL_STATUS, "")
    code_text = row.get(LAST_RESPONSE_CODE, "")
    code = draft.integer(LAST_RESPONSE_CODE, "" if code_text.lower() in NOT_APPLICABLE else code_text)
    bye = row.get(BYE_REASON, "")
    if not status and not bye:
        draft.error(CALL_STATUS, "required (or bye_reason)")
    if 300 <= code < 700:
        draft.sip = code
    detail = [ref("callcenter", bye), ref("callcenter", code if code >= 900 else None),
              ref("sip", code if 300 <= code < 700 else None)]
    status_ref = [ref("callcenter-status", status)]
    generic = _KEY.sub("_", status.strip()).lower() in GENERIC
    draft.add_chain(*(detail + status_ref if generic else status_ref + detail))
    draft.extra = {k: v for k, v in row.items() if v}
    return draft.finish()


def rows_from_csv(data: str) -> list[dict[str, str]]:
    try:
        return [normalize_keys({k: v for k, v in r.items() if k is not None})
                for r in csv.DictReader(io.StringIO(data, newline=""))]
    except csv.Error as exc:
        raise PayloadError(f"callcenter: CSV does not parse: {exc}",
                           details=[{"field": "body", "error": "malformed CSV"}]) from None


# -- import: record files --------------------------------------------------------------------
def read_records(stream: IO[str], received_at: float) -> Iterator[Item]:
    """``callcenter``: a CSV with a header, JSON Lines, or one JSON array of records."""
    first, lines = peek(stream)
    if first.startswith(("{", "[")):
        for location, text in json_objects(lines):
            yield attempt(location, text, _callcenter_json, text, received_at)
        return
    for number, row in guarded(csv.DictReader(lines), 2):
        if isinstance(row, Item):
            yield row
            continue
        data = normalize_keys({k: v for k, v in row.items() if k is not None})
        raw = json.dumps(row, ensure_ascii=False)
        yield attempt(f"row {number}", raw, record_from_row, data, raw, received_at)


def _callcenter_json(text: str, received_at: float) -> CallRecord:
    data = json_object(text.encode("utf-8", "replace"), NAME)
    return record_from_row(normalize_keys(data), text, received_at)



#: ``hangup import`` formats this adapter reads, and what in a file's first bytes tells each.
IMPORTS = {NAME: ImportFormat(read_records, markers=tuple(
    ((*JSON_FILES, ".csv"), marker) for marker in ("ye Reason", "bye_reason", "all_status", "all Status")),
    local_times=True)}


class CallcenterProvider(BasicAuthVerifier):
    """Contact-centre records posted as one JSON object or a CSV with one row (``/callbacks/callcenter``)."""

    name = NAME
    imports = IMPORTS
    settings = SETTINGS
    secret_key = SECRET
    methods = ("POST",)

    def parse(self, request: WebhookRequest) -> CallRecord | None:
        body = body_text(request.body).strip()
        if body.startswith("{"):
            row = normalize_keys(json_object(request.body, NAME))
        else:
            rows = rows_from_csv(body)
            if len(rows) != 1:
                raise PayloadError("callcenter: expected a JSON object or a CSV header and one row",
                                   details=[{"field": "body", "error": f"{len(rows)} CSV rows"}])
            row = rows[0]
        return record_from_row(row, body, request.received_at)

    def reclassify(self, record: CallRecord) -> CallRecord | None:
        """The stored call read again from its ``raw`` (the JSON object, or the CSV it was posted or imported as)."""
        return self.parse(stored_json_or_text(record))


PROVIDER = CallcenterProvider()
