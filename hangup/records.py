"""The canonical call record every adapter produces and every store keeps.

A ``CallRecord`` is built once per call-end event, after validation, and never changes. Times are
integer Unix seconds (0 means "did not happen" or "not reported", as in the Planet callback);
durations are integer seconds. Native values that have no canonical field stay in ``extra``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from functools import lru_cache
from hashlib import sha1
from types import MappingProxyType
from typing import Annotated, Any, Literal, cast

from hangup.record_fields import Choices, Fact, JsonKey, RecordField, Role, Verdict, build_function, describe
from hangup.taxonomy import EndedBy, Fault, Outcome

Direction = Literal["inbound", "outbound", "unknown"]
CallType = Literal["A", "V"]
#: Who or what answered (the platform's answering-machine detection, ``hangup.providers.answered``).
AnsweredBy = Literal["human", "machine", "fax", "unknown"]

#: Namespace of the deterministic ids hangup gives calls of platforms whose own ids are not UUIDs.
CALL_ID_NAMESPACE = uuid.UUID("6f1c3b1e-2f55-4c1e-9d0a-1f6a2e7c8b40")

_EMPTY: Mapping[str, str] = MappingProxyType({})


#: The variant field's first hex digit is binary 10xx (RFC 4122): its two low bits come from the hash.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def call_id_for(provider: str, provider_call_id: str) -> str:
    """hangup's id for a platform's call id: the same call always gets the same id (idempotency)."""
    return call_ids(provider, (provider_call_id,))[0]


def call_ids(provider: str, provider_call_ids: Sequence[str]) -> list[str]:
    """``call_id_for`` of many ids of one platform (bulk imports read a million at once).

    The UUIDv5 ``uuid.uuid5`` gives, its version and variant bits set in the hex text instead of building a
    ``UUID`` per id: a fifth of the time.
    """
    if provider == "planet":
        return list(provider_call_ids)
    prefix, variant = _prefix(provider), _VARIANT
    ids: list[str] = []
    append = ids.append
    for provider_call_id in provider_call_ids:
        x = sha1(prefix + provider_call_id.encode("utf-8")).hexdigest()
        append(f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{variant[x[16]]}{x[17:20]}-{x[20:32]}")
    return ids


@lru_cache(maxsize=256)  # one per platform; the ingest of each call asks
def _prefix(provider: str) -> bytes:
    """What a platform's call ids are hashed after: the namespace, the platform's name and a colon."""
    return CALL_ID_NAMESPACE.bytes + f"{provider}:".encode()


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One ended call, classified.

    This declaration is the one list of the record's fields: the stored columns, ``to_json``, the row
    codec, exports, imports and the OpenAPI schema are built from it (``FIELDS``, ``hangup/record_fields.py``).
    ``Fact[…]`` marks what the platform reported, ``Verdict[…]`` what hangup's classification derived.
    """

    id: str  # hangup's id: the Planet sid itself, else call_id_for(provider, provider_call_id)
    provider: Fact[str]  # adapter: planet, plivo, twilio, telnyx, vonage, freeswitch, asterisk, callcenter, generic
    provider_call_id: Fact[str]  # the platform's own call id (Planet sid, Plivo CallUUID, Twilio CallSid …)
    from_service_id: Fact[str]  # caller's service (Planet from_service_id; empty where platforms have none)
    from_user_id: Fact[str]  # caller: Planet from_user_id, or the From number / SIP URI
    to_service_id: Fact[str]  # callee's service
    to_user_id: Fact[str]  # callee: Planet to_user_id, or the To number / SIP URI
    # "A" audio, "V" video (Planet `type`, the name JSON keeps; telephony platforms are audio)
    call_type: Fact[Annotated[CallType, JsonKey("type")]]
    setup_time: Fact[int]  # Unix s when the call was made (Planet setup_time); 0 = not reported
    start_time: Fact[int]  # Unix s when the call was answered (Planet start_time); 0 = never answered
    end_time: Fact[int]  # Unix s when the call ended; 0 = not reported
    duration: Fact[int]  # seconds of conversation as the platform reports it (Planet: end_time - start_time)
    answered: Fact[bool]  # the call was connected (duration > 0 or start_time > 0, or the platform says so)
    direction: Fact[Direction] = "unknown"  # as seen by the platform
    stid: Fact[str | None] = None  # Planet stid: application data from MakeCall(); None when absent or empty
    srcip: Fact[str] = ""  # caller IP address (Planet srcip)
    dstip: Fact[str] = ""  # callee IP address (Planet dstip)
    call_end_reason: Fact[int | None] = None  # Planet detail release code 1000–1100
    terminate: Fact[int | None] = None  # Planet simple release code (Q.850 subset)
    releaser: Fact[str] = ""  # Planet: initiator, responder, or a VoIP server's hostname
    rel_code: Fact[int | None] = None  # Planet debug release code
    rel_code_str: Fact[str] = ""  # Planet debug release code text
    user_rel_code: Fact[str | None] = None  # Planet application-defined release code
    cause: Verdict[str] = ""  # the primary native cause as a catalog reference, e.g. "planet:1005", "plivo:4000"
    causes: Verdict[tuple[str, ...]] = ()  # every native code the event carried, as catalog references
    outcome: Verdict[Annotated[str, Choices(Outcome)]] = "unknown"  # how the call ended (docs/taxonomy.md)
    ended_by: Verdict[Annotated[str, Choices(EndedBy)]] = "unknown"  # which party released it
    fault: Verdict[Annotated[str, Choices(Fault)]] = "unknown"  # where to look when it ended badly
    normal: Verdict[bool] = False  # the call ended as an ordinary, non-failure event
    reason: Verdict[str] = ""  # plain words: why the call ended
    q850: Verdict[int | None] = None  # Q.850 equivalent of the primary cause
    sip: Verdict[int | None] = None  # SIP final response equivalent (or the reported SIP status)
    flags: Verdict[tuple[str, ...]] = ()  # contradictions and oddities found at ingest (see docs)
    # Where the call went and between which numbers (hangup.routes, hangup.numbers): derived from the facts
    # at ingest with the route map and numbering regions of the time, so Verdicts, rewritten on reclassify.
    route: Verdict[str] = ""  # carrier, trunk or next hop the platform reports (docs/providers.md, "Routes")
    from_e164: Verdict[str] = ""  # caller as E.164 ("+4930…"); "" when from_user_id is not a valid number
    from_country: Verdict[str] = ""  # caller's ISO 3166-1 region ("DE"); "" when not a number
    to_e164: Verdict[str] = ""  # callee as E.164; "" when to_user_id is not a valid number
    to_country: Verdict[str] = ""  # callee's ISO 3166-1 region
    to_number_type: Verdict[str] = ""  # callee's number type: mobile, fixed_line, toll_free … (libphonenumber)
    to_prefix: Verdict[str] = ""  # first HANGUP_PREFIX_DEPTH digits of to_e164, country code included
    # human, machine (voicemail), fax or unknown: hangup's reading of the platform's answering-machine detection,
    # whose raw value stays in extra (AnsweredBy, amd_result …); a verdict, so reclassify fills it for stored calls
    # and the digest of the facts (extra included) is unchanged by it; unknown when not answered or not detected
    answered_by: Verdict[AnsweredBy] = "unknown"
    extra: Fact[Mapping[str, str]] = field(default_factory=lambda: _EMPTY)  # native fields without a canonical place
    # the platform's id of this leg, for platforms that write one record per leg of a call (hangup/legs.py);
    # "" when a record is the whole call. Not a Fact: two legs of one call differ in it by definition.
    leg_id: str = ""
    # the request exactly as received (query string or body); left out of to_json, whose readers get it apart
    raw: Annotated[str, JsonKey(None)] = ""
    received_at: float = 0.0  # Unix s (fractional) when hangup received the event

    def to_json(self) -> dict[str, Any]:
        """The call as the API shows it: every field but ``raw``, lists as arrays and ``extra`` as an object."""
        return _to_json(self)


