"""Additive counters of a set of calls: the one thing rollups store and every KPI is computed from.

Every counter is a plain sum, so the totals of a range are the sums of the totals of its buckets,
and the same figures come out whether they are summed from rollup rows or counted from raw calls.
``docs/kpis.md`` defines each counter; ``counters()`` is the one place that reads a ``CallRecord``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from hangup.bounds import MAX_DURATION
from hangup.records import CallRecord
from hangup.store.sql import ended_at

#: Fault domains a failed call is counted under (``hangup.causes.Fault`` without ``none``).
FAULT_DOMAINS = (
    "caller_side",
    "callee_side",
    "network",
    "platform",
    "application",
    "configuration",
    "account",
    "unknown",
)

#: Faults that leave a call "delivered" for NER: ITU-T E.425 counts user busy, ring no answer and
#: terminal reject as successful deliveries, i.e. NER excludes customer and terminal behaviour. A call
#: is a network failure for NER only when its fault is the network, the platform, configuration,
#: the application, the account or unknown.
NER_DELIVERED_FAULTS = frozenset({"none", "caller_side", "callee_side"})


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over a set of calls; see ``docs/kpis.md`` for each counter."""

    attempts: int = 0  # calls (ITU-T E.411 "seizures")
    answered: int = 0  # calls that were connected
    normal: int = 0  # calls that ended in an ordinary, non-failure way
    ner_ok: int = 0  # answered, or ended by user or terminal behaviour (E.425 NER numerator)
    abandoned: int = 0  # outcome "abandoned" (contact-centre caller hung up while waiting)
    duration_sum: int = 0  # seconds of conversation of answered calls
    tta_sum: int = 0  # seconds from setup to answer, summed over calls where both times are known
    tta_count: int = 0  # calls contributing to tta_sum
    failed: int = 0  # calls that did not end normally
    failed_caller_side: int = 0
    failed_callee_side: int = 0
    failed_network: int = 0
    failed_platform: int = 0
    failed_application: int = 0
    failed_configuration: int = 0
    failed_account: int = 0
    failed_unknown: int = 0
    answered_human: int = 0  # answered calls the platform's answering-machine detection said a person took

    @classmethod
    def from_row(cls, row: Sequence[int | None]) -> Totals:
        """Build from a row of sums in ``COUNTERS`` order (SQL ``SUM`` of no rows is NULL)."""
        return cls(*(int(v or 0) for v in row))

    @classmethod
    def of(cls, records: Iterable[CallRecord]) -> Totals:
        sums = [0] * len(COUNTERS)
        for record in records:
            for i, value in enumerate(counters(record)):
                sums[i] += value
        return cls(*sums)

    def __add__(self, other: Totals) -> Totals:
        return Totals(*(a + b for a, b in zip(self.row(), other.row(), strict=True)))

    def row(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in COUNTERS)

    def failed_in(self, domain: str) -> int:
        return int(getattr(self, f"failed_{domain}"))

    def to_json(self) -> dict[str, int]:
        return dict(zip(COUNTERS, self.row(), strict=True))


COUNTERS: tuple[str, ...] = tuple(f.name for f in fields(Totals))
_FAULT_INDEX = {domain: COUNTERS.index(f"failed_{domain}") for domain in FAULT_DOMAINS}


def call_time(record: CallRecord) -> int:
    """The instant a call is counted at: the call log's ``ended_at`` (its end, else when hangup received it)."""
    return ended_at(record)


def time_to_answer(record: CallRecord) -> int | None:
    """Seconds from setup to answer, when the call was answered and both times are known."""
    if record.answered and record.setup_time > 0 and record.start_time >= record.setup_time:
        return min(record.start_time - record.setup_time, MAX_DURATION)
    return None


def counted_duration(record: CallRecord) -> int:
    """Seconds the call adds to ``duration_sum``: a value stored before ``hangup.bounds`` refused longer ones
    counts as ``MAX_DURATION``, so no sum of a day can overflow a 64-bit column."""
    return min(record.duration, MAX_DURATION) if record.answered else 0


def counters(record: CallRecord) -> tuple[int, ...]:
    """The contribution of one call to every counter, in ``COUNTERS`` order."""
    tta = time_to_answer(record)
    failed = not record.normal
    row = [
        1,
        int(record.answered),
        int(record.normal),
        int(record.answered or record.fault in NER_DELIVERED_FAULTS),
        int(record.outcome == "abandoned"),
        counted_duration(record),
        tta or 0,
        int(tta is not None),
        int(failed),
    ] + [0] * len(FAULT_DOMAINS)
    if failed:
        index = _FAULT_INDEX.get(record.fault)
        if index is not None:
            row[index] = 1
    row.append(int(record.answered and record.answered_by == "human"))
    return tuple(row)
