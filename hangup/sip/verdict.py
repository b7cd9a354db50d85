"""A finished dialog as a classified ``CallRecord``: the cause chain and its precedence, in one place.

The chain (best first) handed to hangup's classifier:

1. the ``Reason: Q.850;cause=N`` values carried by the message that ended the call (the BYE, the
   CANCEL, or the final response): a gateway or a switch saying precisely why (``q850:17`` user busy,
   ``q850:34`` no circuit) is more specific than any SIP code;
2. for a BYE, its ``Reason: SIP;cause=N`` values (``SIP;cause=408`` after an RFC 4028 refresh timeout or a media
   timeout), then ``q850:16`` (normal clearing: a BYE without a reason is an ordinary hang-up), or, for BYEs
   a proxy sent itself on an answered call (its dialog lifetime limit), ``q850:102`` (recovery on timer expiry);
3. for a CANCEL or a final response, ``q850:19`` (no answer) when it is a proxy's own reply after its
   no-answer timer (``hangup.sip.proxy``), the INVITE's final status (``sip:487``, ``sip:486``), then the
   ``SIP;cause=N`` values (on a CANCEL, ``SIP;cause=200`` says the call was answered elsewhere);
4. for a dialog closed without an end (orphaned), ``sip:408`` when it was never answered (what the
   caller's Timer C would have made of it), nothing when it was answered (the cause is unknown).

Who ended the call: the sender of the BYE (its From tag against the INVITE's From tag; ``platform`` for
a proxy's own), the caller for a CANCEL, ``platform`` for a final response a proxy made itself; for any
other final response and an orphan the catalog's entry for the code decides.

What the signalling said beyond the chain (who ended the call, a reported Q.850 cause) is kept in the
record's ``extra``, so ``reclassify`` gives a stored call the same verdict again without its messages.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from hangup.bounds import digits
from hangup.causes.classify import FLAGS as CLASSIFIER_FLAGS
from hangup.providers._common import RecordDraft
from hangup.records import VERDICT_NAMES, CallRecord
from hangup.sip.dialog import Dialog, Ending, fixed_point
from hangup.sip.message import user_of
from hangup.sip.proxy import GENERATED_BY, LIFETIME, NO_ANSWER, PROXY_ENDING
from hangup.sip.reason import Reason

PROVIDER: Final = "sip"
#: Flag of a dialog closed by timeout (the name the emitter uses for calls started and never ended).
ORPHANED: Final = "orphaned"
#: Flag of a call whose BYE was seen but never the 2xx that answered it.
ANSWER_NOT_SEEN: Final = "answer_not_seen"
#: ``extra`` keys of what the signalling said that the classifier is told besides the chain.
ENDED_BY: Final = "ended_by"
REPORTED_Q850: Final = "reported_q850"
REPORTED_SIP: Final = "reported_sip"


def chain_of(ending: Ending, answered: bool, generated: str | None = None) -> list[str]:
    """The cause fallback chain of an ending (module docstring), best first; ``generated`` is the kind of
    ending a proxy made itself (``hangup.sip.proxy``), if any."""
    q850: list[str] = []
    sip: list[str] = []
    for reason in ending.reasons:
        ref = reason.ref  # made once per reason
        if ref and ref.startswith("q850:"):
            q850.append(ref)
        elif ref and ref.startswith("sip:"):
            sip.append(ref)
    if ending.how == "BYE":
        return _refs([*q850, *sip, "q850:102" if generated == LIFETIME else "q850:16"])
    if ending.how == "orphaned":
        return _refs([*q850, *sip] if answered else [*q850, "sip:408", *sip])
    no_answer = "q850:19" if generated == NO_ANSWER else None
    return _refs([*q850, no_answer, f"sip:{ending.code}" if ending.code else None, *sip])


def _refs(refs: list[str | None]) -> list[str]:
    """The references given, in order, each once; absent ones (``None``) left out."""
    out: list[str] = []
    for ref in refs:
        if ref and ref not in out:
            out.append(ref)
    return out


def record_of(dialog: Dialog, ending: Ending, received_at: float, flags: tuple[str, ...] = (),
              generated: str | None = None) -> CallRecord:
    """The classified record of a finished (or force-closed) dialog; ``generated`` as for ``chain_of``."""
    answered = dialog.answered is not None or ending.how == "BYE"
    draft = RecordDraft(PROVIDER, provider_call_id=dialog.call_id, from_user_id=user_of(dialog.from_value),
                        to_user_id=user_of(dialog.to_value), received_at=received_at)
    draft.route = dialog.route
    draft.setup_time = int(dialog.setup)
    draft.end_time = int(max(ending.time, dialog.setup))
    if dialog.answered is not None:
        draft.start_time = int(dialog.answered)
        draft.duration = max(0, round(ending.time - dialog.answered))
    draft.answered = answered
    draft.chain = chain_of(ending, answered, generated)
    draft.ended_by = ended_by = "platform" if generated else ending.by
    draft.sip = sip = _final_code(dialog, ending)
    draft.q850 = q850 = _q850_cause(ending.reasons)
    draft.flags = list(flags)
    if answered and dialog.answered is None:
        draft.flags.append(ANSWER_NOT_SEEN)
    draft.extra = extra = _extra(dialog, ending)
    if generated:
        extra[GENERATED_BY] = "proxy"
        extra[PROXY_ENDING] = generated
    _keep_evidence(extra, ended_by, q850, sip)
    draft.raw = "\n\n".join(dialog.raw)
    return draft.finish()


def keep_evidence(draft: RecordDraft) -> None:
    """Write into ``extra`` what the classifier is told besides the chain, so ``reclassify`` can tell it again."""
    _keep_evidence(draft.extra, draft.ended_by, draft.q850, draft.sip)


def _keep_evidence(extra: dict[str, str], ended_by: str | None, q850: int | None, sip: int | None) -> None:
    if ended_by:
        extra[ENDED_BY] = ended_by
    if q850 is not None:
        extra[REPORTED_Q850] = str(q850)
    if sip is not None:
        extra[REPORTED_SIP] = str(sip)


def _q850_cause(reasons: tuple[Reason, ...]) -> int | None:
    """The cause of the first Q.850 reason, if any."""
    for reason in reasons:
        if reason.protocol.upper() == "Q.850":
            return reason.cause
    return None


def _number(text: str | None) -> int | None:
    return digits(text) if text else None


#: What ``reclassify`` derives again: every verdict field of the record (the classifier's, the parties' numbers
#: with today's numbering plans, ``answered_by``) but the route, which keeps the carrier it was mapped to: the
#: address a dialog's INVITE was sent to is not kept apart from it.
REDERIVED = tuple(name for name in VERDICT_NAMES if name != "route")


def reclassify(record: CallRecord) -> CallRecord:
    """A stored SIP call classified again from what its signalling said (``hangup reclassify``).

    The draft is rebuilt from the record and its ``extra`` exactly as ``record_of`` filled it, so an
    unchanged catalog gives the same verdict and a changed one is applied.
    """
    extra = dict(record.extra)
    draft = RecordDraft(record.provider, provider_call_id=record.provider_call_id,
                        from_user_id=record.from_user_id, to_user_id=record.to_user_id,
                        setup_time=record.setup_time, start_time=record.start_time, end_time=record.end_time,
                        duration=record.duration, answered=record.answered, chain=list(record.causes),
                        ended_by=extra.get(ENDED_BY) or None,
                        q850=_number(extra.get(REPORTED_Q850)), sip=_number(extra.get(REPORTED_SIP)),
                        flags=[f for f in record.flags if f not in CLASSIFIER_FLAGS], extra=extra, route=record.route,
                        raw=record.raw, received_at=record.received_at)
    fresh = draft.finish()
    return replace(record, **{name: getattr(fresh, name) for name in REDERIVED})


def _final_code(dialog: Dialog, ending: Ending) -> int | None:
    if dialog.answered is not None or ending.how == "BYE":
        return 200
    return ending.code or None


def _extra(dialog: Dialog, ending: Ending) -> dict[str, str]:
    """The dialog's facts that have no ``CallRecord`` field; times are seconds with millisecond precision."""
    extra = {
        "ended_with": ending.how,
        "from": dialog.from_value,
        "to": dialog.to_value,
        "from_tag": dialog.caller_tag,
        "hops": " ".join(dialog.hops),
        "transport": dialog.transport,
    }
    # the facts a dialog may lack, each only when present (an empty joined list is absent too)
    if dialog.ringing is not None:
        extra["pdd"] = fixed_point(dialog.ringing - dialog.setup, 3)
    if dialog.answered is not None:
        extra["answer_delay"] = fixed_point(dialog.answered - dialog.setup, 3)
    if ending.code:
        extra["final_code"] = str(ending.code)
    if dialog.answer_tag:
        extra["to_tag"] = dialog.answer_tag
    if len(dialog.early_tags) > 1:
        extra["early_dialogs"] = str(len(dialog.early_tags))
    if dialog.challenges:
        extra["challenges"] = str(dialog.challenges)
    if dialog.redirects:
        extra["redirects"] = " ".join(map(str, dialog.redirects))
    if dialog.branch_codes:
        extra["branch_codes"] = " ".join(map(str, dialog.branch_codes))
    if dialog.reasons:
        extra["reasons"] = " | ".join(dialog.reasons)
    if ending.reasons:
        extra["ending_reasons"] = " | ".join(map(str, ending.reasons))
    if dialog.vias:
        extra["via"] = " | ".join(dialog.vias)
    return extra
