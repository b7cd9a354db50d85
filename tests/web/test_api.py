"""The call-log API: filters, keyset pagination, one call explained, status, exports."""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest
from receiver_helpers import SPEC_EXAMPLE, ClientFactory, SyncClient, planet_query

from hangup.providers.base import WebhookRequest
from hangup.providers.planet import PlanetProvider
from hangup.store.base import Store


def sid(n: int) -> str:
    return f"{n:08d}-1111-4000-8000-000000000000"


def event(n: int) -> str:
    """Call n: even calls answered (1004), odd ones busy (1001/17); every fifth from user 'alice'."""
    start = 1_700_000_000 + n * 60
    common = {"sid": sid(n), "setup_time": str(start - 5), "from_user_id": "alice" if n % 5 == 0 else f"user{n}",
              "type": "V" if n % 3 == 0 else "A"}
    if n % 2 == 0:
        return planet_query(**common, start_time=str(start), end_time=str(start + 30), duration="30")
    return planet_query(**common, start_time="0", end_time=str(start + 10), duration="0", call_end_reason="1001",
                        terminate="17", releaser="responder")


@pytest.fixture
def client(make_client: ClientFactory) -> SyncClient:
    c = make_client()
    for n in range(30):
        assert c.get("/callbacks/planet?" + event(n)).status_code == 200
    assert c.get("/callbacks/planet?" + SPEC_EXAMPLE).status_code == 200
    return c


FILTERS = [
    ("", 31),
    ("outcome=busy", 15),
    ("outcome=completed", 16),
    ("call_end_reason=1001", 15),
    ("terminate=16", 16),
    ("releaser=responder", 16),
    ("from_user_id=alice", 6),
    ("to_user_id=callee.id", 30),
    ("from_service_id=linecorp.com", 1),
    ("type=V", 11),
    ("normal=true", 31),
    ("flagged=true", 1),
    ("provider=planet", 31),
    ("since=1700000600&until=1700001200", 10),
    ("since=2023-11-14T22:23:20Z&until=2023-11-14T22:33:20Z", 10),
    ("outcome=busy&from_user_id=alice", 3),
]


@pytest.mark.parametrize(("params", "expected"), FILTERS)
def test_filters(client: SyncClient, params: str, expected: int) -> None:
    body = client.get(f"/api/calls?limit=1000&{params}").json()
    assert len(body["calls"]) == expected and body["next_cursor"] is None


@pytest.mark.parametrize(("params", "fields"), [
    ("outcome=sideways", {"outcome"}),
    ("limit=0", {"limit"}),
    ("limit=1001", {"limit"}),
    ("since=yesterday&normal=maybe", {"since", "normal"}),
    ("colour=red", {"colour"}),
    ("type=A&type=V", {"type"}),
    ("cursor=bogus", {"cursor"}),
    ("format=xml", {"format"}),
])
def test_bad_filters_are_400_naming_each_parameter(client: SyncClient, params: str, fields: set[str]) -> None:
    response = client.get(f"/api/calls?{params}")
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and body["status"] == 400 and {d["field"] for d in body["details"]} == fields


def test_pagination_walks_every_call_once(client: SyncClient) -> None:
    seen: list[str] = []
    url = "/api/calls?limit=4&outcome=busy"
    while url:
        body = client.get(url).json()
        seen += [c["id"] for c in body["calls"]]
        url = f"/api/calls?limit=4&outcome=busy&cursor={body['next_cursor']}" if body["next_cursor"] else ""
    assert len(seen) == len(set(seen)) == 15
    assert seen[0] == sid(29)


def test_one_call_explained(client: SyncClient) -> None:
    body = client.get("/api/calls/6364e8b3-bdac-436e-9631-0bce2498ce0c").json()
    assert body["call"]["cause"] == "planet:1005" and body["raw"] == SPEC_EXAMPLE
    assert [c["ref"] for c in body["codes"]] == ["planet:1005", "planet-terminate:16"]
    assert body["codes"][0]["name"] == "CALLEE_END"
    assert {f["flag"] for f in body["flags"]} == {"terminate_16_without_duration", "mid_call_end_not_started"}
    assert all(f["meaning"] for f in body["flags"])
    assert body["conflicts"] == []


def test_status(client: SyncClient) -> None:
    body = client.get(f"/api/calls/{sid(1)}/status").json()
    assert body["sid"] == sid(1) and body["ended_normally"] is True
    assert (body["outcome"], body["ended_by"]) == ("busy", "callee")
    assert body["reason"] == "Callee was already in another calling"


def test_unknown_call_is_404(client: SyncClient) -> None:
    for url in ("/api/calls/nope", "/api/calls/nope/status"):
        response = client.get(url)
        assert response.status_code == 404 and response.json()["error_id"] == "not_found"


@pytest.mark.parametrize("url", ["/api/calls.csv?outcome=busy", "/api/calls?format=csv&outcome=busy"])
def test_csv_export(client: SyncClient, url: str) -> None:
    response = client.get(url)
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 15 and {r["outcome"] for r in rows} == {"busy"}


@pytest.mark.parametrize("url", ["/api/calls.jsonl?type=V", "/api/calls?format=jsonl&type=V"])
def test_jsonl_export(client: SyncClient, url: str) -> None:
    lines = client.get(url).text.splitlines()
    assert len(lines) == 11 and all(json.loads(line)["type"] == "V" for line in lines)


