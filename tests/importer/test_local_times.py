"""CDR files written in a switch's local time (``hangup import --timezone``): times without an offset are read
in the named zone, by the row path and the column-wise ``Master.csv`` reader alike, around clock changes too."""

from __future__ import annotations

import csv
from calendar import timegm
from pathlib import Path

import pytest
from click.testing import CliRunner

from hangup.cli import _register, cli
from hangup.composition import open_store
from hangup.errors import InvalidPayload
from hangup.importer import Importer
from hangup.ingest import parse
from hangup.providers.asterisk import PROVIDER
from hangup.providers.base import WebhookRequest
from hangup.providers.draft import local_times, parse_time, zone_named
from hangup.providers.registry import get_provider
from hangup.store.base import CallQuery


def utc(text: str) -> int:
    return timegm(tuple(int(x) for x in text.replace("-", " ").replace(":", " ").split()) + (0, 0, 0))  # type: ignore[arg-type]


@pytest.mark.parametrize(("zone", "local", "expected"), [
    ("Europe/Paris", "2026-07-01 12:00:00", "2026-07-01 10:00:00"),  # summer time, +02:00
    ("Europe/Paris", "2026-01-15 12:00:00", "2026-01-15 11:00:00"),  # winter time, +01:00
    ("Europe/Paris", "2026-03-29 01:59:59", "2026-03-29 00:59:59"),  # the second before the clocks go forward
    ("Europe/Paris", "2026-03-29 02:30:00", "2026-03-29 01:30:00"),  # the hour that does not exist: +01:00
    ("Europe/Paris", "2026-03-29 03:00:00", "2026-03-29 01:00:00"),
    ("Europe/Paris", "2026-10-25 02:30:00", "2026-10-25 00:30:00"),  # the hour that happens twice: the first
    ("Europe/Paris", "2026-10-25 03:00:00", "2026-10-25 02:00:00"),
    ("America/New_York", "2026-01-15 08:00:00", "2026-01-15 13:00:00"),
    ("Asia/Kolkata", "2024-09-26 14:05:08", "2024-09-26 08:35:08"),  # +05:30
    ("UTC", "2026-07-01 12:00:00", "2026-07-01 12:00:00"),
])
def test_times_without_an_offset_are_read_in_the_zone(zone: str, local: str, expected: str) -> None:
    with local_times(zone_named(zone)):
        assert parse_time(local) == utc(expected)
        assert parse_time(local + "+00:00") == utc(local)  # a time saying its offset keeps it
        assert parse_time("1780000000") == 1780000000  # epochs are UTC
    assert parse_time(local) == utc(local)  # outside, UTC again


LOCAL = ["2026-03-29 01:59:50", "2026-03-29 02:30:00", "2026-03-29 03:00:05", "2026-10-25 01:59:00",
         "2026-10-25 02:30:00", "2026-10-25 03:00:00", "2026-07-01 12:00:00", ""]


