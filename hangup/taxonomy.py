"""The outcome taxonomy every vocabulary maps onto: how a call ended, who released it, where to look.

The sets are small and closed on purpose: statistics group by them, alerts filter on them and
the dashboard colours them, so a new value is a schema change. ``docs/taxonomy.md`` explains each
value and every mapping that is not obvious. They sit below the record (``hangup.records`` names them as
the only values of its verdict fields) and the cause catalog (``hangup.causes``), which both use them.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """How the call ended, as a person would say it."""

    COMPLETED = "completed"  # answered and ended in an ordinary way
    BUSY = "busy"  # the callee (or every callee) was busy
    NO_ANSWER = "no_answer"  # rang, nobody answered before a timeout
    REJECTED = "rejected"  # the callee or their network declined the call
    CANCELED = "canceled"  # the caller (or the caller's application) gave up before answer
    ABANDONED = "abandoned"  # a contact-centre caller hung up while waiting (IVR, queue, hold, voicemail)
    UNREACHABLE = "unreachable"  # the destination could not be reached (unassigned, offline, no route)
    FAILED = "failed"  # a technical failure: network, platform, protocol, device, configuration, account
    TRANSFERRED = "transferred"  # the leg ended because the call was handed on elsewhere
    UNKNOWN = "unknown"  # the source says nothing useful, or the code is not in the catalog


#: Outcomes of calls that were answered (by a person, a machine, an IVR or a queue); see docs/taxonomy.md.
ANSWERED_OUTCOMES = frozenset({Outcome.COMPLETED, Outcome.TRANSFERRED, Outcome.ABANDONED})
#: Outcomes of calls that never connected but ended the way calls ordinarily do (nobody is at fault).
UNANSWERED_OUTCOMES = frozenset({Outcome.BUSY, Outcome.NO_ANSWER, Outcome.REJECTED, Outcome.CANCELED})


class EndedBy(StrEnum):
    """Which party released the call."""

    CALLER = "caller"
    CALLEE = "callee"
    PLATFORM = "platform"  # the VoIP server / CPaaS itself
    CARRIER = "carrier"  # a remote carrier or network
    API = "api"  # a REST call of the customer's own system
    APPLICATION = "application"  # the customer's call-control logic (XML, IVR, ACD)
    UNKNOWN = "unknown"


class Fault(StrEnum):
    """Where to look when the call ended badly (``none`` when it did not)."""

    NONE = "none"
    CALLER_SIDE = "caller_side"
    CALLEE_SIDE = "callee_side"
    NETWORK = "network"
    PLATFORM = "platform"
    APPLICATION = "application"
    CONFIGURATION = "configuration"
    ACCOUNT = "account"
    UNKNOWN = "unknown"
