"""LINE Planet ``on_call_evt_cb``: the call-event callback sent when a call ends.

Source: LINE Planet API specification, "Server Callback: Call Event" (the 19 query keys, their types
and nullability) and "Server release reason" (``terminate`` and ``call_end_reason``). Planet sends an
HTTP GET; hangup also accepts the same keys form-encoded in a POST body.

Rejected (``PayloadError``, every bad field named): a missing or blank non-nullable key, a repeated key,
a Long/Integer that is not a plain base-10 integer within int64, a time, duration, ``call_end_reason`` or
``terminate`` outside its range in ``hangup.bounds`` (times 1970–2099 or 0, durations up to 7 days), ``type``
other than ``A``/``V``, a ``sid`` that is not 36 printable ASCII characters, an ``srcip``/``dstip`` that is
not an IPv4 or IPv6 address, text that is not UTF-8 or holds NUL.

Accepted and flagged (the platform really sends such data, e.g. the specification's own example): see
``FLAGS``. The cause is ``call_end_reason`` when the catalog knows it, ``terminate`` otherwise.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import unquote_plus

from hangup import bounds
from hangup.causes import Cause, CauseCatalog, EndedBy, default_catalog
from hangup.causes.classify import Evidence, Verdict, resolve
from hangup.causes.classify import classify as classify_evidence
from hangup.errors import CatalogError, PayloadError
from hangup.providers.base import WebhookRequest
from hangup.providers.reading import ImportFormat, Item, attempt, numbered_lines
from hangup.records import CallRecord, record_maker
from hangup.routes import route_of

NAME = "planet"
CER_SCHEME = "planet"  # catalog scheme of call_end_reason
TERMINATE_SCHEME = "planet-terminate"  # catalog scheme of terminate

SID = "sid"
FROM_SERVICE_ID = "from_service_id"
FROM_USER_ID = "from_user_id"
TO_SERVICE_ID = "to_service_id"
TO_USER_ID = "to_user_id"
TYPE = "type"
STID = "stid"
SETUP_TIME = "setup_time"
START_TIME = "start_time"
END_TIME = "end_time"
DURATION = "duration"
SRCIP = "srcip"
DSTIP = "dstip"
CALL_END_REASON = "call_end_reason"
TERMINATE = "terminate"
RELEASER = "releaser"
REL_CODE = "rel_code"
REL_CODE_STR = "rel_code_str"
USER_REL_CODE = "user_rel_code"

KEYS: tuple[str, ...] = (
    SID, FROM_SERVICE_ID, FROM_USER_ID, TO_SERVICE_ID, TO_USER_ID, TYPE, STID, SETUP_TIME, START_TIME, END_TIME,
    DURATION, SRCIP, DSTIP, CALL_END_REASON, TERMINATE, RELEASER, REL_CODE, REL_CODE_STR, USER_REL_CODE,
)
NULLABLE = frozenset({STID, USER_REL_CODE})

#: Flags hangup sets on a well-formed but contradictory or unusual event (``CallRecord.flags``).
FLAGS: Mapping[str, str] = {
    "duration_mismatch": "duration differs from end_time - start_time (or is not 0 for a call never started)",
    "terminate_16_without_duration": "terminate is 16 (normal) but duration is 0",
    "duration_without_terminate_16": "duration is above 0 but terminate is not 16",
    "mid_call_end_not_started": "call_end_reason says the call ended during the call (1004/1005), start_time is 0",
    "terminate_disagrees": "terminate does not say what call_end_reason says",
    "unknown_call_end_reason": "call_end_reason is not in the catalog",
    "unknown_terminate": "terminate is not one of the simple release codes",
    "times_out_of_order": "setup_time, start_time and end_time are not in order",
    "unknown_keys": "the request carried keys the specification does not define (kept in extra)",
}

_INT64 = (-(2**63), 2**63 - 1)
_SID_RE = re.compile(r"[\x21-\x7e]{36}")
_MID_CALL_REASONS = frozenset({1004, 1005})
_RELEASER_ENDED_BY: Mapping[str, str] = {"initiator": EndedBy.CALLER, "responder": EndedBy.CALLEE}
_FORM_TYPES = ("application/x-www-form-urlencoded", "")


class FieldError(ValueError):
    """One bad value; the message is what the error body says about the field."""


# -- value checks, one per key type ----------------------------------------------------------
_EMPTY = "must not be empty"


def _text(value: str) -> str:
    if value == "":
        raise FieldError(_EMPTY)
    return value


def _integer(value: str, *, minimum: int = _INT64[0]) -> int:
    digits = value[1:] if value[:1] == "-" else value
    # isascii() first: str.isdigit() alone would take other scripts' digits ("١٢") and superscripts
    if not (0 < len(digits) <= 19 and digits.isascii() and digits.isdigit()):
        raise FieldError(f"expected a base-10 integer, got {value[:40]!r}")
    number = int(value)
    if len(digits) == 19 and not _INT64[0] <= number <= _INT64[1]:
        raise FieldError("out of the 64-bit integer range")
    if number < minimum:
        raise FieldError(f"must be at least {minimum}")
    return number


def _seconds(value: str) -> int:
    # Four of the 19 keys: plain digits are the common case and need none of _integer's sign handling.
    if not (0 < len(value) < 19 and value.isascii() and value.isdigit()):
        return _integer(value, minimum=0)
    return int(value)


def _bounded(read: Callable[[str], int], limits: bounds.Bounds) -> Callable[[str], int]:
    """``read``, then refused outside ``limits``: values later arithmetic and date formatting can hold."""

    low, high, absent = limits.low, limits.high, limits.absent

    def check(value: str) -> int:
        number = read(value)
        if low <= number <= high or number == absent:  # the hot path: no method call when in range
            return number
        raise FieldError(str(limits.error(number)))

    return check


_time = _bounded(_seconds, bounds.TIME)


def _sid(value: str) -> str:
    if not _SID_RE.fullmatch(value):
        raise FieldError(f"expected 36 printable ASCII characters, got {len(value)} characters")
    return value


def _call_type(value: str) -> str:
    if value not in ("A", "V"):
        raise FieldError(f"expected A (audio) or V (video), got {value[:40]!r}")
    return value


def _ip(value: str) -> str:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in value else socket.AF_INET, value)
        return value
    except (OSError, ValueError):
        pass
    try:
        ipaddress.ip_address(value)  # also takes what inet_pton does not, e.g. IPv6 zone ids
    except ValueError:
        raise FieldError(f"expected an IPv4 or IPv6 address, got {value[:60]!r}") from None
    return value


def _optional(value: str) -> str | None:
    return value or None


_CHECKS: Mapping[str, Callable[[str], Any]] = {
    SID: _sid, FROM_SERVICE_ID: _text, FROM_USER_ID: _text, TO_SERVICE_ID: _text, TO_USER_ID: _text,
    TYPE: _call_type, STID: _optional, SETUP_TIME: _time, START_TIME: _time, END_TIME: _time,
    DURATION: _bounded(_seconds, bounds.DURATION), SRCIP: _ip, DSTIP: _ip,
    CALL_END_REASON: _bounded(_integer, bounds.CALL_END_REASON), TERMINATE: _bounded(_integer, bounds.TERMINATE),
    RELEASER: _text, REL_CODE: _integer, REL_CODE_STR: _text, USER_REL_CODE: _optional,
}


#: ``_CHECKS`` in ``KEYS`` order for ``validate``'s common case, ``None`` where the check is ``_text`` (inlined).
_CHECK_ITEMS: tuple[tuple[str, Callable[[str], Any] | None], ...] = tuple(
    (key, None if _CHECKS[key] is _text else _CHECKS[key]) for key in KEYS)


# -- parsing the query / form ---------------------------------------------------------------
def split_pairs(text: str, errors: list[dict[str, str]]) -> list[tuple[str, str]]:
    """``k=v&k=v`` split and percent-decoded (strict UTF-8); undecodable parts are reported, not guessed."""
    if "%" not in text and "+" not in text and "\x00" not in text:  # nothing to decode: the common case
        return [(k, v) for k, _, v in (part.partition("=") for part in text.split("&") if part)]
    pairs: list[tuple[str, str]] = []
    for part in text.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        try:
            key = unquote_plus(key, errors="strict") if ("%" in key or "+" in key) else key
            value = unquote_plus(value, errors="strict") if ("%" in value or "+" in value) else value
        except UnicodeDecodeError:
            errors.append({"field": _printable(key), "error": "not valid UTF-8 after percent-decoding"})
            continue
        if "\x00" in key or "\x00" in value:
            errors.append({"field": _printable(key), "error": "contains a NUL character"})
            continue
        pairs.append((key, value))
    return pairs


def _printable(key: str) -> str:
    return key[:64].encode("ascii", "backslashreplace").decode("ascii")


def request_pairs(request: WebhookRequest, errors: list[dict[str, str]]) -> list[tuple[str, str]]:
    pairs = split_pairs(request.query, errors)
    if request.body:
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type not in _FORM_TYPES:
            errors.append({"field": "content-type", "error": "expected application/x-www-form-urlencoded"})
            return pairs
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            errors.append({"field": "body", "error": "not valid UTF-8"})
            return pairs
        pairs.extend(split_pairs(body, errors))
    return pairs


@dataclass(frozen=True, slots=True)
class PlanetEvent:
    """The 19 validated values of one callback, plus keys the specification does not define."""

    values: Mapping[str, Any]
    unknown: Mapping[str, str]


def validate(pairs: list[tuple[str, str]], errors: list[dict[str, str]]) -> PlanetEvent:
    """Check every key; append one error per bad field to ``errors`` (all of them, not just the first)."""
    seen = dict(pairs)
    if errors or len(seen) != len(pairs):
        return _validate_reporting(pairs, seen, errors)
    # The common case: every key once and decodable, so no key is skipped and nothing needs sorting.
    values: dict[str, Any] = {}
    for key, check in _CHECK_ITEMS:
        raw = seen.get(key)
        if raw is None:
            if key in NULLABLE:
                values[key] = None
            else:
                errors.append({"field": key, "error": "missing"})
        elif check is None:  # _text, inline: six of the 19 keys
            if raw:
                values[key] = raw
            else:
                errors.append({"field": key, "error": _EMPTY})
        else:
            try:
                values[key] = check(raw)
            except FieldError as exc:
                errors.append({"field": key, "error": str(exc)})
    unknown = {k: v for k, v in seen.items() if k not in _CHECKS} if len(seen) > len(values) else {}
    return PlanetEvent(values, unknown)


def _validate_reporting(pairs: list[tuple[str, str]], seen: dict[str, str], errors: list[dict[str, str]]
                        ) -> PlanetEvent:
    """``validate`` of a request with repeated keys or undecodable parts: those keys are reported once and
    not checked further."""
    repeated: set[str] = set()
    if len(seen) != len(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen and key in _CHECKS:
                repeated.add(key)
            seen.setdefault(key, value)
    for key in sorted(repeated):
        errors.append({"field": _printable(key), "error": "given more than once"})
    values: dict[str, Any] = {}
    skip = repeated | {e["field"] for e in errors}  # repeated, or undecodable (reported by split_pairs)
    for key in KEYS:
        check, raw = _CHECKS[key], seen.get(key)
        if key in skip:
            continue
        if raw is None:
            if key in NULLABLE:
                values[key] = None
            else:
                errors.append({"field": key, "error": "missing"})
            continue
        try:
            values[key] = check(raw)
        except FieldError as exc:
            errors.append({"field": key, "error": str(exc)})
    unknown = {k: v for k, v in seen.items() if k not in _CHECKS} if len(seen) > len(values) else {}
    return PlanetEvent(values, unknown)


# -- classification and flags -----------------------------------------------------------------
def _expected_terminate(catalog: CauseCatalog, cer: Cause) -> int:
    """The simple code Planet's rule gives a call that ended as ``cer`` says (127, "else", by default)."""
    try:
        entries = list(catalog.entries(TERMINATE_SCHEME))
    except CatalogError:
        return 127
    for entry in entries:
        if entry.outcome == cer.outcome and entry.code is not None:
            return entry.code
    return 127


