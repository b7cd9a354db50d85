"""What every platform adapter shares: the record builder, cause resolution and credential rules.

An adapter reads its platform's fields into a mutable ``RecordDraft`` (collecting every bad field
instead of stopping at the first), then ``finish()`` classifies it through the cause catalog and
returns the frozen ``CallRecord``. The draft's ``chain`` is the adapter's explicit cause fallback
chain, best first: the first reference the catalog knows with a definite outcome becomes
``CallRecord.cause``; references that only say who hung up (``plivo-source:Caller``) go in
``sources`` and decide ``ended_by``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from hangup import bounds
from hangup.causes import Cause, CauseCatalog, EndedBy, Outcome, default_catalog
from hangup.errors import CatalogError, Forbidden, InvalidPayload, PayloadError, Unauthorized
from hangup.providers.base import WebhookRequest
from hangup.records import CallRecord, Direction, call_id_for

_TRUE = frozenset({"1", "true", "yes", "on"})
_DECIMAL = re.compile(r"\d+\.\d+")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
#: C0 controls (as ``importer.vectors.control_rows``): no platform puts them in an id; PostgreSQL cannot hold NUL.
_CONTROL = re.compile(r"[\x00-\x1f]")
#: Deepest JSON nesting read from a body: real payloads nest 3 or 4 levels; deeper is an attack on the parser.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")

#: Outcomes that cannot happen on an answered call: a record claiming both is flagged, not rejected.
_UNANSWERED_OUTCOMES = frozenset(
    {Outcome.BUSY, Outcome.NO_ANSWER, Outcome.REJECTED, Outcome.CANCELED, Outcome.UNREACHABLE}
)


def resolve(ref: str, catalog: CauseCatalog | None = None) -> Cause:
    """A catalog entry for ``ref``; an explicit unknown entry (never an exception) for an unknown scheme."""
    catalog = catalog or default_catalog()
    try:
        return catalog.resolve(ref)
    except CatalogError:
        scheme, _, key = ref.partition(":")
        return Cause.unknown(scheme, key)


def ref(scheme: str, value: str | int | None) -> str | None:
    """``scheme:value`` for a present value, ``None`` for an absent or blank one."""
    if value is None:
        return None
    text = str(value).strip()
    return f"{scheme}:{text}" if text else None


@dataclass(slots=True)
class RecordDraft:
    """The mutable builder of one call record; ``finish()`` validates and classifies it."""

    provider: str
    provider_call_id: str = ""
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
    chain: list[str] = field(default_factory=list)  # cause fallback chain, best first
    sources: list[str] = field(default_factory=list)  # refs saying who hung up
    ended_by: str | None = None  # set when the adapter knows better than the catalog (direction-aware)
    q850: int | None = None  # reported Q.850 cause, when the platform sends one
    sip: int | None = None  # reported SIP final status, when the platform sends one
    extra: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    raw: str = ""
    received_at: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)

    # -- field readers that record errors instead of raising --------------------------------
    def error(self, name: str, message: str) -> None:
        self.errors.append({"field": name, "error": message})

    def integer(self, name: str, value: object, default: int = 0, within: bounds.Bounds = bounds.INTEGER) -> int:
        """A base-10 integer inside ``within`` (``hangup.bounds``); ``default`` when blank or invalid."""
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
        self.chain.extend(r for r in refs if r)

    # -- classification ---------------------------------------------------------------------
    def finish(self, catalog: CauseCatalog | None = None) -> CallRecord:
        if not self.provider_call_id and not self.errors:
            self.error("call_id", "required")
        if self.errors:
            raise InvalidPayload(f"{self.provider}: the call-end event is not valid", details=self.errors)
        primary, causes, catalog_ended_by = _classify(tuple(self.chain), tuple(self.sources),
                                                      catalog or default_catalog())
        ended_by = self.ended_by or catalog_ended_by
        answered = self.answered if self.answered is not None else (self.start_time > 0 or self.duration > 0)
        flags = list(self.flags)
        if answered and primary.outcome in _UNANSWERED_OUTCOMES:
            flags.append("answered_but_" + str(primary.outcome))
        if not answered and primary.outcome == Outcome.COMPLETED and primary.known:
            flags.append("completed_without_answer")
        if self.chain and not primary.known:
            flags.append("unknown_cause")
        return CallRecord(
            id=call_id_for(self.provider, self.provider_call_id),
            provider=self.provider,
            provider_call_id=self.provider_call_id,
            from_service_id=self.from_service_id,
            from_user_id=self.from_user_id,
            to_service_id=self.to_service_id,
            to_user_id=self.to_user_id,
            call_type="A",
            setup_time=self.setup_time,
            start_time=self.start_time,
            end_time=self.end_time,
            duration=self.duration,
            answered=answered,
            direction=self.direction,
            cause=primary.ref if self.chain else "",
            causes=causes,
            outcome=str(primary.outcome),
            ended_by=ended_by,
            fault=str(primary.fault),
            normal=primary.normal,
            reason=primary.description if primary.known else "",
            q850=self.q850 if self.q850 is not None else primary.q850,
            sip=self.sip if self.sip is not None else primary.sip,
            flags=tuple(dict.fromkeys(flags)),
            extra=self.extra,
            raw=self.raw,
            received_at=self.received_at,
        )


#: (chain, sources, catalog id) → classification. Imports repeat a handful of chains millions of
#: times; the catalog is immutable, so the answer for a chain never changes. Bounded: cleared when full.
_CLASSIFIED: dict[tuple[tuple[str, ...], tuple[str, ...], int], tuple[Cause, tuple[str, ...], str]] = {}
_CLASSIFIED_MAX = 4096


def _classify(chain: tuple[str, ...], sources: tuple[str, ...], catalog: CauseCatalog
              ) -> tuple[Cause, tuple[str, ...], str]:
    """The primary cause, the canonical references and who ended the call, for one fallback chain."""
    key = (chain, sources, id(catalog))
    found = _CLASSIFIED.get(key)
    if found is None:
        primary = _primary(chain, catalog)
        causes = tuple(dict.fromkeys(_canonical(r, catalog) for r in chain + sources))
        found = (primary, causes, _ended_by(primary, sources, catalog))
        if len(_CLASSIFIED) >= _CLASSIFIED_MAX:
            _CLASSIFIED.clear()
        _CLASSIFIED[key] = found
    return found


def _primary(chain: tuple[str, ...], catalog: CauseCatalog) -> Cause:
    """First known entry with a definite outcome, else the first known one, else the first given."""
    causes = [resolve(r, catalog) for r in chain]
    for cause in causes:
        if cause.known and cause.outcome != Outcome.UNKNOWN:
            return cause
    for cause in causes:
        if cause.known:
            return cause
    return causes[0] if causes else Cause.unknown("none", "")


def _canonical(reference: str, catalog: CauseCatalog) -> str:
    """The catalog's own spelling of a known reference (``freeswitch:USER_BUSY`` → ``freeswitch:17``)."""
    cause = resolve(reference, catalog)
    return cause.ref if cause.known else reference


