"""The SQLite ``-shm`` file made unwritable under a serving ``hangup serve``.

SQLite keeps the WAL index in the ``-shm`` file and maps it into memory: a store into a mapped page of a
file that can no longer be written is answered by the kernel with SIGBUS, which ends the process. The
server must notice first, refuse calls with 503 and say it is not ready, stay alive, and take calls again
once the file is writable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from faultload import Load, readyz, skip_unless_ci, sqlite_sids, wait_for
from serverproc import Server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


def _chattr(flag: str, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chattr", flag, path], capture_output=True, text=True, timeout=30, check=False)


def test_an_unwritable_shm_file_answers_503_and_the_server_lives_and_recovers(tmp_path: Path) -> None:
    if shutil.which("chattr") is None:
        skip_unless_ci("chattr is not installed (e2fsprogs); the -shm test needs it")
    db = tmp_path / "calls.db"
    shm = f"{db}-shm"
    server = Server(db)
    try:
        with Load(server.url, prefix=5) as load:
            wait_for(lambda: len(load.acknowledged) >= 100, "calls are stored")
            load.pause()
            acknowledged = load.count(200)
            done = _chattr("+i", shm)
            if done.returncode != 0:
                skip_unless_ci(f"chattr +i failed ({done.stderr.strip()}); the -shm test needs root and ext4")
            try:
                # Written back, the mapped pages are write-protected again: the next store into one faults.
                os.sync()
                answer = readyz(server.url)
                assert answer.status_code == 503, answer.text
                assert answer.json()["error_id"] == "not_ready" and "-shm" in answer.json()["error"]
                load.resume()
                wait_for(lambda: load.count(503) >= 20, "callbacks are answered 503")
                load.pause()
                assert load.count(200) == acknowledged
                listing = httpx.get(f"{server.url}/api/calls", timeout=10.0)  # a read maps the index too
                assert listing.status_code == 503 and "-shm" in listing.text, listing.text
                assert server.process.poll() is None, "the server died"
            finally:
                _chattr("-i", shm)
            wait_for(lambda: readyz(server.url).status_code == 200, "/readyz is 200 again")
            load.resume()
            wait_for(lambda: load.count(200) >= acknowledged + 100, "callbacks are stored again")
            load.pause()
            assert readyz(server.url).status_code == 200
            assert httpx.get(f"{server.url}/api/calls", timeout=10.0).status_code == 200
        assert server.process.poll() is None, "the server died"
    finally:
        server.stop()
    assert load.acknowledged <= sqlite_sids(db)
