"""Statistics API, dashboard pages and their JSON twins, and /metrics through the app."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planted_traffic import FAILURE, NOW_END, NOW_START, planted
from receiver_helpers import ClientFactory, SyncClient

from hangup.composition import open_store
from hangup.settings import load_settings
from hangup.stats import traffic
from hangup.stats.dimensions import DIMENSIONS
from hangup.store.base import CallQuery, Store
from hangup.web.metrics import METRIC_NAMES
from hangup.web.openapi import spec

END = 1_795_000_000 - 1_795_000_000 % 3600
START = END - 86400
WINDOW = f"since={START}&until={END}"


@pytest.fixture
def client(make_client: ClientFactory, fresh_store: Store) -> SyncClient:
    app_client = make_client()
    fresh_store.add_many(list(traffic.generate(600, START, END, seed=4, users=30)))
    return app_client


def assert_error_shape(body: dict[str, Any], status: int, field: str) -> None:
    assert set(body) == {"ok", "error", "error_id", "status", "details"}
    assert body["ok"] is False and body["status"] == status
    assert field in {d["field"] for d in body["details"]}


@pytest.mark.parametrize(
    ("path", "key"),
    [
        (f"/api/stats/summary?{WINDOW}", "metrics"),
        (f"/api/stats/timeseries?{WINDOW}&metric=ner&bucket=hour", "points"),
        (f"/api/stats/breakdown?{WINDOW}&by=terminate", "rows"),
        (f"/api/stats/top?{WINDOW}&by=ip_pair", "rows"),
        ("/api/stats/definitions", "metrics"),
        (f"/overview.json?{WINDOW}", "summary"),
        (f"/breakdowns.json?{WINDOW}&by=service", "table"),
        (f"/calls.json?{WINDOW}&outcome=busy", "calls"),
        ("/codes.json?q=486", "codes"),
        (f"/api/stats/explain?since={START + 43200}&until={END}&metric=acd&shift=12h", "contributions"),
        (f"/changes.json?since={START + 43200}&until={END}&baseline_from={START}&baseline_to={START + 43200}",
         "answer"),
    ],
)
def test_json_endpoints_answer(client: SyncClient, path: str, key: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body[key]


def test_page_and_json_twin_carry_the_same_figures(client: SyncClient) -> None:
    twin = client.get(f"/overview.json?{WINDOW}").json()
    api = client.get(f"/api/stats/summary?{WINDOW}").json()
    assert twin["summary"]["metrics"] == api["metrics"]
    html = client.get(f"/?{WINDOW}").text
    for metric in api["metrics"]:
        assert f'data-metric="{metric["id"]}"' in html and metric["display"] in html
    assert api["metrics"][0]["value"] == 600


def test_filters_and_min_samples(client: SyncClient) -> None:
    everything = client.get(f"/api/stats/summary?{WINDOW}").json()
    video = client.get(f"/api/stats/summary?{WINDOW}&type=V").json()
    strict = client.get(f"/api/stats/summary?{WINDOW}&type=V&min_samples=100000").json()
    assert 0 < video["totals"]["attempts"] < everything["totals"]["attempts"]
    assert video["source"] == "rollups" and video["filters"] == {"call_type": "V"}
    asr = {m["id"]: m for m in strict["metrics"]}["asr"]
    assert asr["value"] is None and asr["display"] == "N/A"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/stats/timeseries?metric=nope", "metric"),
        ("/api/stats/timeseries?bucket=fortnight", "bucket"),
        ("/api/stats/breakdown?by=colour", "by"),
        ("/api/stats/summary?since=yesterday", "from"),
        ("/api/stats/summary?outcome=sideways", "outcome"),
        ("/api/stats/summary?min_samples=-4", "min_samples"),
        ("/api/stats/summary?banana=1", "banana"),
        ("/calls.json?limit=0", "limit"),
        ("/calls/nope.json", "id"),
        ("/api/stats/explain?metric=nope", "metric"),
        ("/api/stats/explain?by=user", "by"),
        ("/api/stats/explain?shift=soon", "shift"),
        ("/api/stats/explain?baseline_from=1000", "baseline_to"),
        ("/api/stats/explain?baseline_from=2000&baseline_to=1000", "baseline_from"),
        ("/api/stats/explain?limit=0", "limit"),
        ("/api/stats/explain?limit=%C2%B2", "limit"),  # "²": isdigit() takes it, int() raised (a 500)
        ("/api/stats/explain?limit=" + "9" * 5000, "limit"),  # int() refuses over 4300 digits (a 500)
        ("/api/insights/timers?range=7x", "range"),
    ],
)
def test_bad_requests_get_4xx_naming_the_field(client: SyncClient, path: str, field: str) -> None:
    response = client.get(path)
    assert 400 <= response.status_code < 500
    assert_error_shape(response.json(), response.status_code, field)


@pytest.mark.parametrize("path", ["/?range=zz", "/breakdowns?by=colour", "/calls?normal=maybe", "/calls/unknown-id"])
def test_bad_pages_render_an_error_page(client: SyncClient, path: str) -> None:
    response = client.get(path)
    assert 400 <= response.status_code < 500
    assert "text/html" in response.headers["content-type"]


def test_metrics_export_call_counters_from_rollups(client: SyncClient) -> None:
    text = client.get("/metrics").text
    total = sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("hangup_calls_total{")
    )
    assert total == 600
    assert "hangup_writer_queue_depth 0.0" in text
    assert "hangup_quarantined_requests 0.0" in text
    exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    assert exported <= set(METRIC_NAMES)
    assert {"hangup_calls_total", "hangup_ingest_latency_seconds_count"} <= exported


def test_dashboard_needs_the_token_when_one_is_set(make_client: ClientFactory) -> None:
    client = make_client(HANGUP_API_TOKEN="s3cret")
    assert client.get("/").status_code == 303
    assert client.get("/overview.json").status_code == 401
    assert client.get("/api/stats/summary").status_code == 401
    assert client.get("/overview.json", headers={"authorization": "Bearer s3cret"}).status_code == 200
    login = client.post("/login", data={"token": "s3cret", "next": "/codes"})
    assert login.status_code == 303 and login.headers["location"] == "/codes"
    assert client.get("/codes").status_code == 200  # the cookie set by /login


PARAM_NAMES = st.sampled_from(
    ["since", "until", "from", "to", "range", "metric", "bucket", "by", "limit", "min_samples", "outcome", "type",
     "call_end_reason", "terminate", "provider", "service", "normal", "cursor", "q", "scheme", "junk"]
)
PARAMS = st.lists(st.tuples(PARAM_NAMES, st.text(max_size=30)), max_size=5)
PATHS = st.sampled_from(
    ["/api/stats/summary", "/api/stats/timeseries", "/api/stats/breakdown", "/api/stats/top", "/", "/overview.json",
     "/breakdowns", "/breakdowns.json", "/calls", "/calls.json", "/codes.json", "/api/stats/explain", "/changes",
     "/changes.json", "/api/insights/timers", "/timers", "/timers.json"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATHS, params=PARAMS)
def test_no_input_gets_a_5xx(client: SyncClient, path: str, params: list[tuple[str, str]]) -> None:
    response = client.get(path, params=params)
    assert response.status_code < 500, (path, params, response.text[:300])
    if response.status_code >= 400 and "json" in response.headers["content-type"]:
        assert set(response.json()) == {"ok", "error", "error_id", "status", "details"}


@pytest.mark.parametrize("path", ["/", "/breakdowns?by=user", "/calls", "/codes", "/overview.json", "/metrics"])
def test_pages_of_an_empty_store(make_client: ClientFactory, path: str) -> None:
    response = make_client().get(path)
    assert response.status_code == 200
    if path == "/":
        assert response.text.count(">N/A<") >= 6  # every rate of an empty range reads N/A
        assert "No calls in this range." in response.text


def test_every_breakdown_link_leads_to_the_calls_it_counts(client: SyncClient) -> None:
    for by in ("call_end_reason", "outcome", "provider", "ended_by", "terminate", "call_type"):
        table = client.get(f"/breakdowns.json?{WINDOW}&by={by}").json()["table"]
        for row in table["rows"]:
            if not row["link"]:
                assert row["value"] == "" and by in ("call_end_reason", "terminate")
                continue
            path, _, query = row["link"].partition("?")
            assert path == "/calls"
            listed = client.get(f"/calls.json?{query}")
            assert listed.status_code == 200, (by, row)
            assert listed.json()["count"] == row["attempts"], (by, row["value"])


@pytest.mark.parametrize(("env", "banner"), [({}, False), ({"HANGUP_DEMO": "1", "HANGUP_DEMO_RATE": "0.01"}, True)])
@pytest.mark.parametrize("path", ["/", "/breakdowns", "/calls", "/codes"])
def test_demo_mode_shows_a_demo_data_banner_on_every_page(make_client: ClientFactory, env: dict[str, str],
                                                          banner: bool, path: str) -> None:
    response = make_client(**env).get(path)
    assert response.status_code == 200
    assert ('id="demo-banner"' in response.text) is banner
    assert ("Demo data." in response.text) is banner


@pytest.mark.parametrize("dim", [d for d in ("provider", "route") if d in DIMENSIONS])
def test_a_planted_asr_drop_is_explained_in_the_api_and_on_the_dashboard(
        make_client: ClientFactory, fresh_store: Store, tmp_path: Path, dim: str) -> None:
    url, _, db = planted(tmp_path, dim)
    db.close()
    client = make_client()  # the app's store keeps its own rollups from here on
    planted_store = open_store(url)
    fresh_store.add_many(list(planted_store.iter_calls(CallQuery())))
    planted_store.close()
    window = f"since={NOW_START}&until={NOW_END}"
    api = client.get(f"/api/stats/explain?{window}&metric=asr&by={dim},cause&limit=50").json()
    assert api["change"] < -0.1 and api["baseline"]["from"] == NOW_START - 7 * 86400
    route = [r for r in api["contributions"] if r["dimension"] == dim]
    assert route[0]["value"] == "b" and route[0]["share"] > 0.9
    twin = client.get(f"/changes.json?{window}&metric=asr&by={dim},cause&limit=50").json()["answer"]
    assert {"ok": True, **twin} == api
    html = client.get(f"/changes?{window}&metric=asr").text
    assert f'data-dim="{dim}" data-value="b"' in html and f'data-dim="cause" data-value="{FAILURE}"' in html
    for row in api["contributions"]:
        if row["calls"]:
            listed = client.get("/calls.json?" + row["calls"].partition("?")[2]).json()
            assert listed["count"] == row["now"]["attempts"], row


def test_calls_cut_at_32_s_show_as_a_timer_insight_and_on_each_call(
        make_client: ClientFactory, fresh_store: Store) -> None:
    client = make_client()
    end = 1_700_006_400
    # one trunk: the generator spreads calls over service routes, and clusters are found per platform and route
    calls = [dataclasses.replace(c, route="trunk-1")
             for c in traffic.generate(12_000, end - 7 * 86400, end, seed=6) if c.answered]
    cut = calls[-400::2][:200]  # the last calls of the week: each has the week of calls before it
    cut_ids = {c.id for c in cut}
    fresh_store.add_many([dataclasses.replace(c, duration=32, start_time=c.end_time - 32) if c.id in cut_ids else c
                          for c in calls])
    window = f"since={end - 7 * 86400}&until={end}"
    api = client.get(f"/api/insights/timers?{window}").json()
    assert [(c["provider"], c["route"], c["seconds"]) for c in api["clusters"]] == [("planet", "trunk-1", 32)]
    assert client.get(f"/timers.json?{window}").json()["insights"] == {k: v for k, v in api.items() if k != "ok"}
    assert 'data-seconds="32"' in client.get(f"/timers?{window}").text
    answer = client.get(f"/api/calls/{cut[-1].id}")
    flagged = answer.json()["timer"]
    assert flagged["seconds"] == 32 and "Timer B/F" in flagged["timer"]
    # the cluster a call falls in is what the published document describes
    schemathesis.openapi.from_dict(spec(load_settings({})))["/api/calls/{id}"]["GET"].validate_response(answer)
    ordinary = next(c for c in reversed(calls) if c.id not in cut_ids and c.duration > 100)
    assert client.get(f"/api/calls/{ordinary.id}").json()["timer"] is None
    assert 'id="timer"' in client.get(f"/calls/{cut[-1].id}").text
