"""``RecordDraft``: the mutable builder an adapter fills from one event, then ``finish()``-es into a record.

An adapter reads its platform's fields into a draft, collecting every bad field (``error``,
``integer``, ``seconds``, ``timestamp``, ``identifier``; each value inside its range of
``hangup.bounds``) instead of stopping at the first, and says why the call ended as explicit
classifier input: ``chain`` (its cause fallback chain, best first), ``sources`` (references
that only say who hung up), ``ended_by`` (its own answer when it knows better than the catalog),
``q850``/``sip`` (codes the platform reported). ``finish()`` raises ``InvalidPayload`` naming every
bad field, or classifies through ``hangup.causes.classify`` and returns the frozen ``CallRecord``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hangup import bounds
from hangup.causes import CauseCatalog
from hangup.causes.classify import Evidence, Verdict, classify
from hangup.errors import InvalidPayload
from hangup.numbers import Parties, parties
from hangup.providers.answered import answered_by
from hangup.records import CallRecord, Direction, call_id_for, record_maker
from hangup.routes import route_of

_DECIMAL = re.compile(r"\d+\.\d+")
#: C0 controls (as ``importer.vectors.control_rows``): no platform puts them in an id; PostgreSQL cannot hold NUL.
_CONTROL = re.compile(r"[\x00-\x1f]")
#: The largest integer and time a reader accepts (``hangup.bounds``).
MAX_INTEGER = bounds.INTEGER.high
MAX_TIME = bounds.MAX_TIME


def ref(scheme: str, value: str | int | None) -> str | None:
    """``scheme:value`` for a present value, ``None`` for an absent or blank one."""
    if value is None:
        return None
    text = str(value).strip()
    return f"{scheme}:{text}" if text else None


@dataclass(slots=True)
class RecordDraft:
    """The mutable builder of one call record; ``finish()`` validates and classifies it.

    Every field of the record an adapter fills is an attribute of the same name (times in Unix seconds,
    0 when not reported); ``chain``, ``sources``, ``ended_by``, ``q850`` and ``sip`` are what the classifier
    is told about the call's end (``hangup.causes.classify.Evidence``), ``flags`` the adapter's own flags.
    """

    provider: str  # the adapter's name
    provider_call_id: str = ""  # the platform's own call id (required)
    from_user_id: str = ""
    to_user_id: str = ""
    from_service_id: str = ""
    to_service_id: str = ""
    setup_time: int = 0
    start_time: int = 0
    end_time: int = 0
    duration: int = 0
    answered: bool | None = None  # None: derived from start_time/duration
    direction: Direction = "unknown"
    route: str = ""  # what the platform reports of the route (a gateway, trunk or hop); ``hangup.routes``
    chain: list[str] = field(default_factory=list)  # cause fallback chain, best first
    sources: list[str] = field(default_factory=list)  # refs saying who hung up
    ended_by: str | None = None  # set when the adapter knows better than the catalog (direction-aware)
    q850: int | None = None  # reported Q.850 cause, when the platform sends one
    sip: int | None = None  # reported SIP final status, when the platform sends one
    extra: dict[str, str] = field(default_factory=dict)  # native fields without a canonical place
    flags: list[str] = field(default_factory=list)  # the adapter's own flags (meanings in its ``flags``)
    raw: str = ""  # the event exactly as received: what ``reclassify`` reads again
    leg_id: str = ""  # this record's leg, when the platform writes one record per leg (``hangup.legs``)
    received_at: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)  # every bad field, for ``InvalidPayload``

    # -- field readers that record errors instead of raising --------------------------------
    def error(self, name: str, message: str) -> None:
        """Record a bad field; ``finish()`` then raises naming every one."""
        self.errors.append({"field": name, "error": message})

    def integer(self, name: str, value: object, default: int = 0, within: bounds.Bounds = bounds.INTEGER) -> int:
        """A base-10 integer (decimals truncated) inside ``within`` (``hangup.bounds``); ``default`` when
        absent, and an error when not one or out of range."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return default
        try:
            number = int(str(value).strip().split(".")[0]) if not isinstance(value, bool) else int(value)
        except ValueError:
            self.error(name, f"expected an integer, got {str(value)[:40]!r}")
            return default
        problem = within.error(number)
        if problem:
            self.error(name, problem)
            return default
        return number

    def seconds(self, name: str, value: object) -> int:
        """A duration in whole seconds, at most ``bounds.MAX_DURATION``."""
        return self.integer(name, value, within=bounds.DURATION)

    def timestamp(self, name: str, value: object) -> int:
        """Unix seconds from epoch seconds, ISO 8601, ``YYYY-MM-DD HH:MM:SS`` (UTC if no offset) or RFC 2822;
        within ``bounds.TIME`` (0 = not reported)."""
        if value is None:
            return 0
        text = str(value).strip()
        if not text or text in ("0", "null", "None"):
            return 0
        parsed = parse_time(text)
        if parsed is None:
            self.error(name, f"expected a time from 1970 to 2099, got {text[:40]!r}")
            return 0
        return parsed

    def identifier(self, name: str, value: object) -> str:
        """A platform's call id: stripped, without control characters (they break logs, links and PostgreSQL)."""
        text = "" if value is None else str(value).strip()
        if _CONTROL.search(text):
            self.error(name, "contains a control character")  # finish() refuses the draft
        return text

    def add_chain(self, *refs: str | None) -> None:
        """Append the given references to the cause chain, best first; absent ones (``None``) are skipped."""
        self.chain.extend(r for r in refs if r)

    # -- classification ---------------------------------------------------------------------
    def evidence(self) -> Evidence:
        """What this draft says about why the call ended, as the classifier's input."""
        # chain, sources, answered, ended_by, releaser (none), q850, sip: by position, as a call by keyword
        # costs half as much again and every ingested call is classified
        return Evidence(tuple(self.chain), tuple(self.sources), self.is_answered(), self.ended_by, None, self.q850,
                        self.sip)

    def is_answered(self) -> bool:
        """``answered`` when the adapter set it, else whether the call has an answer time or a duration."""
        return self.answered if self.answered is not None else (self.start_time > 0 or self.duration > 0)

    def finish(self, catalog: CauseCatalog | None = None) -> CallRecord:
        """The validated, classified record; ``InvalidPayload`` naming every bad field otherwise."""
        if not self.provider_call_id and not self.errors:
            self.error("call_id", "required")
        if self.errors:
            raise InvalidPayload(f"{self.provider}: the call-end event is not valid", details=self.errors)
        answered = self.is_answered()
        verdict = classify(self.evidence(), catalog)
        flags = tuple(dict.fromkeys((*self.flags, *verdict.flags))) if self.flags else verdict.flags
        return _make_record(self, call_id_for(self.provider, self.provider_call_id), answered, verdict, flags,
                            parties(self.provider, self.from_user_id, self.to_user_id), route_of(self.route),
                            answered_by(self.provider, self.extra, answered))


