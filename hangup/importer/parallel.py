"""Reading a large file in a second process while this one stores it.

Reading, classifying and building a call's ``calls`` row (its JSON columns and digest) is pure Python and
costs about as much as storing it, so under one interpreter lock the two add up. Here a child process
reads the file and sends batches of ready rows through a pipe, never records: a row pickles in about a
third of a record's time. The parent hands each batch to ``Store.add_rows``, which keeps dedup, conflicts
and the write hooks as ``add_many`` does. The pipe's buffer bounds how far the reader runs ahead.
"""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from hangup.errors import HTTPError
from hangup.importer.formats import READERS
from hangup.store import sql


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


def reject_reason(error: HTTPError) -> str:
    """The short reason of a rejection counted in the import summary."""
    first = error.details[0] if error.details else {}
    return f"{first.get('field')}: {first.get('error')}" if first else error.message


def read_batches(path: str, fmt: str, received_at: float, batch_size: int) -> Iterator[Batch]:
    """Read ``path`` as ``fmt`` into batches of at most ``batch_size`` rows (runs in the reading process)."""
    with open(path, "rb") as buffered:
        text = io.TextIOWrapper(buffered, encoding="utf-8", errors="replace", newline="")
        batch = Batch()
        for item in READERS[fmt](text, received_at):
            batch.read += 1
            if item.record is not None:
                batch.rows.append(sql.record_row(item.record))
            elif item.error is not None:
                batch.rejects.append(Reject(item.location, item.error.to_json(), item.raw[:65536],
                                            reject_reason(item.error)))
            else:
                batch.ignored += 1
            if len(batch.rows) >= batch_size:
                batch.position = buffered.tell()
                yield batch
                batch = Batch()
        batch.position = buffered.tell()
        yield batch


def write_batches(out: IO[bytes], path: str, fmt: str, received_at: float, batch_size: int) -> None:
    """The reading process: pickled batches, then ``None``; a failure is sent as its message."""
    try:
        for batch in read_batches(path, fmt, received_at, batch_size):
            pickle.dump(batch, out, pickle.HIGHEST_PROTOCOL)
        message: str | None = None
    except Exception as exc:  # sent to the parent, which raises it for the import
        message = f"{type(exc).__name__}: {exc}"
    pickle.dump(message, out, pickle.HIGHEST_PROTOCOL)
    out.flush()


class ImportReaderError(RuntimeError):
    """The reading process failed or died; batches already stored stay stored."""


def batches_from_process(path: str, fmt: str, received_at: float, batch_size: int) -> Iterator[Batch]:
    """Batches of ``path`` read by a child process; the process is stopped when the iterator is closed.

    The child is ``python -m hangup.importer.reader`` writing to a pipe: the pipe's buffer bounds how far
    it reads ahead, and nothing of the parent (its threads, its ``__main__``) is copied or re-imported.
    """
    command = [sys.executable, "-m", "hangup.importer.reader", path, fmt, repr(received_at), str(batch_size)]
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
