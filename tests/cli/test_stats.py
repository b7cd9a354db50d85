"""``hangup stats``, ``hangup rollups`` and ``hangup alerts`` through CliRunner, against a seeded store."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from planted_traffic import FAILURE, NOW_END, NOW_START, planted

from hangup.cli import _register, cli
from hangup.composition import open_store
from hangup.stats import traffic
from hangup.stats.db import attach_rollups

_register()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/calls.db"
    store = open_store(url)
    attach_rollups(store)
    now = int(time.time())
    store.add_many(list(traffic.generate(800, now - 6 * 3600, now - 60, seed=5, users=20)))
    store.close()
    return url


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_summary_json_equals_table(db: str) -> None:
    code, text = run("stats", "summary", "--db", db, "--range", "1d", "--json")
    assert code == 0
    answer = json.loads(text)
    assert answer["totals"]["attempts"] == 800
    code, table = run("stats", "summary", "--db", db, "--range", "1d")
    for metric in answer["metrics"]:
        assert metric["display"] in table
    assert "800" in table.replace(",", "")


def test_breakdown_filters_like_the_call_log(db: str) -> None:
    code, text = run("stats", "breakdown", "--db", db, "--by", "call_end_reason", "--outcome", "completed", "--json")
    rows = json.loads(text)["rows"]
    assert code == 0 and {r["value"] for r in rows} == {"1004", "1005"}
    code, table = run("stats", "breakdown", "--db", db, "--by", "outcome")
    assert code == 0 and "completed" in table and "N/A" in table  # ACD of unanswered outcomes


def test_timeseries_and_top(db: str) -> None:
    code, text = run("stats", "timeseries", "--db", db, "--range", "6h", "--bucket", "hour", "--metric", "asr",
                     "--json")
    assert code == 0 and len(json.loads(text)["points"]) in (6, 7)
    code, text = run("stats", "top", "--db", db, "--by", "user", "--limit", "3")
    assert code == 0 and len(text.strip().splitlines()) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("stats", "summary", "--outcome", "sideways"), "--outcome"),
        (("stats", "timeseries", "--metric", "speed"), "--metric: must be one of"),
        (("stats", "breakdown", "--by", "colour"), "--by: must be one of"),
        (("stats", "summary", "--range", "forever"), "--range"),
    ],
)
def test_user_errors_are_one_line(db: str, args: tuple[str, ...], message: str) -> None:
    result = CliRunner().invoke(cli, [*args, "--db", db])
    assert result.exit_code == 2 and message in result.output


def test_rollups_rebuild_and_check(db: str) -> None:
    assert run("rollups", "check", "--db", db)[0] == 0
    code, text = run("rollups", "rebuild", "--db", db)
    assert code == 0 and "rollup rows rebuilt" in text
    store = open_store(db)  # no rollup hook: the rollups fall behind …
    store.add_many(list(traffic.generate(5, int(time.time()) - 600, int(time.time()) - 60, seed=99)))
    store.close()
    result = CliRunner().invoke(cli, ["rollups", "check", "--db", db])
    assert result.exit_code == 1 and "rebuild" in result.output
    assert run("rollups", "rebuild", "--db", db)[0] == 0  # … until rebuilt
    assert run("rollups", "check", "--db", db)[0] == 0


def test_alerts_check_dry_run_changes_nothing(db: str, tmp_path: Path) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text('[[rule]]\nname = "asr-low"\nmetric = "asr"\ncondition = "< 0.99"\nwindow = "6h"\n')
    code, text = run("alerts", "check", "--db", db, "--rules", str(rules), "--dry-run", "--json")
    assert code == 0 and json.loads(text)["status"] == "firing"
    assert "ok" in run("alerts", "show", "--db", db, "--rules", str(rules))[1]
    code, text = run("alerts", "check", "--db", db, "--rules", str(rules))
    assert code == 0 and text.splitlines()[1].split()[:2] == ["firing", "asr-low"]  # under the header
    assert "FIRING" in run("alerts", "show", "--db", db, "--rules", str(rules))[1]
    assert "nothing fired" in run("alerts", "check", "--db", db, "--rules", str(rules))[1]


def test_alerts_check_names_the_value_a_per_route_event_is_for(db: str, tmp_path: Path) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text('[[rule]]\nname = "asr-low"\nmetric = "asr"\ncondition = "< 0.99"\nwindow = "6h"\n'
                     'each = "provider"\nmin_samples = 1\n')
    code, text = run("alerts", "check", "--db", db, "--rules", str(rules), "--dry-run", "--json")
    events = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and events and all(e["each"] == "provider" and e["of"] for e in events)
    code, text = run("alerts", "check", "--db", db, "--rules", str(rules), "--dry-run", "--csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert code == 0 and sorted(r["of"] for r in rows) == sorted(e["of"] for e in events)


def test_alerts_bad_rules_file(db: str, tmp_path: Path) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text('[[rule]]\nname = "x"\nmetric = "asr"\ncondition = "lower than 1"\n')
    result = CliRunner().invoke(cli, ["alerts", "check", "--db", db, "--rules", str(rules)])
    assert result.exit_code == 1 and "condition" in result.output


@pytest.mark.parametrize(
    ("args", "env", "output", "old_minutes_left"),
    [
        ((), {}, "minute rollup rows before", False),  # HANGUP_MINUTE_ROLLUP_DAYS' default, 8
        (("--days", "40"), {}, "0 minute rollup rows before", True),
        ((), {"HANGUP_MINUTE_ROLLUP_DAYS": "12"}, "minute rollup rows before", False),
        (("--days", "0"), {}, "minute rows are kept", True),
    ],
)
def test_rollups_prune_deletes_old_minute_rows_and_check_still_agrees(
    db: str, args: tuple[str, ...], env: dict[str, str], output: str, old_minutes_left: bool
) -> None:
    now = int(time.time())
    store = open_store(db)
    attach_rollups(store)
    store.add_many(list(traffic.generate(200, now - 20 * 86400, now - 19 * 86400, seed=6)))
    store.add_many(list(traffic.generate(100, now - 30 * 86400 - 7200, now - 30 * 86400 + 7200, seed=7)))
    store.close()
    count = f"SELECT COUNT(*) FROM stats_rollups WHERE level = 60 AND bucket < {now - 15 * 86400}"
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        old = conn.execute(count).fetchone()[0]
    result = CliRunner(env=env).invoke(cli, ["rollups", "prune", "--db", db, *args], catch_exceptions=False)
    assert result.exit_code == 0 and output in result.output
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        assert conn.execute(count).fetchone()[0] == (old if old_minutes_left else 0) and old > 0
    if not old_minutes_left:
        assert result.output.startswith(f"{old} minute rollup rows")
    code, text = run("rollups", "check", "--db", db, "--range", "30d")  # its old end is read to the hour
    assert code == 0, text


def test_stats_explain_names_the_route_that_moved_asr(tmp_path: Path) -> None:
    url, _, stats_db = planted(tmp_path, "provider")
    stats_db.close()
    window = ("--since", str(NOW_START), "--until", str(NOW_END))
    code, text = run("stats", "explain", "--db", url, *window, "--by", "provider,cause", "--json")
    answer = json.loads(text)
    assert code == 0 and answer["change"] < 0 and answer["contributions"][0]["value"] in ("b", FAILURE)
    code, table = run("stats", "explain", "--db", url, *window, "--by", "provider", "--limit", "1")
    lines = table.splitlines()
    assert code == 0 and "(total)" in lines[1] and "Provider" in lines[2] and " b " in lines[2]
    code, text = run("stats", "explain", "--db", url, *window, "--shift", "1d", "--json")
    assert code == 0 and json.loads(text)["change"] is None  # nothing the day before to compare with
    result = CliRunner().invoke(cli, ["stats", "explain", "--db", url, "--baseline-from", "5"])
    assert result.exit_code == 2 and "--baseline-to" in result.output
