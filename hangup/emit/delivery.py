"""Deliver outbox entries: GET the receiver URL with the callback's query, retry what may succeed later.

* 2xx: delivered.
* network error, timeout, 5xx, 429: retried with exponential backoff and full jitter, never sooner than the
  answer's ``Retry-After``; an entry older than ``max_age`` when it would be retried goes to the dead-letter list.
* any other answer (3xx, other 4xx): dead-lettered at once with the answer kept.

At most ``per_destination`` requests are in flight to one receiver (scheme + host + port).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from hangup.emit import metrics
from hangup.emit.outbox.base import Entry, Outbox, State
from hangup.emit.signature import SIGNATURE_HEADER, sign

RETRY_STATUSES = frozenset({408, 425, 429})  # besides every 5xx
GAUGE_INTERVAL = 1.0  # seconds between recounts of the outbox for the pending/dead gauges


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """How the emitter delivers; every field has a ``hangup emitter`` option."""

    timeout: float = 10.0  # seconds per request
    per_destination: int = 8  # concurrent requests to one receiver
    max_in_flight: int = 64  # concurrent requests overall
    max_age: float = 86_400.0  # seconds after enqueue when an undelivered callback is dead-lettered
    backoff_base: float = 1.0  # seconds before the first retry (before jitter)
    backoff_cap: float = 300.0  # longest wait between attempts
    lease: float = 60.0  # seconds a claimed entry stays invisible to other workers
    poll_interval: float = 0.5  # seconds between looks at the outbox when idle
    secret: str = ""  # HMAC-SHA256 signing secret; empty = unsigned


def backoff_delay(attempt: int, config: DeliveryConfig, rng: random.Random) -> float:
    """Full jitter: uniform in [base/2, min(cap, base * 2**(attempt-1))]."""
    ceiling = min(config.backoff_cap, config.backoff_base * 2 ** max(0, attempt - 1))
    return rng.uniform(min(config.backoff_base / 2, ceiling), ceiling)


def retry_after(value: str | None, now: float) -> float:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date); 0 when absent or unreadable."""
    if not value:
        return 0.0
    value = value.strip()
    if value.isascii() and value.isdigit():  # isdigit() alone takes "²", which float() refuses
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, when.timestamp() - now)


def destination_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Deliverer:
    """The delivery loop over one outbox."""

    def __init__(
        self,
        outbox: Outbox,
        client: httpx.AsyncClient,
        config: DeliveryConfig,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gauges_at = 0.0

    def wake(self) -> None:
        """Look at the outbox now; safe to call from any thread (enqueues run in worker threads)."""
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            self._wake.clear()  # before the claim, so a wake-up during it is not lost
            claimed = await self.poll()
            if claimed == 0:
                waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
                await asyncio.wait(waiters, timeout=self.config.poll_interval, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        await self.drain()

    async def poll(self) -> int:
        """Claim what is due and start delivering it; return how many entries were claimed."""
        room = self.config.max_in_flight - len(self._in_flight)
        entries = await asyncio.to_thread(self.outbox.claim, room, self.clock(), self.config.lease)
        for entry in entries:
            task = asyncio.create_task(self.deliver(entry))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
        if self.clock() - self._gauges_at >= GAUGE_INTERVAL:
            await self._refresh_gauges()
        return len(entries)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()  # room for another claim

    async def drain(self) -> None:
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _refresh_gauges(self) -> None:
        self._gauges_at = self.clock()
        counts = await asyncio.to_thread(self.outbox.counts)
        metrics.PENDING.set(counts.get(State.PENDING, 0))
        metrics.DEAD.set(counts.get(State.DEAD, 0))

    async def deliver(self, entry: Entry) -> None:
        key = destination_key(entry.destination)
        limit = self._limits.setdefault(key, asyncio.Semaphore(self.config.per_destination))
        async with limit:
            await self._attempt(entry)

    async def _attempt(self, entry: Entry) -> None:
        headers: dict[str, str] = {}
        if self.config.secret:
            headers[SIGNATURE_HEADER] = sign(self.config.secret, entry.query, int(self.clock()))
        try:
            response = await self.client.get(entry.url, headers=headers, timeout=self.config.timeout)
        except httpx.HTTPError as exc:
            await self._retry(entry, None, f"{type(exc).__name__}: {exc}".strip(), 0.0)
            return
        status = response.status_code
        now = self.clock()
        if 200 <= status < 300:
            await asyncio.to_thread(self.outbox.mark_delivered, entry.id, status, now)
            metrics.DELIVERED.inc()
            metrics.LATENCY.observe(max(0.0, now - entry.created_at))
        elif status >= 500 or status in RETRY_STATUSES:
            await self._retry(entry, status, f"HTTP {status}", retry_after(response.headers.get("retry-after"), now))
        else:
            await asyncio.to_thread(self.outbox.mark_dead, entry.id, status, f"HTTP {status}", response.text, now)
            metrics.DEAD_LETTERED.inc()

    async def _retry(self, entry: Entry, status: int | None, error: str, wait_at_least: float) -> None:
        now = self.clock()
        delay = max(backoff_delay(entry.attempts, self.config, self.rng), wait_at_least)
        if now + delay - entry.created_at > self.config.max_age:
            reason = f"expired after {entry.attempts} attempts (max age {self.config.max_age:g} s); last: {error}"
            await asyncio.to_thread(self.outbox.mark_dead, entry.id, status, reason, "", now)
            metrics.DEAD_LETTERED.inc()
            return
        await asyncio.to_thread(self.outbox.mark_retry, entry.id, now + delay, status, error, now)
        metrics.RETRIED.inc()

