"""FreeSWITCH CDRs posted by ``mod_json_cdr`` or ``mod_xml_cdr`` (one POST per call leg, after hangup).

Accepted bodies, as the modules' ``encode`` parameter produces them (mod_json_cdr.c,
mod_xml_cdr.c): ``cdr=<url-encoded JSON or XML>`` (form), ``cdr=<base64>``
(``application/x-www-form-base64-encoded``), or the raw JSON / XML document. Values inside
``variables`` are URL-encoded when ``encode-values`` is on (the default) and are decoded here.
Where each canonical value comes from (all under ``variables``):

* id: ``uuid`` (else the ``uuid`` query parameter mod_xml_cdr appends, without its ``a_`` prefix). A CDR is
  one leg (``hangup.legs``; ``leg_id``: its ``uuid``): a B-leg's call is its A-leg's, named by the B-leg's
  ``originating_leg_uuid`` (else ``originator``), so the A-leg (whose ``bleg_uuid`` names the B-leg) and
  the B-leg CDRs are one call, whichever is posted first.
* route: ``sip_gateway_name``, else ``sip_req_host`` (``ROUTE``).
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

Files (``hangup import``): ``freeswitch-json`` reads the modules' documents; ``freeswitch-csv`` reads
``mod_cdr_csv`` lines (``CDR_CSV_EXAMPLE``, or a header of variable names) as the same ``variables``.

Credentials: mod_xml_cdr/mod_json_cdr sign nothing; they send HTTP Basic credentials (``cred``
parameter) which hangup checks against ``freeswitch_basic_auth`` (``user:password``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from typing import IO, Any
from urllib.parse import parse_qs, unquote
from xml.parsers import expat

from hangup import bounds
from hangup.errors import PayloadError
from hangup.providers._codes import q850_cause, sip_status
from hangup.providers._common import (
    BasicAuthVerifier,
    RecordDraft,
    body_text,
    credential_settings,
    flatten,
    json_object,
    parse_time,
    ref,
    text,
    zone_setting,
)
from hangup.providers.base import WebhookRequest
from hangup.providers.jsondocs import is_complete
from hangup.providers.reading import JSON_FILES, ImportFormat, Item, RowText, attempt, cdr_rows, peek
from hangup.records import CallRecord, Direction

NAME = "freeswitch"
SECRET = "freeswitch_basic_auth"
SETTINGS = (*credential_settings(
    NAME, SECRET, "`user:password` FreeSWITCH CDR posts must present (HTTP Basic).",
    "Accept FreeSWITCH CDR posts without credentials.",
), zone_setting(NAME, "posted CDRs' *_stamp times (the switch's local time)"))

FORM_FIELD = "cdr"
VARIABLES = "variables"
UUID = "uuid"
DIRECTION = "direction"
CALLER = ("caller_id_number", "sip_from_user")
CALLEE = ("destination_number", "sip_req_user", "sip_to_user")
#: The route, best first: the gateway a bridge went out through (mod_sofia ``sip_gateway_name``), else the host
#: of the Request-URI the leg was sent to (``sip_req_host``).
ROUTE = ("sip_gateway_name", "sip_req_host")
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
#: Variables of a B-leg naming its A-leg, whose call it belongs to, best first.
A_LEG_NAMES = ("originating_leg_uuid", "originator")

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
    draft.leg_id = draft.identifier(f"{VARIABLES}.{UUID}", variables.get(UUID) or fallback_id)
    a_leg = next((name for name in A_LEG_NAMES if variables.get(name, "").strip()), None)
    draft.provider_call_id = draft.identifier(f"{VARIABLES}.{a_leg}", variables[a_leg]) if a_leg else draft.leg_id
    if not draft.provider_call_id:
        draft.error(f"{VARIABLES}.{UUID}", "required")
    draft.from_user_id = next((variables[k] for k in CALLER if variables.get(k)), "")
    draft.to_user_id = next((variables[k] for k in CALLEE if variables.get(k)), "")
    draft.route = next((variables[k] for k in ROUTE if variables.get(k)), "")
    disposition = variables.get(SIP_HANGUP_DISPOSITION, "").strip().lower()
    direction = leg_direction(cdr, variables, disposition)
    draft.direction = DIRECTIONS.get(direction, "unknown")
    draft.setup_time = draft.timestamp(START_EPOCH, variables.get(START_EPOCH))
    draft.start_time = draft.timestamp(ANSWER_EPOCH, variables.get(ANSWER_EPOCH))
    draft.end_time = draft.timestamp(END_EPOCH, variables.get(END_EPOCH))
    draft.duration = draft.seconds(BILLSEC, variables.get(BILLSEC))
    q850 = draft.integer(HANGUP_CAUSE_Q850, variables.get(HANGUP_CAUSE_Q850), default=-1, within=bounds.Q850)
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
    return bool(bounds.digits(epoch)) or any(variables.get(k) for k in A_LEG_VARIABLES + B_LEG_VARIABLES) \
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


# -- import: CDR files ---------------------------------------------------------------------------
def read_files(stream: IO[str], received_at: float) -> Iterator[Item]:
    """``freeswitch-json``: one CDR document per file (JSON or XML), or JSON Lines of CDRs."""
    first, lines = peek(stream)
    if first.startswith("{") and is_complete(first):
        for number, line in enumerate(lines, 1):
            if line.strip():
                yield attempt(f"line {number}", line.strip(), _imported, line.strip(), received_at)
        return
    document = "".join(lines)
    yield attempt("document", document, _imported, document, received_at)


def _imported(text: str, received_at: float) -> CallRecord:
    return record_from_cdr(parse_cdr(text.encode()), text, received_at)


#: mod_cdr_csv's ``example`` template, the vanilla configuration's ``default-template``
#: (``conf/vanilla/autoload_configs/cdr_csv.conf.xml``): the columns of its ``Master.csv`` lines, in order.
CDR_CSV_EXAMPLE = ("caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp",
                   "answer_stamp", "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid",
                   "accountcode", "read_codec", "write_codec")


def read_csv(stream: IO[str], received_at: float) -> Iterator[Item]:
    """``freeswitch-csv``: mod_cdr_csv lines of the ``example`` template, or rows under a header of channel
    variable names (one naming ``uuid``), each read as the ``variables`` of a FreeSWITCH CDR.

    The record's ``raw`` is that CDR as a JSON document (``{"variables": {…}}``, the shape mod_json_cdr
    posts): a row under a header (or read through ``--columns``) does not say what it holds without it,
    and the document reads again as the same call (``reclassify``). A rejected row is shown as its line."""
    row_text = RowText()
    for number, fields, header in cdr_rows(stream, lambda first: UUID in (f.strip() for f in first)):
        if isinstance(fields, Item):
            yield fields
            continue
        names = header or (CDR_CSV_EXAMPLE if len(fields) == len(CDR_CSV_EXAMPLE) else None)
        if names is None:
            yield Item(f"row {number}", None, PayloadError("not a mod_cdr_csv example-template row", details=[
                {"field": "row", "error": f"{len(fields)} columns, need {len(CDR_CSV_EXAMPLE)} or a header"}]),
                row_text(fields))
            continue
        cdr = {VARIABLES: cdr_csv_variables(dict(zip(names, fields, strict=False)))}
        # a rejected row is shown as its line; a record keeps the CDR document it was read as
        yield attempt(f"row {number}", row_text(fields), record_from_cdr, cdr,
                      json.dumps(cdr, ensure_ascii=False), received_at)


def cdr_csv_variables(row: Mapping[str, str]) -> dict[str, str]:
    """The variables of a CSV row with the ``*_epoch`` times the adapter reads.

    Templates write ``*_stamp`` (the switch's local time, read as UTC unless the import names the zone, as
    Asterisk's Master.csv times are); exports that keep only the start and the durations give the rest: the
    end is ``duration`` after the start, the answer ``billsec`` before the end (billsec counts from the
    answer)."""
    variables = {name: value.strip() for name, value in row.items() if name}
    for moment in ("start", "answer", "end"):
        seconds = parse_time(variables.get(f"{moment}_stamp", ""))
        if not variables.get(f"{moment}_epoch") and seconds is not None:
            variables[f"{moment}_epoch"] = str(seconds)
    start, duration, billsec = (_count(variables.get(k)) for k in (START_EPOCH, "duration", BILLSEC))
    if not variables.get(END_EPOCH) and start and duration is not None:
        variables[END_EPOCH] = str(start + duration)
    end = _count(variables.get(END_EPOCH))
    if not variables.get(ANSWER_EPOCH) and end and billsec:
        variables[ANSWER_EPOCH] = str(end - billsec)
    return variables


def _count(value: str | None) -> int | None:
    return bounds.digits(value) if value else None


#: ``hangup import`` formats this adapter reads, and what in a file's first bytes tells each.
IMPORTS = {
    "freeswitch-json": ImportFormat(read_files, endings=(".cdr.json", ".cdr.xml"),
                                    markers=((JSON_FILES, '"variables"'), ((".xml",), "<cdr")), local_times=True),
    "freeswitch-csv": ImportFormat(read_csv, markers=(((".csv",), "hangup_cause"), ((".csv",), '"NORMAL_CLEARING"')),
                                   local_times=True),
}


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
        return record_from_cdr(cdr, record.raw, record.received_at, record.leg_id or record.provider_call_id)


PROVIDER = FreeswitchProvider()
