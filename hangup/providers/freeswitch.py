"""FreeSWITCH CDRs posted by ``mod_json_cdr`` or ``mod_xml_cdr`` (one POST per call leg, after hangup).

Accepted bodies, as the modules' ``encode`` parameter produces them (mod_json_cdr.c,
mod_xml_cdr.c): ``cdr=<url-encoded JSON or XML>`` (form), ``cdr=<base64>``
(``application/x-www-form-base64-encoded``), or the raw JSON / XML document. Values inside
``variables`` are URL-encoded when ``encode-values`` is on (the default) and are decoded here.
Where each canonical value comes from (all under ``variables``):

* id: ``uuid`` (else the ``uuid`` query parameter mod_xml_cdr appends, without its ``a_`` prefix).
* parties: ``caller_id_number`` (else ``sip_from_user``), ``destination_number`` (else
  ``sip_req_user``, ``sip_to_user``); direction: ``direction`` (FreeSWITCH's view of the leg).
* times: ``start_epoch``, ``answer_epoch``, ``end_epoch``; duration: ``billsec``.
* cause chain: ``freeswitch:<hangup_cause>`` → ``q850:<hangup_cause_q850>`` →
  ``sip:<sip_term_status>`` (final error statuses); who hung up: ``sip_hangup_disposition``
  read with the leg's direction (``DISPOSITION_ENDED_BY``).

Credentials: mod_xml_cdr/mod_json_cdr sign nothing; they send HTTP Basic credentials (``cred``
parameter) which hangup checks against ``freeswitch_basic_auth`` (``user:password``).
"""

from __future__ import annotations

import base64
import binascii
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping
from typing import IO, Any
from urllib.parse import parse_qs, unquote

from hangup import bounds
from hangup.errors import PayloadError
from hangup.providers._common import (
    BasicAuthVerifier,
    RecordDraft,
    body_text,
    credential_settings,
    flatten,
    json_object,
    ref,
    text,
)
from hangup.providers.base import WebhookRequest
from hangup.providers.reading import JSON_FILES, ImportFormat, Item, attempt, peek
from hangup.records import CallRecord, Direction

NAME = "freeswitch"
SECRET = "freeswitch_basic_auth"
SETTINGS = credential_settings(
    NAME, SECRET, "`user:password` FreeSWITCH CDR posts must present (HTTP Basic).",
    "Accept FreeSWITCH CDR posts without credentials.",
)

FORM_FIELD = "cdr"
VARIABLES = "variables"
UUID = "uuid"
DIRECTION = "direction"
CALLER = ("caller_id_number", "sip_from_user")
CALLEE = ("destination_number", "sip_req_user", "sip_to_user")
START_EPOCH = "start_epoch"
ANSWER_EPOCH = "answer_epoch"
END_EPOCH = "end_epoch"
BILLSEC = "billsec"
HANGUP_CAUSE = "hangup_cause"
HANGUP_CAUSE_Q850 = "hangup_cause_q850"
SIP_TERM_STATUS = "sip_term_status"
SIP_HANGUP_DISPOSITION = "sip_hangup_disposition"

BASE64_CONTENT_TYPE = "application/x-www-form-base64-encoded"

DIRECTIONS: Mapping[str, Direction] = {"inbound": "inbound", "outbound": "outbound"}

#: (leg direction, sip_hangup_disposition) → who released. An inbound leg faces the caller, an
#: outbound leg the callee; send_* means FreeSWITCH sent the message on behalf of the other side.
DISPOSITION_ENDED_BY: Mapping[tuple[str, str], str] = {
    ("inbound", "recv_bye"): "caller",
    ("inbound", "send_bye"): "callee",
    ("inbound", "recv_cancel"): "caller",
    ("inbound", "send_refuse"): "platform",
    ("outbound", "recv_bye"): "callee",
    ("outbound", "send_bye"): "caller",
    ("outbound", "send_cancel"): "caller",
    ("outbound", "recv_refuse"): "callee",
}


def parse_cdr(body: bytes, content_type: str = "") -> dict[str, Any]:
    """The CDR document of a mod_json_cdr / mod_xml_cdr POST as a dict (XML read into the same shape)."""
    document = body_text(body).strip()
    if document.startswith(f"{FORM_FIELD}="):
        value = document[len(FORM_FIELD) + 1:]
        if BASE64_CONTENT_TYPE in content_type:
            try:
                document = base64.b64decode(value).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise PayloadError("freeswitch: cdr is not base64",
                                   details=[{"field": FORM_FIELD, "error": "not base64"}]) from None
        elif "urlencoded" in content_type or "%" in value[:64]:
            document = parse_qs(document, keep_blank_values=True).get(FORM_FIELD, [""])[0]
        else:
            document = value  # encode=false: the raw document after "cdr="
    document = document.strip()
    if document.startswith("<"):
        return _xml_document(document)
    if document.startswith("{"):
        return json_object(document.encode(), NAME)
    raise PayloadError("freeswitch: body is neither a JSON nor an XML CDR",
                       details=[{"field": FORM_FIELD, "error": "expected JSON or XML"}])


