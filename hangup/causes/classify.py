"""The one classifier: what a platform said about a call's end → hangup's verdict on it.

Every adapter, the Planet callback, the column-wise importer (through its adapter) and ``hangup
reclassify`` call ``classify``; the rule is written only here. Its input is ``Evidence``:

``chain``
    the event's cause references (``scheme:key``), best first: the adapter's explicit fallback chain.
    The first one the catalog knows with a definite outcome is the primary cause (else the first
    known one, else the first given); it gives ``cause``, ``outcome``, ``fault``, ``normal`` and
    ``reason``. Every reference, chain then sources, is kept in ``causes`` as the catalog spells it.
``sources``
    references that only say who hung up (``plivo-source:Caller``); the first the catalog knows with
    a definite party decides ``ended_by``.
``ended_by``
    the adapter's own answer when it knows better than the catalog (e.g. FreeSWITCH's
    ``sip_hangup_disposition`` read with the leg's direction); it wins.
``releaser``
    the party the platform names when neither the sources nor the primary cause say (Planet's
    ``releaser``); used last.
``q850`` / ``sip``
    codes the platform reported itself; they win over the primary cause's equivalents.
``answered``
    whether the call was connected: a cause that says otherwise is flagged (``FLAGS``), not changed.

The catalog's part of the answer depends only on (chain, sources, catalog), and an import repeats a
few hundred chains millions of times, so that part is computed once per chain (``_JUDGED``): a call
whose adapter says nothing more gets the cached ``Verdict`` itself (named tuples, immutable and cheap).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from hangup.causes.catalog import CauseCatalog, default_catalog
from hangup.causes.model import Cause
from hangup.errors import CatalogError
from hangup.records import VERDICT_NAMES
from hangup.taxonomy import EndedBy, Outcome

#: Flags the classifier sets, and what each means (adapters add their own; see ``hangup.ingest``).
FLAGS: Mapping[str, str] = {
    "answered_but_busy": "the call was answered, but its cause says the callee was busy",
    "answered_but_no_answer": "the call was answered, but its cause says nobody answered",
    "answered_but_rejected": "the call was answered, but its cause says it was rejected",
    "answered_but_canceled": "the call was answered, but its cause says it was canceled before answer",
    "answered_but_unreachable": "the call was answered, but its cause says the destination was unreachable",
    "completed_without_answer": "the cause says the call completed normally, but it was never answered",
    "unknown_cause": "no code of the event is in the cause catalog",
}

#: Outcomes that cannot happen on an answered call: a record claiming both is flagged, not rejected.
_UNANSWERED_OUTCOMES = frozenset(
    {Outcome.BUSY, Outcome.NO_ANSWER, Outcome.REJECTED, Outcome.CANCELED, Outcome.UNREACHABLE}
)
_NO_CAUSE = Cause.unknown("none", "")


class Evidence(NamedTuple):
    """What an adapter read about why a call ended: the classifier's whole input (see the module docstring)."""

    chain: tuple[str, ...] = ()  # cause references, best first
    sources: tuple[str, ...] = ()  # references saying who hung up
    answered: bool = False  # the call was connected
    ended_by: str | None = None  # the adapter's own answer; wins over the catalog
    releaser: str | None = None  # the platform's named releaser; used when nothing else says
    q850: int | None = None  # Q.850 cause the platform reported
    sip: int | None = None  # SIP final status the platform reported


class Verdict(NamedTuple):
    """The classification of one call: exactly the ``CallRecord`` fields of the same names."""

    cause: str  # the primary reference ("" when the chain is empty)
    causes: tuple[str, ...]  # every reference, chain then sources, as the catalog spells it
    outcome: str  # hangup.causes.Outcome value
    ended_by: str  # hangup.causes.EndedBy value
    fault: str  # hangup.causes.Fault value
    normal: bool  # an ordinary, non-failure ending
    reason: str  # plain words
    q850: int | None  # reported, else the primary cause's nearest Q.850 cause
    sip: int | None  # reported, else the primary cause's nearest SIP status
    flags: tuple[str, ...]  # names from ``FLAGS``


