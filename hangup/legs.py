"""Calls made of legs, and which leg decides the call.

Some platforms write one record per leg of a call, not one per call: Asterisk ``Master.csv`` writes a row per
channel pair under one ``uniqueid`` (a ``Local/…`` stub billed 0 s, then the conversation; a row per
transfer) and CEL the events of each channel of a ``linkedid``; FreeSWITCH writes an A-leg and a B-leg CDR.
An adapter that knows it reads legs sets ``CallRecord.leg_id``; every leg of a call has the call's ``id`` and
its own ``leg_id``. The store keeps every leg (``call_legs``) and the call's row is ``merge`` of them, so the
call is counted once, by the leg that decides it, whatever order the legs arrive in.

The rule (``deciding`` and ``merge``), a function of the set of legs only:

* the deciding leg is the answered leg with the longest talk time (ties: the later end); with no answered
  leg, the leg that ended last (ties: the one that started first, the caller's own channel rather than the
  phones it rang), whose failure is the one the caller saw. Then the greater ``leg_id``;
* the call takes the deciding leg's verdict, parties, cause, codes, ``extra`` and ``raw``;
* its ``setup_time`` is the earliest of the legs', its ``start_time`` the earliest answer, its
  ``end_time`` the latest end, and it is answered when any leg was;
* its ``duration`` is the talk time of the legs together: the length of the union of the answered legs'
  talk spans (``end_time - duration`` to ``end_time``). The two halves of one conversation (a ``Local/``
  pair, an A- and a B-leg) overlap and count once; the conversations before and after a transfer follow
  each other and add up. It is never less than the deciding leg's own talk time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from hangup.records import CallRecord

#: The facts of a leg the API and the call's page show (``leg_json``), beside its ``raw``.
LEG_FIELDS: tuple[str, ...] = (
    "leg_id", "provider_call_id", "from_user_id", "to_user_id", "setup_time", "start_time", "end_time",
    "duration", "answered", "outcome", "ended_by", "cause", "reason", "q850", "sip", "received_at",
)
#: Native values of a leg shown with it, where its platform reports them (Asterisk ``Master.csv`` columns,
#: FreeSWITCH variables): the channels it joined, the platform's own disposition and times.
LEG_EXTRA: tuple[str, ...] = (
    "channel", "dstchannel", "lastapp", "disposition", "billsec", "duration", "hangup_cause", "bleg_uuid",
)


def _rank(leg: CallRecord) -> tuple[Any, ...]:
    if leg.answered:
        return (1, leg.duration, leg.end_time, leg.leg_id)
    return (0, leg.end_time, -leg.setup_time, leg.leg_id)


def deciding(legs: Sequence[CallRecord]) -> CallRecord:
    """The leg whose ending is the call's (see the module's rule)."""
    return max(legs, key=_rank)


def talk_time(legs: Sequence[CallRecord]) -> int:
    """Seconds of conversation of the legs together: the union of the answered legs' talk spans."""
    spans = sorted((leg.end_time - leg.duration, leg.end_time) for leg in legs
                   if leg.answered and leg.duration > 0 and leg.end_time > 0)
    total, reach = 0, None
    for start, end in spans:
        if reach is None or start >= reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    untimed = [leg.duration for leg in legs if leg.answered and leg.end_time <= 0]
    return max(total, *untimed, deciding(legs).duration)


def merge(legs: Sequence[CallRecord]) -> CallRecord:
    """The call made of ``legs`` (one call id, at least one leg), by the module's rule."""
    decider = deciding(legs)
    if len(legs) == 1:
        return decider
    setups = [leg.setup_time for leg in legs if leg.setup_time > 0]
    answers = [leg.start_time for leg in legs if leg.answered and leg.duration > 0 and leg.start_time > 0]
    return dataclasses.replace(
        decider,
        setup_time=min(setups, default=0),
        start_time=min(answers, default=decider.start_time),
        end_time=max(leg.end_time for leg in legs),
        duration=talk_time(legs),
        answered=any(leg.answered for leg in legs),
    )


def leg_json(leg: CallRecord) -> dict[str, Any]:
    """A leg as the API shows it: its ``LEG_FIELDS``, its ``LEG_EXTRA`` values, its ``raw``."""
    found = {name: getattr(leg, name) for name in LEG_FIELDS}
    found["extra"] = {key: leg.extra[key] for key in LEG_EXTRA if key in leg.extra}
    found["raw"] = leg.raw
    return found
