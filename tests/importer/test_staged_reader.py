"""The reading process of a staged import (``hangup.importer.parallel.staged_batches``): every event is
staged once, in order, and the reader waits while ``STAGED_AHEAD`` staging files are not yet stored."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from hangup.importer import parallel
from hangup.importer.export import write_text
from hangup.importer.parallel import STAGED_AHEAD, staged_batches
from hangup.stats import traffic
from hangup.store import staging

CALLS = list(traffic.generate(7, 1_700_000_000, 1_700_003_600, seed=3))


def _export(tmp_path: Path) -> str:
    path = tmp_path / "calls.jsonl"
    with path.open("w", encoding="utf-8") as out:
        write_text(CALLS, "jsonl", out)
    return str(path)


def test_every_call_is_staged_once_in_batches(tmp_path: Path) -> None:
    folder = tmp_path / "stage"
    folder.mkdir()
    ids: list[str] = []
    for batch in staged_batches(_export(tmp_path), "jsonl", 1.0, 3, str(folder)):
        assert batch.staged is not None and batch.rows == []
        with sqlite3.connect(batch.staged) as conn:
            ids += [row[0] for row in conn.execute(f"SELECT id FROM {staging.TABLE} ORDER BY rowid")]
            sums = conn.execute(f"SELECT SUM(attempts) FROM {staging.SUMS} WHERE level = 60 AND dim = ''")
            assert sums.fetchone()[0] == batch.read
        os.remove(batch.staged)
    assert ids == [call.id for call in CALLS]


def test_the_reader_waits_while_staging_files_are_not_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "stage"
    folder.mkdir()
    batches = staged_batches(_export(tmp_path), "jsonl", 1.0, 1, str(folder))
    waiting = [next(batches) for _ in range(STAGED_AHEAD)]
    naps: list[float] = []

    def nap(seconds: float) -> None:  # the reader waits; the store takes the oldest file on the third nap
        naps.append(seconds)
        if len(naps) == 3:
            os.remove(str(waiting[0].staged))

    monkeypatch.setattr(parallel.time, "sleep", nap)
    following = next(batches)
    assert len(naps) == 3 and following.staged is not None and Path(following.staged).exists()
    assert len(os.listdir(folder)) == STAGED_AHEAD
