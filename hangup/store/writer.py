"""One writer thread that commits concurrent operations together (group commit).

Producers ``submit`` an operation ``(kind, payload)`` with a waiter: an ``asyncio.Future`` (resolved on its
own loop) or a ``concurrent.futures.Future``. The thread drains the queue up to ``max_batch`` items,
runs them in one transaction through the back end's ``run_batch`` and only after COMMIT resolves every
waiter. Under load batches grow by themselves, so one fsync covers many events; when idle a batch is
one event and latency stays one commit. If a batch fails, its items are retried one by one so that one
bad item fails alone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hangup.records import CallRecord
from hangup.store.base import AddResult, QuarantineEntry, WriteHook, WriterStats, sums_floor

log = logging.getLogger("hangup.store.writer")

#: ``(kind, payload)``; the SQLite database's writer takes ``(part, payload)`` (``hangup.store.database``).
Op = tuple[Any, Any]
T = TypeVar("T")
Waiter = asyncio.Future[Any] | concurrent.futures.Future[Any]
#: ``run_batch(ops) -> results``: one transaction, committed before it returns; raises to roll back.
RunBatch = Callable[[Sequence[Op]], list[Any]]
#: ``join(connection, record) -> record``: a call as stored, from the call as received, read in the writer's
#: transaction that stores it (``WriterBackedStore.add_joined``).
Join = Callable[[Any, CallRecord], CallRecord]

_STOP = object()
#: Lets another runnable thread of the process have the core (a no-op where the OS has no such call).
_yield_core: Callable[[], None] = getattr(os, "sched_yield", lambda: None)


class GroupCommitWriter:
    """The single writer thread of a store (see the module docstring)."""

    def __init__(self, run_batch: RunBatch, max_batch: int = 256, name: str = "hangup-writer") -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._failing = ""  # the error of the last failed operation, until a batch commits again
        self.stats = WriterStats()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # -- producers -----------------------------------------------------------------------
    def submit(self, op: Op, waiter: Waiter) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")
        self._queue.put((op, waiter))

    async def run_async(self, op: Op) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.submit(op, future)
        return await future

    def run_sync(self, op: Op) -> Any:
        return self.run_many_sync([op])[0]

    def run_many_sync(self, ops: Sequence[Op]) -> list[Any]:
        futures: list[concurrent.futures.Future[Any]] = []
        for op in ops:
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            self.submit(op, future)
            futures.append(future)
        return [f.result() for f in futures]

    def queue_depth(self) -> int:
        return self._queue.qsize()

    def at_least(self, max_batch: int) -> None:
        """Let batches grow to ``max_batch`` operations (a bulk import raises it; it is never lowered)."""
        self._max_batch = max(self._max_batch, max_batch)

    def in_writer_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()

    # -- the thread ----------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            # Give the core to the event loop once before draining: where both threads share a core it reads
            # the requests already waiting and submits them, so the batch (one commit, one fsync, one rollup
            # upsert) covers them too; about 16 -> 30 calls per commit at 32 connections, ~10 us less CPU per
            # call (docs/benchmarks.md, "Ingest"). With nothing else to run the call returns at once.
            _yield_core()
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[Op, Waiter]]) -> None:
        self.stats.queue_depth = self._queue.qsize()
        try:
            results = self._run_batch([op for op, _ in batch])
        except Exception as exc:
            self.stats.errors += 1
            if len(batch) > 1:
                for item in batch:
                    self._commit([item])
                return
            # A store that cannot write (full disk, deleted file) fails every operation the same way: the
            # traceback once, then a line per operation, so the log does not grow by a traceback per call.
            if str(exc) != self._failing:
                self._failing = str(exc)
                log.exception("store write failed")
            else:
                log.error("store write failed: %s", exc)
            _settle(batch, None, exc)
            return
        if self._failing:
            log.warning("the store commits again")
            self._failing = ""
        self.stats.batches += 1
        self.stats.events += len(batch)
        self.stats.last_batch_size = len(batch)
        _settle(batch, results, None)


def _settle(batch: list[tuple[Op, Waiter]], results: list[Any] | None, exc: BaseException | None) -> None:
    """Resolve waiters: thread futures directly, asyncio futures on their loop with one callback per loop."""
    per_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for index, (_, waiter) in enumerate(batch):
        value = results[index] if results is not None else None
        if isinstance(waiter, asyncio.Future):
            per_loop.setdefault(waiter.get_loop(), []).append((waiter, value))
        elif exc is not None:
            waiter.set_exception(exc)
        else:
            waiter.set_result(value)
    for loop, items in per_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve_on_loop, items, exc)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass


def _resolve_on_loop(items: list[tuple[asyncio.Future[Any], Any]], exc: BaseException | None) -> None:
    for future, value in items:
        if future.done():
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)


def joining(conn: Any, ops: Sequence[Op], run: Callable[[Sequence[Op]], list[Any]]) -> list[Any]:
    """``run(ops)`` in a back end's transaction, with each "joined" operation ``(record, join)`` run as the "call"
    operation of ``join(conn, record)``, and answered ``(joined record, result)``.

    The join comes before the insert decides between new, duplicate and conflict, so the call stored is the
    joined one and a repeat of it is a duplicate. The records are joined in order of their platform's call
    id: a join that takes a lock per call (``hangup.store.detections.joined``) takes them in one order on
    every node. A batch run again (one by one after a failure) joins the records again.
    """
    joins = sorted((i for i, (kind, _) in enumerate(ops) if kind == "joined"),
                   key=lambda i: (ops[i][1][0].provider, ops[i][1][0].provider_call_id))
    if not joins:
        return run(ops)
    joined = {i: ops[i][1][1](conn, ops[i][1][0]) for i in joins}
    results = run([("call", joined[i]) if i in joined else op for i, op in enumerate(ops)])
    for i, record in joined.items():
        results[i] = (record, results[i])
    return results


class WriterLane:
    """One user's door to a shared ``GroupCommitWriter``: its operations are run by its ``part``.

    The SQLite database's writer commits the operations of every user of the file together
    (``hangup.store.database``); a lane tags each of a store's ``(kind, payload)`` operations with the
    store's part, so the store keeps the producer interface of a writer of its own.
    """

    def __init__(self, writer: GroupCommitWriter, part: Any) -> None:
        self._writer = writer
        self._part = part
        self.stats = writer.stats

    def run_async(self, op: Op) -> asyncio.Future[Any]:
        """The future of ``op``'s result (a future, not a coroutine: one frame less on the ingest path)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._writer.submit((self._part, op), future)
        return future

    def run_sync(self, op: Op) -> Any:
        return self._writer.run_sync((self._part, op))

    def run_many_sync(self, ops: Sequence[Op]) -> list[Any]:
        return self._writer.run_many_sync([(self._part, op) for op in ops])

    def queue_depth(self) -> int:
        return self._writer.queue_depth()

    def close(self) -> None:
        """Nothing: the writer belongs to the database and stops with its last handle."""


