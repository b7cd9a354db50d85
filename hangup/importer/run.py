"""Importing files into the store: format guess, streaming, batched commits, dedup, rejects.

Records are committed in batches (``batch_size`` per ``add_many``, one transaction each), so an
interrupted import keeps every finished batch and re-running it only adds what is missing: the
store answers ``duplicate`` for a call it already holds with the same facts and ``conflict`` (the
first version kept) for one whose facts differ. Rejected events are written, one JSON object per
line with the reason, to the rejects file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from hangup.errors import HTTPError
from hangup.importer.columns import CDR_CSV_FORMATS, Columns, with_columns
from hangup.importer.formats import FORMATS, READERS, Item
from hangup.importer.parallel import COPY, Batch, ReadingProcess, Reject, reject_reason
from hangup.providers.draft import local_times, zone_named
from hangup.records import CallRecord
from hangup.sip.capture.files import is_capture
from hangup.store.base import AddResult, CopyStore, StagedResult, StagingStore, Store
from hangup.store.sql import Row

#: Rows per transaction. A batch of a large file dirties most leaf pages of the id and user indexes however
#: few rows it holds, so the bigger the batch the fewer page writes per row: a million-call import took
#: ~35 s in batches of 100,000 against ~50 s in batches of 20,000 (docs/benchmarks.md, "Import").
DEFAULT_BATCH = 100_000
GUESS_BYTES = 8192
#: Formats whose calls keep their signalling in ``raw`` (a few KiB each) commit in batches of at most this many,
#: so a reading process holds tens of MB rather than hundreds, and the store's import page cache stays small
#: (the reading process's peak: 277 MB at 10,000 calls per batch, 136 MB at 1,000; docs/benchmarks.md, "SIP").
SMALL_BATCHES: dict[str, int] = {"pcap": 1_000}
#: Files at least this large are read in a second process (``hangup.importer.parallel``); below it the
#: process start (~0.3 s) would cost more than it saves.
PARALLEL_BYTES = 8 * 1024 * 1024
#: Conflicts read back for the summary (newest first), and call ids it names.
CONFLICT_SCAN = 100_000
CONFLICT_EXAMPLES = 5


def guess_format(name: str, head: str) -> str | None:
    """The format of a file from its name and first bytes, or ``None`` when that is not clear.

    A format's file name endings decide first; then its (extensions, marker) pairs, in ``FORMATS`` order
    (hangup's own export first), those bound to an extension before those of any extension."""
    for fmt, described in FORMATS.items():
        if described.endings and name.endswith(described.endings):
            return fmt
    suffix = Path(name).suffix.lower()
    markers = [(suffixes, marker, fmt) for fmt, described in FORMATS.items() for suffixes, marker in described.markers]
    for suffixes, marker, fmt in sorted(markers, key=lambda m: "" in m[0]):  # stable: any-extension ones last
        if (suffix in suffixes or "" in suffixes) and marker in head:
            return fmt
    return None


@dataclass(slots=True)
class ImportSummary:
    """What an import did, for the CLI's summary and ``--json``."""

    files: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)  # file → format used
    read: int = 0  # events read (records, rejects and ignored)
    imported: int = 0  # new calls stored
    duplicates: int = 0  # calls the store already held with the same facts
    conflicts: int = 0  # calls the store already held with different facts (first kept)
    legs: int = 0  # further legs of calls the store held (``hangup.legs``): each call merges its legs
    ignored: int = 0  # events that are not call ends (ringing, answered …)
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    rejects_path: str | None = None
    seconds: float = 0.0
    # Talk time the conflicting versions hold beyond the stored ones: Master.csv writes one row per leg
    # (a Local/ stub, then the conversation; each transfer) under one uniqueid, and only the first is stored.
    conflict_talk_seconds: int = 0
    conflict_calls: list[str] = field(default_factory=list)  # a few call ids whose versions hold that time

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files, "formats": self.formats, "read": self.read, "imported": self.imported,
            "duplicates": self.duplicates, "conflicts": self.conflicts, "legs": self.legs, "ignored": self.ignored,
            "rejected": self.rejected, "reasons": dict(self.reasons.most_common()),
            "rejects_path": self.rejects_path, "seconds": round(self.seconds, 3),
            "conflict_talk_seconds": self.conflict_talk_seconds, "conflict_calls": self.conflict_calls,
        }