def _ended_by(primary: Cause, sources: tuple[str, ...], catalog: CauseCatalog) -> str:
    for source in sources:
        cause = resolve(source, catalog)
        if cause.known and cause.ended_by != EndedBy.UNKNOWN:
            return str(cause.ended_by)
    return str(primary.ended_by)


# -- times ---------------------------------------------------------------------------------
def parse_time(text: str) -> int | None:
    """Unix seconds of a platform time string, or ``None`` when it is none of the known forms."""
    if _DECIMAL.fullmatch(text):  # fractional epoch seconds (e.g. 1780912800.521)
        text = text.split(".")[0]
    if text.isascii() and text.isdigit():  # isdigit() alone takes "²", which int() refuses
        value = int(text)
        value = value // 1_000_000 if value > 10**14 else value  # FreeSWITCH *_uepoch are microseconds
        return value if value <= bounds.MAX_TIME else None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int(moment.timestamp())
    return seconds if 0 <= seconds <= bounds.MAX_TIME else None


# -- credentials ---------------------------------------------------------------------------
def credential(secrets: Mapping[str, str], key: str, provider: str) -> str | None:
    """The configured secret; ``None`` when unsigned traffic is explicitly accepted; else 401."""
    secret = (secrets.get(key) or "").strip()
    if secret:
        return secret
    if (secrets.get(f"{provider}_accept_unsigned") or "").strip().lower() in _TRUE:
        return None
    raise Unauthorized(
        f"{provider}: no {key} is configured, so unsigned callbacks are refused "
        f"(set {key}, or {provider}_accept_unsigned=1 to accept them)",
        details=[{"field": key, "error": "not configured"}],
    )


