"""The emitter as a library: take call facts, derive the callback, enqueue it durably, deliver it.

``Emitter.call_ended`` returns only after the callback is committed to the outbox. ``Emitter.run`` runs the
delivery loop and the orphan sweeper until its stop event is set; ``hangup emitter`` and ``hangup serve`` call it.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx
import msgspec

from hangup.emit import metrics
from hangup.emit.callback import CallEvent
from hangup.emit.delivery import Deliverer, DeliveryConfig
from hangup.emit.derive import derive
from hangup.emit.facts import CallFacts, ReleaseMethod, check_facts, party_problems
from hangup.emit.outbox.base import NewEntry, Outbox, StartedCall
from hangup.errors import PayloadError

ORPHANED_FLAG = "orphaned"


class StartFacts(msgspec.Struct, kw_only=True, frozen=True):
    """What is known when a call starts (``POST /api/events/call-started``)."""

    sid: str
    from_service_id: str
    from_user_id: str
    to_service_id: str
    to_user_id: str
    type: Literal["A", "V"] = "A"
    setup_time: int
    stid: str | None = None
    srcip: str
    dstip: str


@dataclass(frozen=True, slots=True)
class Enqueued:
    """The durable result of one call-end event."""

    id: int  # outbox entry id
    created: bool  # False when the sid was already queued (a repeat, or closed as orphaned before)
    event: CallEvent


class Emitter:
    """Derivation, the outbox and the delivery loops for one receiver URL."""

    def __init__(
        self,
        outbox: Outbox,
        destination: str,
        config: DeliveryConfig | None = None,
        *,
        orphan_timeout: float = 3600.0,
        hostname: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.destination = destination
        self.config = config or DeliveryConfig()
        self.orphan_timeout = orphan_timeout
        self.hostname = hostname or socket.gethostname()
        self.clock = clock
        self._deliverer: Deliverer | None = None

    # -- input ------------------------------------------------------------------------------
    def call_ended(self, facts: CallFacts, flags: tuple[str, ...] = ()) -> Enqueued:
        check_facts(facts)
        event = derive(facts, checked=True)
        [(entry_id, created)] = self.outbox.enqueue(
            [NewEntry(event.sid, self.destination, event.to_query(), flags)], self.clock()
        )
        if self._deliverer is not None:
            self._deliverer.wake()
        return Enqueued(entry_id, created, event)

    def call_started(self, facts: StartFacts) -> bool:
        """Remember a started call; False when its sid is already known."""
        problems = party_problems(facts)
        if problems:
            summary = "; ".join(f"{field}: {error}" for field, error in problems)
            raise PayloadError(f"invalid call start: {summary}", [{"field": f, "error": e} for f, e in problems])
        now = self.clock()
        started = StartedCall(facts.sid, msgspec.json.encode(facts).decode(), now, now + self.orphan_timeout)
        return self.outbox.start_call(started)

    def sweep_orphans(self, limit: int = 500) -> int:
        """Close every started call past its deadline as orphaned; return how many."""
        now = self.clock()
        due = self.outbox.due_starts(now, limit)
        entries: list[NewEntry] = []
        for started in due:
            start = msgspec.json.decode(started.facts, type=StartFacts)
            facts = CallFacts(
                sid=start.sid, from_service_id=start.from_service_id, from_user_id=start.from_user_id,
                to_service_id=start.to_service_id, to_user_id=start.to_user_id, type=start.type,
                setup_time=start.setup_time, start_time=0, end_time=max(start.setup_time, int(now)),
                released_by="server", server=self.hostname, how=ReleaseMethod.ORPHANED, stid=start.stid,
                srcip=start.srcip, dstip=start.dstip,
            )  # fmt: skip
            event = derive(facts, checked=True)
            entries.append(NewEntry(event.sid, self.destination, event.to_query(), (ORPHANED_FLAG,)))
        self.outbox.close_orphans([s.sid for s in due], entries, now)
        metrics.ORPHANED.inc(len(entries))
        if entries and self._deliverer is not None:
            self._deliverer.wake()
        return len(entries)

    # -- background loops ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, client: httpx.AsyncClient | None = None) -> None:
        """Deliver and sweep until ``stop`` is set, then finish the requests in flight."""
        own_client = client is None
        http = client or httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self._deliverer = Deliverer(self.outbox, http, self.config, clock=self.clock)
        sweeper = asyncio.create_task(self._sweep_loop(stop))
        try:
            await self._deliverer.run(stop)
        finally:
            await sweeper
            self._deliverer = None
            if own_client:
                await http.aclose()

    async def _sweep_loop(self, stop: asyncio.Event) -> None:
        interval = max(0.2, min(30.0, self.orphan_timeout / 4))
        while not stop.is_set():
            await asyncio.to_thread(self.sweep_orphans)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