class WriterBackedStore:
    """The write operations both back ends hand to their ``GroupCommitWriter`` unchanged.

    A back end sets ``_writer`` and ``_hooks`` and implements the operation kinds in its transaction.
    """

    _writer: GroupCommitWriter | WriterLane
    _hooks: list[WriteHook]

    async def add(self, record: CallRecord) -> AddResult:
        result: AddResult = await self._writer.run_async(("call", record))
        return result

    async def add_joined(self, record: CallRecord, join: Join) -> tuple[CallRecord, AddResult]:
        """``add`` of ``join(connection, record)``, joined in the transaction that stores it (``joining``); the
        call as joined and its result."""
        result: tuple[CallRecord, AddResult] = await self._writer.run_async(("joined", (record, join)))
        return result

    def add_many(self, records: Sequence[CallRecord]) -> list[AddResult]:
        """Store a batch with one hand-off to the writer (imports); it may share a commit with other events."""
        if not records:
            return []
        results: list[AddResult] = self._writer.run_sync(("calls", list(records)))
        return results

    def add_rows(self, rows: Sequence[tuple[Any, ...]]) -> list[AddResult]:
        """Store ``calls`` rows as ``sql.record_row`` builds them (bulk imports read in another process): as
        ``add_many`` would store their records (on PostgreSQL through COPY, ``hangup.store.postgres_bulk``)."""
        if not rows:
            return []
        results: list[AddResult] = self._writer.run_sync(("rows", list(rows)))
        return results

    def add_write_hook(self, hook: WriteHook) -> None:
        self._hooks.append(hook)

    def minute_sums_floor(self) -> int | None:
        """The earliest minute a bulk batch's rollup sums must hold for this store's hooks (``sums_floor``)."""
        return sums_floor(self._hooks)

    def ping(self) -> None:
        """A write transaction of the writer: proves the write lock can be taken and a commit goes through."""
        self._writer.run_sync(("ping", None))

    async def aping(self) -> None:
        await self._writer.run_async(("ping", None))

    def quarantine(self, entry: QuarantineEntry) -> int:
        result: int = self._writer.run_sync(("quarantine", entry))
        return result

    async def aquarantine(self, entry: QuarantineEntry) -> int:
        result: int = await self._writer.run_async(("quarantine", entry))
        return result

    def mark_replayed(self, quarantine_id: int, result: str) -> None:
        self._writer.run_sync(("replayed", (quarantine_id, result)))

    def replace_classification(self, records: Sequence[CallRecord]) -> int:
        changed: int = self._writer.run_sync(("reclassify", list(records)))
        return changed

    def run_in_writer(self, task: Callable[[Any], T]) -> T:
        """Run ``task(connection)`` inside a writer transaction, after the writes already queued; its result.

        For maintenance that must not compete with the writer for the database (SQLite has one write
        lock): it takes its turn like a write and commits with the batch it joins. If that batch fails,
        its items run again one by one, so ``task`` must be safe to run twice. Keep it short: the calls
        queued behind it wait for it.
        """
        result: T = self._writer.run_sync(("task", task))
        return result

    async def write_with_hooks(self, task: Callable[[Any, Sequence[WriteHook]], T]) -> T:
        """``task(connection, write hooks)`` in a writer transaction, as ``run_in_writer`` runs a task, awaited:
        a change to a stored call that moves its statistics (``hangup.store.rewrite``) goes through the hooks."""
        result: T = await self._writer.run_async(("task", lambda conn: task(conn, self._hooks)))
        return result

    def writer_stats(self) -> WriterStats:
        self._writer.stats.queue_depth = self._writer.queue_depth()
        return self._writer.stats
