"""Portable SQL of the call store: row <-> record conversion, filters, keyset cursors.

Statements are built with a placeholder chosen by the back end (``?`` for sqlite3, ``%s`` for psycopg),
and use nothing beyond SQL both SQLite and PostgreSQL accept.

The row codec (``record_row``, ``row_record``, ``classification_row``) is built from the record's field
list (``hangup.records.FIELDS``) when this module is imported: each field is written as its kind is stored
(booleans 0/1, lists and maps as JSON text) and read back the same way.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import msgspec

from hangup.errors import PayloadError
from hangup.providers import registry
from hangup.record_fields import RecordField, Role, build_function
from hangup.records import FIELDS, CallRecord
from hangup.store.base import MAX_LIMIT, CallQuery, Page, QuarantineEntry
from hangup.store.digest import digest, stale
from hangup.store.schema import CALL_COLUMNS, DERIVED_COLUMNS

SELECT_COLUMNS = ", ".join(CALL_COLUMNS)
ORDER = "ORDER BY ended_at DESC, id DESC"

#: A ``calls`` row: the values of ``CALL_COLUMNS`` in order (``record_row``), the digest last.
Row = tuple[Any, ...]

_FACTS = tuple(f for f in FIELDS if f.role is Role.FACT)
_VERDICT = tuple(f for f in FIELDS if f.role is Role.VERDICT)
#: Record fields the platform supplies: two deliveries of one call conflict when one of these differs.
FACT_FIELDS: tuple[str, ...] = tuple(f.name for f in _FACTS)
#: Columns two stored rows of one call are compared by, value for value, to call them the same without
#: hashing: the facts, and ``raw``, from which a bulk import's rows rebuild ``extra`` (``read_map``).
SAME_ROW_COLUMNS: tuple[str, ...] = (*FACT_FIELDS, "raw")

#: Derived fields ``hangup reclassify`` rewrites (``flagged`` follows ``flags``).
CLASSIFICATION_COLUMNS: tuple[str, ...] = (*(f.name for f in _VERDICT), "flagged")

# CallQuery field -> (column, how to turn the value into a parameter)
_EQUALITY_FILTERS: dict[str, str] = {
    "from_user_id": "from_user_id",
    "to_user_id": "to_user_id",
    "from_service_id": "from_service_id",
    "to_service_id": "to_service_id",
    "call_type": "call_type",
    "outcome": "outcome",
    "ended_by": "ended_by",
    "call_end_reason": "call_end_reason",
    "terminate": "terminate",
    "releaser": "releaser",
    "provider": "provider",
    "route": "route",
    "destination_country": "to_country",
    "destination_prefix": "to_prefix",
    "origin_country": "from_country",
    "cause": "cause",
    "fault": "fault",
}


def facts(record: CallRecord) -> dict[str, Any]:
    return {f.name: (dict(getattr(record, f.name)) if f.kind == "map" else getattr(record, f.name)) for f in _FACTS}


#: JSON of cause and flag lists written so far: a log repeats a few hundred, so each is encoded once.
_LIST_TEXTS: dict[tuple[str, ...], str] = {}


def _json_list(values: tuple[str, ...]) -> str:
    found = _LIST_TEXTS.get(values)
    if found is None:
        found = json.dumps(values)
        if len(_LIST_TEXTS) < _TEXT_LISTS_MAX:
            _LIST_TEXTS[values] = found
    return found


_encode_json = msgspec.json.Encoder().encode


def _json_extra(extra: Mapping[str, str]) -> str:
    """``extra`` as JSON; text values through msgspec (a quarter of ``json.dumps``' time on import rows).

    Anything else (numbers, where ``json.dumps`` keeps NaN; lone surrogates, which UTF-8 cannot hold) takes
    ``json.dumps``, so every value reads back as it went in.
    """
    if not extra:
        return "{}"
    if all(type(value) is str for value in extra.values()):
        try:
            return _encode_json(extra).decode("utf-8")
        except UnicodeEncodeError:
            pass
    return json.dumps(dict(extra), ensure_ascii=False)


def ended_at(record: CallRecord) -> int:
    return record.end_time if record.end_time > 0 else int(record.received_at)


def page_of(rows: Sequence[Sequence[Any]], limit: int) -> Page:
    """The page of a ``page_sql`` result: its first ``limit`` rows, and a cursor when it fetched one more."""
    calls = [row_record(r) for r in rows[:limit]]
    return Page(calls, encode_cursor(calls[-1]) if len(rows) > limit else None)


def quarantine_entry(row: Sequence[Any]) -> QuarantineEntry:
    """A quarantine entry from ``SELECT id, {QUARANTINE_COLUMNS}``."""
    return QuarantineEntry(
        id=int(row[0]), received_at=float(row[1]), provider=row[2], method=row[3], path=row[4], query=row[5],
        body=base64.b64decode(row[6]), headers=json.loads(row[7]), client=row[8], status=int(row[9]),
        error=json.loads(row[10]), replayed_at=None if row[11] is None else float(row[11]), replay_result=row[12],
    )


def text_safe(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL; it is stored as U+FFFD (the digest is computed before, from the record)."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


def row_digest(row: Sequence[Any]) -> str:
    """The digest of a ``calls`` row: the stored one, or computed from the row when the stored one is stale.

    Bulk imports store rows with an empty digest (hashing every row would cost as much as the rest of
    reading it), and a call stored by an earlier release may hold a digest of an earlier definition
    (``hangup.store.digest``); the digest only matters when a second delivery of the same call arrives,
    and is computed then, from the row, exactly as ``digest`` computes it from the record.
    """
    found: str = row[-1]
    return digest(row_record(row)) if stale(found) else found


#: JSON list cells read so far: a log repeats a few hundred cause and flag lists, so each is parsed once.
_TEXT_LISTS: dict[str, tuple[str, ...]] = {}
_TEXT_LISTS_MAX = 4096


def _text_list(text: str) -> tuple[str, ...]:
    found = _TEXT_LISTS.get(text)
    if found is None:
        found = tuple(json.loads(text))
        if len(_TEXT_LISTS) < _TEXT_LISTS_MAX:
            _TEXT_LISTS[text] = found
    return found


def read_map(cell: str, raw: str) -> Mapping[str, str]:
    """A map column's value: its JSON object, or, where a bulk import stored the row once (the cell names
    the import format instead of an object), the map the format rebuilds from the row's ``raw``."""
    if cell.startswith("{"):
        found: Mapping[str, str] = json.loads(cell)
        return found
    return _rebuilt_map(cell)(raw)


