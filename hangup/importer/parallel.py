"""Reading a large file in a second process while this one stores it.

Reading, classifying and building a call's ``calls`` row is as costly as storing it, so under one
interpreter lock the two add up. Here a child process reads the file, a batch at a time, and either

* writes the batch's rows into a staging file of its own (``hangup.store.staging``; stores that take
  them, i.e. SQLite) and sends only the file's name: the parent's writer moves the rows with one
  ``INSERT … SELECT``; Asterisk ``Master.csv`` files are read column-wise (``hangup.importer.columnar``),
  every other format through its adapter, row by row; or
* sends a ``Master.csv`` batch read column-wise as ``COPY`` text with its rollup sums
  (``hangup.store.copy_batch``), for stores that take it (``CopyStore``: PostgreSQL); or
* sends the ready rows themselves through the pipe (never records: a row pickles in about a third of a
  record's time), for ``Store.add_rows`` (PostgreSQL, for other formats and batches ``COPY`` text cannot
  carry).

Either way dedup, conflicts and the write hooks are those of ``add_many``. The pipe's buffer bounds how
far the reader runs ahead.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import pyarrow as pa

from hangup.errors import HTTPError
from hangup.importer import columnar
from hangup.importer.formats import READERS, Item
from hangup.providers.draft import local_times, zone_named
from hangup.stats import arrow_rollups
from hangup.store import sql, staging
from hangup.store.base import CopyBatch
from hangup.store.copy_batch import from_tables
from hangup.store.schema import CALL_COLUMNS

#: The reading process's last argument for a store that takes COPY text (``CopyStore``), not a folder.
COPY = "--copy"
#: Staging files written and not yet stored, at most: one being stored, one ready for the next commit.
STAGED_AHEAD = 2
_STAGED = itertools.count(1)  # staging files this process has written


@dataclass(slots=True)
class Reject:
    """An event the reader rejected, as the rejects file records it."""

    location: str
    error: dict[str, Any]  # HTTPError.to_json()
    raw: str
    reason: str


@dataclass(slots=True)
class Batch:
    """What the reading process sends per batch: rows to store, and counts of what it did not store."""

    rows: list[sql.Row] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    read: int = 0
    ignored: int = 0
    position: int = 0  # bytes of the file read so far
    staged: str | None = None  # the staging file holding this batch's rows (then ``rows`` is empty)
    copied: CopyBatch | None = None  # this batch's rows as COPY text (then ``rows`` is empty)


def reject_reason(error: HTTPError) -> str:
    """The short reason of a rejection counted in the import summary."""
    first = error.details[0] if error.details else {}
    return f"{first.get('field')}: {first.get('error')}" if first else error.message


def read_batches(path: str, fmt: str, received_at: float, batch_size: int) -> Iterator[Batch]:
    """Read ``path`` as ``fmt`` into batches of at most ``batch_size`` rows (runs in the reading process)."""
    with open(path, "rb") as buffered:
        text = io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="replace", newline="")
        batch = Batch()
        for item in READERS[fmt](text, received_at):
            batch.read += 1
            _add(batch, item)
            if len(batch.rows) >= batch_size:
                batch.position = buffered.tell()
                yield batch
                batch = Batch()
        batch.position = buffered.tell()
        yield batch


def _add(batch: Batch, item: Item) -> None:
    if item.record is not None:
        batch.rows.append(sql.record_row(item.record))
    elif item.error is not None:
        batch.rejects.append(Reject(item.location, item.error.to_json(), item.raw[:65536], reject_reason(item.error)))
    else:
        batch.ignored += 1


def staged_batches(path: str, fmt: str, received_at: float, batch_size: int, folder: str,
                   minute_floor: int | None = None) -> Iterator[Batch]:
    """``read_batches``, each batch's rows written to a staging file in ``folder`` that the batch names.

    The parent deletes a file once stored; no more than ``STAGED_AHEAD`` wait at a time, so a slower
    store bounds the staging files' disk space, as the pipe's buffer bounds batches of rows."""
    parent = os.getppid()
    for batch, table in _full(_tables(path, fmt, received_at, batch_size), batch_size):
        if table.num_rows == 0:  # no call in the file: counts only, nothing to store
            yield batch
            continue
        while len(os.listdir(folder)) >= STAGED_AHEAD:
            if os.getppid() != parent:  # the importing process is gone: nobody will store these
                raise ImportReaderError("the importing process ended")
            time.sleep(0.005)
        # numbered across the files one process reads, and by process: readers of files share the folder
        batch.staged = os.path.join(folder, f"{os.getpid()}-{next(_STAGED):06d}.stage")
        staging.write(batch.staged, table, arrow_rollups.aggregate(table, minute_floor))
        yield batch


def row_batches(path: str, fmt: str, received_at: float, batch_size: int, copy: bool = False,
                minute_floor: int | None = None) -> Iterator[Batch]:
    """``read_batches`` for a store that takes rows, not staging files: a ``Master.csv`` read column-wise
    too, its tables turned into rows (without digests, which ``add_rows`` computes from the records), or
    with ``copy`` into COPY text where it can carry them."""
    if fmt != "asterisk-csv" or not columnar.supports(path):
        yield from read_batches(path, fmt, received_at, batch_size)
        return
    for batch, table in _full(_tables(path, fmt, received_at, batch_size), batch_size):
        batch.copied = (from_tables(table, arrow_rollups.aggregate(table, minute_floor)) if copy and table.num_rows
                        else None)
        if batch.copied is None:
            batch.rows = list(zip(*(table.column(name).to_pylist() for name in CALL_COLUMNS), strict=True))
        yield batch


def _full(parts: Iterator[tuple[Batch, pa.Table]], batch_size: int) -> Iterator[tuple[Batch, pa.Table]]:
    """The parts joined into batches of at least ``batch_size`` rows (the last one excepted): a reader that
    cuts its batches by bytes would otherwise leave a few rows over, each remainder one more commit."""
    pending: list[tuple[Batch, pa.Table]] = []
    rows = 0
    for batch, table in parts:
        pending.append((batch, table))
        rows += table.num_rows
        if rows >= batch_size:
            yield _joined(pending)
            pending, rows = [], 0
    if pending:
        yield _joined(pending)


def _joined(parts: list[tuple[Batch, pa.Table]]) -> tuple[Batch, pa.Table]:
    batch = Batch(rejects=[reject for part, _ in parts for reject in part.rejects],
                  read=sum(part.read for part, _ in parts), ignored=sum(part.ignored for part, _ in parts),
                  position=parts[-1][0].position)
    return batch, pa.concat_tables([table for _, table in parts]) if len(parts) > 1 else parts[0][1]


def _tables(path: str, fmt: str, received_at: float, batch_size: int) -> Iterator[tuple[Batch, pa.Table]]:
    """Batches (without rows) and their rows as one table each."""
    if fmt == "asterisk-csv" and columnar.supports(path):
        for read in columnar.read_asterisk_batches(path, received_at, batch_size):
            batch = Batch(read=read.table.num_rows + len(read.items), position=read.position)
            for item in read.items:  # rows the column-wise reader leaves to the adapter
                _add(batch, item)
            table = read.table
            if batch.rows:
                table = pa.concat_tables([table, staging.rows_table(batch.rows)])
            batch.rows = []
            yield batch, table
        return
    for batch in read_batches(path, fmt, received_at, batch_size):
        table, batch.rows = staging.rows_table(batch.rows), []
        yield batch, table


def write_batches(out: IO[bytes], path: str, fmt: str, received_at: float, batch_size: int,
                  folder: str | None = None, minute_floor: int | None = None) -> None:
    """The reading process: pickled batches (staged in ``folder`` if given, as COPY text if ``folder`` is
    ``COPY``, their rollup sums from ``minute_floor`` on), then ``None``; a failure is sent as its message."""
    try:
        batches = (row_batches(path, fmt, received_at, batch_size, folder == COPY, minute_floor)
                   if folder in (None, COPY) else
                   staged_batches(path, fmt, received_at, batch_size, folder, minute_floor))
        for batch in batches:
            pickle.dump(batch, out, pickle.HIGHEST_PROTOCOL)
        message: str | None = None
    except Exception as exc:  # sent to the parent, which raises it for the import
        message = f"{type(exc).__name__}: {exc}"
    pickle.dump(message, out, pickle.HIGHEST_PROTOCOL)
    out.flush()


class ImportReaderError(RuntimeError):
    """The reading process failed or died; batches already stored stay stored."""


class ReadingProcess:
    """The child process that reads an import's large files, one after another.

    It is ``python -m hangup.importer.reader`` with a pipe each way: a request per file (its path, format,
    batch size, staging folder, the store's rollup minute floor and the files' time zone; one JSON line) in,
    the file's pickled batches and a ``None`` (or its failure's message) out. One process serves every file
    of the import, so the modules it loads (pyarrow, the adapters, the number plans) and what it caches
    (normalised numbers) are paid for once, not once per file. The pipe's buffer bounds how far it reads
    ahead, and nothing of the parent (its threads, its ``__main__``) is copied or re-imported. A file whose
    batches are not all taken (the import failed while storing one) stops the process; the next file starts
    another.
    """

    def __init__(self, received_at: float, time_zone: str | None = None) -> None:
        self.received_at = received_at
        self.time_zone = time_zone  # of times without an offset (``draft.local_times``), or None: UTC
        self._process: subprocess.Popen[bytes] | None = None

    def batches(self, path: str, fmt: str, batch_size: int, folder: str | None = None,
                minute_floor: int | None = None) -> Iterator[Batch]:
        """Batches of ``path`` (staged in ``folder`` if given, as COPY text if it is ``COPY``; their rollup
        sums without minutes before ``minute_floor``)."""
        process = self._running()
        assert process.stdin is not None and process.stdout is not None
        request = [path, fmt, self.received_at, batch_size, folder, minute_floor, self.time_zone]
        process.stdin.write(json.dumps(request).encode() + b"\n")
        process.stdin.flush()
        finished = False
        try:
            while True:
                try:
                    message = pickle.load(process.stdout)
                except EOFError:
                    raise ImportReaderError(f"{path}: the reading process ended (exit code {process.wait()})"
                                            ) from None
                finished = message is None or isinstance(message, str)
                if isinstance(message, str):
                    raise ImportReaderError(f"{path}: {message}")
                if message is None:
                    return
                yield message
        finally:
            if not finished:
                self.close()

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            command = [sys.executable, "-m", "hangup.importer.reader"]
            self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return self._process

    def close(self) -> None:
        """Stop the process (between files it holds nothing; in the middle of one, its staging files are the
        import's folder's, removed with it)."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None and process.stdout is not None
        if process.poll() is None:
            process.terminate()
        with contextlib.suppress(OSError):
            process.stdin.close()
        process.stdout.close()
        process.wait()


def serve(requests: IO[bytes], out: IO[bytes]) -> None:
    """The reading process's loop: ``write_batches`` for each request line until the requests end."""
    for line in requests:
        path, fmt, received_at, batch_size, folder, minute_floor, zone = json.loads(line)
        with local_times(zone_named(zone)) if zone else contextlib.nullcontext():
            write_batches(out, path, fmt, float(received_at), int(batch_size), folder, minute_floor)

