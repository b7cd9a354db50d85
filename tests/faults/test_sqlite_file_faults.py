"""The SQLite file taken away from a serving ``hangup serve``: full disk, read-only file, deleted or replaced file.

Each test asserts what a platform relies on: no callback is answered 200 unless its call is stored,
``/readyz`` answers 503 naming the reason while the store cannot write, and the server recovers by itself
once the store is writable again (a deleted or replaced file cannot come back: the server stays not ready).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from faultload import Load, readyz, skip_unless_ci, sqlite_sids, wait_for
from serverproc import Server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs mounted on a directory of the test's own, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = _run("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount))
    if done.returncode != 0:
        skip_unless_ci(f"cannot mount a tmpfs ({done.stderr.strip()}); the full-disk test needs root")
    try:
        yield mount
    finally:
        if _run("umount", str(mount)).returncode != 0:
            _run("umount", "-l", str(mount))


def _fill(path: Path) -> None:
    """Write ``path`` until the file system has no block left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = b"\0" * 65536
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        for size in (4096, 512, 1):  # the last partial block too
            try:
                while True:
                    os.write(fd, block[:size])
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)


def _refused_then_recovered(server: Server, load: Load, fault: str, undo: Callable[[], object],
                            more: int = 100) -> None:
    """With the load paused: ``/readyz`` is 503 naming ``fault``; callbacks get 503 and none 200; then
    ``undo()`` and the server is ready again and stores ``more`` calls, without a restart."""
    acknowledged = load.count(200)
    answer = readyz(server.url)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error_id"] == "not_ready" and fault in answer.json()["error"]
    load.resume()
    wait_for(lambda: load.count(503) >= 20, "callbacks are answered 503")
    load.pause()
    assert load.count(200) == acknowledged
    undo()
    wait_for(lambda: readyz(server.url).status_code == 200, "/readyz is 200 again")
    load.resume()
    wait_for(lambda: load.count(200) >= acknowledged + more, "callbacks are stored again")


def test_a_full_disk_answers_503_and_the_server_recovers_when_space_is_freed(small_disk: Path) -> None:
    db = small_disk / "calls.db"
    server = Server(db, log=small_disk.parent / "serve.log")
    try:
        with Load(server.url, prefix=1) as load:
            # Few calls, so that no write has failed yet: a failed transaction leaves WAL space allocated
            # that a small later one may fill, and readiness could then be true while calls are refused.
            wait_for(lambda: len(load.acknowledged) >= 20, "calls are stored")
            load.pause()
            assert load.count(503) == 0
            filler = small_disk / "filler"
            _fill(filler)
            # The WAL grows by whole pages for every commit, so the freed space holds a few dozen commits
            # before the disk is full again: enough to show that the server took calls again by itself.
            _refused_then_recovered(server, load, "full", filler.unlink, more=20)
    finally:
        server.stop()
    assert load.acknowledged <= sqlite_sids(db)


def test_a_read_only_file_answers_503_and_the_server_recovers_when_it_is_writable(tmp_path: Path) -> None:
    # As root, chmod changes nothing and a read-only bind mount cannot be made while the server holds the
    # file open for writing: the immutable attribute is what makes the file read-only for root too.
    if shutil.which("chattr") is None:
        skip_unless_ci("chattr is not installed (e2fsprogs); the read-only test needs it")
    db = tmp_path / "calls.db"
    # The -shm file has its own test (test_sqlite_shm_fault.py): it is mapped into memory, not written to.
    files = [str(db), f"{db}-wal"]
    server = Server(db)
    try:
        with Load(server.url, prefix=2) as load:
            wait_for(lambda: len(load.acknowledged) >= 100, "calls are stored")
            load.pause()
            done = _run("chattr", "+i", *files)
            if done.returncode != 0:
                skip_unless_ci(f"chattr +i failed ({done.stderr.strip()}); the read-only test needs root and ext4")
            try:
                _refused_then_recovered(server, load, "is read-only", lambda: _run("chattr", "-i", *files))
            finally:
                _run("chattr", "-i", *files)
    finally:
        server.stop()
    assert load.acknowledged <= sqlite_sids(db)


@pytest.mark.parametrize("fault", ["deleted", "replaced"])
def test_a_deleted_or_replaced_file_is_not_ready_and_takes_no_call(tmp_path: Path, fault: str) -> None:
    db = tmp_path / "calls.db"
    kept = tmp_path / "kept.db"
    server = Server(db)
    try:
        with Load(server.url, prefix=3) as load:
            wait_for(lambda: len(load.acknowledged) >= 100, "calls are stored")
            load.pause()
            acknowledged = set(load.acknowledged)
            # Other names for the open file and its log, so what was acknowledged can be checked afterwards.
            os.link(db, kept)
            os.link(f"{db}-wal", f"{kept}-wal")
            if fault == "deleted":
                db.unlink()
            else:
                other = tmp_path / "other.db"
                with sqlite3.connect(other) as conn:
                    conn.execute("CREATE TABLE other (x)")
                os.replace(other, db)
            answer = readyz(server.url)
            assert answer.status_code == 503 and fault in answer.json()["error"], answer.text
            load.resume()
            wait_for(lambda: load.count(503) >= 20, "callbacks are answered 503")
            load.pause()
            assert load.acknowledged == acknowledged
            assert readyz(server.url).status_code == 503
    finally:
        server.stop()
    assert acknowledged <= sqlite_sids(kept)


def test_calls_answered_200_survive_sigkill_and_restart_under_load(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    server = Server(db)
    try:
        with Load(server.url, prefix=4) as load:
            for _ in range(2):
                load.wait_more(200, "calls are stored")
                server.kill()
                server = Server(db)
                load.url = server.url
            load.wait_more(200, "the restarted server stores calls")
    finally:
        server.stop()
    assert load.acknowledged <= sqlite_sids(db)
