"""Asterisk CEL files (``hangup.providers.asterisk_cel``): every layout ``cel_custom.conf.sample`` writes, and a
header, give the same legs; a leg's ``raw`` reads back to the same record; bad rows are rejected by name."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from hangup.providers import asterisk, asterisk_cel
from hangup.providers.asterisk import PROVIDER, read_cel
from hangup.providers.base import Item

REAL_CEL = Path(__file__).resolve().parent.parent / "data" / "real" / "asterisk-cel"
ANSWERED = REAL_CEL / "wazo-incoming-answered.export.csv"


def _events() -> list[dict[str, str]]:
    with ANSWERED.open(newline="") as stream:
        return [{asterisk_cel._name(k): v for k, v in row.items()} for row in csv.DictReader(stream)]


def _headerless(names: tuple[str, ...], epoch: bool) -> str:
    """The real call's events as a headerless file of one of the sample's layouts (``literal`` as the sample's)."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    for event in _events():
        moment = asterisk_cel._seconds(event["eventtime"])
        values = {**event, "literal": "My Literal",
                  "eventtime": f"{moment}.000000" if epoch else event["eventtime"]}
        writer.writerow([values.get(name, "") for name in names])
    return out.getvalue()


def _read(text: str) -> list[Item]:
    return list(read_cel(io.StringIO(text), 1.0))


def _facts(items: list[Item]) -> list[tuple[str, str, int, int, str, str]]:
    return sorted((i.record.id, i.record.leg_id, i.record.duration, i.record.end_time, i.record.outcome,
                   i.record.ended_by) for i in items if i.record is not None)


@pytest.mark.parametrize("layout", sorted(asterisk_cel.LAYOUTS))
@pytest.mark.parametrize("epoch", [True, False], ids=["epoch", "date"])
def test_every_sample_layout_reads_as_the_header_does(layout: int, epoch: bool) -> None:
    from_header = _read(ANSWERED.read_text())
    headerless = _read(_headerless(asterisk_cel.LAYOUTS[layout], epoch))
    assert [i.error for i in headerless] == [None, None]
    assert _facts(headerless) == _facts(from_header)
    assert {i.record.provider_call_id for i in headerless if i.record} == {"1658410288.0"}


def test_a_legs_raw_reads_back_to_the_same_record() -> None:
    for item in _read(ANSWERED.read_text()):
        assert item.record is not None and json.loads(item.raw)[asterisk_cel.EVENTS]
        assert PROVIDER.reclassify(item.record) == item.record


def test_a_channel_the_file_cuts_off_is_still_a_leg() -> None:
    text = "".join(line for line in ANSWERED.read_text().splitlines(keepends=True) if "CHAN_END" not in line)
    items = _read(text)
    assert len(items) == 2 and all(i.record is not None for i in items)


@pytest.mark.parametrize(("row", "field"), [
    ('"CHAN_START","1","2"\n', "row"),  # no layout has 3 columns
    (_headerless(asterisk_cel.LEGACY, True).replace("1658395888.000000", "yesterday", 1), "eventtime"),
    # digits beyond a float's range: float() gave inf and int() an OverflowError that stopped the import
    (_headerless(asterisk_cel.LEGACY, True).replace("1658395888.000000", "9" * 400, 1), "eventtime"),
])
def test_bad_rows_are_rejected_by_name(row: str, field: str) -> None:
    rejected = [i for i in _read(row) if i.error is not None]
    assert rejected and rejected[0].error is not None and rejected[0].error.details[0]["field"] == field


def test_hangup_source_says_who_hung_up() -> None:
    row = {asterisk.LINKEDID: "1.0", asterisk_cel.CHANNEL_UNIQUEID: "1.0", asterisk.CHANNEL: "PJSIP/a-1"}
    assert asterisk.hangup_source_party({**row, "hangupsource": "PJSIP/a-1"}) == "caller"
    assert asterisk.hangup_source_party({**row, "hangupsource": "PJSIP/b-2"}) == "callee"
    assert asterisk.hangup_source_party({**row, asterisk_cel.CHANNEL_UNIQUEID: "1.1", "hangupsource": "PJSIP/a-1"}
                                       ) == "callee"
    assert asterisk.hangup_source_party({**row, "hangupsource": "dialplan/builtin"}) == "platform"
