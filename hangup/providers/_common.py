"""What every platform adapter shares besides the record builder: credential rules and body readers.

The builder itself is ``hangup.providers.draft.RecordDraft`` and the cause rule is
``hangup.causes.classify``; both are re-exported here for the adapters that import them from this module.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from hangup.causes.classify import resolve
from hangup.errors import Forbidden, InvalidPayload, PayloadError, Unauthorized
from hangup.providers.base import SettingRow, WebhookRequest
from hangup.providers.draft import MAX_INTEGER, MAX_TIME, RecordDraft, parse_time, ref
from hangup.providers.jsondocs import encodable
from hangup.records import CallRecord

_TRUE = frozenset({"1", "true", "yes", "on"})
#: The error a field (or body) holding a lone surrogate is refused with.
UNPAIRED = "invalid unicode escape"
#: Where ``json.loads`` may give a lone surrogate: a ``\ud800`` escape, or one encoded as UTF-8 bytes (``\xed\xa0\x80``,
#: which ``json.loads`` of bytes decodes with "surrogatepass"), or a UTF-16/32 body (told by its NUL bytes).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]|\xed[\xa0-\xbf]|\x00")
#: Deepest JSON nesting read from a body: real payloads nest 3 or 4 levels; deeper is an attack on the parser.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")


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


def credential_settings(provider: str, key: str, secret_help: str, unsigned_help: str) -> tuple[SettingRow, ...]:
    """The settings rows ``credential`` reads: the secret ``key`` and ``<provider>_accept_unsigned``."""
    return (SettingRow(key, "", secret_help, "secret"),
            SettingRow(f"{provider}_accept_unsigned", "false", unsigned_help, "bool"))


def zone_setting(provider: str, what: str) -> SettingRow:
    """``<provider>_timezone``: the zone of times ``provider``'s posts write without an offset (``ingest.parse``)."""
    return SettingRow(f"{provider}_timezone", "", f"Time zone (IANA name, e.g. Europe/Paris) of {what} written "
                      "without an offset; empty: UTC.", "timezone")


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


def own_number(direction: str, caller: str, callee: str) -> str:
    """The platform account's own number on a call: the callee of an inbound call, the caller (caller id)
    of an outbound one, ``""`` when the direction is unknown. The route of platforms that report no trunk."""
    return callee if direction == "inbound" else caller if direction == "outbound" else ""


def now(received_at: float) -> float:
    return received_at or time.time()


def detected_call(provider: str, field: str, value: object) -> str:
    """The call id of an answering-machine detection request (``Provider.detection``); ``InvalidPayload`` naming
    ``field`` when it is absent or not an id (a control character, which PostgreSQL cannot hold). An adapter
    calls it from ``parse`` too, so such a request is refused (400, quarantined) before it is kept."""
    draft = RecordDraft(provider)
    call_id = draft.identifier(field, value)
    if not call_id and not draft.errors:
        draft.error(field, "required")
    if draft.errors:
        raise InvalidPayload(f"{provider}: the answering-machine detection names no call", details=draft.errors)
    return call_id


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
    # a lone surrogate (\ud800) decodes to a str that no store can encode
    if _SURROGATE_ESCAPE.search(body) and not encodable(json.dumps(value, ensure_ascii=False)):
        raise PayloadError(f"{provider}: body holds an unpaired UTF-16 surrogate",
                           details=[{"field": "body", "error": UNPAIRED}])
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


def form_body(text: str, from_rest: Callable[[Mapping[str, Any]], dict[str, str]] | None = None) -> bytes:
    """A form-encoded body, given as itself or as a JSON object of its parameters (one record of an import);
    ``from_rest`` turns a platform's REST call record into its callback's parameters first."""
    if not text.startswith("{"):
        return text.encode()
    data = json.loads(text)
    if not isinstance(data, dict):
        raise PayloadError("expected a JSON object", details=[{"field": "line", "error": "not an object"}])
    unpaired = [_escaped(k) for k, v in data.items() if not encodable(k) or isinstance(v, str) and not encodable(v)]
    if unpaired:  # a lone surrogate (read from a \ud800 escape) cannot be form-encoded: name the record's own key
        raise PayloadError("a field holds an unpaired UTF-16 surrogate",
                           details=[{"field": k, "error": UNPAIRED} for k in unpaired])
    if from_rest is not None:
        data = from_rest(data)
    return urlencode({str(k): "" if v is None else str(v) for k, v in data.items()}).encode()


def _escaped(text: str) -> str:
    """``text`` (its first 64 characters) with a lone surrogate written as its ``\\ud800`` escape, which UTF-8
    (a rejects file) can hold."""
    return text[:64].encode("utf-8", "backslashreplace").decode("utf-8")


# -- reading a stored call again ---------------------------------------------------------------
def stored_request(record: CallRecord, content_type: str = "", body: bytes | None = None) -> WebhookRequest:
    """A POST of the stored call's ``raw`` (or of ``body``), to read the call again (``Provider.reclassify``)."""
    headers = {"content-type": content_type} if content_type else {}
    return WebhookRequest("POST", "", "", record.raw.encode() if body is None else body, headers,
                          record.received_at)


def stored_json_or_text(record: CallRecord) -> WebhookRequest:
    """``stored_request`` of an adapter whose body is a JSON object or text (CSV) it tells apart itself."""
    return stored_request(record, "application/json" if record.raw.startswith("{") else "text/plain")


def stored_form(record: CallRecord) -> WebhookRequest:
    """``stored_request`` of a form-encoded callback: its body, its GET query, or an imported JSON object."""
    return stored_request(record, "application/x-www-form-urlencoded", form_body(record.raw))


__all__ = [
    "MAX_INTEGER",
    "MAX_TIME",
    "RecordDraft",
    "any_equal",
    "body_text",
    "check_basic_auth",
    "credential",
    "credential_settings",
    "detected_call",
    "flatten",
    "form_body",
    "header",
    "json_object",
    "now",
    "parse_time",
    "ref",
    "resolve",
    "stored_form",
    "stored_json_or_text",
    "stored_request",
    "text",
    "zone_setting",
]