#: The fields a draft gives its record as they are.
_AS_DRAFTED = ("provider", "provider_call_id", "from_service_id", "from_user_id", "to_service_id", "to_user_id",
               "setup_time", "start_time", "end_time", "duration", "direction", "extra", "leg_id", "raw",
               "received_at")
#: ``finish``'s record: the draft's fields, every field of the classifier's verdict (the adapter's own flags
#: first) and of the parties' numbers, named as ``Verdict`` and ``Parties`` name them; other fields their defaults.
_make_record = record_maker("d, id, answered, verdict, flags, numbers, route, answered_by", {
    **{name: f"d.{name}" for name in _AS_DRAFTED},
    **{name: f"verdict[{i}]" for i, name in enumerate(Verdict._fields)},  # by index: a tuple's item is quicker
    **{name: f"numbers[{i}]" for i, name in enumerate(Parties._fields)},
    "id": "id", "call_type": "'A'", "answered": "answered", "flags": "flags", "route": "route",
    "answered_by": "answered_by"})


# -- times ---------------------------------------------------------------------------------
#: The zone of times written without an offset: UTC unless the reading of a file says otherwise
#: (``local_times``). A switch's CDR files (Asterisk's ``Master.csv`` without ``usegmtime``, FreeSWITCH's
#: ``*_stamp`` variables) write its local time and nothing in a row says which.
NAIVE_ZONE: ContextVar[tzinfo] = ContextVar("hangup_naive_zone", default=UTC)


@contextmanager
def local_times(zone: tzinfo) -> Iterator[None]:
    """Within: ``parse_time`` reads a time without an offset as ``zone``'s wall-clock time (``wall_clock``)."""
    token = NAIVE_ZONE.set(zone)
    try:
        yield
    finally:
        NAIVE_ZONE.reset(token)


def wall_clock(moment: datetime) -> datetime:
    """A time without an offset placed in ``NAIVE_ZONE`` (``fold`` 0: where the clock goes back, the first of
    the two moments; in the hour it skips, the offset before the change); one with an offset as it is."""
    return moment.replace(tzinfo=NAIVE_ZONE.get()) if moment.tzinfo is None else moment


def zone_named(name: str) -> tzinfo:
    """The IANA time zone ``name`` (``Europe/Paris``), or ``ValueError`` saying it is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not a time zone name (such as Europe/Paris or America/New_York)") from exc


def parse_time(text: str) -> int | None:
    """Unix seconds of a platform time string, or ``None`` when it is none of the known forms."""
    if _DECIMAL.fullmatch(text):  # fractional epoch seconds (e.g. 1780912800.521)
        text = text.split(".")[0]
    if text.isascii() and text.isdigit():  # isdigit() alone takes "²", which int() refuses
        value = bounds.digits(text, 20)  # more digits are no time (and int() refuses over 4300)
        if value is None:
            return None
        value = value // 1_000_000 if value > 10**14 else value  # FreeSWITCH *_uepoch are microseconds
        return value if value <= MAX_TIME else None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    seconds = int(wall_clock(moment).timestamp())
    return seconds if 0 <= seconds <= MAX_TIME else None


__all__ = ["MAX_INTEGER", "MAX_TIME", "NAIVE_ZONE", "RecordDraft", "local_times", "parse_time", "ref", "wall_clock",
           "zone_named"]
