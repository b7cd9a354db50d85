"""``CallRecord`` is the one field list: every other list of its fields is built from it and says the same.

``full_record()`` sets every field to a value unlike its default, built from the declaration, so a new field
is covered here (and in ``tests/store/test_schema.py``) without touching the tests.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pytest

from hangup.importer.canonical import record_from_export
from hangup.importer.export import parquet_schema, write_parquet
from hangup.record_fields import Fact, JsonKey, RecordField, Role, Verdict, build_function, describe
from hangup.records import FIELDS, JSON_KEYS, CallRecord
from hangup.settings import load_settings
from hangup.store import sql, staging
from hangup.store.digest import digest
from hangup.store.export import csv_lines, exported, jsonl_lines, map_cell
from hangup.store.schema import CALL_COLUMNS, DERIVED_COLUMNS
from hangup.web.openapi import spec

NAMES = [f.name for f in FIELDS]
#: What every export writes: the JSON keys, then the fields ``to_json`` leaves out.
EXPORTED = [*JSON_KEYS, *(f.name for f in FIELDS if f.json_key is None)]


def _sample(index: int, f: RecordField) -> Any:
    """A value of the field's kind unlike its default and unlike every other field's."""
    if f.choices:
        return next(choice for choice in reversed(f.choices) if choice != f.default)
    samples: dict[str, Any] = {
        "text": f"{f.name} ü 'q' \"dq\" \\N\ttab\r\nline",
        "integer": 1_700_000_000 + index,
        "real": 1_700_000_000.25 + index,
        "boolean": not f.default if isinstance(f.default, bool) else True,
        "list": (f"{f.name}:1", f"{f.name}:2 with space"),
        "map": {"z": "last", "a": "ü \"q\"\n", "empty": ""},
    }
    return samples[f.kind]


def _bare(f: RecordField) -> Any:
    """The plainest value a field without a default takes."""
    if f.choices:
        return f.choices[0]
    return {"text": f.name, "integer": 0, "real": 0.0, "boolean": False}[f.kind]


def full_record() -> CallRecord:
    """A record with every field set, none to its default."""
    return CallRecord(**{f.name: _sample(i, f) for i, f in enumerate(FIELDS)})


def sparse_record() -> CallRecord:
    """A record with only the fields that have no default (``None`` wherever a field may be)."""
    return CallRecord(**{f.name: _bare(f) for f in FIELDS if f.required})


RECORDS = {"full": full_record, "sparse": sparse_record}


def test_the_full_record_sets_every_field() -> None:
    record = full_record()
    assert [f.name for f in FIELDS if getattr(record, f.name) == f.default] == []
    assert all(getattr(sparse_record(), f.name) is None for f in FIELDS if f.nullable)


# -- describe ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kind", "nullable", "choices", "role", "json_key", "required"),
    [
        ("id", "text", False, (), None, "id", True),
        ("provider", "text", False, (), Role.FACT, "provider", True),
        ("call_type", "text", False, ("A", "V"), Role.FACT, "type", True),
        ("direction", "text", False, ("inbound", "outbound", "unknown"), Role.FACT, "direction", False),
        ("stid", "text", True, (), Role.FACT, "stid", False),
        ("duration", "integer", False, (), Role.FACT, "duration", True),
        ("answered", "boolean", False, (), Role.FACT, "answered", True),
        ("rel_code", "integer", True, (), Role.FACT, "rel_code", False),
        ("causes", "list", False, (), Role.VERDICT, "causes", False),
        ("q850", "integer", True, (), Role.VERDICT, "q850", False),
        ("extra", "map", False, (), Role.FACT, "extra", False),
        ("raw", "text", False, (), None, None, False),
        ("received_at", "real", False, (), None, "received_at", False),
    ],
)
def test_each_field_is_described_from_its_annotation(
        name: str, kind: str, nullable: bool, choices: tuple[str, ...], role: Role | None, json_key: str | None,
        required: bool) -> None:
    f = FIELDS[NAMES.index(name)]
    assert (f.kind, f.nullable, f.choices, f.role, f.json_key, f.required) == (
        kind, nullable, choices, role, json_key, required)


def test_a_default_factory_gives_the_default() -> None:
    assert FIELDS[NAMES.index("extra")].default == {}


@dataclasses.dataclass(frozen=True)
class _When:
    when: datetime


@dataclasses.dataclass(frozen=True)
class _Either:
    code: Fact[int | str]


@dataclasses.dataclass(frozen=True)
class _Numbers:
    codes: Verdict[tuple[int, ...]]


@dataclasses.dataclass(frozen=True)
class _Counts:
    counts: Mapping[str, int]


@pytest.mark.parametrize(("cls", "field"), [(_When, "when"), (_Either, "code"), (_Numbers, "codes"),
                                            (_Counts, "counts")])
def test_a_type_without_a_stored_form_is_refused_by_name(cls: type[Any], field: str) -> None:
    with pytest.raises(TypeError, match=f"record field '{field}'"):
        describe(cls)


@dataclasses.dataclass(frozen=True)
class _Marked:
    name: Fact[Annotated[str, JsonKey("label")]]
    note: Annotated[Verdict[str | None], JsonKey(None)] = None
    seen: float = 0.0


def test_markers_nest_in_either_order() -> None:
    assert [(f.name, f.role, f.json_key, f.nullable) for f in describe(_Marked)] == [
        ("name", Role.FACT, "label", False), ("note", Role.VERDICT, None, True), ("seen", None, "seen", False)]


def test_build_function_returns_the_expression() -> None:
    pair = build_function("pair", "r", "(twice(r), r)", {"twice": lambda x: 2 * x})
    assert pair(4) == (8, 4)
    assert pair.__name__ == "pair"


# -- every derived list is the declaration ---------------------------------------------------------
def _openapi_call() -> dict[str, Any]:
    listing = spec(load_settings({}))["paths"]["/api/calls"]["get"]["responses"]["200"]
    schema: dict[str, Any] = listing["content"]["application/json"]["schema"]["properties"]["calls"]["items"]
    return schema


def _csv_header() -> list[str]:
    return next(csv.reader(io.StringIO("".join(csv_lines([])))))


DERIVED: dict[str, tuple[Callable[[], list[str]], Callable[[], list[str]]]] = {
    "dataclass fields": (lambda: [f.name for f in dataclasses.fields(CallRecord)], lambda: NAMES),
    "stored columns": (lambda: list(CALL_COLUMNS), lambda: [*NAMES, *DERIVED_COLUMNS]),
    "staged import schema": (lambda: staging.SCHEMA.names, lambda: [*NAMES, *DERIVED_COLUMNS]),
    "JSON keys": (lambda: list(full_record().to_json()), lambda: list(JSON_KEYS)),
    "JSON keys named": (lambda: list(JSON_KEYS), lambda: [("type" if n == "call_type" else n) for n in NAMES
                                                           if n != "raw"]),
    "CSV header": (_csv_header, lambda: EXPORTED),
    "JSON Lines keys": (lambda: list(json.loads(next(jsonl_lines([full_record()])))), lambda: EXPORTED),
    "Parquet columns": (lambda: parquet_schema().names, lambda: EXPORTED),
    # the listing adds each call's next action to the record (hangup/web/api.py)
    "OpenAPI properties": (lambda: list(_openapi_call()["properties"]), lambda: [*JSON_KEYS, "action"]),
    "OpenAPI required": (lambda: _openapi_call()["required"], lambda: [*JSON_KEYS, "action"]),
    "facts": (lambda: list(sql.FACT_FIELDS), lambda: [f.name for f in FIELDS if f.role is Role.FACT]),
    "classification columns": (lambda: list(sql.CLASSIFICATION_COLUMNS),
                               lambda: [*(f.name for f in FIELDS if f.role is Role.VERDICT), "flagged"]),
}


@pytest.mark.parametrize("which", DERIVED)
def test_every_derived_list_is_the_declaration(which: str) -> None:
    derived, declared = DERIVED[which]
    assert derived() == declared()


# -- values ----------------------------------------------------------------------------------------
_JSON_TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
                                dict: "object", type(None): "null"}


@pytest.mark.parametrize("make", RECORDS.values(), ids=RECORDS)
def test_to_json_writes_each_value_as_the_openapi_schema_says(make: Callable[[], CallRecord]) -> None:
    record, properties = make(), _openapi_call()["properties"]
    for f in FIELDS:
        if f.json_key is None:
            continue
        value = record.to_json()[f.json_key]
        wanted = getattr(record, f.name)
        assert value == (list(wanted) if f.kind == "list" else dict(wanted) if f.kind == "map" else wanted), f.name
        declared = properties[f.json_key]["type"]
        assert _JSON_TYPES[type(value)] in (declared if isinstance(declared, list) else [declared]), f.name


@pytest.mark.parametrize("make", RECORDS.values(), ids=RECORDS)
def test_the_row_codec_round_trips(make: Callable[[], CallRecord]) -> None:
    record = make()
    row = sql.record_row(record)
    assert sql.row_record(row) == record
    by_column = dict(zip(CALL_COLUMNS, row, strict=True))
    assert (by_column["flagged"], by_column["ended_at"], by_column["digest"]) == (
        int(bool(record.flags)), sql.ended_at(record), digest(record))
    # reclassification writes the verdict columns exactly as an insert writes them
    assert sql.classification_row(record) == (*(by_column[c] for c in sql.CLASSIFICATION_COLUMNS), record.id)


@pytest.mark.parametrize("make", RECORDS.values(), ids=RECORDS)
def test_exports_read_back_as_the_same_record(make: Callable[[], CallRecord]) -> None:
    record = make()
    from_jsonl = record_from_export(json.loads(next(jsonl_lines([record]))))
    from_csv = record_from_export(next(csv.DictReader(io.StringIO("".join(csv_lines([record])), newline=""))))
    assert from_jsonl == record
    assert from_csv == record


@pytest.mark.parametrize("make", RECORDS.values(), ids=RECORDS)
def test_parquet_holds_every_field(tmp_path: Path, make: Callable[[], CallRecord]) -> None:
    import pyarrow.parquet as pq

    record = make()
    assert write_parquet([record], str(tmp_path / "log.parquet")) == 1
    wanted = {**exported(record), "extra": map_cell(record.extra)}
    assert pq.read_table(tmp_path / "log.parquet").to_pylist() == [wanted]