def flags_for(v: Mapping[str, Any], c: Classification, unknown: bool) -> list[str]:
    setup, start, end, duration = v[SETUP_TIME], v[START_TIME], v[END_TIME], v[DURATION]
    terminate, reason = v[TERMINATE], v[CALL_END_REASON]
    found: list[str] = []
    if (start > 0 and duration != end - start) or (start == 0 and duration != 0):
        found.append("duration_mismatch")
    if terminate == 16 and duration == 0:
        found.append("terminate_16_without_duration")
    if duration > 0 and terminate != 16:
        found.append("duration_without_terminate_16")
    if reason in _MID_CALL_REASONS and start == 0:
        found.append("mid_call_end_not_started")
    if c.cer_known and c.term_known and duration == 0 and terminate != c.expected_terminate:
        found.append("terminate_disagrees")
    if not c.cer_known:
        found.append("unknown_call_end_reason")
    if not c.term_known:
        found.append("unknown_terminate")
    times = [t for t in (setup, start, end) if t > 0]
    if times != sorted(times):
        found.append("times_out_of_order")
    if unknown:
        found.append("unknown_keys")
    return found


@dataclass(frozen=True, slots=True)
class Classification:
    """The classifier's verdict on one (call_end_reason, terminate, releaser, answered) combination, and what
    Planet's own flags need to know about the two codes; the same for every call with that combination."""

    verdict: Verdict
    cer_known: bool
    term_known: bool
    expected_terminate: int


