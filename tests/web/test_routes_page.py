"""The routes page, its JSON twin, ``/api/stats/routes`` and ``hangup stats routes`` agree with the raw calls."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from receiver_helpers import ClientFactory, SyncClient

from hangup.cli import _register, cli
from hangup.records import CallRecord
from hangup.stats import traffic
from hangup.stats.metrics import METRICS
from hangup.stats.totals import FAULT_DOMAINS, Totals
from hangup.store.base import Store
from hangup.web.dashboard_render import code_spans

_register()

END = 1_795_000_000 - 1_795_000_000 % 3600
START = END - 86400
WEEK = 7 * 86400
WINDOW = f"since={START}&until={END}&min_samples=0"
ROUTES = ("carrier-a", "carrier-b", "10.0.0.7", "trunk-ß")
DESTINATIONS = (("+493012345678", "DE"), ("+442071838750", "GB"), ("+81312345678", "JP"))
KPIS = {"asr": "asr", "ner": "ner", "acd": "acd", "pdd": "tta"}


def _routed(records: list[CallRecord], shift: int = 0) -> list[CallRecord]:
    out = []
    for i, r in enumerate(records):
        e164, country = DESTINATIONS[(i // 3) % len(DESTINATIONS)]
        out.append(replace(r, id=f"{r.id}-{shift}", route=ROUTES[i % len(ROUTES)], to_e164=e164, to_country=country,
                           to_prefix=e164[1:5], from_country="US", setup_time=r.setup_time - shift,
                           start_time=r.start_time - shift if r.start_time else 0, end_time=r.end_time - shift))
    return out


@pytest.fixture(name="calls")
def calls_fixture() -> list[CallRecord]:
    return _routed(list(traffic.generate(700, START, END, seed=9, users=30)))


@pytest.fixture(name="client")
def client_fixture(make_client: ClientFactory, fresh_store: Store, calls: list[CallRecord]) -> SyncClient:
    client = make_client()
    fresh_store.add_many(calls)
    last_week = _routed(list(traffic.generate(300, START, END, seed=10, users=30)), shift=WEEK)
    fresh_store.add_many([r for r in last_week if r.route == "carrier-a"])
    return client


def _reference(calls: list[CallRecord], key: str) -> dict[str, Totals]:
    groups: defaultdict[str, list[CallRecord]] = defaultdict(list)
    for call in calls:
        groups[getattr(call, key)].append(call)
    return {value: Totals.of(group) for value, group in groups.items()}


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("value", "attempts", "asr", "ner", "acd", "pdd", "failed", "failure_mix")}


def _expected(t: Totals, value: str) -> dict[str, Any]:
    return {"value": value, "attempts": t.attempts, **{k: METRICS[m](t, 0) for k, m in KPIS.items()},
            "failed": t.failed, "failure_mix": {d: t.failed_in(d) for d in FAULT_DOMAINS if t.failed_in(d)}}


@pytest.mark.parametrize(("by", "field"), [("route", "route"), ("destination_country", "to_country"),
                                           ("destination_prefix", "to_prefix"), ("origin_country", "from_country")])
def test_api_page_twin_and_cli_agree_with_the_raw_calls(client: SyncClient, fresh_store: Store, tmp_path: Path,
                                                        calls: list[CallRecord], by: str, field: str) -> None:
    api = client.get(f"/api/stats/routes?{WINDOW}&by={by}").json()
    want = {value: _expected(t, value) for value, t in _reference(calls, field).items()}
    assert {r["value"]: _figures(r) for r in api["rows"]} == want
    twin = client.get(f"/routes.json?{WINDOW}&by={by}").json()["table"]
    assert [_figures(r) for r in twin["rows"]] == [_figures(r) for r in api["rows"]]
    html = client.get(f"/routes?{WINDOW}&by={by}").text
    for row in api["rows"]:
        assert f'data-value="{row["value"]}"' in html and f'{row["attempts"]:,}' in html
    result = CliRunner().invoke(cli, ["stats", "routes", "--db", f"sqlite:///{tmp_path}/calls.db", "--since",
                                      str(START), "--until", str(END), "--min-samples", "0", "--by", by, "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [_figures(r) for r in json.loads(result.output)["rows"]] == [_figures(r) for r in api["rows"]]


@pytest.mark.parametrize(("sort", "order"), [("attempts", "desc"), ("asr", "asc"), ("pdd", "desc"), ("value", "asc")])
def test_rows_sort_by_any_column(client: SyncClient, sort: str, order: str) -> None:
    rows = client.get(f"/api/stats/routes?{WINDOW}&sort={sort}&order={order}").json()["rows"]
    keys = [r[sort] for r in rows if r[sort] is not None]
    assert keys == sorted(keys, reverse=order == "desc") and len(rows) == len(ROUTES)


def test_last_week_and_the_change_are_those_of_the_same_window_a_week_earlier(client: SyncClient) -> None:
    rows = {r["value"]: r for r in client.get(f"/api/stats/routes?{WINDOW}").json()["rows"]}
    assert rows["carrier-a"]["last_week"]["attempts"] > 0 and rows["carrier-b"]["last_week"]["attempts"] == 0
    then = rows["carrier-a"]["last_week"]["asr"]
    assert rows["carrier-a"]["change"]["asr"] == pytest.approx(rows["carrier-a"]["asr"] - then)
    assert rows["carrier-b"]["change"]["asr"] is None


def test_a_row_leads_to_its_calls_and_a_filter_narrows_the_table(client: SyncClient, calls: list[CallRecord]) -> None:
    rows = client.get(f"/routes.json?{WINDOW}&by=route").json()["table"]["rows"]
    row = next(r for r in rows if r["value"] == "trunk-ß")
    listed = client.get(row["link"].replace("/calls?", "/calls.json?") + "&limit=500").json()["calls"]
    assert len(listed) == row["attempts"] and {c["route"] for c in listed} == {"trunk-ß"}
    narrowed = client.get(f"/api/stats/routes?{WINDOW}&destination_country=DE").json()
    want = _reference([c for c in calls if c.to_country == "DE"], "route")
    assert {r["value"]: r["attempts"] for r in narrowed["rows"]} == {k: t.attempts for k, t in want.items()}


def test_sparklines_count_every_call_of_the_row(client: SyncClient) -> None:
    rows = client.get(f"/api/stats/routes?{WINDOW}").json()["rows"]
    for row in rows:
        assert len(row["spark"]) == 24 and sum(p["attempts"] for p in row["spark"]) == row["attempts"]


@pytest.mark.parametrize(("query", "field"), [("by=outcome", "by"), ("sort=colour", "sort"), ("order=up", "order")])
def test_a_bad_parameter_is_named(client: SyncClient, query: str, field: str) -> None:
    response = client.get(f"/api/stats/routes?{WINDOW}&{query}")
    assert response.status_code == 400 and field in {d["field"] for d in response.json()["details"]}


def test_next_steps_show_backticks_as_code_spans(client: SyncClient) -> None:
    codes = client.get("/codes.json").json()["codes"]
    with_code = next(c for c in codes if "`" in c["next_steps"])
    word = with_code["next_steps"].split("`")[1]
    html = client.get("/codes").text
    assert f"<code>{word}</code>" in html and f"`{word}`" not in html


@pytest.mark.parametrize(("text", "html"), [
    ("see `call_end_reason`", "see <code>call_end_reason</code>"),
    ("`a<b>` & <i>x</i>", "<code>a&lt;b&gt;</code> &amp; &lt;i&gt;x&lt;/i&gt;"),
    ("**bold** and a lone ` tick", "**bold** and a lone ` tick"),
])
def test_code_spans_escape_everything_else(text: str, html: str) -> None:
    assert str(code_spans(text)) == html


def test_a_window_longer_than_a_week_is_read_to_whole_days(client: SyncClient, fresh_store: Store) -> None:
    since, until = START - 20 * 86400 + 777, END - 1234
    answer = client.get(f"/api/stats/routes?since={since}&until={until}&min_samples=0").json()
    assert (answer["from"], answer["to"]) == (since - since % 86400, until - until % 86400 + 86400)
    assert answer["attempts"] == fresh_store.count() and answer["spark_bucket"] == 86400  # this week's and last


def test_a_calls_page_shows_its_route_and_numbers(client: SyncClient, calls: list[CallRecord]) -> None:
    call = calls[5]
    html = client.get(f"/calls/{call.id}").text
    assert f'id="route"><a href="/calls?route={call.route}">{call.route}</a>' in html
    assert call.to_e164 in html and call.to_country in html
