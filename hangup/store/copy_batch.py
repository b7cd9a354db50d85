"""A bulk import batch as PostgreSQL ``COPY`` text, made by the reading process of an import.

Sending a batch of 100,000 rows to the writer as Python tuples costs the reading process a
``to_pylist`` and a pickle per value, the writer an unpickle and a ``write_row`` per row, all under the
writer's interpreter lock. Instead the reading process formats the batch's Arrow table (and the rollup
sums it added up, ``hangup.stats.arrow_rollups``) with Arrow's CSV writer, in C++, and the writer hands
the bytes to ``COPY … (FORMAT csv)`` as they are (``hangup.store.postgres_bulk.add_copied``).

The text follows PostgreSQL's CSV rules (https://www.postgresql.org/docs/current/sql-copy.html, "CSV
Format"): every value that is not NULL is quoted (``quoting_style="all_valid"``), so an empty string
arrives as ``""`` and a NULL as nothing; doubles are written in their shortest exact form, so the stored
value is the one read. Text holding NUL cannot be stored by ``COPY`` and times before 1970 are bucketed
differently in SQL: such batches are not made (``None``) and go to the writer as rows.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from hangup.store import staging
from hangup.store.base import CopyBatch
from hangup.store.schema import CALL_COLUMNS

_DAY = 86400
_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")


def from_tables(calls: pa.Table, sums: pa.Table) -> CopyBatch | None:
    """The batch of ``calls`` (a table of ``calls`` columns) and their rollup ``sums``; ``None`` when a text
    value holds NUL or a call ended before 1970."""
    calls = calls.select(list(CALL_COLUMNS)).cast(staging.SCHEMA)
    if calls.num_rows == 0 or pc.min(calls["ended_at"]).as_py() < 0 or _has_nul(calls):
        return None
    keys = calls.select(["id", "ended_at", "digest"])
    numbered = keys.add_column(0, "seq", pa.array(range(calls.num_rows), pa.int64()))
    days = pc.unique(pc.divide(calls["ended_at"], _DAY)).to_pylist()
    return CopyBatch(_csv(calls), _csv(numbered), calls.num_rows, tuple(days), _csv(sums), tuple(sums.column_names))


def _has_nul(table: pa.Table) -> bool:
    return any(pc.any(pc.match_substring(column, "\x00")).as_py()
               for column in table.columns if pa.types.is_string(column.type))


def _csv(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pacsv.write_csv(table, out, _OPTIONS)
    return out.getvalue()
