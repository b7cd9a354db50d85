"""The canonical call record every adapter produces and every store keeps.

A ``CallRecord`` is built once per call-end event, after validation, and never changes. Times are
integer Unix seconds (0 means "did not happen" or "not reported", as in the Planet callback);
durations are integer seconds. Native values that have no canonical field stay in ``extra``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Direction = Literal["inbound", "outbound", "unknown"]
CallType = Literal["A", "V"]

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
    prefix = CALL_ID_NAMESPACE.bytes + f"{provider}:".encode()
    sha1, variant = hashlib.sha1, _VARIANT
    ids: list[str] = []
    append = ids.append
    for provider_call_id in provider_call_ids:
        x = sha1(prefix + provider_call_id.encode("utf-8")).hexdigest()
        append(f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{variant[x[16]]}{x[17:20]}-{x[20:32]}")
    return ids


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One ended call, classified."""

    id: str  # hangup's id: the Planet sid itself, else call_id_for(provider, provider_call_id)
    provider: str  # adapter name: planet, plivo, twilio, telnyx, vonage, freeswitch, asterisk, callcenter, generic
    provider_call_id: str  # the platform's own call id (Planet sid, Plivo CallUUID, Twilio CallSid …)
    from_service_id: str  # caller's service (Planet from_service_id; empty where platforms have none)
    from_user_id: str  # caller: Planet from_user_id, or the From number / SIP URI
    to_service_id: str  # callee's service
    to_user_id: str  # callee: Planet to_user_id, or the To number / SIP URI
    call_type: CallType  # "A" audio, "V" video (Planet `type`; telephony platforms are audio)
    setup_time: int  # Unix s when the call was made (Planet setup_time); 0 = not reported
    start_time: int  # Unix s when the call was answered (Planet start_time); 0 = never answered
    end_time: int  # Unix s when the call ended; 0 = not reported
    duration: int  # seconds of conversation as the platform reports it (Planet: end_time - start_time)
    answered: bool  # the call was connected (duration > 0 or start_time > 0, or the platform says so)
    direction: Direction = "unknown"  # as seen by the platform
    stid: str | None = None  # Planet stid: application data from MakeCall(); None when absent or empty
    srcip: str = ""  # caller IP address (Planet srcip)
    dstip: str = ""  # callee IP address (Planet dstip)
    call_end_reason: int | None = None  # Planet detail release code 1000–1100
    terminate: int | None = None  # Planet simple release code (Q.850 subset)
    releaser: str = ""  # Planet: initiator, responder, or a VoIP server's hostname
    rel_code: int | None = None  # Planet debug release code
    rel_code_str: str = ""  # Planet debug release code text
    user_rel_code: str | None = None  # Planet application-defined release code
    cause: str = ""  # the primary native cause as a catalog reference, e.g. "planet:1005", "plivo:4000"
    causes: tuple[str, ...] = ()  # every native code the event carried, as catalog references
    outcome: str = "unknown"  # hangup.causes.Outcome value
    ended_by: str = "unknown"  # hangup.causes.EndedBy value
    fault: str = "unknown"  # hangup.causes.Fault value
    normal: bool = False  # the call ended as an ordinary, non-failure event
    reason: str = ""  # plain words: why the call ended
    q850: int | None = None  # Q.850 equivalent of the primary cause
    sip: int | None = None  # SIP final response equivalent (or the reported SIP status)
    flags: tuple[str, ...] = ()  # contradictions and oddities found at ingest (see docs)
    extra: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # native fields without a canonical place
    raw: str = ""  # the request exactly as received (query string or body)
    received_at: float = 0.0  # Unix s (fractional) when hangup received the event

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "provider_call_id": self.provider_call_id,
            "from_service_id": self.from_service_id,
            "from_user_id": self.from_user_id,
            "to_service_id": self.to_service_id,
            "to_user_id": self.to_user_id,
            "type": self.call_type,
            "setup_time": self.setup_time,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration": self.duration,
            "answered": self.answered,
            "direction": self.direction,
            "stid": self.stid,
            "srcip": self.srcip,
            "dstip": self.dstip,
            "call_end_reason": self.call_end_reason,
            "terminate": self.terminate,
            "releaser": self.releaser,
            "rel_code": self.rel_code,
            "rel_code_str": self.rel_code_str,
            "user_rel_code": self.user_rel_code,
            "cause": self.cause,
            "causes": list(self.causes),
            "outcome": self.outcome,
            "ended_by": self.ended_by,
            "fault": self.fault,
            "normal": self.normal,
            "reason": self.reason,
            "q850": self.q850,
            "sip": self.sip,
            "flags": list(self.flags),
            "extra": dict(self.extra),
            "received_at": self.received_at,
        }
