"""Asterisk Channel Event Logging (CEL) files read as the legs of calls.

CEL writes one line per event of a channel (``CHAN_START``, ``ANSWER``, ``HANGUP``, ``CHAN_END`` …), not one per
call. Each channel (``uniqueid``) is a leg of the call its ``linkedid`` names (``hangup.legs``); its events are
folded here into the facts a CDR row holds, which the Asterisk adapter reads as it reads ``Master.csv`` rows
(``hangup.providers.asterisk.read_cel``). Sources followed:

* the columns: ``cel_custom.conf.sample`` of the Asterisk repository (``configs/samples``): its legacy mapping
  (``LEGACY``: event type, a literal, event time, caller id name/number/ANI/RDNIS/DNID, exten, context,
  channel, application and data, AMA flags, account code, uniqueid, linkedid, bridge peer, userfield, user
  event type, extra) and its advanced ``fields`` list (``ADVANCED``), each also without the sample's ``My
  Literal`` column; or a header row naming CEL fields (the advanced names, or the ``cel`` table's columns as
  ``cel_odbc``/``cel_pgsql`` and database exports write them, ``cid_num``, ``channame``…), case-insensitive;
* the times: ``eventtime`` in ``cel.conf``'s ``dateformat``; by default ``<seconds>.<microseconds>`` since the
  epoch (``cel.conf.sample``), else a date and time, read as UTC (or the import's ``--timezone``) unless it
  carries an offset;
* a ``HANGUP`` event's ``extra``: ``{"hangupcause": <Q.850>, "hangupsource": <channel>, "dialstatus": …}``
  (``main/cel.c``);
* the disposition a CDR would give the leg: ``ANSWERED`` once the channel answered, else its ``Dial`` status
  as ``cdr.c`` ``dial_status_to_disposition`` converts it (``BUSY``; ``CANCEL``/``NOANSWER`` → ``NO ANSWER``;
  ``CONGESTION``; anything else → ``FAILED``), and ``NO ANSWER`` for a channel that dialled nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from hangup.errors import HTTPError, PayloadError
from hangup.providers.base import Item
from hangup.providers.reading import cdr_rows

#: The key of the JSON object a leg is kept as (its ``raw``): the channel's events, as read.
EVENTS = "cel"
LEGACY = ("eventtype", "literal", "eventtime", "cidname", "cidnum", "cidani", "cidrdnis", "ciddnid", "exten",
          "context", "channame", "appname", "appdata", "amaflags", "accountcode", "uniqueid", "linkedid", "peer",
          "userfield", "userdeftype", "extra")
ADVANCED = ("eventtype", "eventenum", "literal", "eventtime", "usereventname", "cidname", "cidnum", "exten",
            "context", "channame", "appname", "appdata", "amaflags", "accountcode", "uniqueid", "userfield",
            "cidani", "cidrdnis", "ciddnid", "peer", "linkedid", "peeraccount", "extra", "tenantid")
#: Headerless layouts by their number of columns: the sample's two mappings, with and without its literal.
LAYOUTS: Mapping[int, tuple[str, ...]] = {
    len(LEGACY): LEGACY, len(LEGACY) - 1: tuple(n for n in LEGACY if n != "literal"),
    len(ADVANCED): ADVANCED, len(ADVANCED) - 1: tuple(n for n in ADVANCED if n != "literal"),
}
#: Header names of the ``cel`` table and of ``cel_custom`` fields that differ from the names used here.
ALIASES = {"acctcode": "accountcode", "peeracct": "peeraccount", "eventextra": "extra"}
#: The leg row's name for the channel's own ``uniqueid`` (the row's ``linkedid`` names the call).
CHANNEL_UNIQUEID = "channeluniqueid"
#: Events of the call, not of a channel: ``LINKEDID_END`` follows the last channel's ``CHAN_END``.
CALL_EVENTS = frozenset({"LINKEDID_END"})
#: ``cdr.c`` ``dial_status_to_disposition``; a channel that never dialled and never answered is ``NO ANSWER``.
DISPOSITIONS = {"ANSWER": "ANSWERED", "BUSY": "BUSY", "CANCEL": "NO ANSWER", "NOANSWER": "NO ANSWER",
                "CONGESTION": "CONGESTION", "": "NO ANSWER"}


def is_header(fields: list[str]) -> bool:
    return {"eventtype", "uniqueid"} <= {_name(f) for f in fields}


def _name(header: str) -> str:
    name = header.strip().lower().replace("_", "").replace(" ", "")
    return ALIASES.get(name, name)


@dataclass(slots=True)
class _Channel:
    """The events of one channel seen so far."""

    row: int  # the file row of its first event
    events: list[dict[str, str]] = field(default_factory=list)


def legs(stream: IO[str]) -> Iterator[tuple[str, dict[str, str] | HTTPError, str]]:
    """(location, the leg's CDR row or the error rejecting it, ``{"cel": [its events]}`` as JSON) of each channel
    of a CEL file, as its ``CHAN_END`` arrives (channels still open at the end of the file come last)."""
    open_channels: dict[str, _Channel] = {}
    for number, fields, header in cdr_rows(stream, is_header):
        if isinstance(fields, Item):
            yield fields.location, fields.error or PayloadError("unreadable row"), fields.raw
            continue
        names = [_name(h) for h in header] if header is not None else LAYOUTS.get(len(fields))
        if names is None:
            yield f"row {number}", PayloadError("not a CEL row", details=[{"field": "row", "error": (
                f"{len(fields)} columns; a header or one of {sorted(LAYOUTS)} columns (cel_custom.conf.sample)")}]), \
                json.dumps(fields)
            continue
        event = {name: value.strip() for name, value in zip(names, fields, strict=False)}
        if event.get("eventtype", "").upper() in CALL_EVENTS:
            continue
        uniqueid = event.get("uniqueid", "")
        channel = open_channels.setdefault(uniqueid, _Channel(number))
        channel.events.append(event)
        if event.get("eventtype", "").upper() == "CHAN_END":
            yield _leg(open_channels.pop(uniqueid))
    for channel in open_channels.values():
        yield _leg(channel)


def _leg(channel: _Channel) -> tuple[str, dict[str, str] | HTTPError, str]:
    raw = json.dumps({EVENTS: channel.events}, ensure_ascii=False)
    location = f"row {channel.row}"
    try:
        return location, leg_row(channel.events), raw
    except PayloadError as exc:
        return location, exc, raw


def leg_row(events: list[dict[str, str]]) -> dict[str, str]:
    """The CDR row (``Master.csv`` names) of one channel's events."""
    if not events or not all(isinstance(event, dict) for event in events):
        raise PayloadError("not CEL events", details=[{"field": EVENTS, "error": "expected a list of events"}])
    first = events[0]
    times: dict[str, str] = {}
    hangup: dict[str, object] = {}
    peer = ""
    for event in events:
        kind = event.get("eventtype", "").upper()
        if kind in ("CHAN_START", "ANSWER", "HANGUP", "CHAN_END") and kind not in times:
            times[kind] = event.get("eventtime", "")
        if kind == "HANGUP":
            hangup = _extra(event.get("extra", ""))
        peer = event.get("peer") or peer
    start = _seconds(times.get("CHAN_START") or first.get("eventtime", ""))
    answer = _seconds(times["ANSWER"]) if "ANSWER" in times else 0
    end = _seconds(times.get("HANGUP") or times.get("CHAN_END") or events[-1].get("eventtime", ""))
    dialstatus = str(hangup.get("dialstatus") or "").upper()
    cause = hangup.get("hangupcause")
    return {
        "linkedid": first.get("linkedid") or first.get("uniqueid", ""), CHANNEL_UNIQUEID: first.get("uniqueid", ""),
        "src": first.get("cidnum", ""), "dst": first.get("exten", "") or first.get("ciddnid", ""),
        "clid": first.get("cidname", ""), "dcontext": first.get("context", ""),
        "channel": first.get("channame", ""), "dstchannel": peer, "accountcode": first.get("accountcode", ""),
        "start": _stamp(start), "answer": _stamp(answer) if answer else "", "end": _stamp(end),
        "duration": str(max(end - start, 0)), "billsec": str(max(end - answer, 0) if answer else 0),
        "disposition": "ANSWERED" if answer else DISPOSITIONS.get(dialstatus, "FAILED"),
        "hangupcause": "" if cause in (None, "") else str(cause), "dialstatus": dialstatus,
        "hangupsource": str(hangup.get("hangupsource") or ""),
    }


def _extra(text: str) -> dict[str, object]:
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _seconds(text: str) -> int:
    """Unix seconds of an ``eventtime``: ``<seconds>.<microseconds>``, or a date and time (UTC unless offset)."""
    value = text.strip()
    try:
        return int(float(value)) if value.replace(".", "", 1).isdigit() else _datetime(value)
    except (ValueError, OverflowError) as exc:  # OverflowError: digits beyond a float's range ("9" * 400)
        raise PayloadError("bad eventtime", details=[{"field": "eventtime", "error": str(exc)[:80]}]) from exc


def _datetime(value: str) -> int:
    moment = datetime.fromisoformat(value)
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
