"""The served OpenAPI document against the running server: schemathesis finds no 5xx and no response off-spec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance, unsupported_method
from serverproc import Server

from hangup.providers.registry import providers
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