def classify(catalog: CauseCatalog, reason: int, terminate: int, releaser: str = "", answered: bool = False
             ) -> Classification:
    """The classifier's input is ``call_end_reason`` first, ``terminate`` as its fallback, ``releaser`` when
    the catalog names no party. ``terminate`` reuses Q.850 values: its Q.850 cause is the one Planet reports
    when ``call_end_reason`` has none."""
    chain = (f"{CER_SCHEME}:{reason}", f"{TERMINATE_SCHEME}:{terminate}")
    cer, term = resolve(chain[0], catalog), resolve(chain[1], catalog)
    given = Evidence(chain=chain, answered=answered, releaser=_RELEASER_ENDED_BY.get(releaser),
                     q850=term.q850 if cer.q850 is None else None)
    return Classification(verdict=classify_evidence(given, catalog), cer_known=cer.known, term_known=term.known,
                          expected_terminate=_expected_terminate(catalog, cer))


def build_record(event: PlanetEvent, raw: str, received_at: float, c: Classification) -> CallRecord:
    v = event.values
    # FLAGS name the answer/cause contradictions in the specification's own terms (terminate vs duration,
    # mid-call reasons, unknown codes), so Planet records carry those instead of the classifier's.
    # Planet's route is the service the call was placed into (the callee's, else the caller's). Its user
    # ids are application ids, not telephone numbers: no normalised numbers (hangup.numbers).
    return _make_record(v, "V" if v[TYPE] == "V" else "A", _answered(v), c.verdict,
                        tuple(flags_for(v, c, bool(event.unknown))), route_of(v[TO_SERVICE_ID] or v[FROM_SERVICE_ID]),
                        dict(event.unknown) if event.unknown else {}, raw, received_at)


