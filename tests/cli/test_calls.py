"""``hangup calls list|show|status`` over a store filled by ``hangup ingest``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from receiver_helpers import DATA, planet_query

from hangup.cli import _register, cli


def sid(n: int) -> str:
    return f"{n:08d}-3333-4000-8000-000000000000"


@pytest.fixture
def db(tmp_path: Path) -> str:
    _register()
    lines = [planet_query(sid=sid(n), from_user_id="alice" if n % 2 else "bob") for n in range(6)]
    lines.append(planet_query(sid=sid(99), call_end_reason="1001", terminate="21", start_time="0",
                              duration="0", releaser="responder"))
    source = tmp_path / "events.txt"
    source.write_text("\n".join(lines) + "\n")
    url = f"sqlite:///{tmp_path}/calls.db"
    result = CliRunner().invoke(cli, ["ingest", str(source), "--db", url, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "7 inserted" in result.output
    return url


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(("filters", "expected"), [
    ((), 7),
    (("--from-user-id", "alice"), 3),
    (("--outcome", "busy"), 1),
    (("--call-end-reason", "1001"), 1),
    (("--terminate", "16"), 6),
    (("--terminate", "21"), 1),
    (("--releaser", "responder"), 1),
    (("--type", "A"), 7),
    (("--flagged",), 1),
    (("--normal", "false"), 0),
])
def test_list_filters_match_the_api_filters(db: str, filters: tuple[str, ...], expected: int) -> None:
    code, out = run("calls", "list", "--db", db, "--json", *filters)
    assert code == 0, out
    assert len(out.splitlines()) == expected


def test_list_limit_table_and_csv(db: str) -> None:
    code, out = run("calls", "list", "--db", db, "--limit", "2")
    assert code == 0 and len(out.splitlines()) == 3 and out.startswith("id")
    code, out = run("calls", "list", "--db", db, "--csv", "--all")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 7 and {r["provider"] for r in rows} == {"planet"}


def test_bad_filter_is_a_usage_error_naming_the_option(db: str) -> None:
    code, out = run("calls", "list", "--db", db, "--outcome", "sideways")
    assert code == 2 and "--outcome" in out


def test_show_and_status(db: str) -> None:
    code, out = run("calls", "show", sid(99), "--db", db)
    assert code == 0 and "planet:1001 CALLEE_BUSY" in out and "flag      terminate_disagrees" in out
    code, out = run("calls", "show", sid(99), "--db", db, "--json")
    assert json.loads(out)["status"]["outcome"] == "busy"
    code, out = run("calls", "status", sid(1), "--db", db)
    status = json.loads(out)
    assert (status["sid"], status["ended_normally"], status["outcome"]) == (sid(1), True, "completed")


def test_unknown_call_is_an_error(db: str) -> None:
    code, out = run("calls", "status", "nope", "--db", db)
    assert code == 1 and "no call 'nope'" in out


def test_ingest_reads_recorded_urls_and_quarantines_bad_lines(tmp_path: Path) -> None:
    _register()
    source = tmp_path / "mixed.txt"
    example = (DATA / "planet" / "spec-example.txt").read_text()
    source.write_text(example + "\n# a comment\n\nsid=broken\n" + example)
    url = f"sqlite:///{tmp_path}/c.db"
    code, out = run("ingest", str(source), "--db", url, "--quiet")
    assert code == 0 and "1 inserted, 1 duplicate, 0 conflict, 0 leg, 0 ignored, 1 rejected" in out
    code, out = run("quarantine", "list", "--db", url, "--json")
    (entry,) = [json.loads(line) for line in out.splitlines()]
    assert entry["query"] == "sid=broken" and entry["status"] == 400


def test_db_migrate_and_reclassify(tmp_path: Path, db: str) -> None:
    code, out = run("db", "migrate", "--db", db)
    assert code == 0 and "0 now" in out
    code, out = run("reclassify", "--db", db)
    assert code == 0 and out.strip() == "7 calls examined, 0 reclassified"


def test_show_status_and_explain_say_what_to_do_next_and_follow_the_overrides_file(
        db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run("calls", "show", sid(99), "--db", db)  # busy: planet:1001
    assert code == 0 and "action    retry_later  (catalog planet:1001)" in out and "by unknown" in out
    rules = tmp_path / "actions.toml"
    rules.write_text('[[override]]\ncause = "planet:1001"\nprovider = "planet"\naction = "final"\n'
                     'reason = "do not call a busy user twice"\n')
    monkeypatch.setenv("HANGUP_ACTIONS_FILE", str(rules))
    code, out = run("calls", "show", sid(99), "--db", db)
    assert code == 0 and "action    final  (override 1: do not call a busy user twice)" in out
    code, out = run("calls", "status", sid(99), "--db", db)
    assert (json.loads(out)["action"], json.loads(out)["action_from"]) == ("final", "override")
    code, out = run("explain", "planet:1001")
    assert code == 0 and "action: retry_later" in out and "overridden: final for provider=planet" in out
    code, out = run("explain", "planet:1001", "--json")
    assert json.loads(out)["overrides"][0]["action"] == "final"
    rules.write_text("[[override]]\ncause = 1001\n")
    code, out = run("calls", "status", sid(99), "--db", db)
    assert code == 2 and "override 1" in out  # a usage error naming the rule