@pytest.mark.parametrize("payload", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx"])
def test_csv_export_is_safe_against_formula_injection(make_client: ClientFactory, payload: str) -> None:
    client = make_client()
    assert client.get("/callbacks/planet?" + planet_query(from_user_id=payload)).status_code == 200
    row = next(csv.DictReader(io.StringIO(client.get("/api/calls.csv").text)))
    assert row["from_user_id"] == "'" + payload
    assert row["duration"] == "30"


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


BAD_CURSORS = ["%%%", "not-base64!", _cursor([2**70, "x"]), _cursor([-(2**64), "x"]), _cursor([1, "a\u0000"]),
               _cursor(["1", "x"]), _cursor({"a": 1}), _cursor([1])]


@pytest.mark.parametrize("path", ["/api/calls", "/api/calls.csv", "/api/calls.jsonl", "/api/calls?format=csv",
                                  "/calls.json", "/calls"])
@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_a_forged_or_garbled_cursor_is_a_400(client: SyncClient, path: str, cursor: str) -> None:
    response = client.get(path, params={"cursor": cursor})
    assert response.status_code == 400
    if "json" in response.headers["content-type"]:
        assert response.json()["details"] == [{"field": "cursor", "error": "not a cursor returned by this API"}]


@pytest.mark.parametrize("path", ["/api/calls", "/api/calls.csv", "/calls", "/calls.json", "/", "/overview.json",
                                  "/breakdowns", "/api/stats/summary"])
@pytest.mark.parametrize(("name", "value"), [("since", "99999999999999"), ("until", str(2**63 - 1)),
                                             ("since", str(-(2**63))), ("until", "10000-01-01T00:00:00Z"),
                                             ("since", "0001-01-01T00:00:00+14:00")])
def test_extreme_times_are_a_400_naming_the_parameter(client: SyncClient, path: str, name: str, value: str) -> None:
    response = client.get(path, params={name: value})
    assert response.status_code == 400
    if "json" in response.headers["content-type"]:
        # statistics read since/until as their from/to
        assert [d["field"] for d in response.json()["details"]] in ([name], [{"since": "from", "until": "to"}[name]])


def test_a_call_stored_with_an_extreme_time_still_shows(make_client: ClientFactory, fresh_store: Store) -> None:
    """Calls stored before times were bounded (year 10000, the int64 limit) must not break the call log."""
    client = make_client()
    base = PlanetProvider().parse(WebhookRequest("GET", "", planet_query(), received_at=1.0))
    for n, end in enumerate((253402300800, 2**63 - 1)):
        call_id = f"{n:036d}"
        fresh_store.add_many([dataclasses.replace(base, id=call_id, provider_call_id=call_id, end_time=end)])
        for path in ("/calls", "/calls.json", f"/calls/{call_id}", f"/calls/{call_id}.json", f"/api/calls/{call_id}",
                     "/api/calls", "/api/calls.csv", "/api/calls.jsonl"):
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:200])
        assert call_id in client.get("/api/calls.csv").text


@pytest.mark.parametrize("call_id", ["a\u0000b", "a\rb", "\u001b[31m"])
def test_a_control_character_in_a_call_id_is_a_400_and_quarantined(make_client: ClientFactory, call_id: str) -> None:
    client = make_client(HANGUP_GENERIC_ACCEPT_UNSIGNED="1")
    body = json.dumps({"call_id": call_id, "end_time": 1780912800, "cause": "q850:16"})
    response = client.post("/callbacks/generic", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["details"] == [{"field": "call_id", "error": "contains a control character"}]
    assert len(client.get("/api/quarantine").json()["quarantine"]) == 1


@pytest.mark.parametrize("path", ["/api/quarantine", "/api/conflicts"])
@pytest.mark.parametrize("value", ["²", "٣", "1e3", "-1", "99999999999999999999999", "9" * 5000])  # int(): 4300 at most
def test_a_limit_that_is_not_plain_digits_is_a_400(make_client: ClientFactory, path: str, value: str) -> None:
    response = make_client().get(path, params={"limit": value})
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "limit"


def test_every_call_says_what_to_do_next_and_the_overrides_file_applies_to_stored_calls(
        make_client: ClientFactory, tmp_path: Path) -> None:
    rules = tmp_path / "actions.toml"
    rules.write_text("")
    c = make_client(HANGUP_ACTIONS_FILE=str(rules))
    assert c.get("/callbacks/planet?" + event(1)).status_code == 200  # busy: planet:1001
    assert c.get(f"/api/calls/{sid(1)}/status").json()["action"] == "retry_later"
    rules.write_text('[[override]]\ncause = "planet:1001"\nprovider = "planet"\naction = "final"\nreason = "DNC"\n')
    detail = c.get(f"/api/calls/{sid(1)}").json()
    assert detail["action"]["action"] == "final" and detail["action"]["override"]["reason"] == "DNC"
    assert detail["call"]["action"] == "final"
    assert [call["action"] for call in c.get("/api/calls").json()["calls"]] == ["final"]
    assert 'id="action"' in c.get(f"/calls/{sid(1)}").text and "final" in c.get(f"/calls/{sid(1)}.json").text
