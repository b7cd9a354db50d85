"""``hangup import`` of Master.csv rows that are legs of calls: each call stored once, its legs kept, in any
row order, read here or in a second process (staged on SQLite, ``add_rows`` on PostgreSQL)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner
from legs_data import EXPECTED, hooked_store_fixture, orders  # noqa: F401

from hangup.cli import _register, cli
from hangup.importer.run import Importer
from hangup.records import call_id_for
from hangup.stats import rollup_reads
from hangup.store.base import Store


def _file(folder: Path) -> tuple[Path, dict[str, tuple[int, int]]]:
    """Every arrival order of every call, one after another; each call's (legs, talk seconds)."""
    path, expected = folder / "Master.csv", {}
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream, quoting=csv.QUOTE_ALL)
        for uniqueid, (count, _, talk, _) in EXPECTED.items():
            for order in orders(uniqueid):
                writer.writerows(order)
                expected[call_id_for("asterisk", order[0][16])] = (count, talk)
    return path, expected


@pytest.mark.parametrize("parallel", [False, True], ids=["here", "second-process"])
def test_legs_import_as_calls(store: Store, tmp_path: Path, parallel: bool) -> None:
    path, expected = _file(tmp_path)
    summary = Importer(store, batch_size=4, parallel=parallel).run([str(path)], "asterisk-csv")
    legs = sum(count for count, _ in expected.values())
    assert (summary.imported, summary.legs, summary.conflicts) == (len(expected), legs - len(expected), 0)
    for call_id, (count, talk) in expected.items():
        call = store.get(call_id)
        assert call is not None and call.duration == talk and len(store.legs(call_id)) == count
    with store.database.reading() as conn:  # type: ignore[attr-defined]
        total = rollup_reads.totals(conn, 0, 2**40)
    assert (total.attempts, total.duration_sum) == (len(expected), sum(talk for _, talk in expected.values()))
    again = Importer(store, parallel=parallel).run([str(path)], "asterisk-csv")
    assert (again.imported, again.duplicates, again.legs, again.conflicts) == (0, legs, 0, 0)


def test_calls_show_lists_the_legs(tmp_path: Path) -> None:
    _register()
    path, expected = _file(tmp_path)
    db = f"sqlite:///{tmp_path}/cli.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["import", str(path), "--db", db, "--quiet"]).exit_code == 0
    call_id = call_id_for("asterisk", orders("1772449200.20")[0][0][16])
    shown = runner.invoke(cli, ["calls", "show", call_id, "--db", db]).output
    assert shown.count("  leg       ") == 2 and shown.count("(deciding)") == 1 and "50 s" in shown
