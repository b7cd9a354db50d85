"""PostgreSQL connections of a serving ``hangup serve`` terminated by the server (``pg_terminate_backend``).

The server must not answer 200 for a call it did not commit, and must recover without a restart: the
writer reconnects, the pool replaces the connections it finds dead.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import postgres_helpers
import pytest
from faultload import Load, readyz, wait_for
from serverproc import Server

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(60)]


def _terminate(application: str) -> int:
    """Terminate the backends of the server under test (found by its application name), no other."""
    import psycopg

    with psycopg.connect(postgres_helpers.SERVER, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application,),
        ).fetchone()
    return int(row[0]) if row else 0


def _stored(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM calls")}


def test_terminated_backends_lose_no_acknowledged_call_and_the_server_recovers(
    postgres_url: str, tmp_path: Path
) -> None:
    application = f"hangup_faults_{uuid.uuid4().hex[:12]}"
    url = f"{postgres_url}&application_name={application}"
    server = Server(url, log=tmp_path / "serve.log")
    try:
        with Load(server.url, prefix=5) as load:
            for _ in range(3):
                load.wait_more(100, "calls are stored")
                assert _terminate(application) >= 1
            load.wait_more(100, "calls are stored after the last termination")
        wait_for(lambda: readyz(server.url).status_code == 200, "/readyz is 200")
        assert load.count(200) == len(load.acknowledged)
    finally:
        server.stop()
    assert load.acknowledged <= _stored(postgres_url)
