"""The call log out of the store: JSON Lines, CSV (``hangup.store.export``) or Parquet, streamed in batches.

Parquet is written with pyarrow. Its columns are the CSV export's, typed:
integers as int64 (nullable where the record's field is optional), ``answered``/``normal`` as
booleans, ``causes``/``flags`` as lists of strings and ``extra`` as a JSON object string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import IO, Any

from hangup.records import CallRecord
from hangup.store.export import CSV_COLUMNS, csv_lines, jsonl_lines

FORMATS = ("jsonl", "csv", "parquet")
PARQUET_BATCH = 50_000

_INT_COLUMNS = frozenset({"setup_time", "start_time", "end_time", "duration", "call_end_reason", "terminate",
                          "rel_code", "q850", "sip"})
_BOOL_COLUMNS = frozenset({"answered", "normal"})
_LIST_COLUMNS = frozenset({"causes", "flags"})


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

    def kind(name: str) -> Any:
        if name in _INT_COLUMNS:
            return pa.int64()
        if name in _BOOL_COLUMNS:
            return pa.bool_()
        if name in _LIST_COLUMNS:
            return pa.list_(pa.string())
        if name == "received_at":
            return pa.float64()
        return pa.string()

    return pa.schema([(name, kind(name)) for name in CSV_COLUMNS])


def _row(record: CallRecord) -> dict[str, Any]:
    data = record.to_json()
    data["extra"] = json.dumps(dict(record.extra), ensure_ascii=False) if record.extra else ""
    data["raw"] = record.raw
    return {name: data[name] for name in CSV_COLUMNS}


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
