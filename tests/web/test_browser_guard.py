"""The browser guard (no API token: DNS rebinding and cross-site requests), page headers and encoded links."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

import pytest
from receiver_helpers import ClientFactory, planet_query

from hangup.web.headers import CONTENT_SECURITY_POLICY

EVENT = "/api/events/call-ended"
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("headers", "status", "field"),
    [
        ({"host": "attacker.example"}, 403, "host"),  # a rebound name
        ({"host": "attacker.example:8080"}, 403, "host"),
        ({"host": "127.0.0.1:8080"}, 200, None),
        ({"host": "[::1]:8080"}, 200, None),
        ({"host": "localhost"}, 200, None),
        ({"host": "calls.example"}, 200, None),  # in HANGUP_ALLOWED_HOSTS
    ],
)
def test_only_loopback_or_configured_hosts_are_served(make_client: ClientFactory, headers: dict[str, str],
                                                      status: int, field: str | None) -> None:
    response = make_client(HANGUP_ALLOWED_HOSTS="calls.example").get("/api/calls", headers=headers)
    assert response.status_code == status
    if field:
        assert response.json()["details"][0]["field"] == field


@pytest.mark.parametrize(
    ("headers", "status", "field"),
    [
        ({"content-type": "text/plain"}, 415, "content-type"),  # a cross-site "simple request"
        ({"content-type": "application/x-www-form-urlencoded"}, 415, "content-type"),
        ({}, 415, "content-type"),
        ({**JSON, "origin": "https://attacker.example"}, 403, "origin"),
        ({**JSON, "origin": "null"}, 403, "origin"),
        ({**JSON, "origin": "http://localhost"}, 404, None),  # same origin: reaches the route (emitter is off)
        (JSON, 404, None),  # no Origin: not a browser's cross-site request
    ],
)
def test_state_changing_requests_need_json_and_the_same_origin(make_client: ClientFactory, headers: dict[str, str],
                                                               status: int, field: str | None) -> None:
    response = make_client().post(EVENT, content=b"{}", headers=headers)
    assert response.status_code == status
    if field:
        assert response.json()["details"][0]["field"] == field


def test_with_a_token_the_token_decides(make_client: ClientFactory) -> None:
    client = make_client(HANGUP_API_TOKEN="s3cret")
    assert client.get("/api/calls", headers={"host": "calls.example"}).status_code == 401
    assert client.get("/api/calls", headers={"host": "calls.example",
                                             "authorization": "Bearer s3cret"}).status_code == 200


def test_callbacks_are_not_behind_the_browser_guard(make_client: ClientFactory) -> None:
    """Platforms post forms to whatever name they were given."""
    response = make_client().post("/callbacks/planet", content=planet_query(),
                                  headers={"host": "hooks.example", "content-type": "application/x-www-form-urlencoded",
                                           "origin": "https://elsewhere.example"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/", "/calls", "/codes", "/docs", "/login", "/calls/no-such-call"])
def test_pages_forbid_framing_sniffing_and_foreign_scripts(make_client: ClientFactory, path: str) -> None:
    response = make_client().get(path)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_json_answers_are_not_sniffed(make_client: ClientFactory) -> None:
    response = make_client().get("/api/calls")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in response.headers


def test_call_links_encode_the_id(make_client: ClientFactory) -> None:
    """A Planet sid is any 36 printable ASCII characters, so it may hold ``?``, ``#``, ``%``, ``/`` or quotes."""
    client = make_client()
    sid = 'x/../?a=1#"><b>%41'.ljust(36, "z")
    assert client.get("/callbacks/planet", params={**dict(parse_qsl(planet_query())), "sid": sid}).status_code == 200
    page = client.get("/calls").text
    link = "/calls/" + quote(sid, safe="")
    assert f'href="{link}"' in page
    assert client.get(link + ".json").json()["call"]["id"] == sid



@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_method_no_route_takes_is_still_405(make_client: ClientFactory, method: str) -> None:
    assert make_client().request(method, "/api/calls", content=b"x").status_code == 405
