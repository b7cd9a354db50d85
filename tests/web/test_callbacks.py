"""The callback receiver through the app: status codes, the error shape, quarantine, protections, limits."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest
from receiver_helpers import PLANET_EVENT, SPEC_EXAMPLE, ClientFactory, planet_query

from hangup.store.base import CallQuery, Store


def assert_error_shape(body: dict[str, Any], status: int) -> None:
    assert set(body) == {"ok", "error", "error_id", "status", "details"}
    assert body["ok"] is False and body["status"] == status and body["error"] and body["error_id"]


def test_the_spec_example_is_stored_and_flagged(make_client: ClientFactory, fresh_store: Store) -> None:
    response = make_client().get("/callbacks/planet?" + SPEC_EXAMPLE)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "inserted" and "mid_call_end_not_started" in body["flags"]
    stored = fresh_store.get("6364e8b3-bdac-436e-9631-0bce2498ce0c")
    assert stored is not None and stored.raw == SPEC_EXAMPLE and stored.flags == tuple(body["flags"])


def test_form_encoded_post_is_accepted(make_client: ClientFactory, fresh_store: Store) -> None:
    response = make_client().post("/callbacks/planet", content=planet_query(),
                                  headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200 and fresh_store.count() == 1


def test_a_bad_request_gets_400_naming_every_field_and_is_quarantined(make_client: ClientFactory,
                                                                      fresh_store: Store) -> None:
    query = planet_query(type="X", duration="-3", drop=("srcip",))
    response = make_client().get("/callbacks/planet?" + query, headers={"authorization": "secret"})
    assert response.status_code == 400
    body = response.json()
    assert_error_shape(body, 400)
    assert {d["field"] for d in body["details"]} == {"type", "duration", "srcip"}
    (entry,) = fresh_store.quarantined()
    assert (entry.method, entry.path, entry.query, entry.status) == ("GET", "/callbacks/planet", query, 400)
    assert entry.error == body and "authorization" not in entry.headers
    assert fresh_store.count() == 0


def test_a_post_naming_an_unknown_time_zone_gets_400_naming_it_and_is_quarantined(
        make_client: ClientFactory, fresh_store: Store) -> None:
    line = (b'"","1001","2002","from-internal","<1001>","PJSIP/1001-01","PJSIP/2002-02","Dial","PJSIP/2002",'
            b'"2026-07-01 12:00:00","2026-07-01 12:00:05","2026-07-01 12:01:05",65,60,"ANSWERED","DOCUMENTATION",'
            b'"1782907200.1",""')
    client = make_client(HANGUP_ASTERISK_ACCEPT_UNSIGNED="true")
    response = client.post("/callbacks/asterisk?timezone=Mars/Olympus", content=line)
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == ["timezone"]
    (entry,) = fresh_store.quarantined()
    assert entry.query == "timezone=Mars/Olympus" and fresh_store.count() == 0
    assert client.post("/callbacks/asterisk?timezone=Europe/Paris", content=line).status_code == 200
    (call,) = fresh_store.query(CallQuery()).calls
    assert call.end_time == 1782907265 - 7200  # 12:01:05 in Paris (+02:00), not UTC


def test_duplicates_answer_200_and_conflicts_are_recorded(make_client: ClientFactory, fresh_store: Store) -> None:
    client = make_client()
    statuses = [client.get("/callbacks/planet?" + planet_query()).json()["status"] for _ in range(3)]
    conflict = client.get("/callbacks/planet?" + planet_query(rel_code="9"))
    assert statuses == ["inserted", "duplicate", "duplicate"]
    assert conflict.status_code == 200 and conflict.json()["status"] == "conflict"
    assert fresh_store.count() == 1
    assert client.get("/api/conflicts").json()["conflicts"][0]["differences"] == {"rel_code": [2, 9]}


def test_many_concurrent_requests_are_stored_exactly_once(make_client: ClientFactory, fresh_store: Store) -> None:
    client = make_client()
    sids = [f"{n:08d}-0000-4000-8000-000000000000" for n in range(60)]

    def send(sid: str) -> int:
        return client.get("/callbacks/planet?" + planet_query(sid=sid)).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(send, sids * 3))
    assert codes == [200] * 180
    assert fresh_store.count() == 60


@pytest.mark.parametrize(("method", "status"), [("PUT", 405), ("DELETE", 405), ("PATCH", 405)])
def test_other_methods_are_405_with_allow(make_client: ClientFactory, method: str, status: int) -> None:
    response = make_client().request(method, "/callbacks/planet?" + planet_query())
    assert response.status_code == status and response.headers["allow"] == "GET, POST"
    assert_error_shape(response.json(), status)


def test_unknown_provider_is_404(make_client: ClientFactory) -> None:
    response = make_client().get("/callbacks/nosuch?x=1")
    assert response.status_code == 404
    assert_error_shape(response.json(), 404)


LIMITS = [
    ({"HANGUP_MAX_QUERY_BYTES": "100"}, "GET", planet_query(), b"", 414),
    ({"HANGUP_MAX_BODY_BYTES": "100"}, "POST", "", planet_query().encode(), 413),
    ({"HANGUP_MAX_KEYS": "10"}, "GET", planet_query(), b"", 400),
    ({}, "GET", planet_query() + "&" + "&".join(f"k{i}=1" for i in range(80)), b"", 400),
]


@pytest.mark.parametrize(("env", "method", "query", "body", "status"), LIMITS)
def test_limits_answer_4xx(make_client: ClientFactory, env: dict[str, str], method: str, query: str, body: bytes,
                           status: int) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = make_client(**env).request(method, "/callbacks/planet?" + query, content=body, headers=headers)
    assert response.status_code == status
    assert_error_shape(response.json(), status)


def test_secret_path_segment(make_client: ClientFactory) -> None:
    client = make_client(HANGUP_CALLBACK_SECRET="s3cr3t")
    assert client.get("/callbacks/planet?" + planet_query()).status_code == 404
    assert client.get("/s3cr3t/callbacks/planet?" + planet_query()).status_code == 200


def test_configured_planet_path(make_client: ClientFactory) -> None:
    client = make_client(HANGUP_PLANET_PATH="/call_event")
    assert client.get("/call_event?" + planet_query()).status_code == 200


@pytest.mark.parametrize(("allow", "client", "status"), [
    ("10.0.0.0/8", ("10.1.2.3", 1), 200),
    ("10.0.0.0/8,2001:db8::/32", ("2001:db8::5", 1), 200),
    ("10.0.0.0/8", ("192.0.2.1", 1), 403),
])
def test_source_allow_list(make_client: ClientFactory, fresh_store: Store, allow: str, client: tuple[str, int],
                           status: int) -> None:
    response = make_client(client=client, HANGUP_CALLBACK_ALLOW=allow).get("/callbacks/planet?" + planet_query())
    assert response.status_code == status
    assert fresh_store.quarantine_count() == (status == 403)


def test_callbacks_are_not_behind_the_api_token(make_client: ClientFactory) -> None:
    client = make_client(HANGUP_API_TOKEN="tok")
    assert client.get("/callbacks/planet?" + planet_query()).status_code == 200
    assert client.get("/api/calls").status_code == 401
    assert client.get("/api/calls", headers={"authorization": "Bearer nope"}).status_code == 403
    ok = client.get("/api/calls", headers={"authorization": "Bearer tok"})
    assert ok.status_code == 200 and ok.json()["calls"][0]["id"] == PLANET_EVENT["sid"]


def test_health_and_readiness(make_client: ClientFactory) -> None:
    client = make_client()
    assert client.get("/healthz").json()["ok"] is True
    assert client.get("/readyz").status_code == 200


class CrashingAdapter:
    """An adapter with a bug that some input triggers."""

    name = "crashing"
    methods = ("GET",)

    def verify(self, request: object, secrets: object) -> None:
        pass

    def parse(self, request: object) -> None:
        raise KeyError("an unexpected key")


def test_an_adapter_failing_on_some_input_answers_400_and_quarantines(make_client: ClientFactory,
                                                                      fresh_store: Store) -> None:
    client = make_client()
    client.app.receiver.providers["crashing"] = CrashingAdapter()
    response = client.get("/callbacks/crashing?x=1")
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "request"
    assert fresh_store.quarantined()[0].provider == "crashing"


def test_a_failing_write_hook_answers_503_so_the_platform_retries(make_client: ClientFactory,
                                                                   fresh_store: Store) -> None:
    def broken(conn: object, records: object) -> None:
        raise RuntimeError("rollup bug")

    client = make_client()
    fresh_store.add_write_hook(broken)
    response = client.get("/callbacks/planet?" + planet_query())
    assert response.status_code == 503 and response.json()["error_id"] == "store_unavailable"
    assert fresh_store.count() == 0


def test_a_body_cut_off_midway_is_neither_stored_nor_quarantined(make_client: ClientFactory,
                                                                 fresh_store: Store) -> None:
    """A client that disconnects (or is cut off by the read deadline) mid-body: its first bytes may form a valid
    callback on their own (here every key but the nullable last one), and must still not be stored."""
    client = make_client()
    body = planet_query().encode()
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[: body.index(b"&user_rel_code")], "more_body": True},
        {"type": "http.disconnect"},
    ]
    scope = {"type": "http", "method": "POST", "path": "/callbacks/planet", "raw_path": b"/callbacks/planet",
             "query_string": b"", "client": ("127.0.0.1", 50000), "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 8080), "headers": [(b"content-type", b"application/x-www-form-urlencoded"),
                                                        (b"content-length", str(len(body)).encode())]}

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        pass

    async def deliver() -> None:
        await client.app(scope, receive, send)

    client.portal.call(deliver)
    assert fresh_store.count() == 0 and fresh_store.quarantined() == []