#: The keys of the callback a record keeps as they are, each the name of its field.
_AS_SENT = (FROM_SERVICE_ID, FROM_USER_ID, TO_SERVICE_ID, TO_USER_ID, SETUP_TIME, START_TIME, END_TIME, DURATION,
            STID, SRCIP, DSTIP, CALL_END_REASON, TERMINATE, RELEASER, REL_CODE, REL_CODE_STR, USER_REL_CODE)
#: ``build_record``'s record (``records.record_maker``: a tenth of the dataclass's own construction, on every
#: callback): the callback's values, the sid as the id, every field of the classifier's verdict but its flags.
_make_record = record_maker("v, call_type, answered, verdict, flags, route, extra, raw, received_at", {
    **{key: f"v[{key!r}]" for key in _AS_SENT},
    **{name: f"verdict[{i}]" for i, name in enumerate(Verdict._fields)},
    "id": f"v[{SID!r}]", "provider_call_id": f"v[{SID!r}]", "provider": repr(NAME), "call_type": "call_type",
    "answered": "answered", "flags": "flags", "route": "route", "extra": "extra", "raw": "raw",
    "received_at": "received_at"})


def _answered(v: Mapping[str, Any]) -> bool:
    return bool(v[START_TIME] > 0 or v[DURATION] > 0)