#: The ``CallRecord`` fields a verdict gives, which reclassification may rewrite: the one list of them. A verdict
#: goes onto a record by name (``Verdict._asdict()``, or these names read from a freshly classified record), so
#: a new one is a field here and its ``Verdict[…]`` field of ``CallRecord``, each declared once.
VERDICT_FIELDS: tuple[str, ...] = Verdict._fields
_UNDECLARED = set(VERDICT_FIELDS) - set(VERDICT_NAMES)
if _UNDECLARED:  # refused on import, as hangup.record_fields refuses a field without a stored form
    raise TypeError(f"classifier verdict fields {sorted(_UNDECLARED)} are not Verdict fields of CallRecord")


class _Judgement(NamedTuple):
    """The catalog's part of a verdict, the same for every call with the same chain and sources: the verdict
    on an answered and on an unanswered call that the adapter says nothing more about."""

    answered: Verdict
    unanswered: Verdict


_JUDGED: dict[tuple[tuple[str, ...], tuple[str, ...], CauseCatalog], _Judgement] = {}
_JUDGED_MAX = 4096  # bounded: cleared when full


def resolve(ref: str, catalog: CauseCatalog | None = None) -> Cause:
    """The catalog entry of ``ref``; an explicit unknown entry (never an exception) for anything else."""
    try:
        return (catalog or default_catalog()).resolve(ref)
    except CatalogError:
        scheme, _, key = ref.partition(":")
        return Cause.unknown(scheme, key)


def classify(evidence: Evidence, catalog: CauseCatalog | None = None) -> Verdict:
    """The verdict on one call (see the module docstring for the rule)."""
    catalog = catalog or default_catalog()
    key = (evidence.chain, evidence.sources, catalog)
    judged = _JUDGED.get(key)
    if judged is None:
        judged = _judge(evidence.chain, evidence.sources, catalog)
        if len(_JUDGED) >= _JUDGED_MAX:
            _JUDGED.clear()
        _JUDGED[key] = judged
    verdict = judged.answered if evidence.answered else judged.unanswered
    ended_by = evidence.ended_by or verdict.ended_by
    if ended_by == EndedBy.UNKNOWN and evidence.releaser:
        ended_by = str(evidence.releaser)
    if ended_by == verdict.ended_by and evidence.q850 is None and evidence.sip is None:
        return verdict
    cause, causes, outcome, _, fault, normal, reason, q850, sip, flags = verdict
    return Verdict(cause, causes, outcome, ended_by, fault, normal, reason,
                   q850 if evidence.q850 is None else evidence.q850, sip if evidence.sip is None else evidence.sip,
                   flags)


def _judge(chain: tuple[str, ...], sources: tuple[str, ...], catalog: CauseCatalog) -> _Judgement:
    primary = _primary([resolve(r, catalog) for r in chain])
    verdict = Verdict(
        cause=primary.ref if chain else "",
        causes=tuple(dict.fromkeys(_canonical(r, catalog) for r in chain + sources)),
        outcome=str(primary.outcome),
        ended_by=_ended_by(primary, sources, catalog),
        fault=str(primary.fault),
        normal=primary.normal,
        reason=primary.description if primary.known else _not_in_catalog(chain),
        q850=primary.q850,
        sip=primary.sip,
        flags=(),
    )
    return _Judgement(answered=verdict._replace(flags=_flags(primary, chain, answered=True)),
                      unanswered=verdict._replace(flags=_flags(primary, chain, answered=False)))


def _primary(causes: list[Cause]) -> Cause:
    """First known entry with a definite outcome, else the first known one, else the first given."""
    for cause in causes:
        if cause.known and cause.outcome != Outcome.UNKNOWN:
            return cause
    for cause in causes:
        if cause.known:
            return cause
    return causes[0] if causes else _NO_CAUSE


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


def _not_in_catalog(chain: tuple[str, ...]) -> str:
    if not chain:
        return ""
    return f"{' and '.join(chain)} {'is' if len(chain) == 1 else 'are'} not in the cause catalog"


def _flags(primary: Cause, chain: tuple[str, ...], answered: bool) -> tuple[str, ...]:
    if answered and primary.outcome in _UNANSWERED_OUTCOMES:
        return ("answered_but_" + str(primary.outcome),)
    if not answered and primary.outcome == Outcome.COMPLETED and primary.known:
        return ("completed_without_answer",)
    if chain and not primary.known:
        return ("unknown_cause",)
    return ()