@functools.cache
def _rebuilt_map(fmt: str) -> Callable[[str], Mapping[str, str]]:
    rebuild = registry.import_formats()[fmt].extra_from_raw
    if rebuild is None:
        raise ValueError(f"import format {fmt} does not rebuild extra from raw")
    return rebuild


#: The end of a ``call_conflicts`` insert: a version of the call kept already (its digest, unique per call since
#: migration 0320) is not kept again, so a platform retrying a conflicting delivery leaves one row.
CONFLICT_VERSION = " ON CONFLICT DO NOTHING"


def differences(stored: CallRecord, received: CallRecord) -> dict[str, list[Any]]:
    old, new = facts(stored), facts(received)
    return {name: [old[name], new[name]] for name in FACT_FIELDS if old[name] != new[name]}


# -- the row codec, built from the record's fields ------------------------------------------
#: How a field of each kind is written to its column, where the value is not stored as it is.
_ENCODE = {"boolean": "int({})", "list": "_json_list({})", "map": "_json_extra({})"}
#: How it is read back.
_DECODE = {"boolean": "bool({})", "list": "_text_list({})", "map": "read_map({}, row[_RAW])", "real": "float({})"}
#: The values of the columns that are not fields (``hangup.store.schema.DERIVED_COLUMNS``).
_DERIVED = {"flagged": "int(bool(r.flags))", "ended_at": "ended_at(r)", "digest": "digest(r)"}
_CODEC_NAMES = {"_json_list": _json_list, "_json_extra": _json_extra, "_text_list": _text_list, "json": json,
                "ended_at": ended_at, "digest": digest, "CallRecord": CallRecord, "read_map": read_map,
                "_RAW": CALL_COLUMNS.index("raw")}


def _encoded(f: RecordField) -> str:
    return _ENCODE.get(f.kind, "{}").format(f"r.{f.name}")


def _tuple(items: Sequence[str]) -> str:
    return f"({', '.join(items)},)"


_ROW_ITEMS = [*map(_encoded, FIELDS), *(_DERIVED[name] for name in DERIVED_COLUMNS)]
_RECORD_ITEMS = [f"{f.name}={_DECODE.get(f.kind, '{}').format(f'row[{i}]')}" for i, f in enumerate(FIELDS)]
_CLASSIFICATION_ITEMS = [*map(_encoded, _VERDICT), _DERIVED["flagged"], "r.id"]

