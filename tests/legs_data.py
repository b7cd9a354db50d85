"""The calls made of legs of ``tests/data/asterisk/legs/Master.csv`` and what each must read as (its README)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import permutations
from pathlib import Path

import pytest

from hangup.composition import attach_standard_hooks, open_store
from hangup.providers import asterisk
from hangup.records import CallRecord
from hangup.store.base import Store

MASTER_CSV = Path(__file__).parent / "data" / "asterisk" / "legs" / "Master.csv"
#: uniqueid -> (legs, answered, talk seconds, dstchannel of the deciding leg)
EXPECTED: dict[str, tuple[int, bool, int, str]] = {
    "1772445600.10": (2, True, 183, "SIP/trunk-00000002"),
    "1772449200.20": (2, True, 59, "SIP/301-00000005"),
    "1772452800.30": (3, True, 16, "Local/402@from-internal-00000008;1"),
}


def lines() -> dict[str, list[list[str]]]:
    """The file's rows, per uniqueid, in file order."""
    found: dict[str, list[list[str]]] = {}
    with MASTER_CSV.open(newline="") as stream:
        for fields in csv.reader(stream):
            found.setdefault(fields[16], []).append(fields)
    return found


def orders(uniqueid: str) -> list[list[list[str]]]:
    """Every arrival order of the call's rows, each under a uniqueid of its own (``<uniqueid>-<n>``)."""
    rows = lines()[uniqueid]
    return [[[*fields[:16], f"{uniqueid}-{n}", fields[17]] for fields in order]
            for n, order in enumerate(permutations(rows))]


def record(fields: list[str]) -> CallRecord:
    return asterisk.record_from_row(asterisk.row_from_csv(fields), ",".join(fields), 1.0)


@pytest.fixture(name="store", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hooked_store_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store with every table and the rollup hook, on each back end (import it to use it)."""
    url = f"sqlite:///{tmp_path}/calls.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = attach_standard_hooks(open_store(url))
    yield store
    store.close()