def _xml_document(document: str) -> dict[str, Any]:
    if "<!DOCTYPE" in document[:512].upper() or "<!ENTITY" in document.upper():
        raise PayloadError("freeswitch: XML with a DOCTYPE is not accepted",
                           details=[{"field": FORM_FIELD, "error": "DOCTYPE not allowed"}])
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as exc:
        raise PayloadError("freeswitch: XML CDR does not parse",
                           details=[{"field": FORM_FIELD, "error": str(exc)[:120]}]) from None
    variables = root.find(VARIABLES)
    result: dict[str, Any] = {key: value for key, value in root.attrib.items()}
    result[VARIABLES] = {child.tag: child.text or "" for child in variables} if variables is not None else {}
    return result


def record_from_cdr(cdr: Mapping[str, Any], raw: str, received_at: float = 0.0,
                    fallback_id: str = "") -> CallRecord:
    """The canonical record of one FreeSWITCH CDR document (also used by ``hangup import``)."""
    draft = RecordDraft(NAME, raw=raw, received_at=received_at)
    found = cdr.get(VARIABLES)
    if not isinstance(found, dict):
        draft.error(VARIABLES, "required object")
        found = {}
    variables = {str(k): _decoded(v) for k, v in found.items()}
    draft.provider_call_id = draft.identifier(f"{VARIABLES}.{UUID}", variables.get(UUID) or fallback_id)
    if not draft.provider_call_id:
        draft.error(f"{VARIABLES}.{UUID}", "required")
    draft.from_user_id = next((variables[k] for k in CALLER if variables.get(k)), "")
    draft.to_user_id = next((variables[k] for k in CALLEE if variables.get(k)), "")
    direction = variables.get(DIRECTION, "").lower()
    draft.direction = DIRECTIONS.get(direction, "unknown")
    draft.setup_time = draft.timestamp(START_EPOCH, variables.get(START_EPOCH))
    draft.start_time = draft.timestamp(ANSWER_EPOCH, variables.get(ANSWER_EPOCH))
    draft.end_time = draft.timestamp(END_EPOCH, variables.get(END_EPOCH))
    draft.duration = draft.seconds(BILLSEC, variables.get(BILLSEC))
    q850 = draft.integer(HANGUP_CAUSE_Q850, variables.get(HANGUP_CAUSE_Q850), default=-1, within=bounds.Q850)
    if q850 >= 0:
        draft.q850 = q850
    sip = draft.integer(SIP_TERM_STATUS, variables.get(SIP_TERM_STATUS), within=bounds.SIP)
    if sip:
        draft.sip = sip
    draft.add_chain(ref("freeswitch", variables.get(HANGUP_CAUSE)), ref("q850", q850 if q850 > 0 else None),
                    ref("sip", sip if sip >= 300 else None))
    disposition = variables.get(SIP_HANGUP_DISPOSITION, "").strip().lower()
    if disposition:
        draft.sources.append(f"freeswitch-disposition:{disposition}")
        draft.ended_by = DISPOSITION_ENDED_BY.get((direction, disposition))
    flatten("", {k: v for k, v in cdr.items() if k != VARIABLES and k != "callflow" and k != "app_log"},
            draft.extra)
    draft.extra.update(variables)
    return draft.finish()


def _decoded(value: object) -> str:
    value = text(value)
    return unquote(value) if "%" in value else value


# -- import: CDR files ---------------------------------------------------------------------------
def read_files(stream: IO[str], received_at: float) -> Iterator[Item]:
    """``freeswitch-json``: one CDR document per file (JSON or XML), or JSON Lines of CDRs."""
    first, lines = peek(stream)
    if first.startswith("{") and _is_complete_json(first):
        for number, line in enumerate(lines, 1):
            if line.strip():
                yield attempt(f"line {number}", line.strip(), _imported, line.strip(), received_at)
        return
    document = "".join(lines)
    yield attempt("document", document, _imported, document, received_at)


def _is_complete_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _imported(text: str, received_at: float) -> CallRecord:
    return record_from_cdr(parse_cdr(text.encode()), text, received_at)


#: ``hangup import`` formats this adapter reads, and what in a file's first bytes tells each.
IMPORTS = {"freeswitch-json": ImportFormat(read_files, endings=(".cdr.json", ".cdr.xml"),
                                          markers=((JSON_FILES, '"variables"'), ((".xml",), "<cdr")))}


class FreeswitchProvider(BasicAuthVerifier):
    """FreeSWITCH mod_json_cdr / mod_xml_cdr posts (``/callbacks/freeswitch``)."""

    name = NAME
    imports = IMPORTS
    settings = SETTINGS
    secret_key = SECRET
    methods = ("POST",)

    def parse(self, request: WebhookRequest) -> CallRecord | None:
        cdr = parse_cdr(request.body, request.headers.get("content-type", ""))
        query_id = parse_qs(request.query).get(UUID, [""])[0].removeprefix("a_")
        return record_from_cdr(cdr, body_text(request.body), request.received_at, query_id)

    def reclassify(self, record: CallRecord) -> CallRecord | None:
        """The stored call read again from its ``raw`` body. Its content type is not stored: a ``cdr=`` value
        that is neither url-encoded nor a document is ``encode=base64``; the uuid may have come from the query."""
        try:
            cdr = parse_cdr(record.raw.encode())
        except PayloadError:
            if not record.raw.startswith(f"{FORM_FIELD}="):
                raise
            cdr = parse_cdr(record.raw.encode(), BASE64_CONTENT_TYPE)
        return record_from_cdr(cdr, record.raw, record.received_at, record.provider_call_id)


PROVIDER = FreeswitchProvider()