#: ``CallRecord``'s fields, described (``hangup.record_fields.RecordField``), in declaration order.
FIELDS: tuple[RecordField, ...] = describe(CallRecord)
#: The keys of ``CallRecord.to_json()``, in order.
JSON_KEYS: tuple[str, ...] = tuple(f.json_key for f in FIELDS if f.json_key is not None)
#: The fields classification derives (``Verdict[…]``): what ``hangup reclassify`` derives again and rewrites.
VERDICT_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS if f.role is Role.VERDICT)


def _json_value(f: RecordField) -> str:
    """How ``to_json`` writes a field: lists as arrays, maps as objects, every other value as it is."""
    if f.kind == "list":
        return f"list(r.{f.name})"
    if f.kind == "map":
        return f"dict(r.{f.name})"
    return f"r.{f.name}"


_JSON_ITEMS = ", ".join(f"{f.json_key!r}: {_json_value(f)}" for f in FIELDS if f.json_key is not None)
_to_json = cast(Callable[[CallRecord], dict[str, Any]], build_function("to_json", "r", f"{{{_JSON_ITEMS}}}", {}))


# -- building records fast -----------------------------------------------------------------------
#: A class with ``CallRecord``'s slots in its order but no frozen ``__setattr__``: ``record_maker``'s functions fill
#: one with plain attribute stores, then make it a ``CallRecord`` by ``__class__`` assignment, which Python allows
#: between classes of the same layout (same base, same ``__slots__``) and checks when assigning.
_Filling = type("_Filling", (), {"__slots__": tuple(f.name for f in FIELDS), "__module__": __name__})


def record_maker(parameters: str, values: Mapping[str, str],
                 namespace: Mapping[str, Any] | None = None) -> Callable[..., CallRecord]:
    """``def make(parameters)`` returning the ``CallRecord`` whose fields are ``values``' Python expressions
    (field name → expression over the parameters and ``namespace``), every other field its default.

    The record equals what ``CallRecord(**fields)`` gives and is as frozen; it costs a tenth: the dataclass's
    ``__init__`` sets each field through ``object.__setattr__`` (what a frozen class must do), and a call by
    keyword matches fifty names. A ``RecordDraft`` is finished into a record for every call hangup ingests.
    """
    if hasattr(CallRecord, "__post_init__"):  # the dataclass's __init__ would run it; these functions do not
        raise TypeError("record_maker: CallRecord has a __post_init__")
    names = {f.name for f in FIELDS}
    if set(values) - names:
        raise TypeError(f"record_maker: {sorted(set(values) - names)} are not CallRecord fields")
    scope: dict[str, Any] = {**(namespace or {}), "_new": object.__new__, "_Filling": _Filling,
                             "_CallRecord": CallRecord}
    statements = ["r = _new(_Filling)"]
    for f in fields(CallRecord):
        if f.name in values:
            expression = values[f.name]
        elif f.default is not MISSING:
            expression, scope[f"_default_{f.name}"] = f"_default_{f.name}", f.default
        elif f.default_factory is not MISSING:
            expression, scope[f"_factory_{f.name}"] = f"_factory_{f.name}()", f.default_factory
        else:
            raise TypeError(f"record_maker: the required field {f.name!r} has no value")
        statements.append(f"r.{f.name} = {expression}")
    statements.append("r.__class__ = _CallRecord")
    return cast(Callable[..., CallRecord], build_function("make_record", parameters, "r", scope, statements))
