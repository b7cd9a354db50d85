"""Calls stored by the command line are counted in the rollups exactly as the server's are."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from receiver_helpers import planet_query

from hangup.cli import _register, cli
from hangup.composition import open_configured_store
from hangup.providers.base import WebhookRequest
from hangup.providers.planet import PlanetProvider
from hangup.settings import load_settings
from hangup.stats import raw
from hangup.stats import rollup_reads as kept
from hangup.stats.db import StatsDB
from hangup.stats.dimensions import BREAKDOWNS
from hangup.stats.service import StatsService, aligned
from hangup.stats.windows import Window

_register()
DATA = Path(__file__).resolve().parents[1] / "data"
YEAR = 366 * 86400
SINCE = 1_600_000_000  # before every recorded payload's time (2020-09-13)


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def differences(db: str, window: Window) -> list[str]:
    """What the rollups answer differently from raw rows over ``window``; asserts there were calls to count."""
    stats_db = StatsDB(db)
    try:
        conn = stats_db.reader()
        counted = raw.totals(conn, window, stats_db.paramstyle)
        assert counted.attempts > 0
        found = [] if StatsService(stats_db).totals(window)[0] == counted else ["totals"]
        for dim in BREAKDOWNS:
            if kept.breakdown(conn, window.start, window.end, dim) != raw.breakdown(conn, window, dim,
                                                                                    stats_db.paramstyle):
                found.append(dim)
        return found
    finally:
        stats_db.close()


def test_import_counts_calls_in_the_rollups(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/calls.db"
    run("import", str(DATA / "callcenter" / "import" / "records.csv"), "--db", db, "--quiet",
        "--rejects", str(tmp_path / "rejects.jsonl"))
    end = int(time.time()) + YEAR
    assert differences(db, aligned(Window(SINCE, end))) == []


def test_ingest_of_simulated_callbacks_counts_calls_in_the_rollups(tmp_path: Path) -> None:
    db, lines = f"sqlite:///{tmp_path}/calls.db", tmp_path / "calls.txt"
    run("simulate", "--rate", "5", "--duration", "60", "--seed", "3", "--out", str(lines))
    run("ingest", str(lines), "--db", db, "--quiet")
    end = int(time.time()) + YEAR
    assert differences(db, aligned(Window(SINCE, end))) == []


@pytest.mark.parametrize("calls", [1, 3])
def test_reclassify_leaves_the_rollups_exact(tmp_path: Path, calls: int) -> None:
    db = f"sqlite:///{tmp_path}/calls.db"
    base = PlanetProvider().parse(WebhookRequest("GET", "", planet_query(), received_at=time.time()))
    store = open_configured_store(load_settings({}), db)
    try:  # calls of an adapter the stored catalog did not know: "unknown" until reclassified
        store.add_many([dataclasses.replace(
            base, id=f"other-{n}", provider="other", provider_call_id=f"o-{n}", cause="nosuch:1",
            causes=("nosuch:1", "planet:1001"), outcome="unknown", reason="") for n in range(calls)])
    finally:
        store.close()
    end = int(time.time()) + YEAR
    window = aligned(Window(SINCE, end))
    stats_db = StatsDB(db)
    try:
        before = kept.breakdown(stats_db.reader(), window.start, window.end, "outcome")
    finally:
        stats_db.close()
    assert before["unknown"].attempts == calls  # the store opened for the CLI counted them

    out = run("reclassify", "--db", db)

    assert f"{calls} reclassified" in out and "rollup rows rebuilt" in out
    assert differences(db, window) == []
