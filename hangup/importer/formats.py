"""The file formats ``hangup import`` reads, one reader each: the adapters' and hangup's own export.

Every reader streams one text file and yields an ``Item`` per call-end event: the record, or the
error that rejected it, or neither (an event that is not a call end). Each adapter declares the
formats it reads (``imports``, ``hangup.providers.reading``); this module adds hangup's own export
and builds the table from the registered adapters. The built-in formats:

============== ==============================================================================
format         file
============== ==============================================================================
planet-urls    recorded Planet callbacks, one URL or query string per line
plivo          Plivo hangup callbacks: one form-encoded body per line, CSV, or JSON; REST call lists
twilio         Twilio status callbacks: one form-encoded body per line, CSV, or JSON; REST call lists
telnyx         Telnyx webhooks: JSON; REST history (``/v2/call_events``, voice ``/v2/detail_records`` pages)
vonage         Vonage event webhooks: JSON; REST call lists
freeswitch-json mod_json_cdr / mod_xml_cdr files (one document per file) or JSON Lines of CDRs
freeswitch-csv mod_cdr_csv ``Master.csv`` (the ``example`` template), or a CSV with a header of variable names
asterisk-csv   cdr_csv ``Master.csv`` (no header), or a CSV with a header of CDR variable names
callcenter     contact-centre records: CSV with a header, JSON Lines or one JSON array
kamailio-log   Kamailio's log (stderr or syslog): the ``HANGUP_CALL_END {json}`` line of every call end
               that ``deploy/kamailio/kamailio.cfg`` writes; other lines are skipped
jsonl          hangup's own export (``hangup export --format jsonl``)
csv            hangup's own export (``hangup export --format csv``)
pcap           a libpcap or pcapng capture of SIP signalling (``hangup.sip.pcap``), told by its magic number
sip-trace      plain-text SIP messages one after another, as sngrep and ngrep write them (``hangup.sip.trace``)
sip-acc-log    Kamailio/OpenSIPS/OpenSER ``acc`` syslog lines (``ACC: transaction answered: …``, ``hangup.sip.acc``)
sip-acc-csv    an export of the ``acc`` or ``missed_calls`` table, CSV with its header (``hangup.sip.acc``)
============== ==============================================================================

"JSON" is any layout ``hangup.providers.jsondocs`` reads: JSON Lines, one object or array, or several
written one after another, list pages opened. CDR CSV files with other columns are read through a
column mapping (``hangup.importer.columns``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from typing import IO, Any

from hangup.importer.canonical import record_from_export
from hangup.providers._common import json_object
from hangup.providers.asterisk import read_csv as read_asterisk_csv
from hangup.providers.reading import (
    JSON_FILES,
    ImportFormat,
    ImportReader,
    Item,
    RowText,
    attempt,
    guarded,
    json_objects,
)
from hangup.providers.registry import import_formats
from hangup.records import CallRecord
from hangup.sip.formats import SIGNALLING_FORMATS


def read_jsonl(stream: IO[str], received_at: float) -> Iterator[Item]:
    for location, text in json_objects(stream):
        yield attempt(location, text, _export_json, text)


def read_csv(stream: IO[str], received_at: float) -> Iterator[Item]:
    for number, row in guarded(csv.DictReader(stream), 2):
        if isinstance(row, Item):
            yield row
            continue
        yield attempt(f"row {number}", "", record_from_export, row)


def _export_json(text: str) -> CallRecord:
    return record_from_export(_object(text))


def _object(text: str) -> dict[str, Any]:
    return json_object(text.encode("utf-8", "replace"), "jsonl")


#: hangup's own export, tried before the adapters' formats (an export carries every platform's fields).
OWN_FORMATS: Mapping[str, ImportFormat] = {
    "jsonl": ImportFormat(read_jsonl, markers=((JSON_FILES, '"provider_call_id"'),)),
    "csv": ImportFormat(read_csv, markers=(((".csv",), "provider_call_id"),)),
}
#: SIP signalling (captures, traces, acc records) comes last: a call-log export may quote SIP messages.
FORMATS: Mapping[str, ImportFormat] = {**OWN_FORMATS, **import_formats(), **SIGNALLING_FORMATS}
READERS: Mapping[str, ImportReader] = {name: f.read for name, f in FORMATS.items()}

__all__ = ["FORMATS", "READERS", "Item", "RowText", "attempt", "guarded", "read_asterisk_csv"]