def header(headers: Mapping[str, str], name: str, provider: str) -> str:
    """A required signature header (names are lower-case); 401 when absent."""
    value = (headers.get(name) or "").strip()
    if not value:
        raise Unauthorized(f"{provider}: missing {name} header", details=[{"field": name, "error": "missing"}])
    return value


def any_equal(candidates: Iterable[str], expected: str) -> bool:
    """Constant-time comparison against each candidate (Plivo sends several comma-separated signatures)."""
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.strip().encode(), expected.encode())
    return matched


def check_basic_auth(headers: Mapping[str, str], expected: str, provider: str, key: str) -> None:
    """HTTP Basic credentials ``user:password`` as configured in ``key``: 401 when absent, 403 when wrong."""
    value = header(headers, "authorization", provider)
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic" or not token:
        raise Unauthorized(f"{provider}: expected HTTP Basic credentials", details=[{"field": "authorization",
                                                                                      "error": "not Basic"}])
    try:
        given = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized(f"{provider}: malformed Basic credentials",
                           details=[{"field": "authorization", "error": "not base64"}]) from None
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden(f"{provider}: wrong credentials", details=[{"field": "authorization",
                                                                     "error": f"does not match {key}"}])


class BasicAuthVerifier:
    """``verify`` of the adapters whose senders authenticate with HTTP Basic credentials (FreeSWITCH, Asterisk,
    contact centre): the credentials protect the endpoint, not the body."""

    name: str
    secret_key: str  # the settings key holding ``user:password``

    def verify(self, request: WebhookRequest, secrets: Mapping[str, str]) -> None:
        expected = credential(secrets, self.secret_key, self.name)
        if expected is not None:
            check_basic_auth(request.headers, expected, self.name, self.secret_key)


def now(received_at: float) -> float:
    return received_at or time.time()


# -- bodies ----------------------------------------------------------------------------------
def json_object(body: bytes, provider: str) -> dict[str, Any]:
    """The JSON object of a body; ``PayloadError`` naming ``body`` when it is not one."""
    if _too_deep(body):
        raise PayloadError(f"{provider}: body nests deeper than {MAX_JSON_DEPTH} levels",
                           details=[{"field": "body", "error": f"nested deeper than {MAX_JSON_DEPTH} levels"}])
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PayloadError(f"{provider}: body is not JSON", details=[{"field": "body", "error": str(exc)[:120]}]) \
            from None
    if not isinstance(value, dict):
        raise PayloadError(f"{provider}: expected a JSON object", details=[{"field": "body", "error": "not an object"}])
    if _SURROGATE_ESCAPE.search(body):
        try:  # a lone surrogate (\ud800) decodes to a str that no store can encode
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError(f"{provider}: body holds an unpaired UTF-16 surrogate",
                               details=[{"field": "body", "error": "invalid unicode escape"}]) from None
    return value


def _too_deep(body: bytes) -> bool:
    """Whether a JSON text opens more than ``MAX_JSON_DEPTH`` arrays or objects at once (strings skipped)."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b"", body)):
        depth += 1 if bracket in b"[{" else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def text(value: object) -> str:
    """A JSON value as the string kept in ``extra`` (``None`` becomes empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten(prefix: str, value: object, into: dict[str, str], depth: int = 0) -> None:
    """Nested JSON into dotted keys of ``extra`` (bounded depth: payloads come from outside)."""
    if isinstance(value, dict) and depth < 4:
        for key, item in value.items():
            flatten(f"{prefix}.{key}" if prefix else str(key), item, into, depth + 1)
    elif isinstance(value, list) and depth < 4:
        into[prefix] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)[:2000]
    else:
        into[prefix] = text(value)[:2000]


def body_text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


__all__ = [
    "RecordDraft",
    "any_equal",
    "body_text",
    "check_basic_auth",
    "credential",
    "flatten",
    "header",
    "json_object",
    "now",
    "parse_time",
    "ref",
    "resolve",
    "text",
]
