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

import io
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
from hangup.stats import arrow_rollups
from hangup.store import sql, staging
from hangup.store.base import CopyBatch
from hangup.store.copy_batch import from_tables
from hangup.store.schema import CALL_COLUMNS

#: The reading process's last argument for a store that takes COPY text (``CopyStore``), not a folder.
COPY = "--copy"
#: Staging files written and not yet stored, at most: one being stored, one ready for the next commit.
STAGED_AHEAD = 2


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


def staged_batches(path: str, fmt: str, received_at: float, batch_size: int, folder: str) -> Iterator[Batch]:
    """``read_batches``, each batch's rows written to a staging file in ``folder`` that the batch names.

    The parent deletes a file once stored; no more than ``STAGED_AHEAD`` wait at a time, so a slower
    store bounds the staging files' disk space, as the pipe's buffer bounds batches of rows."""
    parent = os.getppid()
    for number, (batch, table) in enumerate(_full(_tables(path, fmt, received_at, batch_size), batch_size), 1):
        if table.num_rows == 0:  # no call in the file: counts only, nothing to store
            yield batch
            continue
        while len(os.listdir(folder)) >= STAGED_AHEAD:
            if os.getppid() != parent:  # the importing process is gone: nobody will store these
                raise ImportReaderError("the importing process ended")
            time.sleep(0.005)
        batch.staged = os.path.join(folder, f"{os.getpid()}-{number:06d}.stage")  # readers of files share it
        staging.write(batch.staged, table, arrow_rollups.aggregate(table))
        yield batch


def row_batches(path: str, fmt: str, received_at: float, batch_size: int, copy: bool = False) -> Iterator[Batch]:
    """``read_batches`` for a store that takes rows, not staging files: a ``Master.csv`` read column-wise
    too, its tables turned into rows (without digests, which ``add_rows`` computes from the records), or
    with ``copy`` into COPY text where it can carry them."""
    if fmt != "asterisk-csv" or not columnar.supports(path):
        yield from read_batches(path, fmt, received_at, batch_size)
        return
    for batch, table in _full(_tables(path, fmt, received_at, batch_size), batch_size):
        batch.copied = from_tables(table, arrow_rollups.aggregate(table)) if copy and table.num_rows else None
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
                  folder: str | None = None) -> None:
    """The reading process: pickled batches (staged in ``folder`` if given, as COPY text if ``folder`` is
    ``COPY``), then ``None``; a failure is sent as its message."""
    try:
        batches = (row_batches(path, fmt, received_at, batch_size, folder == COPY) if folder in (None, COPY)
                   else staged_batches(path, fmt, received_at, batch_size, folder))
        for batch in batches:
            pickle.dump(batch, out, pickle.HIGHEST_PROTOCOL)
        message: str | None = None
    except Exception as exc:  # sent to the parent, which raises it for the import
        message = f"{type(exc).__name__}: {exc}"
    pickle.dump(message, out, pickle.HIGHEST_PROTOCOL)
    out.flush()


class ImportReaderError(RuntimeError):
    """The reading process failed or died; batches already stored stay stored."""


def batches_from_process(path: str, fmt: str, received_at: float, batch_size: int,
                         folder: str | None = None) -> Iterator[Batch]:
    """Batches of ``path`` read by a child process (staged in ``folder`` if given, as COPY text if it is
    ``COPY``); the process is stopped when the iterator is closed.

    The child is ``python -m hangup.importer.reader`` writing to a pipe: the pipe's buffer bounds how far
    it reads ahead, and nothing of the parent (its threads, its ``__main__``) is copied or re-imported.
    """
    command = [sys.executable, "-m", "hangup.importer.reader", path, fmt, repr(received_at), str(batch_size),
               *([folder] if folder else [])]
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    stream = process.stdout
    assert stream is not None
    try:
        while True:
            try:
                message = pickle.load(stream)
            except EOFError:
                raise ImportReaderError(f"{path}: the reading process ended (exit code {process.wait()})") from None
            if message is None:
                break
            if isinstance(message, str):
                raise ImportReaderError(f"{path}: {message}")
            yield message
    finally:
        if process.poll() is None:
            process.terminate()
        stream.close()
        process.wait()
