"""FreeSWITCH CDRs posted by ``mod_json_cdr`` or ``mod_xml_cdr`` (one POST per call leg, after hangup).

Accepted bodies, as the modules' ``encode`` parameter produces them (mod_json_cdr.c,
mod_xml_cdr.c): ``cdr=<url-encoded JSON or XML>`` (form), ``cdr=<base64>``
(``application/x-www-form-base64-encoded``), or the raw JSON / XML document. Values inside
``variables`` are URL-encoded when ``encode-values`` is on (the default) and are decoded here.
Where each canonical value comes from (all under ``variables``):

* id: ``uuid`` (else the ``uuid`` query parameter mod_xml_cdr appends, without its ``a_`` prefix).
* parties: ``caller_id_number`` (else ``sip_from_user``), ``destination_number`` (else
  ``sip_req_user``, ``sip_to_user``); direction: ``direction`` (FreeSWITCH's view of the leg), else
  ``channel_data.direction``, else the other-leg references (``originating_leg_uuid`` or a call-flow
  ``originator`` make a B-leg, outbound; ``bleg_uuid`` or an ``originatee`` an A-leg, inbound), else a
  disposition only one direction can have (``leg_direction``).
* times: ``start_epoch``, ``answer_epoch``, ``end_epoch``; duration: ``billsec``.
* cause chain: ``freeswitch:<hangup_cause>`` → ``q850:<hangup_cause_q850>`` →
  ``sip:<sip_term_status>``, else ``sip:<sip_invite_failure_status>`` (final error statuses); who hung
  up: ``sip_hangup_disposition`` read with the leg's direction (``DISPOSITION_ENDED_BY``); a ``send_bye``
  on a leg never bridged is the platform's own hang-up, a ``send_refuse`` passing on the failure response
  its bridge got is the callee side's. A status is kept only when it is a SIP status (100–699).

Credentials: mod_xml_cdr/mod_json_cdr sign nothing; they send HTTP Basic credentials (``cred``
parameter) which hangup checks against ``freeswitch_basic_auth`` (``user:password``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.parsers import expat

from hangup.errors import PayloadError
from hangup.providers._codes import q850_cause, sip_status
from hangup.providers._common import (
    BasicAuthVerifier,
    RecordDraft,
    body_text,
    flatten,
    json_object,
    ref,
    text,
)
from hangup.providers.base import WebhookRequest
from hangup.records import CallRecord, Direction

NAME = "freeswitch"
SECRET = "freeswitch_basic_auth"

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
#: The final response to the INVITE of the leg's bridge: an A-leg whose bridge failed carries the
#: B side's status only here (``sip_term_status`` is the status of its own dialog, often absent).
SIP_INVITE_FAILURE_STATUS = "sip_invite_failure_status"
SIP_HANGUP_DISPOSITION = "sip_hangup_disposition"
BRIDGE_EPOCH = "bridge_epoch"
CHANNEL_DATA = "channel_data"
CALLFLOW = "callflow"
CALLER_PROFILE = "caller_profile"
#: Call-flow entries naming the other leg: a B-leg's profile has an ``originator``, an A-leg's an ``originatee``.
LEG_REFERENCES = ("originator", "originatee")
#: Variables only a B-leg carries (it was originated by another leg) and only a bridged A-leg carries.
B_LEG_VARIABLES = ("originating_leg_uuid",)
A_LEG_VARIABLES = ("bleg_uuid",)

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
#: Dispositions that only one direction of leg can have: only an inbound leg receives a CANCEL or
#: refuses the INVITE it was sent; only an outbound leg sends a CANCEL or has its INVITE refused.
DISPOSITION_DIRECTION: Mapping[str, str] = {
    "recv_cancel": "inbound", "send_refuse": "inbound", "send_cancel": "outbound", "recv_refuse": "outbound",
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
    """An XML CDR read into the JSON CDR's shape.

    Read without namespace processing: mod_xml_cdr names each element after its channel variable,
    so ``export nolocal:req_uuid`` yields ``<nolocal:req_uuid>``, a prefix no namespace declares.
    """
    if "<!DOCTYPE" in document[:512].upper() or "<!ENTITY" in document.upper():
        raise PayloadError("freeswitch: XML with a DOCTYPE is not accepted",
                           details=[{"field": FORM_FIELD, "error": "DOCTYPE not allowed"}])
    reader = _CdrReader()
    parser = expat.ParserCreate()  # no namespace_separator: "a:b" is an ordinary element name
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.characters
    try:
        parser.Parse(document, True)
    except expat.ExpatError as exc:
        raise PayloadError("freeswitch: XML CDR does not parse",
                           details=[{"field": FORM_FIELD, "error": str(exc)[:120]}]) from None
    return reader.result


class _CdrReader:
    """Collects the root's attributes, ``variables`` and ``channel_data`` values, and which leg
    references (``originator``/``originatee``) the call flow holds."""

    SECTIONS = (VARIABLES, CHANNEL_DATA)

    def __init__(self) -> None:
        self.result: dict[str, Any] = {VARIABLES: {}, CHANNEL_DATA: {}}
        self.path: list[str] = []
        self.text: list[str] = []

    def start(self, name: str, attributes: dict[str, str]) -> None:
        self.path.append(name)
        if len(self.path) == 1:
            self.result.update(attributes)
        elif self.path[1:3] == [CALLFLOW, CALLER_PROFILE] and len(self.path) == 4 and name in LEG_REFERENCES:
            self.result.setdefault(CALLFLOW, [{CALLER_PROFILE: {}}])[0][CALLER_PROFILE][name] = {}
        self.text = []

    def characters(self, data: str) -> None:
        self.text.append(data)

    def end(self, name: str) -> None:
        if len(self.path) == 3 and self.path[1] in self.SECTIONS:
            self.result[self.path[1]][name] = "".join(self.text)
        self.path.pop()
        self.text = []


def record_from_cdr(cdr: Mapping[str, Any], raw: str, received_at: float = 0.0,
                    fallback_id: str = "") -> CallRecord:
    """The canonical record of one FreeSWITCH CDR document (also used by ``hangup import``)."""
    draft = RecordDraft(NAME, raw=raw, received_at=received_at)
    found = cdr.get(VARIABLES)
    if not isinstance(found, dict):
        draft.error(VARIABLES, "required object")
        found = {}
    variables = {str(k): _decoded(v) for k, v in found.items()}
    draft.provider_call_id = variables.get(UUID, "").strip() or fallback_id
    if not draft.provider_call_id:
        draft.error(f"{VARIABLES}.{UUID}", "required")
    draft.from_user_id = next((variables[k] for k in CALLER if variables.get(k)), "")
    draft.to_user_id = next((variables[k] for k in CALLEE if variables.get(k)), "")
    disposition = variables.get(SIP_HANGUP_DISPOSITION, "").strip().lower()
    direction = leg_direction(cdr, variables, disposition)
    draft.direction = DIRECTIONS.get(direction, "unknown")
    draft.setup_time = draft.integer(START_EPOCH, variables.get(START_EPOCH))
    draft.start_time = draft.integer(ANSWER_EPOCH, variables.get(ANSWER_EPOCH))
    draft.end_time = draft.integer(END_EPOCH, variables.get(END_EPOCH))
    draft.duration = draft.integer(BILLSEC, variables.get(BILLSEC))
    q850 = draft.integer(HANGUP_CAUSE_Q850, variables.get(HANGUP_CAUSE_Q850), default=-1)
    if q850 >= 0:
        draft.q850 = q850
    draft.integer(SIP_TERM_STATUS, variables.get(SIP_TERM_STATUS), default=0)
    refused_with = sip_status(variables.get(SIP_INVITE_FAILURE_STATUS))
    sip = sip_status(variables.get(SIP_TERM_STATUS)) or refused_with
    draft.sip = sip
    draft.add_chain(ref("freeswitch", variables.get(HANGUP_CAUSE)), ref("q850", q850_cause(q850)),
                    ref("sip", sip if sip and sip >= 300 else None))
    if disposition:
        draft.sources.append(f"freeswitch-disposition:{disposition}")
        draft.ended_by = _released_by(direction, disposition, _bridged(cdr, variables), refused_with)
    flatten("", {k: v for k, v in cdr.items() if k != VARIABLES and k != "callflow" and k != "app_log"},
            draft.extra)
    draft.extra.update(variables)
    return draft.finish()


def leg_direction(cdr: Mapping[str, Any], variables: Mapping[str, str], disposition: str) -> str:
    """FreeSWITCH's view of the leg (``inbound``/``outbound``/``""``) from every field that tells it.

    ``direction`` is missing when a CDR template or ``mod_xml_cdr`` filter drops it; then
    ``channel_data``'s own direction, the other-leg references, and finally a one-sided
    disposition still say which way the leg ran.
    """
    channel = cdr.get(CHANNEL_DATA)
    for value in (variables.get(DIRECTION), channel.get(DIRECTION) if isinstance(channel, dict) else None):
        if text(value).strip().lower() in DIRECTIONS:
            return text(value).strip().lower()
    if any(variables.get(k) for k in B_LEG_VARIABLES) or _profile_has(cdr, "originator"):
        return "outbound"
    if any(variables.get(k) for k in A_LEG_VARIABLES) or _profile_has(cdr, "originatee"):
        return "inbound"
    return DISPOSITION_DIRECTION.get(disposition, "")


def _profile_has(cdr: Mapping[str, Any], name: str) -> bool:
    flows = cdr.get(CALLFLOW)
    for flow in flows if isinstance(flows, list) else [flows]:
        profile = flow.get(CALLER_PROFILE) if isinstance(flow, dict) else None
        if isinstance(profile, dict) and name in profile:
            return True
    return False


def _bridged(cdr: Mapping[str, Any], variables: Mapping[str, str]) -> bool:
    """Whether the leg was ever bridged to another (only then did FreeSWITCH act for another party)."""
    epoch = variables.get(BRIDGE_EPOCH, "").strip()
    return (epoch.isdigit() and int(epoch) > 0) or any(variables.get(k) for k in A_LEG_VARIABLES + B_LEG_VARIABLES) \
        or any(_profile_has(cdr, name) for name in LEG_REFERENCES)


def _released_by(direction: str, disposition: str, bridged: bool, refused_with: int | None = None) -> str | None:
    """Who released the leg. FreeSWITCH sends BYE for another party only across a bridge; a leg it
    answered itself and then ended (an IVR, a failed bridge such as ``SUBSCRIBER_ABSENT``) was ended
    by the platform, not by a callee who was never reached. An inbound leg refused after the callee
    side answered its bridge's INVITE with a failure (``refused_with``, e.g. 403) passes that refusal
    on: the callee side ended it, as the B-leg's own ``recv_refuse`` says."""
    if disposition == "send_bye" and not bridged:
        return "platform"
    if disposition == "send_refuse" and refused_with is not None and refused_with >= 300:
        return "callee"
    return DISPOSITION_ENDED_BY.get((direction, disposition))


def _decoded(value: object) -> str:
    value = text(value)
    return unquote(value) if "%" in value else value


class FreeswitchProvider(BasicAuthVerifier):
    """FreeSWITCH mod_json_cdr / mod_xml_cdr posts (``/callbacks/freeswitch``)."""

    name = NAME
    secret_key = SECRET
    methods = ("POST",)

    def parse(self, request: WebhookRequest) -> CallRecord | None:
        cdr = parse_cdr(request.body, request.headers.get("content-type", ""))
        query_id = parse_qs(request.query).get(UUID, [""])[0].removeprefix("a_")
        return record_from_cdr(cdr, body_text(request.body), request.received_at, query_id)


PROVIDER = FreeswitchProvider()
