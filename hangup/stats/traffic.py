"""Synthetic, classified call records for statistics tests, the benchmark and the demo dashboard.

Endings follow the LINE Planet ``call_end_reason`` table (``causes/data/planet.csv``) with a mix
typical of an app-to-app calling service (about 55 % answered); a small contact-centre share adds
abandoned calls. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from hangup.causes import default_catalog
from hangup.records import CallRecord

#: (call_end_reason, weight): the ending mix of generated Planet calls.
REASON_MIX: tuple[tuple[int, float], ...] = (
    (1004, 28.0), (1005, 27.0), (1000, 8.0), (1001, 7.0), (1002, 8.0), (1003, 4.0), (1010, 3.0), (1011, 3.0),
    (1021, 1.5), (1012, 1.0), (1013, 1.0), (1015, 0.5), (1018, 0.5), (1020, 0.5), (1024, 0.5), (1100, 0.5),
)
#: Planet's simple release code of each outcome (Planet API specification, "Simple release codes").
TERMINATE = {"completed": 16, "canceled": 77, "rejected": 21, "busy": 17, "no_answer": 18}
SERVICES = ("svc-chat", "svc-meet", "svc-care")
ABANDONED_SHARE = 0.03

#: ``shift(t, rng) -> call_end_reason | None``: overrides the ending of a call at time ``t`` (scenarios).
Shift = Callable[[int, random.Random], int | None]


def generate(
    count: int,
    start: int,
    end: int,
    seed: int = 7,
    users: int = 500,
    shift: Shift | None = None,
) -> Iterator[CallRecord]:
    """``count`` calls ending between ``start`` and ``end`` (in time order)."""
    rng = random.Random(seed)
    codes = [c for c, _ in REASON_MIX]
    weights = [w for _, w in REASON_MIX]
    span = max(1, end - start)
    for i in range(count):
        t_end = start + (i * span) // max(1, count) + rng.randrange(max(1, span // max(1, count)))
        t_end = min(t_end, end - 1)
        if rng.random() < ABANDONED_SHARE:
            yield _abandoned(i, seed, t_end, rng, users)
            continue
        reason = (shift(t_end, rng) if shift else None) or rng.choices(codes, weights)[0]
        yield _planet(i, seed, t_end, reason, rng, users)


def _planet(i: int, seed: int, t_end: int, reason: int, rng: random.Random, users: int) -> CallRecord:
    cause = default_catalog().lookup("planet", reason)
    answered = cause.outcome == "completed"
    duration = int(rng.lognormvariate(4.3, 1.0)) + 1 if answered else 0
    ring = rng.randint(2, 25)
    setup = t_end - duration - ring
    caller, callee = rng.randrange(users), rng.randrange(users)
    from_service, to_service = rng.choice(SERVICES), rng.choice(SERVICES)
    return CallRecord(
        id=f"gen-{seed}-{i}",
        provider="planet",
        provider_call_id=f"gen-{seed}-{i}",
        from_service_id=from_service,
        from_user_id=f"user{caller:04d}",
        to_service_id=to_service,
        route=to_service,  # as the Planet adapter reads it
        to_user_id=f"user{callee:04d}",
        call_type="V" if rng.random() < 0.2 else "A",
        setup_time=setup,
        start_time=setup + ring if answered else 0,
        end_time=t_end,
        duration=duration,
        answered=answered,
        direction="outbound",
        srcip=f"10.0.{caller % 7}.{caller % 250 + 1}",
        dstip=f"10.1.{callee % 5}.{callee % 250 + 1}",
        call_end_reason=reason,
        terminate=16 if duration > 0 else TERMINATE.get(str(cause.outcome), 127),
        releaser="initiator" if cause.ended_by == "caller" else "responder",
        cause=cause.ref,
        causes=(cause.ref,),
        outcome=str(cause.outcome),
        ended_by=str(cause.ended_by),
        fault=str(cause.fault),
        normal=cause.normal,
        reason=cause.description,
        q850=cause.q850,
        sip=cause.sip,
        received_at=t_end + 0.25,
    )


def _abandoned(i: int, seed: int, t_end: int, rng: random.Random, users: int) -> CallRecord:
    caller = rng.randrange(users)
    return CallRecord(
        id=f"gen-{seed}-{i}",
        provider="callcenter",
        provider_call_id=f"cc-{seed}-{i}",
        from_service_id="",
        from_user_id=f"+8190{caller:08d}",
        to_service_id="",
        to_user_id="queue-support",
        call_type="A",
        setup_time=t_end - rng.randint(10, 120),
        start_time=0,
        end_time=t_end,
        duration=0,
        answered=False,
        direction="inbound",
        outcome="abandoned",
        ended_by="caller",
        fault="none",
        normal=True,
        reason="The caller hung up while waiting in the queue.",
        received_at=t_end + 0.5,
    )
