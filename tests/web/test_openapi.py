"""The served OpenAPI document against the running server: schemathesis finds no 5xx and no response off-spec."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from receiver_helpers import SPEC_EXAMPLE, SyncClient, planet_query
from schemathesis.checks import negative_data_rejection, positive_data_acceptance, unsupported_method
from serverproc import Server
from test_record_fields import sparse_record

from hangup.causes import default_catalog
from hangup.causes.actions import ActionFrom
from hangup.causes.model import Action
from hangup.composition import open_store
from hangup.importer.columns import parse_columns
from hangup.importer.run import Importer
from hangup.providers import answered
from hangup.providers.planet import NULLABLE
from hangup.providers.registry import providers
from hangup.records import JSON_KEYS, AnsweredBy, CallType, Direction
from hangup.settings import load_settings
from hangup.stats import traffic
from hangup.stats.buckets import LEVELS
from hangup.stats.dimensions import ROUTE_DIMENSIONS
from hangup.stats.explain import PARTS
from hangup.stats.metrics import ALIASES, get_metric
from hangup.stats.route_table import SORTS
from hangup.stats.windows import SPAN_RE
from hangup.taxonomy import EndedBy, Fault, Outcome
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


@pytest.mark.parametrize(("key", "value", "described"), [
    ("extra", "text", True),
    ("ex\x00tra", "text", False),  # refused (400 naming the key): found by a longer run of test_api_conforms
    ("extra", "te\x00xt", False),
])
def test_the_planet_form_describes_the_extra_keys_it_takes(key: str, value: str, described: bool) -> None:
    path = load_settings({}).planet_path
    form = DOCUMENT["paths"][path]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    taken = jsonschema_rs.is_valid(form.get("propertyNames", {}), key) and jsonschema_rs.is_valid(
        form["additionalProperties"], value)
    assert taken is described


def test_the_document_never_reveals_the_callback_secret() -> None:
    document = spec(load_settings({"HANGUP_CALLBACK_SECRET": "s3cr3t-segment"}))
    assert "s3cr3t-segment" not in str(document) and "/api/calls" in document["paths"]


# -- the call listing against real calls -------------------------------------------------------------
REAL = Path(__file__).resolve().parent.parent / "data" / "real"
#: Planet events without the values its callback may leave out (``hangup.providers.planet.NULLABLE``).
PLANET_SPARSE = [planet_query(drop=tuple(NULLABLE)), planet_query(sid=f"{'7' * 8}-bdac-436e-9631-0bce2498ce0c",
                                                                  user_rel_code="", stid="")]


#: A repeat of the first sparse event that differs in a fact: stored as a conflict of that call.
PLANET_REPEAT = planet_query(drop=tuple(NULLABLE), rel_code_str="BYE")
#: An override of the action of the Planet events' cause, so an explanation carries an override rule.
ACTIONS = '[[override]]\ncause = "planet:1004"\nprovider = "planet"\naction = "fail_over"\nreason = "test"\n'


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncClient]:
    """The API over calls of several platforms: their own exports imported, Planet events posted (one repeated
    with a different fact), an actions file overriding the Planet cause's action."""
    url = f"sqlite:///{tmp_path}/calls.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = open_store(str(url))
    (tmp_path / "actions.toml").write_text(ACTIONS)
    with ExitStack() as stack:
        stack.callback(store.close)
        for export in sorted(p for p in REAL.glob("*/*.export.*") if not p.name.endswith(".expected.json")):
            want = json.loads(export.with_name(export.name.removesuffix(export.suffix) + ".expected.json").read_text())
            columns = parse_columns(want["columns"]) if "columns" in want else None
            Importer(store, rejects_path=str(tmp_path / "rejects.jsonl"), columns=columns).run([str(export)],
                                                                                                 want["format"])
        settings = load_settings({"HANGUP_ACTIONS_FILE": str(tmp_path / "actions.toml")})
        client = SyncClient(create_app(settings, store=store), stack)
        for query in (SPEC_EXAMPLE, *PLANET_SPARSE, PLANET_REPEAT):
            assert client.get(f"/callbacks/planet?{query}").status_code == 200
        yield client


@pytest.fixture
def listing(served: SyncClient) -> httpx.Response:
    return served.get("/api/calls?limit=1000")


