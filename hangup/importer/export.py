"""The call log out of the store: JSON Lines, CSV (``hangup.store.export``) or Parquet, streamed in batches.

Parquet is written with pyarrow. Its columns are the CSV export's, typed by the kind of the record's
field: integers as int64 (nullable where the field is optional), booleans (``answered``, ``normal``) as
booleans, reals as float64, lists (``causes``, ``flags``) as lists of strings and maps (``extra``) as a
JSON object string.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import IO, Any

from hangup.records import CallRecord
from hangup.store.export import CSV_COLUMNS, EXPORT_FIELDS, csv_lines, exported, jsonl_lines, map_cell

FORMATS = ("jsonl", "csv", "parquet")
PARQUET_BATCH = 50_000

_MAP_COLUMNS = tuple(column for column, f in EXPORT_FIELDS.items() if f.kind == "map")


def write_text(records: Iterable[CallRecord], fmt: str, out: IO[str]) -> int:
    """Write ``records`` as JSON Lines or CSV; return how many were written."""
    count = 0

    def counted() -> Iterator[CallRecord]:
        nonlocal count
        for record in records:
            count += 1
            yield record

    lines = jsonl_lines(counted()) if fmt == "jsonl" else csv_lines(counted())
    for chunk in lines:
        out.write(chunk)
    return count


def parquet_schema() -> Any:
    import pyarrow as pa

    types = {"integer": pa.int64(), "boolean": pa.bool_(), "list": pa.list_(pa.string()), "real": pa.float64()}
    return pa.schema([(name, types.get(EXPORT_FIELDS[name].kind, pa.string())) for name in CSV_COLUMNS])


def _row(record: CallRecord) -> dict[str, Any]:
    data = exported(record)
    for column in _MAP_COLUMNS:
        data[column] = map_cell(data[column])
    return data


def write_parquet(records: Iterable[CallRecord], path: str) -> int:
    """Write ``records`` to a Parquet file at ``path`` in row groups of ``PARQUET_BATCH``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    count = 0
    iterator = iter(records)
    with pq.ParquetWriter(path, schema) as writer:
        while batch := list(islice(iterator, PARQUET_BATCH)):
            writer.write_table(pa.Table.from_pylist([_row(r) for r in batch], schema=schema))
            count += len(batch)
    return count
