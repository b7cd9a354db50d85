"""Derive every release field of the call-event callback from the facts of one call.

The rules come from the LINE Planet API specification ("Server release reason" and "Server Callback: Call Event"):

* ``call_end_reason``: ``data/release.csv`` by (how, party); a final SIP response first goes through
  ``data/sip_release.csv`` to a release method.
* ``terminate``: 16 when ``duration`` > 0; otherwise the simple code whose outcome in the cause catalog matches the
  outcome of ``call_end_reason`` (77 canceled, 21 rejected, 17 busy, 18 no answer), else 127.
* ``releaser``: ``initiator`` (caller), ``responder`` (callee) or the releasing server's hostname.
* ``rel_code``/``rel_code_str``: hangup's debug code table ``data/rel_codes.csv``, or the final SIP status.
* ``duration``: ``end_time - start_time``, 0 for a call that was never answered.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

from hangup.causes import default_catalog
from hangup.emit.callback import CallEvent
from hangup.emit.facts import CallFacts, ReleaseMethod, check_facts
from hangup.emit.tables import ANY_PARTY, ReleaseRule, emit_tables
from hangup.errors import PayloadError
from hangup.taxonomy import Outcome

PLANET = "planet"
PLANET_TERMINATE = "planet-terminate"
SIP = "sip"
TERMINATE_NORMAL = 16  # "If `duration` is greater than 0, `terminate` will be 16"
TERMINATE_ELSE = 127  # the "else" row of the simple release codes
RELEASER_NAMES: Mapping[str, str] = MappingProxyType({"caller": "initiator", "callee": "responder"})


def derive(facts: CallFacts, *, checked: bool = False) -> CallEvent:
    """The callback the platform sends for ``facts``; a ``PayloadError`` names any contradicting field."""
    if not checked:
        check_facts(facts)
    how = release_method(facts)
    rule = _rule(facts, how)
    duration = facts.end_time - facts.start_time if facts.answered else 0
    rel_code, rel_code_str = _rel_code(facts, how)
    return CallEvent(
        sid=facts.sid,
        from_service_id=facts.from_service_id,
        from_user_id=facts.from_user_id,
        to_service_id=facts.to_service_id,
        to_user_id=facts.to_user_id,
        type=facts.type,
        stid=facts.stid or None,
        setup_time=facts.setup_time,
        start_time=facts.start_time,
        end_time=facts.end_time,
        duration=duration,
        srcip=facts.srcip,
        dstip=facts.dstip,
        call_end_reason=rule.call_end_reason,
        terminate=terminate_for(rule.call_end_reason, duration),
        releaser=facts.server if facts.released_by == "server" else RELEASER_NAMES[facts.released_by],
        rel_code=rel_code,
        rel_code_str=rel_code_str,
        user_rel_code=facts.user_rel_code or None,
    )


def release_method(facts: CallFacts) -> ReleaseMethod:
    """The release method, with a final SIP response resolved through ``sip_release.csv``."""
    if facts.how is not ReleaseMethod.SIP_RESPONSE or facts.sip_status is None:
        return facts.how
    sip = emit_tables().sip
    status = facts.sip_status
    return sip.get(str(status)) or sip.get(f"{status // 100}xx") or ReleaseMethod.UNKNOWN


def party_of(facts: CallFacts) -> str | None:
    if facts.party is not None:
        return facts.party
    if facts.released_by != "server":
        return facts.released_by
    # a final SIP response comes from the callee's side unless the facts say otherwise
    return "callee" if facts.how is ReleaseMethod.SIP_RESPONSE else None


def _rule(facts: CallFacts, how: ReleaseMethod) -> ReleaseRule:
    release = emit_tables().release
    party = party_of(facts)
    rule = release.get((how, party or ANY_PARTY)) or release.get((how, ANY_PARTY))
    if rule is None:
        raise PayloadError(
            f"release method {how.value!r} needs the party it concerns",
            [{"field": "party", "error": f"required ('caller' or 'callee') for how={how.value!r}"}],
        )
    if rule.when == "after" and not facts.answered:
        raise PayloadError(
            f"{how.value!r} ends an answered call, but start_time is 0",
            [{"field": "start_time", "error": f"must be set (the call was answered) for how={how.value!r}"}],
        )
    if rule.when == "before" and facts.answered:
        raise PayloadError(
            f"{how.value!r} ends an unanswered call, but start_time is set",
            [{"field": "start_time", "error": f"must be 0 (the call was not answered) for how={how.value!r}"}],
        )
    return rule


def _rel_code(facts: CallFacts, how: ReleaseMethod) -> tuple[int, str]:
    if facts.how is ReleaseMethod.SIP_RESPONSE and facts.sip_status is not None:
        return facts.sip_status, sip_rel_code_str(facts.sip_status)
    entry = emit_tables().rel_codes[how]
    return entry.code, entry.name


@functools.cache
def sip_rel_code_str(status: int) -> str:
    """``SIP_486_BUSY_HERE`` when the catalog knows the status, else ``SIP_486``."""
    catalog = default_catalog()
    if SIP in catalog.schemes:
        cause = catalog.lookup(SIP, status)
        if cause.known:
            return f"SIP_{status}_" + "_".join(cause.name.upper().replace("-", " ").split())
    return f"SIP_{status}"


def terminate_for(call_end_reason: int, duration: int) -> int:
    if duration > 0:
        return TERMINATE_NORMAL
    outcome = default_catalog().lookup(PLANET, call_end_reason).outcome
    return _terminate_by_outcome().get(outcome, TERMINATE_ELSE)


@functools.cache
def _terminate_by_outcome() -> Mapping[Outcome, int]:
    """Outcome -> simple code of a call with no duration, from the catalog's ``planet-terminate`` table.

    16 is left out: it means "duration > 0", so a call answered and ended within the same second gets 127.
    """
    return MappingProxyType(
        {
            entry.outcome: entry.code
            for entry in default_catalog().entries(PLANET_TERMINATE)
            if entry.code is not None and entry.code not in (TERMINATE_ELSE, TERMINATE_NORMAL)
        }
    )