def _answer_schema(path: str) -> dict[str, Any]:
    """The published schema of the JSON answer of ``GET path``."""
    answer: dict[str, Any] = DOCUMENT["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    return dict(answer["schema"])


def test_real_call_listings_match_the_published_schema(listing: httpx.Response) -> None:
    calls = listing.json()["calls"]
    assert len({call["provider"] for call in calls}) >= 5 and len(calls) >= 20
    assert {k for call in calls for k, v in call.items() if v is None} >= {"stid", "call_end_reason", "q850"}
    schema["/api/calls"]["GET"].validate_response(listing)


def test_no_key_a_call_may_lack_is_required_and_every_key_that_may_be_null_allows_it(
        listing: httpx.Response) -> None:
    """Required: only keys every real call and the record with nothing optional set carry. Nullable: every key
    one of them holds null in."""
    call_schema = _answer_schema("/api/calls")["properties"]["calls"]["items"]
    calls = [*listing.json()["calls"], sparse_record().to_json()]
    lacked = {key for call in calls[:-1] for key in call_schema["properties"] if key not in call}
    lacked |= set(JSON_KEYS) - set(calls[-1])  # the sparse record is not listed: it has no action
    assert not lacked & set(call_schema["required"]), lacked & set(call_schema["required"])
    nulls = {key for call in calls for key, value in call.items() if value is None}
    assert {key for key in nulls if "null" not in call_schema["properties"][key]["type"]} == set()


# -- one call explained ------------------------------------------------------------------------------------
def _path(call: dict[str, Any], page: str = "/api/calls") -> str:
    return f"{page}/{quote(call['id'], safe='')}"


def test_real_call_details_statuses_and_pages_match_the_published_schema(served: SyncClient,
                                                                   listing: httpx.Response) -> None:
    calls = listing.json()["calls"]
    details = [served.get(_path(call)) for call in calls]
    for answer in details:
        schema["/api/calls/{id}"]["GET"].validate_response(answer)
    for answer in (served.get(f"{_path(call)}/status") for call in calls):
        schema["/api/calls/{id}/status"]["GET"].validate_response(answer)
    for answer in (served.get(_path(call, "/calls") + ".json") for call in calls):
        schema["/calls/{id}.json"]["GET"].validate_response(answer)
    bodies = [answer.json() for answer in details]
    assert {body["call"]["provider"] for body in bodies} == {call["provider"] for call in calls}
    # every part the explanation adds to the listed call is there, filled, in some real call
    for part in ("codes", "flags", "legs", "conflicts"):
        assert any(body[part] for body in bodies), part
    assert {body["action"]["from"] for body in bodies} == {"catalog", "override"}


def _undescribed(node: dict[str, Any], value: Any, at: str = "$") -> list[str]:
    """The keys of ``value`` (an answer) in an object whose schema ``node`` lists its keys but not these."""
    node = next((branch for branch in node.get("anyOf", ()) if isinstance(value, dict) and "properties" in branch),
                node)
    if isinstance(value, list):
        return [key for i, item in enumerate(value) for key in _undescribed(node.get("items", {}), item, f"{at}[{i}]")]
    if not isinstance(value, dict) or "properties" not in node:
        return []
    known = node["properties"]
    return [key for name, item in value.items()
            for key in ([f"{at}.{name}"] if name not in known else _undescribed(known[name], item, f"{at}.{name}"))]


def test_every_key_of_a_real_explanation_and_conflict_is_described(served: SyncClient,
                                                                  listing: httpx.Response) -> None:
    detail, page = _answer_schema("/api/calls/{id}"), _answer_schema("/calls/{id}.json")
    conflicts = served.get("/api/conflicts")
    schema["/api/conflicts"]["GET"].validate_response(conflicts)
    assert conflicts.json()["conflicts"]
    undescribed = [*_undescribed(_answer_schema("/api/conflicts"), conflicts.json()),
                   *_undescribed(_answer_schema("/api/calls"), listing.json())]
    for call in listing.json()["calls"]:
        undescribed += _undescribed(detail, served.get(_path(call)).json(), call["id"])
        undescribed += _undescribed(page, served.get(_path(call, "/calls") + ".json").json(), call["id"])
    assert undescribed == []


# -- closed sets of values -----------------------------------------------------------------------------------
#: Every value the code can give each key of a closed set: the ``Literal`` types' arguments, the taxonomy's
#: members, and the values its data files hold (the catalog's entries, the answering-machine table).
PRODUCED: dict[str, set[str]] = {
    "type": set(get_args(CallType)),
    "direction": set(get_args(Direction)),
    "answered_by": {*get_args(AnsweredBy), *(v for rows in answered.table().values() for _, values in rows
                                             for v in values.values())},
    "outcome": {*map(str, Outcome), *(str(c.outcome) for c in default_catalog().entries())},
    "ended_by": {*map(str, EndedBy), *(str(c.ended_by) for c in default_catalog().entries())},
    "fault": {*map(str, Fault), *(str(c.fault) for c in default_catalog().entries())},
    "action": {*map(str, Action), *(str(c.action) for c in default_catalog().entries())},
    "action_from": set(get_args(ActionFrom)),
    "from": set(get_args(ActionFrom)),
}


def _closed_sets(node: Any, found: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Every (key, schema) in ``node`` of a value (not an object: the explanation's ``action`` holds one) or query
    parameter named like one of ``PRODUCED``."""
    if isinstance(node, dict):
        found += [(key, sub) for key, sub in node.get("properties", {}).items()
                  if key in PRODUCED and sub.get("type") != "object"]
        if node.get("in") == "query" and node.get("name") in PRODUCED:
            found.append((node["name"], node["schema"]))
        for value in node.values():
            _closed_sets(value, found)
    elif isinstance(node, list):
        for value in node:
            _closed_sets(value, found)
    return found


def test_every_closed_set_the_call_log_publishes_holds_every_value_the_code_can_give() -> None:
    # the call log's and the callbacks' parameters and answers, every other answer, and the statistics' and the
    # dashboard's parameters (but ``from``, their range's start, not an action's source)
    operations = [operation if {"calls", "callbacks"} & set(operation["tags"]) else
                  [operation["responses"], [p for p in operation.get("parameters", ()) if p["name"] != "from"]]
                  for operations in DOCUMENT["paths"].values() for operation in operations.values()]
    found = _closed_sets(operations, [])
    lacking = {key: sorted(PRODUCED[key] - set(sub.get("enum", ()))) for key, sub in found
               if not PRODUCED[key] <= set(sub.get("enum", ()))}
    assert lacking == {}
    assert {key for key, _ in found} == set(PRODUCED)
    # listed, explained, on its page, as a leg, in a status, as a code, as a statistics filter: each time
    assert sum(key == "outcome" for key, _ in found) >= 8 + len(WINDOW_OPERATIONS)


# -- the statistics' and the dashboard's parameters: the values each parser takes ------------------------------
def _window_operations() -> dict[str, dict[str, dict[str, Any]]]:
    """The JSON operations that ask a statistics question (an HTML page takes its ``.json`` twin's parameters):
    path -> parameter name -> parameter."""
    return {path: {p["name"]: p for p in operations["get"]["parameters"]}
            for path, operations in DOCUMENT["paths"].items()
            if path.startswith("/api/") or path.endswith(".json")
            if "range" in {p["name"] for p in operations.get("get", {}).get("parameters", ())}}


WINDOW_OPERATIONS = _window_operations()
#: The time range and the filters: the same on every operation, so tried on one.
WINDOW = {name: p for name, p in WINDOW_OPERATIONS["/api/stats/summary"].items()
          if name not in {"min_samples"}}


def _samples(parameter: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Values of ``parameter`` its schema takes (each enum value, each bound) and values it does not."""
    schema = parameter["schema"]
    if schema.get("type") == "array":  # a comma-separated list
        values = schema["items"]["enum"]
        return [*values, ",".join(values)], ["nonesuch", f"{values[0]},nonesuch"]
    if "enum" in schema:
        return list(schema["enum"]), ["nonesuch", schema["enum"][0].upper() + "x"]
    if schema.get("type") == "integer":
        low, high = schema["minimum"], schema["maximum"]
        return [str(low), str(high)], [str(low - 1), str(high + 1), "1x"]
    if "maxLength" in schema:
        return ["x" * schema["maxLength"], "any text"], ["x" * (schema["maxLength"] + 1), "a\x00b"]
    if schema.get("pattern") == SPAN_RE.pattern:  # a span: every unit
        return ["30s", "15m", "2h", "1d", "1w"], ["7x", "7", "d", "1.5h"]
    return ["any text"], ["a\x00b"]


#: (path, parameter) of every parameter whose schema closes or bounds it; the range's bounds are elsewhere.
CLOSED = [(path, name) for path, parameters in WINDOW_OPERATIONS.items() for name, p in parameters.items()
          if (name not in WINDOW or path == "/api/stats/summary") and "anyOf" not in p["schema"]]


@pytest.fixture(scope="module")
def stats_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncClient]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('stats')}/calls.db")
    now = int(time.time())
    store.add_many(list(traffic.generate(200, now - 3600, now, seed=2, users=10)))
    with ExitStack() as stack:
        stack.callback(store.close)
        yield SyncClient(create_app(load_settings({}), store=store), stack)


def test_every_operation_of_a_question_takes_the_same_range_and_filters() -> None:
    assert len(WINDOW_OPERATIONS) >= 11 and {"fault", "direction", "outcome", "cause"} <= set(WINDOW)
    for path, parameters in WINDOW_OPERATIONS.items():
        assert {name: p for name, p in parameters.items() if name in WINDOW} == WINDOW, path


@pytest.mark.parametrize(("path", "name"), CLOSED, ids=[f"{path}:{name}" for path, name in CLOSED])
def test_each_parameter_takes_the_values_its_schema_gives_and_refuses_others_naming_it(
        stats_client: SyncClient, path: str, name: str) -> None:
    accepted, refused = _samples(WINDOW_OPERATIONS[path][name])
    for value in accepted:
        answer = stats_client.get(path, params={"range": "1h", name: value} if name != "range" else {name: value})
        assert answer.status_code == 200, (value, answer.text)
    for value in refused:
        answer = stats_client.get(path, params={"range": "1h", name: value} if name != "range" else {name: value})
        assert answer.status_code == 400, (value, answer.text)
        assert name in {d["field"] for d in answer.json()["details"]}, (value, answer.text)


#: What each closed set is, as the parsers see it: ``/api/stats/definitions`` for metrics and dimensions (a metric
#: by an alias too; an explanation takes the decomposable ones, by the dimensions kept at every level).
PARSER_VALUES: list[tuple[str, str, Callable[[dict[str, Any]], set[str]]]] = [
    ("/api/stats/timeseries", "metric", lambda d: {m["id"] for m in d["metrics"]} | set(ALIASES)),
    ("/api/stats/timeseries", "bucket", lambda d: set(LEVELS)),
    ("/api/stats/breakdown", "by", lambda d: {m["id"] for m in d["dimensions"]}),
    ("/api/stats/top", "by", lambda d: {m["id"] for m in d["dimensions"] if m["top"]}),
    ("/api/stats/routes", "by", lambda d: set(ROUTE_DIMENSIONS)),
    ("/api/stats/routes", "sort", lambda d: set(SORTS)),
    ("/api/stats/explain", "metric",
     lambda d: {m for m in ({m["id"] for m in d["metrics"]} | set(ALIASES)) if get_metric(m).id in PARTS}),
    ("/api/stats/explain", "by", lambda d: {m["id"] for m in d["dimensions"] if not m["top"]}),
    ("/api/stats/summary", "direction", lambda d: set(get_args(Direction))),
    ("/api/stats/summary", "fault", lambda d: set(map(str, Fault))),
]


@pytest.mark.parametrize(("path", "name", "values"), PARSER_VALUES, ids=[f"{p}:{n}" for p, n, _ in PARSER_VALUES])
def test_each_closed_set_is_the_one_its_parser_reads(stats_client: SyncClient, path: str, name: str,
                                                     values: Callable[[dict[str, Any]], set[str]]) -> None:
    schema = WINDOW_OPERATIONS[path][name]["schema"]
    assert set(schema.get("items", schema)["enum"]) == values(stats_client.get("/api/stats/definitions").json())


def test_a_list_parameter_is_described_as_one() -> None:
    """``by`` of an explanation is comma-separated: an array, serialised form-style without explode."""
    for path in ("/api/stats/explain", "/changes.json"):
        by = WINDOW_OPERATIONS[path]["by"]
        assert (by["style"], by["explode"], by["schema"]["type"]) == ("form", False, "array")


#: (operation, its ``format`` values): each the list its reader checks, refused outside it (400 naming it)
FORMAT_CASES = [
    ("/api/stats/summary", ["json"]),  # statistics answer JSON only
    ("/api/stats/top", ["json"]),
    ("/api/insights/timers", ["json"]),
    ("/overview.json", ["json"]),
    ("/api/calls", ["json", "csv", "jsonl"]),
]


@pytest.mark.parametrize(("path", "values"), FORMAT_CASES, ids=[path for path, _ in FORMAT_CASES])
def test_format_is_described_with_the_values_its_reader_takes(stats_client: SyncClient, path: str,
                                                               values: list[str]) -> None:
    parameter = next(p for p in DOCUMENT["paths"][path]["get"]["parameters"] if p["name"] == "format")
    assert parameter["schema"]["enum"] == values
    window = {} if path == "/api/calls" else {"range": "1h"}
    assert [stats_client.get(path, params={**window, "format": value}).status_code for value in values] == \
        [200] * len(values)
    empty = [""] if path.startswith("/api/") else []  # a page reads an empty parameter as not given (a form's)
    for refused in ("csv" if values == ["json"] else "xml", "JSON", *empty):
        answer = stats_client.get(path, params={**window, "format": refused})
        assert answer.status_code == 400 and "format" in {d["field"] for d in answer.json()["details"]}, refused


def test_every_statistics_question_describes_format() -> None:
    assert all("format" in parameters for parameters in WINDOW_OPERATIONS.values())