def raw_of(request: WebhookRequest) -> str:
    """The request's parameters as received: the query string, the form body, or both joined by ``&``."""
    body = request.body.decode("utf-8", "replace") if request.body else ""
    return "&".join(part for part in (request.query, body) if part)


# -- import: recorded callbacks ----------------------------------------------------------------
def query_of(line: str) -> tuple[str, str]:
    """(target, query string) of one recorded callback: a URL, a path with a query, ``GET …``, or a bare query."""
    text = line.strip()
    method, _, rest = text.partition(" ")
    if method.upper() in ("GET", "POST") and rest:
        text = rest.strip()
    target, sep, query = text.partition("?")
    return (target, query) if sep else ("", text)


def read_urls(stream: IO[str], received_at: float) -> Iterator[Item]:
    """``planet-urls``: recorded callbacks, one URL or query string per line."""
    for number, line in numbered_lines(stream):
        url, query = query_of(line)
        request = WebhookRequest("GET", url, query, received_at=received_at, client="hangup import")
        yield attempt(f"line {number}", line, PROVIDER.parse, request)


#: ``hangup import`` formats this adapter reads, and what in a file's first bytes tells each.
IMPORTS = {"planet-urls": ImportFormat(read_urls, markers=((("",), "call_end_reason="),))}


class PlanetProvider:
    """The ``planet`` adapter: no signature scheme (protect it with a secret path or an allow-list)."""

    name = NAME
    imports = IMPORTS
    methods: tuple[str, ...] = ("GET", "POST")
    flags = FLAGS

    def __init__(self, catalog: CauseCatalog | None = None) -> None:
        self._catalog = catalog
        # (call_end_reason, terminate, releaser, answered) -> Classification: a few dozen occur in practice;
        # bounded anyway
        self._classified: dict[tuple[int, int, str, bool], Classification] = {}

    @property
    def catalog(self) -> CauseCatalog:
        return self._catalog or default_catalog()

    def verify(self, request: WebhookRequest, secrets: Mapping[str, str]) -> None:
        """Planet signs nothing; the web layer's secret path and source allow-list protect this endpoint."""

    def parse(self, request: WebhookRequest) -> CallRecord:
        errors: list[dict[str, str]] = []
        event = validate(request_pairs(request, errors), errors)
        if errors:
            raise PayloadError(f"the call event breaks the on_call_evt_cb specification ({len(errors)} fields)",
                               errors)
        return build_record(event, raw_of(request), request.received_at, self.classification(event))

    def classification(self, event: PlanetEvent) -> Classification:
        v = event.values
        key = (v[CALL_END_REASON], v[TERMINATE], v[RELEASER] if v[RELEASER] in _RELEASER_ENDED_BY else "",
               _answered(v))
        found = self._classified.get(key)
        if found is None:
            found = classify(self.catalog, *key)
            if len(self._classified) < 4096:
                self._classified[key] = found
        return found

    def reclassify(self, record: CallRecord) -> CallRecord:
        """The record re-derived from its raw query string with the current catalog."""
        return self.parse(WebhookRequest("GET", "", record.raw, received_at=record.received_at))


PROVIDER = PlanetProvider()
