"""``hangup import``: Kamailio/OpenSIPS ``acc`` records, as syslog lines or as an ``acc`` table export.

The ``acc`` module writes one record per accounted transaction (Kamailio and OpenSIPS ``acc`` module
docs): an INVITE answered (``code=200``) starts a call, the BYE's record ends it, and an INVITE that
failed (``call missed``, ``code`` ≥ 300) is a call that never connected. Three shapes are read:

* Kamailio ≥ 1.2 / OpenSIPS syslog lines, ``;``-separated::

    ACC: transaction answered: timestamp=1604565560;method=BYE;from_tag=12c35q3n42;to_tag=9p3sh1v9bv;
    call_id=ub2ds9fg5jhuc0g9jinb;code=200;reason=OK

* the older OpenSER form, ``, ``-separated, timed by the syslog prefix (which has no year: the import's
  year is assumed, or the one before when that would put the line in the future)::

    Mar 15 15:37:59 sipproxy4 /usr/sbin/openser[9853]: ACC: transaction answered: method=BYE, i-uri=…,
    call_id=07E6505838383F0C@217.237.36.121, from=<sip:499433372@1und1.de>;tag=8344D44298E7A774, code=200, …

* a CSV export of the ``acc`` (or ``missed_calls``) table with its header: ``method, from_tag, to_tag,
  callid, sip_code, sip_reason, time`` (Kamailio), plus ``duration, setuptime`` when OpenSIPS wrote one
  row per call (``cdr`` accounting): such a row is a whole call by itself.
* the same table as Kamailio's ``db_flatstore`` writes it (``acc_<pid>.log``, ``missed_calls_<pid>.log``):
  no header, ``|`` between the columns, in the table's order, the time in Unix seconds, the ``db_extra``
  columns after them (nothing in it names the format: ``--format sip-acc-csv``)::

    INVITE|23685SIPpTag001|23682SIPpTag011|callee_bye-1@acc|200|OK|1796569281|alice|bob

  The ``db_extra`` columns have no names in the file; ``hangup import --columns`` names every column, the
  table's own and the ``db_extra`` ones in the order of the ``db_extra`` setting (``…,time,src_user,dst_user``),
  so the parties (``src_user``, ``dst_ouser``/``dst_user``) are read.

A call whose BYE has no record (accounting of BYEs off, or the file ends first) is closed at the end
of the file, flagged ``orphaned``. Records go through the same classifier as every call: ``sip:NNN``
for a failed INVITE, ``q850:16`` for a BYE, who sent the BYE from its From tag.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from hangup import bounds
from hangup.errors import PayloadError
from hangup.providers._common import RecordDraft, parse_time
from hangup.providers.reading import Item, guarded
from hangup.records import CallRecord
from hangup.sip.message import tag_of, user_of
from hangup.sip.verdict import ORPHANED, PROVIDER, keep_evidence

LOG_FORMAT = "sip-acc-log"
CSV_FORMAT = "sip-acc-csv"
_MARKER = re.compile(r"ACC: ([a-z ]+): ")
_SYSLOG_TIME = re.compile(r"(?:<\d+>)?([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})")
_OLD_SEPARATOR = re.compile(r",\s*(?=[a-z][a-z0-9_-]*=)")
_OLD_FORM = re.compile(r"[a-z][a-z0-9_-]*=[^;,]*,\s*[a-z][a-z0-9_-]*=")  # OpenSER: "method=INVITE, i-uri=…"
#: acc table columns and log keys naming the same fact.
_KEYS = {"callid": "call_id", "sip_code": "code", "sip_reason": "reason", "time": "timestamp", "i": "call_id"}
MAX_OPEN = 100_000
#: The acc table's own columns, in the order ``db_flatstore`` writes them (Kamailio ``acc`` DB schema).
FLATSTORE_COLUMNS = ("method", "from_tag", "to_tag", "callid", "sip_code", "sip_reason", "time")
_FLATSTORE_ROW = re.compile(r"[A-Z]+\|[^|\n]*\|[^|\n]*\|[^|\n]+\|\d{3}\|")


@dataclass(frozen=True, slots=True)
class AccEvent:
    """One accounted transaction."""

    method: str
    call_id: str
    from_tag: str
    to_tag: str
    code: int
    time: float
    values: Mapping[str, str]  # every key of the record, as written
    raw: str


def parse_line(line: str, reference: float) -> AccEvent | None:
    """The event of an ``ACC:`` syslog line; ``None`` for other lines; ``PayloadError`` for a broken one."""
    marker = _MARKER.search(line)
    if marker is None:
        return None
    body = line[marker.end():].strip()
    pairs = _OLD_SEPARATOR.split(body) if _OLD_FORM.match(body) else body.split(";")
    values = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in pairs) if k.strip()}
    if "timestamp" not in values:
        values["timestamp"] = str(_syslog_time(line[:marker.start()], reference))
    return event_of(values, line)


def event_of(row: Mapping[str, str], raw: str) -> AccEvent:
    """An event from the keys of a log line or the columns of a table row (either naming)."""
    values = {_KEYS.get(k.strip().lower(), k.strip().lower()): (v or "").strip() for k, v in row.items() if k}
    missing = [k for k in ("method", "call_id", "code") if not values.get(k)]
    if missing:
        raise PayloadError("not an acc record", details=[{"field": k, "error": "required"} for k in missing])
    code, when = values["code"], parse_time(values.get("timestamp", ""))
    status = bounds.digits(code)
    if status is None or not 100 <= status <= 699:
        raise PayloadError("not an acc record", details=[{"field": "code", "error": f"not a SIP code: {code!r}"}])
    if when is None:
        raise PayloadError("not an acc record",
                           details=[{"field": "timestamp", "error": "not a time from 1970 to 2099"}])
    problems = [p for p in (_seconds_error(values, "duration"), _seconds_error(values, "setuptime")) if p]
    if problems:
        raise PayloadError("not an acc record", details=problems)
    from_tag = values.get("from_tag") or tag_of(values.get("from", ""))
    to_tag = values.get("to_tag") or tag_of(values.get("to", ""))
    return AccEvent(values["method"].upper(), values["call_id"], from_tag, to_tag, status, float(when),
                    values, raw)


def _seconds_error(values: Mapping[str, str], key: str) -> dict[str, str] | None:
    """The field error of an OpenSIPS ``duration``/``setuptime`` that is not whole seconds within
    ``bounds.DURATION``; ``None`` when it is absent or valid."""
    text = values.get(key, "")
    if not text:
        return None
    seconds = bounds.digits(text)
    if seconds is None:
        return {"field": key, "error": f"expected whole seconds, got {text[:20]!r}"}
    problem = bounds.DURATION.error(seconds)
    return {"field": key, "error": problem} if problem else None


def _syslog_time(prefix: str, reference: float) -> int:
    """A RFC 3164 time (no year, taken as UTC) in the year of ``reference``, or the year before if later."""
    found = _SYSLOG_TIME.search(prefix)
    if found is None:
        raise PayloadError("not an acc record", details=[{"field": "timestamp", "error": "no time on the line"}])
    year = datetime.fromtimestamp(reference, UTC).year
    try:
        when = datetime.strptime(f"{year} {' '.join(found.groups())}", "%Y %b %d %H %M %S").replace(tzinfo=UTC)
    except ValueError:
        raise PayloadError("not an acc record", details=[{"field": "timestamp", "error": "not a date"}]) from None
    if when.timestamp() > reference + 86_400:
        when = when.replace(year=year - 1)
    return int(when.timestamp())


@dataclass(slots=True)
class _Open:
    invite: AccEvent
    events: list[AccEvent] = field(default_factory=list)


class AccCalls:
    """Pairs each answered INVITE with its BYE; a failed INVITE (or an OpenSIPS CDR row) is a call at once."""

    def __init__(self, received_at: float) -> None:
        self.received_at = received_at
        self._open: OrderedDict[str, _Open] = OrderedDict()

    def take(self, event: AccEvent) -> list[CallRecord]:
        if event.method == "INVITE" and event.code >= 300:
            return [self._record(event, None, event)]
        if event.method == "INVITE" and 200 <= event.code < 300:
            duration = bounds.digits(event.values.get("duration", ""))
            if duration is not None and event.values.get("setuptime") is not None:
                return [self._record(event, event, None)]  # an OpenSIPS CDR: the whole call on one row
            self._open.setdefault(event.call_id, _Open(event))
            closed = []
            while len(self._open) > MAX_OPEN:
                _, oldest = self._open.popitem(last=False)
                closed.append(self._record(oldest.invite, oldest.invite, None, ORPHANED))
            return closed
        if event.method == "BYE" and event.call_id in self._open:
            opened = self._open.pop(event.call_id)
            return [self._record(opened.invite, opened.invite, event)]
        return []

    def flush(self) -> list[CallRecord]:
        closed = [self._record(o.invite, o.invite, None, ORPHANED) for o in self._open.values()]
        self._open.clear()
        return closed

    def _record(self, invite: AccEvent, answer: AccEvent | None, end: AccEvent | None, *flags: str) -> CallRecord:
        values = invite.values
        draft = RecordDraft(PROVIDER, provider_call_id=invite.call_id, received_at=self.received_at)
        draft.from_user_id = values.get("src_user") or user_of(values.get("from", ""))
        draft.to_user_id = values.get("dst_ouser") or values.get("dst_user") or user_of(values.get("to", ""))
        draft.setup_time = int(invite.time) - _setup_seconds(values)
        if answer is not None:
            draft.start_time = int(answer.time)
            duration = bounds.digits(values.get("duration", ""))
            draft.end_time = int(end.time) if end is not None and end is not answer else (
                int(answer.time) + duration if duration is not None else int(answer.time))
            draft.duration = max(0, draft.end_time - draft.start_time)
            draft.answered = True
            draft.chain = ["q850:16"] if end is not None or duration is not None else []
            if end is not None and end is not answer and end.method == "BYE":
                draft.ended_by = "caller" if end.from_tag == invite.from_tag else "callee"
            draft.sip = 200
        else:
            draft.end_time = int(invite.time)
            draft.answered = False
            draft.chain = [f"sip:{invite.code}"]
            draft.sip = invite.code
        draft.flags = list(flags)
        draft.extra = {"from_tag": invite.from_tag, "acc_reason": values.get("reason", "")}
        keep_evidence(draft)
        draft.raw = invite.raw if end is None or end is invite else f"{invite.raw}\n{end.raw}"
        return draft.finish()


def _setup_seconds(values: Mapping[str, str]) -> int:
    text = values.get("setuptime", "")
    return bounds.digits(text) or 0


def read_acc_log(stream: IO[str], received_at: float) -> Iterator[Item]:
    """The importer's reader of syslog files: lines without ``ACC:`` are skipped, broken ones rejected."""
    calls = AccCalls(received_at)
    for number, line in enumerate(stream, 1):
        try:
            event = parse_line(line.rstrip("\r\n"), received_at)
        except PayloadError as exc:
            yield Item(f"line {number}", None, exc, line.strip())
            continue
        if event is not None:
            yield from (Item(f"line {number}", record) for record in calls.take(event))
    yield from (Item("end of file", record) for record in calls.flush())