#: The ``calls`` row of a record, in ``CALL_COLUMNS`` order.
record_row = cast(Callable[[CallRecord], Row], build_function("record_row", "r", _tuple(_ROW_ITEMS), _CODEC_NAMES))
#: A record from a ``SELECT {SELECT_COLUMNS}`` row (or a ``record_row``).
row_record = cast(Callable[[Sequence[Any]], CallRecord], build_function(
    "row_record", "row", f"CallRecord({', '.join(_RECORD_ITEMS)})", _CODEC_NAMES))
#: Values of ``CLASSIFICATION_COLUMNS`` followed by the id (for an UPDATE … WHERE id = ?).
classification_row = cast(Callable[[CallRecord], tuple[Any, ...]], build_function(
    "classification_row", "r", _tuple(_CLASSIFICATION_ITEMS), _CODEC_NAMES))


# -- filters and cursors -----------------------------------------------------------------
def encode_cursor(record: CallRecord) -> str:
    raw = json.dumps([ended_at(record), record.id], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, call_id = json.loads(raw)
        if isinstance(when, int) and not isinstance(when, bool) and isinstance(call_id, str):
            return when, call_id
    except (ValueError, binascii.Error, TypeError):
        pass
    raise PayloadError("bad cursor", [{"field": "cursor", "error": "not a cursor returned by this API"}])


@dataclass(frozen=True, slots=True)
class Where:
    """A WHERE clause (possibly empty) and its parameters."""

    sql: str
    params: list[Any]


def where(query: CallQuery, ph: str, *, with_cursor: bool = True) -> Where:
    clauses: list[str] = []
    params: list[Any] = []
    if query.since is not None:
        clauses.append(f"ended_at >= {ph}")
        params.append(query.since)
    if query.until is not None:
        clauses.append(f"ended_at < {ph}")
        params.append(query.until)
    for attr, column in _EQUALITY_FILTERS.items():
        value = getattr(query, attr)
        if value is not None:
            clauses.append(f"{column} = {ph}")
            params.append(value)
    if query.provider_call_id is not None:
        # Spelled so SQLite can use its partial index on provider_call_id (rows whose id differs) and the
        # primary key for the rest (Planet calls, whose platform id is hangup's id).
        clauses.append(f"((provider_call_id = {ph} AND provider_call_id <> id)"
                       f" OR (id = {ph} AND provider_call_id = id))")
        params.extend((query.provider_call_id, query.provider_call_id))
    for attr, op in (("min_duration", ">="), ("max_duration", "<=")):
        if getattr(query, attr) is not None:
            clauses.append(f"duration {op} {ph}")
            params.append(getattr(query, attr))
    # The two flags are written as literals: a partial index (``calls_flagged``, ``calls_abnormal``) serves
    # only a query whose condition implies the index's, which a bound parameter never does.
    if query.normal is not None:
        clauses.append(f"normal = {int(query.normal)}")
    if query.flagged is not None:
        clauses.append(f"flagged = {int(query.flagged)}")
    if with_cursor and query.cursor:
        when, call_id = decode_cursor(query.cursor)
        # ``ended_at <= ?`` repeats what the OR implies, so both planners start the index walk at the cursor
        # instead of reading past every newer row first.
        clauses.append(f"ended_at <= {ph} AND (ended_at < {ph} OR (ended_at = {ph} AND id < {ph}))")
        params.extend((when, when, when, call_id))
    return Where(" WHERE " + " AND ".join(clauses) if clauses else "", params)


def page_sql(query: CallQuery, ph: str) -> tuple[str, list[Any], int]:
    """SELECT of one page; fetches ``limit + 1`` rows to know whether another page follows."""
    limit = checked_limit(query.limit)
    w = where(query, ph)
    sql = f"SELECT {SELECT_COLUMNS} FROM calls{w.sql} {ORDER} LIMIT {ph}"
    return sql, [*w.params, limit + 1], limit


def checked_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise PayloadError("bad limit", [{"field": "limit", "error": f"must be between 1 and {MAX_LIMIT}"}])
    return limit


def iter_pages(fetch: Callable[[CallQuery], Page], query: CallQuery, batch: int) -> Iterator[CallRecord]:
    """Every call ``query`` matches, fetched ``batch`` at a time by following the keyset cursor."""
    current = replace(query, limit=batch)
    while True:
        page = fetch(current)
        yield from page.calls
        if page.next_cursor is None:
            return
        current = replace(current, cursor=page.next_cursor)
