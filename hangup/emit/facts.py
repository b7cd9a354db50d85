"""The facts a VoIP platform knows when a call ends, as hangup's emitter takes them.

``CallFacts`` is the input of ``derive``: who called whom, the times, which side released the
call and how. It is validated twice: msgspec checks types while decoding, ``check_facts`` checks
the rules between fields and names every field that breaks one.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Any, Literal, TypeVar

import msgspec

from hangup import bounds
from hangup.errors import PayloadError

T = TypeVar("T")

Party = Literal["caller", "callee"]
Releaser = Literal["caller", "callee", "server"]

SID_LENGTH = 36  # LINE Planet API specification: "Fixed size of 36 bytes without null"
_SID_RE = re.compile(r"[\x21-\x7e]{36}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class ReleaseMethod(StrEnum):
    """How the call was released (one row group of ``data/release.csv``)."""

    BYE = "bye"
    CANCEL = "cancel"
    SIP_RESPONSE = "sip_response"  # a final SIP response ended the unanswered call; needs sip_status
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECT = "reject"
    NETWORK_LOSS = "network_loss"
    DEVICE_ERROR = "device_error"
    CELLULAR_CALL = "cellular_call"
    OS_INTERRUPTION = "os_interruption"
    AUTH_FAILURE = "auth_failure"
    PUSH_FAILURE = "push_failure"
    SERVER_ERROR = "server_error"
    CLIENT_ERROR = "client_error"
    PROTOCOL_ERROR = "protocol_error"
    OTHER_DEVICE_IN_USE = "other_device_in_use"
    ORPHANED = "orphaned"  # set by the emitter for a started call that never reported its end
    UNKNOWN = "unknown"


class CallFacts(msgspec.Struct, kw_only=True, frozen=True):
    """Raw facts of one ended call; times are Unix seconds."""

    sid: str  # the call's session id, 36 characters (a UUID)
    from_service_id: str
    from_user_id: str
    to_service_id: str
    to_user_id: str
    type: Literal["A", "V"] = "A"  # audio or video
    setup_time: int  # when the call was made
    start_time: int = 0  # when the callee answered; 0 = never answered
    end_time: int  # when the call ended
    released_by: Releaser  # which side released the call
    server: str = ""  # hostname of the releasing server; required when released_by is "server"
    how: ReleaseMethod
    party: Party | None = None  # the party the reason concerns; defaults to released_by, or callee for SIP responses
    sip_status: int | None = None  # the final SIP response, for how="sip_response"
    user_rel_code: str | None = None  # the application's own release code (Planet user_rel_code)
    stid: str | None = None  # application data from MakeCall()
    srcip: str  # caller IP address (IPv4 or IPv6)
    dstip: str  # callee IP address

    @property
    def answered(self) -> bool:
        return self.start_time > 0


def decode_json(body: bytes, kind: type[T], what: str) -> T:
    """A JSON body as ``kind``; every problem is a ``PayloadError`` naming the field."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise PayloadError(f"invalid {what}: {exc}", [msgspec_detail(str(exc))]) from None
    except msgspec.DecodeError as exc:
        raise PayloadError(f"body is not JSON: {exc}", [{"field": "$", "error": str(exc)}]) from None
    except RecursionError:  # msgspec recurses per nesting level: 1,000 levels exhaust the stack
        raise PayloadError("body is not JSON hangup reads", [{"field": "$", "error": "nested too deeply"}]) from None


def decode_facts(body: bytes) -> CallFacts:
    """Decode and check a JSON body; every problem is a ``PayloadError`` naming the field."""
    facts = decode_json(body, CallFacts, "call facts")
    check_facts(facts)
    return facts


def facts_from_dict(data: dict[str, Any]) -> CallFacts:
    """Build checked facts from a mapping (library callers)."""
    try:
        facts = msgspec.convert(data, type=CallFacts)
    except msgspec.ValidationError as exc:
        raise PayloadError(f"invalid call facts: {exc}", [msgspec_detail(str(exc))]) from None
    check_facts(facts)
    return facts


def msgspec_detail(message: str) -> dict[str, str]:
    """The ``{field, error}`` detail of a msgspec validation message."""
    # msgspec ends its messages with "- at `$.field`" or names a missing field in backquotes
    if "- at `$." in message:
        return {"field": message.rsplit("- at `$.", 1)[1].rstrip("`"), "error": message.split(" - at ")[0]}
    if "missing required field `" in message:
        return {"field": message.split("`")[1], "error": "missing required field"}
    return {"field": "$", "error": message}


def party_problems(facts: object) -> list[tuple[str, str]]:
    """What a receiver would refuse in the identifying fields of call facts or call-start facts."""
    problems: list[tuple[str, str]] = []
    if not _SID_RE.fullmatch(getattr(facts, "sid", "")):
        problems.append(("sid", f"must be {SID_LENGTH} printable ASCII characters without spaces"))
    for name in ("from_service_id", "from_user_id", "to_service_id", "to_user_id"):
        if not getattr(facts, name).strip():
            problems.append((name, "must not be empty"))
    for name in ("from_service_id", "from_user_id", "to_service_id", "to_user_id", "stid", "user_rel_code"):
        if _CONTROL_RE.search(getattr(facts, name, None) or ""):
            problems.append((name, "must not contain control characters"))
    for name in ("srcip", "dstip"):
        try:
            ipaddress.ip_address(getattr(facts, name))
        except ValueError:
            problems.append((name, "must be an IPv4 or IPv6 address"))
    return problems


def check_facts(facts: CallFacts) -> None:
    """The rules between fields; raise one ``PayloadError`` listing every broken rule."""
    problems: list[dict[str, str]] = []

    def bad(field: str, error: str) -> None:
        problems.append({"field": field, "error": error})

    for field, error in party_problems(facts):
        bad(field, error)
    for name in ("setup_time", "start_time", "end_time"):  # the receiver refuses a callback with others
        problem = bounds.TIME.error(getattr(facts, name))
        if problem and getattr(facts, name) > 0:
            bad(name, problem)
    if facts.answered and facts.end_time - facts.start_time > bounds.MAX_DURATION:
        bad("end_time", f"more than {bounds.MAX_DURATION} s (7 days) after start_time")
    if facts.setup_time <= 0:
        bad("setup_time", "must be a positive Unix time in seconds")
    if facts.start_time < 0:
        bad("start_time", "must be 0 (not answered) or a Unix time in seconds")
    elif facts.answered and facts.start_time < facts.setup_time:
        bad("start_time", "must not be before setup_time")
    if facts.end_time < max(facts.setup_time, facts.start_time):
        bad("end_time", "must not be before setup_time or start_time")
    if facts.released_by == "server" and not facts.server:
        bad("server", "the releasing server's hostname is required when released_by is 'server'")
    if facts.how is ReleaseMethod.SIP_RESPONSE:
        if facts.sip_status is None or not 400 <= facts.sip_status <= 699:
            bad("sip_status", "a final SIP response status 400-699 is required when how is 'sip_response'")
    elif facts.sip_status is not None:
        bad("sip_status", "only allowed when how is 'sip_response'")
    if problems:
        summary = "; ".join(f"{p['field']}: {p['error']}" for p in problems)
        raise PayloadError(f"invalid call facts: {summary}", problems)
