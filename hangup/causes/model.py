"""The ``Cause`` entry of the catalog and the actions a cause suggests; the outcome taxonomy it maps onto is
``hangup.taxonomy`` (imported here, so ``hangup.causes.model`` still names it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hangup.bounds import digits
from hangup.taxonomy import ANSWERED_OUTCOMES, EndedBy, Fault, Outcome


class Action(StrEnum):
    """What the caller's system should do next with a call that ended this way (docs/taxonomy.md, "action").

    The values are the decisions a dialler or a routing engine takes; each scheme's rule and its source
    (RFC 3261 section 21 for SIP, RFC 3398 for Q.850, the platform's own documentation) are in the header
    of its CSV file.
    """

    RETRY_LATER = "retry_later"  # the same destination may succeed later (busy, no answer, temporarily absent)
    FAIL_OVER = "fail_over"  # try another route, gateway or carrier now (congestion, 503, network failure)
    FINAL = "final"  # do not dial again (declined, unassigned number, 6xx)
    FIX_CONFIGURATION = "fix_configuration"  # change something on the caller's side first (credentials, codecs …)
    NONE = "none"  # nothing to do (an ordinary ending), or the code says too little to recommend anything


@dataclass(frozen=True, slots=True)
class Cause:
    """One code of one vocabulary with its place in the taxonomy.

    ``code`` is the numeric code when the scheme has one (Q.850 value, SIP status, Planet
    ``call_end_reason``, Plivo cause code …) and ``None`` for name-only entries (Plivo hangup
    sources, the contact centre's code-less causes). ``name`` is the source's own spelling.
    """

    scheme: str
    code: int | None
    name: str
    description: str
    outcome: Outcome
    ended_by: EndedBy
    fault: Fault
    normal: bool  # an ordinary, non-failure ending (a busy callee is normal; a dead network is not)
    q850: int | None = None  # nearest ITU-T Q.850 cause value
    sip: int | None = None  # nearest SIP final response status
    next_steps: str = ""  # what to check or do; empty only for normal endings
    action: Action = Action.NONE  # what to do next, machine-readable (the CSV's `action` column)
    action_source: str = ""  # where the scheme's action rule comes from (its CSV's "# action:" comment)
    group: str = ""  # the source's own grouping (Q.850 class, Plivo accordion, SIP class …)
    aliases: tuple[str, ...] = ()  # other spellings found in the sources
    source: str = ""  # the document the row comes from
    known: bool = True  # False for the explicit "unknown" entry of an unlisted code
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        """The key this entry is best referred to by: its code when it has one, else its name."""
        return str(self.code) if self.code is not None else self.name

    @property
    def ref(self) -> str:
        return f"{self.scheme}:{self.key}"

    @classmethod
    def unknown(cls, scheme: str, raw: str) -> Cause:
        """The explicit entry for a code the catalog does not hold (never an exception)."""
        code = signed_digits(raw)
        return cls(
            scheme=scheme,
            code=code,
            name="UNKNOWN" if code is not None else raw,
            description=f"{scheme} code {raw!r} is not in the catalog",
            outcome=Outcome.UNKNOWN,
            ended_by=EndedBy.UNKNOWN,
            fault=Fault.UNKNOWN,
            normal=False,
            next_steps="Check the platform's documentation for this code and report it so the catalog can "
            "learn it.",
            known=False,
        )

    def get(self, column: str, default: str = "") -> str:
        """A source-specific column kept in ``extra`` (e.g. ``last_response_code``, ``title``)."""
        for key, value in self.extra:
            if key == column:
                return value
        return default

    @property
    def is_answered(self) -> bool:
        """The call connected: completed, transferred, or abandoned while waiting in an IVR or queue."""
        return self.outcome in ANSWERED_OUTCOMES

    @property
    def is_failure(self) -> bool:
        """Something broke: not an ordinary ending and not merely an unknown code."""
        return self.known and not self.normal and self.outcome is not Outcome.UNKNOWN

    @property
    def is_busy(self) -> bool:
        return self.outcome is Outcome.BUSY

    @property
    def is_network_failure(self) -> bool:
        return self.fault is Fault.NETWORK and not self.normal

    def to_json(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "code": self.code,
            "name": self.name,
            "ref": self.ref,
            "description": self.description,
            "outcome": str(self.outcome),
            "ended_by": str(self.ended_by),
            "fault": str(self.fault),
            "normal": self.normal,
            "q850": self.q850,
            "sip": self.sip,
            "next_steps": self.next_steps,
            "action": str(self.action),
            "action_source": self.action_source,
            "group": self.group,
            "aliases": list(self.aliases),
            "source": self.source,
            "known": self.known,
            "extra": dict(self.extra),
        }


def signed_digits(text: str) -> int | None:
    """A code written as an integer, perhaps negative ("16", "-1"), else ``None`` (then it is a name)."""
    negative = text.startswith("-")
    number = digits(text[1:] if negative else text)
    return None if number is None else -number if negative else number
