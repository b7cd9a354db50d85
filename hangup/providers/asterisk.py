"""Asterisk CDRs: ``cdr_csv`` ``Master.csv`` rows (by ``hangup import``) and CDRs posted as JSON.

Asterisk has no CDR webhook of its own; CDRs reach hangup as ``Master.csv`` files, CEL files
(``asterisk-cel``, ``hangup.providers.asterisk_cel``: one record per channel), or as a JSON
object (CDR variable names such as ``src``/``disposition``, or AMI ``Cdr`` event keys such as
``Source``/``Disposition``) or a single CSV line POSTed by a dialplan ``CURL()`` or an AMI bridge.
``Master.csv`` has no header; its columns (``MASTER_CSV_COLUMNS``) follow ``cdr_csv.c`` ``build_csv_record``
(confirmed in the Asterisk source):
``uniqueid`` and ``userfield`` only with ``loguniqueid``/``loguserfield`` (cdr.conf ``[csv]``),
``peeraccount``/``linkedid``/``sequence`` only with ``newcdrcolumns``. Where each value comes from:

* id: ``linkedid``, else ``uniqueid``, else ``channel`` + ``start``. Asterisk writes one row per leg of a
  call (a ``Local/…`` stub billed 0 s, then the conversation; a row per ring-group member; a row per
  transfer): each row is a leg (``hangup.legs``) whose ``leg_id`` is ``channel|dstchannel|start``
  (``leg_id_of``). The legs share the ``uniqueid`` of the caller's channel, except those of the other half
  of a ``Local/`` channel (``;2``), which has its own ``uniqueid``: only ``linkedid`` (the ``uniqueid`` of
  the call's first channel, ``newcdrcolumns``) names the whole call.
* parties: ``src`` / ``dst``; direction: not in the CDR (``unknown``).
* route: the peer (endpoint or trunk) of ``dstchannel``: ``PJSIP/carrier-0000002a`` → ``carrier``
  (channel names are ``TECH/resource-sequence``, ``ast_channel_alloc`` in ``main/channel.c``).
* times: ``start``, ``answer``, ``end`` (``YYYY-MM-DD HH:MM:SS``, the PBX's local time unless ``usegmtime=yes``;
  read as UTC, or in the zone ``hangup import --timezone`` names, ``draft.local_times``); duration:
  ``billsec``. A row whose disposition says the dialled party did not answer (``NOT_ANSWERED``) is
  unanswered with no talk time, whatever its ``answer``/``billsec`` (the caller's channel's answer, see
  ``NOT_ANSWERED``).
* cause chain: ``q850:<hangupcause>`` and ``asterisk-dialstatus:<dialstatus>`` when the dialplan
  recorded them (a ``hangupcause`` column / JSON key, or ``hangupcause=16;dialstatus=BUSY`` in
  ``userfield``), and ``asterisk-disposition:<disposition>``. ``NO ANSWER`` and ``BUSY`` come first;
  for the broad ``ANSWERED``/``FAILED``/``CONGESTION`` the cause says more and comes first.

Credentials: HTTP Basic ``asterisk_basic_auth`` (``user:password``) on posted CDRs.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from typing import IO, Any

from hangup import bounds
from hangup.errors import HTTPError, PayloadError
from hangup.providers import asterisk_cel
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
from hangup.providers.reading import ImportFormat, Item, RowText, attempt, cdr_rows
from hangup.records import CallRecord

NAME = "asterisk"
SECRET = "asterisk_basic_auth"
SETTINGS = (*credential_settings(
    NAME, SECRET, "`user:password` Asterisk CDR posts must present (HTTP Basic).",
    "Accept Asterisk CDR posts without credentials.",
), zone_setting(NAME, "posted CDRs' times (Asterisk's local time unless cdr.conf sets usegmtime=yes)"))

MASTER_CSV_COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
    "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
    "uniqueid", "userfield", "peeraccount", "linkedid", "sequence",
)
SRC = "src"
DST = "dst"
START = "start"
ANSWER = "answer"
END = "end"
BILLSEC = "billsec"
DISPOSITION = "disposition"
UNIQUEID = "uniqueid"
LINKEDID = "linkedid"
HANGUPSOURCE = "hangupsource"  # CEL only (``asterisk_cel``): the channel that hung up
CHANNEL = "channel"
DSTCHANNEL = "dstchannel"
#: The columns naming a leg of a call (``leg_id_of``).
LEG_COLUMNS = (CHANNEL, DSTCHANNEL, "start")
USERFIELD = "userfield"
HANGUPCAUSE = "hangupcause"
DIALSTATUS = "dialstatus"

#: AMI ``Cdr`` event keys → CDR variable names (docs.asterisk.org, AMI_Events/Cdr).
AMI_KEYS = {
    "accountcode": "accountcode", "source": "src", "destination": "dst", "destinationcontext": "dcontext",
    "callerid": "clid", "channel": "channel", "destinationchannel": "dstchannel", "lastapplication": "lastapp",
    "lastdata": "lastdata", "starttime": "start", "answertime": "answer", "endtime": "end",
    "duration": "duration", "billableseconds": "billsec", "disposition": "disposition", "amaflags": "amaflags",
    "uniqueid": "uniqueid", "userfield": "userfield", "linkedid": "linkedid", "hangupcause": "hangupcause",
    "dialstatus": "dialstatus",
}

_UNIQUEID = re.compile(r"\d+\.\d+")

#: Dispositions so broad that a recorded hangup cause says more.
GENERIC = frozenset({"ANSWERED", "FAILED", "CONGESTION"})
#: Dispositions saying the dialled party never answered. Asterisk takes a row's disposition from the dial
#: (``dial_status_to_disposition`` in ``main/cdr.c``) but its answer time, and so ``billsec``, from the caller's
#: own channel (``cdr_object_check_party_a_answer``: set once party A is up): a caller the dialplan answered
#: (an IVR, ``Answer()``, a queue) who then dials a phone that never picks up gets ``NO ANSWER`` with
#: ``billsec`` counting from that answer. Such a row is not answered and has no talk time; ``answer`` and
#: ``billsec`` stay in ``extra`` as written.
NOT_ANSWERED = frozenset({"NO ANSWER", "BUSY", "FAILED", "CONGESTION"})


def row_from_csv(fields: list[str]) -> dict[str, str]:
    """A ``Master.csv`` row (a list of column values) as CDR variables.

    A 17th column is ``uniqueid`` when it looks like one (``1780912800.1``), else ``userfield``
    (``loguserfield=yes`` without ``loguniqueid``)."""
    if len(fields) == 17 and not _UNIQUEID.fullmatch(fields[16]):
        return {**dict(zip(MASTER_CSV_COLUMNS, fields[:16], strict=False)), USERFIELD: fields[16]}
    return dict(zip(MASTER_CSV_COLUMNS, fields, strict=False))


def normalize_keys(data: Mapping[str, Any]) -> dict[str, str]:
    """CDR variable names from CDR variables, AMI keys or a header row, lower-cased."""
    row: dict[str, str] = {}
    for key, value in data.items():
        name = str(key).strip().lower().replace(" ", "").replace("_", "")
        row[AMI_KEYS.get(name, str(key).strip().lower())] = text(value)
    return row


def userfield_values(userfield: str) -> dict[str, str]:
    """``name=value`` pairs a dialplan recorded in ``userfield`` (``;`` or ``,`` separated), names lower-cased."""
    values: dict[str, str] = {}
    for part in userfield.replace(",", ";").split(";"):
        name, sep, value = part.partition("=")
        if sep:
            values[name.strip().lower()] = value.strip()
    return values


def hangup_source_party(row: Mapping[str, str]) -> str:
    """Who hung up, from a CEL ``HANGUP``'s ``hangupsource`` (``hangup.providers.asterisk_cel``): the dialplan
    itself (``dialplan/builtin``) is the platform; otherwise the channel that hung up is this leg's party or
    the other one, and the channel whose ``uniqueid`` is the call's ``linkedid`` is the caller's."""
    source = row[HANGUPSOURCE]
    if source.startswith("dialplan/"):
        return "platform"
    callers_channel = row.get(asterisk_cel.CHANNEL_UNIQUEID) == row.get(LINKEDID)
    return "caller" if (source == row.get(CHANNEL)) == callers_channel else "callee"


def leg_id_of(row: Mapping[str, str]) -> str:
    """The leg a row records: its channel pair and start (``hangup.importer.columnar`` joins the same columns)."""
    return "|".join(row.get(name, "") for name in LEG_COLUMNS)
_CHANNEL_PEER = re.compile(r"^[^/]+/(.+?)(?:-[0-9a-fA-F]{6,})?(?:;[0-9]+)?$")


def channel_peer(channel: str) -> str:
    """The peer of a channel name (``SIP/trunk-00000012`` → ``trunk``); the name itself when it has no peer."""
    match = _CHANNEL_PEER.match(channel.strip())
    return match.group(1) if match else channel.strip()


def record_from_row(row: Mapping[str, str], raw: str = "", received_at: float = 0.0) -> CallRecord:
    """The canonical record of one CDR (CDR variable names as keys)."""
    draft = RecordDraft(NAME, raw=raw, received_at=received_at)
    # linkedid first: the ``;2`` half of a Local/ channel has a uniqueid of its own but the call's linkedid.
    draft.provider_call_id = draft.identifier(UNIQUEID, row.get(LINKEDID) or row.get(UNIQUEID))
    if not draft.provider_call_id and row.get(CHANNEL) and row.get(START):
        draft.provider_call_id = f"{row[CHANNEL]}|{row[START]}"
    if not draft.provider_call_id:
        draft.error(UNIQUEID, "required (or linkedid, or channel and start)")
    draft.leg_id = leg_id_of(row)
    draft.from_user_id = row.get(SRC, "")
    draft.to_user_id = row.get(DST, "")
    draft.route = channel_peer(row.get(DSTCHANNEL, ""))
    draft.setup_time = draft.timestamp(START, row.get(START))
    draft.start_time = draft.timestamp(ANSWER, row.get(ANSWER))
    draft.end_time = draft.timestamp(END, row.get(END))
    draft.duration = draft.seconds(BILLSEC, row.get(BILLSEC))
    disposition = row.get(DISPOSITION, "").strip().upper()
    if not disposition:
        draft.error(DISPOSITION, "required")
    recorded = userfield_values(row.get(USERFIELD, ""))
    cause_text = (row.get(HANGUPCAUSE) or recorded.get(HANGUPCAUSE, "")).strip()
    cause = draft.integer(HANGUPCAUSE, cause_text, within=bounds.Q850)
    if cause:
        draft.q850 = cause
    dial = (row.get(DIALSTATUS) or recorded.get(DIALSTATUS, "")).strip().upper()
    specific = [ref("q850", cause or None), ref("asterisk-dialstatus", dial)]
    general = [ref("asterisk-disposition", disposition)]
    draft.add_chain(*(specific + general if disposition in GENERIC else general + specific))
    if disposition in NOT_ANSWERED:
        draft.answered, draft.start_time, draft.duration = False, 0, 0
    else:
        draft.answered = disposition == "ANSWERED" or draft.start_time > 0 or draft.duration > 0
    if row.get(HANGUPSOURCE):
        draft.ended_by = hangup_source_party(row)
    draft.extra = {k: v for k, v in row.items() if v}
    return draft.finish()


# -- import: CDR files ---------------------------------------------------------------------------
def read_csv(stream: IO[str], received_at: float) -> Iterator[Item]:
    """``asterisk-csv``: ``Master.csv`` (no header), or a CSV with CDR variable names as its header."""
    row_text = RowText()
    for number, fields, header in cdr_rows(stream, lambda first: "disposition" in (f.strip().lower() for f in first)):
        if isinstance(fields, Item):
            yield fields
            continue
        if header is not None:
            named = dict(zip(header, fields, strict=False))
            row = normalize_keys(named)
            # the row as the JSON object the adapter also reads: self-describing without the header line
            raw = json.dumps(named, ensure_ascii=False)
            yield attempt(f"row {number}", raw, record_from_row, row, raw, received_at)
            continue
        if len(fields) < 16:
            yield Item(f"row {number}", None, PayloadError(
                "not a Master.csv row", details=[{"field": "row", "error": f"{len(fields)} columns, need 16"}]),
                row_text(fields))
            continue
        row = row_from_csv(fields)
        raw = row_text(fields)
        yield attempt(f"row {number}", raw, record_from_row, row, raw, received_at)



def extra_of_line(raw: str) -> dict[str, str]:
    """The ``extra`` of a header-less ``Master.csv`` row from its line (``raw``), as ``record_from_row`` keeps it."""
    return {k: v for k, v in row_from_csv(next(csv.reader([raw]), [])).items() if v}


def read_cel(stream: IO[str], received_at: float) -> Iterator[Item]:
    """``asterisk-cel``: CEL events (``hangup.providers.asterisk_cel``), one record per channel: a leg of the
    call its ``linkedid`` names."""
    for location, row, raw in asterisk_cel.legs(stream):
        if isinstance(row, HTTPError):
            yield Item(location, None, row, raw)
        else:
            yield attempt(location, raw, record_from_row, row, raw, received_at)


#: ``hangup import`` formats this adapter reads, and what in a file's first bytes tells each.
IMPORTS = {
    "asterisk-csv": ImportFormat(read_csv, markers=tuple(
        ((".csv",), marker) for marker in ('"ANSWERED"', '"NO ANSWER"', '"BUSY"', '"FAILED"', "disposition")),
        extra_from_raw=extra_of_line, local_times=True),
    "asterisk-cel": ImportFormat(read_cel, markers=tuple(
        ((".csv",), marker) for marker in ("eventtype", "EventType", "EVENTTYPE", '"CHAN_START"', "CHAN_START,")),
        local_times=True),
}


class AsteriskProvider(BasicAuthVerifier):
    """Asterisk CDRs posted as JSON or one Master.csv line (``/callbacks/asterisk``)."""

    name = NAME
    imports = IMPORTS
    settings = SETTINGS
    secret_key = SECRET
    methods = ("POST",)

    def parse(self, request: WebhookRequest) -> CallRecord | None:
        body = body_text(request.body).strip()
        if body.startswith("{"):
            document = json_object(request.body, NAME)
            events = document.get(asterisk_cel.EVENTS)
            # a channel's CEL events, as ``asterisk-cel`` keeps them, or one CDR
            row = asterisk_cel.leg_row(events) if isinstance(events, list) else normalize_keys(document)
        else:
            try:
                lines = list(csv.reader(body.splitlines()))
            except csv.Error:
                lines = []
            if len(lines) != 1 or len(lines[0]) < 16:
                raise PayloadError("asterisk: expected a JSON CDR or one Master.csv line",
                                   details=[{"field": "body", "error": "not a CDR"}])
            row = row_from_csv(lines[0])
        return record_from_row(row, body, request.received_at)

    def reclassify(self, record: CallRecord) -> CallRecord | None:
        """The stored call read again from its ``raw`` (the JSON object, or the CSV it was posted or imported as)."""
        return self.parse(stored_json_or_text(record))


PROVIDER = AsteriskProvider()