class Importer:
    """Streams files through a format reader into ``store`` in batches."""

    def __init__(self, store: Store, *, batch_size: int = DEFAULT_BATCH, rejects_path: str | None = None,
                 progress: Callable[[int], None] | None = None, received_at: float | None = None,
                 parallel: bool | None = None, columns: Columns | None = None, time_zone: str | None = None
                 ) -> None:
        self.store = store
        # the zone of the files' times without an offset (``--timezone``, an IANA name), or None: UTC
        self.zone = zone_named(time_zone) if time_zone else None
        self.columns = columns  # the CSV files' column mapping (``--columns``), or None
        self.parallel = parallel  # read in a second process: None = files of PARALLEL_BYTES and more
        self.batch_size = max(1, batch_size)
        self.rejects_path = rejects_path
        self.progress = progress or (lambda done: None)
        self.received_at = received_at or time.time()
        self.summary = ImportSummary()
        self._pending: list[CallRecord] = []
        self._rejects: IO[str] | None = None
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hangup-import")
        self._inflight: Future[list[AddResult]] | Future[StagedResult] | None = None
        self._staging: str | None = None  # the folder of staging files, made at the first staged file
        self._bulk = contextlib.ExitStack()  # the store's bulk load, from the first staged file to the end
        self._copying = False  # in the bulk load of a store that takes COPY text
        self._reading = ReadingProcess(self.received_at, time_zone)  # started at the first file read elsewhere

    def run(self, paths: Sequence[str], fmt: str | None = None) -> ImportSummary:
        started = time.perf_counter()
        try:
            for path in paths:
                self.import_file(path, fmt)
        finally:
            try:
                self._flush()
                self._drain()
            finally:
                self._committer.shutdown(wait=True)
                self._reading.close()
                if self._staging is not None:
                    shutil.rmtree(self._staging, ignore_errors=True)
                self._bulk.close()
                self._copying = False
            if self._rejects is not None:
                self._rejects.close()
            self.summary.seconds = time.perf_counter() - started
        self._count_conflict_talk()
        return self.summary

    def _count_conflict_talk(self) -> None:
        """Add up the talk time of this import's conflicting versions that the stored calls lack."""
        if not self.summary.conflicts:
            return
        for conflict in self.store.conflicts(limit=min(self.summary.conflicts, CONFLICT_SCAN)):
            if conflict.received_at != self.received_at:
                continue  # recorded by an earlier import or a webhook
            stored, received = conflict.differences.get("duration", (0, 0))
            more = int(received or 0) - int(stored or 0)
            if more > 0:
                self.summary.conflict_talk_seconds += more
                if len(self.summary.conflict_calls) < CONFLICT_EXAMPLES:
                    self.summary.conflict_calls.append(conflict.call_id)

    def import_file(self, path: str, fmt: str | None = None) -> None:
        buffered = _stdin() if path == "-" else open(path, "rb")
        try:
            chosen = self._format(path, buffered.peek(GUESS_BYTES)[:GUESS_BYTES], fmt)
            self.summary.files.append(path)
            self.summary.formats[path] = chosen
            if self._read_elsewhere(path):
                buffered.close()
                self._import_read_elsewhere(path, chosen)
                return
            with local_times(self.zone) if self.zone is not None else contextlib.nullcontext():
                self._read_here(path, buffered, chosen)
        finally:
            if path != "-":
                buffered.close()

    def _format(self, path: str, head: bytes, fmt: str | None) -> str:
        """The file's format: ``fmt``, else guessed from its name and first bytes; one the options apply to."""
        chosen = fmt or ("pcap" if is_capture(head) else guess_format(path, head.decode("utf-8", "replace")))
        if chosen is None:
            raise ValueError(f"{path}: cannot tell the format; name it with --format ({', '.join(READERS)})")
        if self.columns is not None and chosen not in CDR_CSV_FORMATS:
            raise ValueError(f"{path}: --columns maps CDR CSV columns ({', '.join(CDR_CSV_FORMATS)}), not {chosen}")
        if self.zone is not None and not FORMATS[chosen].local_times:
            local = ", ".join(name for name, f in FORMATS.items() if f.local_times)
            raise ValueError(f"{path}: --timezone is the zone of CDR files written in a switch's local time "
                             f"({local}); {chosen} times say their own zone")
        return chosen

    def _read_here(self, path: str, buffered: io.BufferedReader, fmt: str) -> None:
        text = io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="replace", newline="")
        last = 0
        reader = READERS[fmt] if self.columns is None else with_columns(READERS[fmt], self.columns)
        try:
            for item in reader(text, self.received_at):
                self._take(path, item)
                if len(self._pending) >= self._batch_size(fmt):
                    self._flush()
                    position = _position(buffered)
                    self.progress(position - last)
                    last = position
        finally:
            text.detach()  # the file is the caller's to close
        self._flush()
        self.progress(max(0, _position(buffered) - last))

    def _read_elsewhere(self, path: str) -> bool:
        if path == "-" or self.parallel is False or self.columns is not None:
            return False  # the second process reads files with their own columns
        return self.parallel is True or os.path.getsize(path) >= PARALLEL_BYTES

    def _import_read_elsewhere(self, path: str, fmt: str) -> None:
        """Store batches read by a second process; the next batch is read while one commits.

        A store that takes staging files gets each batch as one (written by the reading process in a
        folder beside the store, deleted once stored); any other gets the batch's rows. The last batch
        of a file is stored while the next file is read."""
        self._flush()
        store = self.store
        if isinstance(store, StagingStore) and self._staging is None:
            self._staging = tempfile.mkdtemp(prefix=".hangup-import-", dir=store.staging_dir())
            self._bulk.enter_context(store.bulk_load())
        elif isinstance(store, CopyStore) and not self._copying:
            self._copying = True
            self._bulk.enter_context(store.bulk_load())
        folder = self._staging if isinstance(store, StagingStore) else COPY if isinstance(store, CopyStore) else None
        floor = store.minute_sums_floor() if isinstance(store, StagingStore | CopyStore) else None
        self._store_batches(path, self._reading.batches(path, fmt, self._batch_size(fmt), folder, floor))

    def _batch_size(self, fmt: str) -> int:
        return min(self.batch_size, SMALL_BATCHES.get(fmt, self.batch_size))

    def _store_batches(self, path: str, batches: Iterator[Batch]) -> None:
        last = 0
        for batch in batches:
            self.summary.read += batch.read
            self.summary.ignored += batch.ignored
            for reject in batch.rejects:
                self._write_reject(path, reject)
            if batch.staged is not None:
                self._submit_staged(batch.staged)
            elif batch.copied is not None:
                self._drain()
                self._inflight = self._committer.submit(cast(CopyStore, self.store).add_copied, batch.copied)
            else:
                self._submit_rows(batch.rows)
            self.progress(batch.position - last)
            last = batch.position

    def _take(self, path: str, item: Item) -> None:
        self.summary.read += 1
        if item.record is not None:
            self._pending.append(item.record)
        elif item.error is not None:
            self._reject(path, item, item.error)
        else:
            self.summary.ignored += 1

    def _reject(self, path: str, item: Item, error: HTTPError) -> None:
        self._write_reject(path, Reject(item.location, error.to_json(), item.raw[:65536], reject_reason(error)))

    def _write_reject(self, path: str, reject: Reject) -> None:
        self.summary.rejected += 1
        self.summary.reasons[reject.reason] += 1
        if self._rejects is None:
            self.rejects_path = self.rejects_path or _default_rejects_path(path)
            self.summary.rejects_path = self.rejects_path
            self._rejects = open(self.rejects_path, "a", encoding="utf-8")
        line = {"file": path, "location": reject.location, **reject.error, "raw": reject.raw}
        self._rejects.write(json.dumps(line, ensure_ascii=False) + "\n")

    def _flush(self) -> None:
        """Hand the pending batch to the store; the next batch is parsed while this one commits."""
        if not self._pending:
            return
        self._drain()
        self._inflight = self._committer.submit(self.store.add_many, self._pending)
        self._pending = []

    def _submit_rows(self, rows: list[Row]) -> None:
        """Hand a batch of rows to the store, as ``_flush`` does records."""
        if rows:
            self._drain()
            self._inflight = self._committer.submit(self.store.add_rows, rows)

    def _submit_staged(self, staged: str) -> None:
        """Hand a staging file to the store, as ``_flush`` does records; the file is deleted once stored."""
        self._drain()
        self._inflight = self._committer.submit(_store_staged, cast(StagingStore, self.store), staged)

    def _drain(self) -> None:
        """Wait for the batch being committed and count what the store did with it."""
        if self._inflight is None:
            return
        results, self._inflight = self._inflight.result(), None
        if isinstance(results, StagedResult):
            self.summary.imported += results.inserted
            self.summary.duplicates += results.duplicates
            self.summary.conflicts += results.conflicts
            self.summary.legs += results.legs
            return
        for result in results:
            status = str(result.status)
            if status == "inserted":
                self.summary.imported += 1
            elif status == "duplicate":
                self.summary.duplicates += 1
            elif status == "leg":
                self.summary.legs += 1
            else:
                self.summary.conflicts += 1


def _store_staged(store: StagingStore, staged: str) -> StagedResult:
    try:
        return store.add_staged(staged)
    finally:
        os.remove(staged)


def _stdin() -> io.BufferedReader:
    """Standard input as a stream that can be peeked at (for the format guess)."""
    stream = sys.stdin.buffer
    if isinstance(stream, io.BufferedReader):
        return stream
    return io.BufferedReader(cast(io.RawIOBase, stream))


def _position(stream: IO[bytes]) -> int:
    try:
        return stream.tell()
    except (OSError, ValueError):
        return 0


def _default_rejects_path(path: str) -> str:
    return "hangup-import.rejects.jsonl" if path == "-" else f"{path}.rejects.jsonl"