def _master(path: Path) -> None:
    """Header-less Master.csv rows (18 columns, read column-wise) whose times fall around Paris's clock changes."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)
        for n, start in enumerate(s for s in LOCAL if s):
            answer = LOCAL[n + 1] if n % 2 == 0 else ""
            end = next((s for s in LOCAL[n + 1:] if s), start)
            writer.writerow(["", f"100{n}", f"200{n}", "from-internal", f"<100{n}>", f"PJSIP/100{n}-0000000{n}",
                             f"PJSIP/200{n}-0000000{n}", "Dial", f"PJSIP/200{n},30", start, answer, end, 5,
                             1 if answer else 0, "ANSWERED" if answer else "NO ANSWER", "DOCUMENTATION",
                             f"17800000{n}.{n}", ""])


def _times(tmp_path: Path, name: str, parallel: bool, zone: str | None) -> dict[str, tuple[int, int, int]]:
    path = tmp_path / "Master.csv"
    _master(path)
    store = open_store(f"sqlite:///{tmp_path}/{name}.db")
    try:
        Importer(store, parallel=parallel, time_zone=zone).run([str(path)], "asterisk-csv")
        return {r.provider_call_id: (r.setup_time, r.start_time, r.end_time) for r in store.iter_calls(CallQuery())}
    finally:
        store.close()


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York", None])
def test_the_column_wise_reader_reads_local_times_as_the_adapter_does(tmp_path: Path, zone: str | None) -> None:
    here, there = _times(tmp_path, "here", False, zone), _times(tmp_path, "there", True, zone)
    assert here == there and len(here) == len([s for s in LOCAL if s])
    first = min(setup for setup, _, _ in here.values())
    with local_times(zone_named(zone or "UTC")):
        assert first == parse_time(LOCAL[0])
    assert first == utc(LOCAL[0]) - {"Europe/Paris": 3600, "America/New_York": -4 * 3600, None: 0}[zone]


def test_cli_refuses_an_unknown_zone_and_a_format_whose_times_say_their_zone(tmp_path: Path) -> None:
    _register()
    master, events = tmp_path / "Master.csv", tmp_path / "events.jsonl"
    _master(master)
    events.write_text('{"conversation_uuid": "c1", "uuid": "u1", "status": "completed", '
                      '"timestamp": "2026-07-01T12:00:00.000Z"}\n')
    db = str(tmp_path / "c.db")
    unknown = CliRunner().invoke(cli, ["import", str(master), "--db", db, "--timezone", "Mars/Olympus"])
    assert unknown.exit_code == 2 and "--timezone" in unknown.output and "Mars/Olympus" in unknown.output
    vonage = CliRunner().invoke(cli, ["import", str(events), "--db", db, "--timezone", "Europe/Paris",
                                      "--format", "vonage"])
    assert vonage.exit_code == 1 and "--timezone" in vonage.output and "vonage" in vonage.output
    ok = CliRunner().invoke(cli, ["import", str(master), "--db", db, "--timezone", "Europe/Paris", "--quiet"])
    assert ok.exit_code == 0, ok.output


LINE = ('"","1001","2002","from-internal","<1001>","PJSIP/1001-00000001","PJSIP/2002-00000002","Dial",'
        '"PJSIP/2002,30","2026-07-01 12:00:00","2026-07-01 12:00:05","2026-07-01 12:01:05",65,60,"ANSWERED",'
        '"DOCUMENTATION","1782907200.1",""')


@pytest.mark.parametrize(("secrets", "offset"), [({}, 0), ({"asterisk_timezone": "Europe/Paris"}, 2 * 3600),
                                                 ({"asterisk_timezone": ""}, 0),
                                                 ({"freeswitch_timezone": "Europe/Paris"}, 0)])
def test_a_posted_cdr_is_read_in_its_platforms_zone(secrets: dict[str, str], offset: int) -> None:
    """``HANGUP_ASTERISK_TIMEZONE``: an Asterisk post's local times (another platform's zone does not apply)."""
    request = WebhookRequest("POST", "http://127.0.0.1/callbacks/asterisk", "", LINE.encode(), {})
    record = parse(PROVIDER, request, secrets, verify=False)
    assert record is not None
    assert (record.setup_time, record.start_time, record.end_time) == tuple(
        utc(t) - offset for t in ("2026-07-01 12:00:00", "2026-07-01 12:00:05", "2026-07-01 12:01:05"))
    assert parse_time("2026-07-01 12:00:00") == utc("2026-07-01 12:00:00")  # the zone ends with the request


# (the post's query, the platform's setting, minutes the switch's clock is ahead of UTC on 2026-07-01)
POST_ZONES: list[tuple[str, dict[str, str], int]] = [
    ("timezone=Europe/Paris", {}, 120),
    ("timezone=Europe/Paris", {"asterisk_timezone": "America/New_York"}, 120),  # the post's own zone wins
    ("timezone=Asia/Kolkata&x=1", {}, 330),
    ("timezone=", {"asterisk_timezone": "America/New_York"}, -240),  # empty: the setting
    ("other=1", {"asterisk_timezone": "Europe/Paris"}, 120),
    ("timezone=UTC", {"asterisk_timezone": "Europe/Paris"}, 0),
]


@pytest.mark.parametrize(("query", "secrets", "minutes"), POST_ZONES)
def test_a_post_names_its_switchs_zone_in_its_url(query: str, secrets: dict[str, str], minutes: int) -> None:
    """``/callbacks/asterisk?timezone=Europe/Paris``: switches in several zones post to one hangup."""
    request = WebhookRequest("POST", f"http://127.0.0.1/callbacks/asterisk?{query}", query, LINE.encode(), {})
    record = parse(PROVIDER, request, secrets, verify=False)
    assert record is not None
    assert record.end_time == utc("2026-07-01 12:01:05") - minutes * 60


def test_a_post_naming_no_zone_is_refused_naming_the_parameter() -> None:
    request = WebhookRequest("POST", "http://127.0.0.1/callbacks/asterisk?timezone=Mars/Olympus",
                             "timezone=Mars/Olympus", LINE.encode(), {})
    with pytest.raises(InvalidPayload) as refused:
        parse(PROVIDER, request, {}, verify=False)
    assert [d["field"] for d in refused.value.details] == ["timezone"]


def test_a_platform_whose_posts_carry_offsets_ignores_the_parameter() -> None:
    """Planet's events are Unix seconds: its query is the event, ``timezone`` names nothing of it."""
    from receiver_helpers import planet_query

    query = planet_query() + "&timezone=Mars/Olympus"
    record = parse(get_provider("planet"), WebhookRequest("GET", f"http://127.0.0.1/callbacks/planet?{query}",
                                                          query, b"", {}), {}, verify=False)
    assert record is not None
