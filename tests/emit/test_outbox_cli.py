"""hangup outbox list|retry|purge."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hangup.cli import _register, cli
from hangup.emit.outbox import NewEntry, SQLiteOutbox, State


def seeded(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    box = SQLiteOutbox(url)
    ids = [i for i, _ in box.enqueue([NewEntry(s, "http://r.test/cb", f"sid={s}") for s in "abc"], 10.0)]
    box.mark_dead(ids[0], 404, "HTTP 404", "no such path", 11.0)
    box.mark_delivered(ids[1], 200, 11.0)
    box.close()
    return url


def invoke(*args: str) -> str:
    _register()
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_list_shows_counts_and_entries(tmp_path: Path) -> None:
    url = seeded(tmp_path)
    text = invoke("outbox", "list", "--db", url)
    assert "pending: 1  delivered: 1  dead: 1" in text and "HTTP 404" in text
    output = invoke("outbox", "list", "--db", url, "--state", "dead", "--json")
    rows = [json.loads(line) for line in output.splitlines()]
    assert [(r["sid"], r["last_status"], r["response_body"]) for r in rows] == [("a", 404, "no such path")]


def test_retry_and_purge(tmp_path: Path) -> None:
    url = seeded(tmp_path)
    assert "1 entries pending again" in invoke("outbox", "retry", "--db", url, "--all")
    assert "purged 1 entries" in invoke("outbox", "purge", "--db", url, "--delivered", "--older-than", "0")
    box = SQLiteOutbox(url)
    assert box.counts() == {State.PENDING: 2, State.DELIVERED: 0, State.DEAD: 0}
    box.close()


def test_usage_errors() -> None:
    _register()
    runner = CliRunner()
    assert runner.invoke(cli, ["outbox", "retry"]).exit_code == 2
    assert runner.invoke(cli, ["outbox", "purge"]).exit_code == 2


def test_an_unusable_database_is_a_one_line_error(tmp_path: Path) -> None:
    _register()
    runner = CliRunner()
    missing = f"sqlite:///{tmp_path}/missing/dir/x.db"
    emitter = ["emitter", "--url", "http://r.test/cb", "--db", missing]
    for args in (["outbox", "list", "--db", "mysql://db/x"], emitter):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1 and result.output.startswith("Error: cannot open the outbox"), result.output
