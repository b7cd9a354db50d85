"""Every listing command takes ``--table`` (the default), ``--json`` and ``--csv`` from one option set."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from receiver_helpers import DATA

from hangup.cli import _register, cli

#: Every command that lists things; each must carry the shared option set.
LISTING_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("codes",), ("calls", "list"), ("quarantine", "list"), ("outbox", "list"), ("alerts", "check"),
    ("alerts", "show"), ("stats", "summary"), ("stats", "timeseries"), ("stats", "breakdown"), ("stats", "top"),
    ("stats", "metrics"),
)


def _command(path: tuple[str, ...]) -> click.Command:
    _register()
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.commands.get(name)
        assert found is not None, f"no command {' '.join(path)}"
        command = found
    return command


@pytest.mark.parametrize("path", LISTING_COMMANDS, ids=" ".join)
def test_listing_commands_share_the_output_options(path: tuple[str, ...]) -> None:
    options = {opt for param in _command(path).params for opt in getattr(param, "opts", [])}
    assert {"--table", "--json", "--csv"} <= options


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A store with one stored call and one quarantined request."""
    _register()
    source = tmp_path / "calls.txt"
    source.write_text((DATA / "planet" / "spec-example.txt").read_text() + "\nsid=broken\n")
    url = f"sqlite:///{tmp_path}/out.db"
    assert CliRunner().invoke(cli, ["ingest", str(source), "--db", url, "--quiet"]).exit_code == 0
    return url


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "key", "count"),
    [
        (("codes", "--scheme", "plivo-source"), "name", 8),
        (("calls", "list"), "id", 1),
        (("quarantine", "list"), "id", 1),
        (("stats", "metrics"), None, None),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v),
)
def test_the_three_formats_list_the_same_items(db: str, args: tuple[str, ...], key: str | None,
                                               count: int | None) -> None:
    store = () if args[0] in ("codes", "stats") else ("--db", db)
    code_t, table, _ = _run(*args, *store)
    code_c, text, _ = _run(*args, *store, "--csv")
    code_j, lines, _ = _run(*args, *store, "--json")
    assert (code_t, code_c, code_j) == (0, 0, 0)
    rows = list(csv.DictReader(io.StringIO(text)))
    if key is None:  # a one-document answer: JSON is the document, CSV and the table its rows
        document = json.loads(lines)
        assert len(rows) == len(document["metrics"]) + len(document["dimensions"]) == len(table.splitlines()) - 1
        return
    items = [json.loads(line) for line in lines.splitlines()]
    assert len(items) == len(rows) == len(table.splitlines()) - 1 == count
    assert [str(item[key]) for item in items] == [row[key] for row in rows]


@pytest.mark.parametrize("pair", [("--json", "--csv"), ("--csv", "--table"), ("--table", "--json")])
def test_two_formats_at_once_are_refused_in_one_line(pair: tuple[str, str]) -> None:
    code, out, err = _run("codes", *pair)
    assert code == 2 and out == ""
    assert err.startswith("Error: ") and "exclude each other" in err and err.count("\n") == 1


def test_csv_cells_are_spreadsheet_safe(tmp_path: Path) -> None:
    _register()
    source = tmp_path / "bad.txt"
    source.write_text("sid==HYPERLINK(1)\n")
    url = f"sqlite:///{tmp_path}/q.db"
    _run("ingest", str(source), "--db", url, "--quiet")
    code, text, _ = _run("quarantine", "list", "--db", url, "--csv")
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert code == 0 and not any(value.startswith("=") for value in row.values())