def _table_rows(lines: Iterator[str]) -> tuple[Iterator[dict[str | Any, str | Any]], bool, int]:
    """The rows of a table export, whether they are ``|``-separated flatstore rows, and the first row's number.

    Flatstore rows without a header are named by the table's own columns (the ``db_extra`` ones, unnamed, are
    kept under ``db_extra`` and not read); flatstore rows under a header (``hangup import --columns``, which
    names every column) by that header; any other file is a CSV with its header."""
    first = next(lines, "")
    if _FLATSTORE_ROW.match(first):
        return _flatstore(itertools.chain((first,), lines), FLATSTORE_COLUMNS), True, 1
    second = next(lines, "")
    rest = itertools.chain((second,), lines) if second else lines
    if _FLATSTORE_ROW.match(second):
        return _flatstore(rest, next(csv.reader([first]), [])), True, 2
    return csv.DictReader(itertools.chain((first,), rest)), False, 2


def _flatstore(lines: Iterator[str], names: Sequence[str]) -> Iterator[dict[str | Any, str | Any]]:
    return csv.DictReader(lines, list(names), restkey="db_extra", delimiter="|", quoting=csv.QUOTE_NONE)


def read_acc_csv(stream: IO[str], received_at: float) -> Iterator[Item]:
    """The importer's reader of ``acc`` / ``missed_calls`` table exports (CSV with a header, or flatstore rows)."""
    calls = AccCalls(received_at)
    rows, flat, start = _table_rows(iter(stream))
    for number, row in guarded(rows, start):
        if isinstance(row, Item):
            yield row
            continue
        raw = ("|" if flat else ",").join(v or "" for v in row.values() if isinstance(v, str))
        try:
            event = event_of({k: v for k, v in row.items() if k is not None and isinstance(v, str)}, raw)
        except PayloadError as exc:
            yield Item(f"row {number}", None, exc, raw)
            continue
        yield from (Item(f"row {number}", record) for record in calls.take(event))
    yield from (Item("end of file", record) for record in calls.flush())
