"""The served OpenAPI document against the running server: schemathesis finds no 5xx and no response off-spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from receiver_helpers import SPEC_EXAMPLE, SyncClient, planet_query
from schemathesis.checks import negative_data_rejection, positive_data_acceptance, unsupported_method
from serverproc import Server
from test_record_fields import sparse_record

from hangup.composition import open_store
from hangup.importer.columns import parse_columns
from hangup.importer.run import Importer
from hangup.providers.planet import NULLABLE
from hangup.providers.registry import providers
from hangup.records import JSON_KEYS
from hangup.settings import load_settings
from hangup.web.app import create_app
from hangup.web.callbacks import callback_paths
from hangup.web.openapi import spec

DOCUMENT = spec(load_settings({}))
schema = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    process = Server(Path(tmp_path_factory.mktemp("openapi")) / "calls.db")
    yield process
    process.stop()


def test_the_document_is_valid_openapi() -> None:
    document = spec(load_settings({}))
    assert document["openapi"].startswith("3.1")
    assert "/callbacks/planet" in document["paths"] and "/api/calls/{id}/status" in document["paths"]


def test_the_document_lists_every_operation_the_app_serves() -> None:
    settings = load_settings({})
    document = spec(settings)["paths"]
    app = create_app(settings)
    served = {(route.path.replace("{call_id:path}", "{id}"), method.lower())
              for route in app.routes for method in (getattr(route, "methods", None) or ()) if method != "HEAD"}
    adapters = providers()
    served |= {(path, method.lower()) for path, name in callback_paths(settings, list(adapters)).items()
               for method in adapters[name].methods}
    listed = {(path, method) for path, operations in document.items() for method in operations}
    assert served <= listed, served - listed
    assert len(listed) >= 40


def test_served_document_matches(server: Server) -> None:
    import httpx

    assert httpx.get(f"{server.url}/openapi.json").json() == spec(load_settings({}))
    page = httpx.get(f"{server.url}/docs")
    assert page.status_code == 200 and "/callbacks/planet" in page.text and "cdn" not in page.text.lower()


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: schemathesis.Case, server: Server) -> None:
    # A cursor is opaque: a schema-valid string that is not one hangup issued is rightly a 400.
    excluded = [positive_data_acceptance] if "cursor" in (case.query or {}) else []
    if not _described_field_by_field(case):  # their answers are checked, not which inputs they accept
        excluded += [positive_data_acceptance, negative_data_rejection, unsupported_method]
    case.call_and_validate(base_url=server.url, excluded_checks=excluded)


def _described_field_by_field(case: schemathesis.Case) -> bool:
    """The call log, health and the Planet callback, whose every parameter has its exact schema."""
    operation = DOCUMENT["paths"][case.operation.path][case.operation.method.lower()]
    return bool({"calls", "health"} & set(operation["tags"])) or operation["operationId"].startswith("planet")


def test_the_document_never_reveals_the_callback_secret() -> None:
    document = spec(load_settings({"HANGUP_CALLBACK_SECRET": "s3cr3t-segment"}))
    assert "s3cr3t-segment" not in str(document) and "/api/calls" in document["paths"]


# -- the call listing against real calls -------------------------------------------------------------
REAL = Path(__file__).resolve().parent.parent / "data" / "real"
#: Planet events without the values its callback may leave out (``hangup.providers.planet.NULLABLE``).
PLANET_SPARSE = [planet_query(drop=tuple(NULLABLE)), planet_query(sid=f"{'7' * 8}-bdac-436e-9631-0bce2498ce0c",
                                                                  user_rel_code="", stid="")]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def listing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Response]:
    """``GET /api/calls`` over calls of several platforms: their own exports imported, Planet events posted."""
    url = f"sqlite:///{tmp_path}/calls.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = open_store(str(url))
    with ExitStack() as stack:
        stack.callback(store.close)
        for export in sorted(p for p in REAL.glob("*/*.export.*") if not p.name.endswith(".expected.json")):
            want = json.loads(export.with_name(export.name.removesuffix(export.suffix) + ".expected.json").read_text())
            columns = parse_columns(want["columns"]) if "columns" in want else None
            Importer(store, rejects_path=str(tmp_path / "rejects.jsonl"), columns=columns).run([str(export)],
                                                                                                 want["format"])
        client = SyncClient(create_app(load_settings({}), store=store), stack)
        for query in (SPEC_EXAMPLE, *PLANET_SPARSE):
            assert client.get(f"/callbacks/planet?{query}").status_code == 200
        yield client.get("/api/calls?limit=1000")


def test_real_call_listings_match_the_published_schema(listing: httpx.Response) -> None:
    calls = listing.json()["calls"]
    assert len({call["provider"] for call in calls}) >= 5 and len(calls) >= 20
    assert {k for call in calls for k, v in call.items() if v is None} >= {"stid", "call_end_reason", "q850"}
    schema["/api/calls"]["GET"].validate_response(listing)


def test_no_key_a_call_may_lack_is_required_and_every_key_that_may_be_null_allows_it(
        listing: httpx.Response) -> None:
    """Required: only keys every real call and the record with nothing optional set carry. Nullable: every key
    one of them holds null in."""
    items = DOCUMENT["paths"]["/api/calls"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    call_schema = items["properties"]["calls"]["items"]
    calls = [*listing.json()["calls"], sparse_record().to_json()]
    lacked = {key for call in calls[:-1] for key in call_schema["properties"] if key not in call}
    lacked |= set(JSON_KEYS) - set(calls[-1])  # the sparse record is not listed: it has no action
    assert not lacked & set(call_schema["required"]), lacked & set(call_schema["required"])
    nulls = {key for call in calls for key, value in call.items() if value is None}
    assert {key for key in nulls if "null" not in call_schema["properties"][key]["type"]} == set()
