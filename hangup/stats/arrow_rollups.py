"""Rollups of a batch of calls summed column-wise with pyarrow: bulk imports, in the reading process.

A staged import batch (``hangup.store.staging``) is a table of ``calls`` rows before it is stored. The
reading process sums it here, by hash aggregation in C++, into the rollup keys and counters
``hangup.stats.rollups.aggregate`` gives for the same calls, and stages the sums beside the rows; the
store's writer adds them with one upsert when every row of the batch was new. The steps are those of
``rollups.apply_source`` (per minute on every field a dimension reads, then each dimension, hours from
minutes, days from hours, per-day top lists of failed calls); the counter and dimension definitions are
``hangup.stats.totals.counters`` and ``hangup.stats.dimensions``'s, tested against per-call sums.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from hangup.stats.buckets import DAY, HOUR, MINUTE, WEEK
from hangup.stats.dimensions import ALL, BREAKDOWNS, TOPS
from hangup.stats.rollups import GROUP_COLUMNS
from hangup.stats.totals import COUNTERS, FAULT_DOMAINS, NER_DELIVERED_FAULTS

#: The table ``aggregate`` returns: one row per rollup key, ``KEY`` then ``COUNTERS``.
SCHEMA = pa.schema([("level", pa.int64()), ("dim", pa.string()), ("bucket", pa.int64()), ("value", pa.string()),
                    *((name, pa.int64()) for name in COUNTERS)])
_SUMS = [(name, "sum") for name in COUNTERS]
_SUMMED = [f"{name}_sum" for name in COUNTERS]


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A nullable integer column as ``dimensions._text`` reads it: decimal text, ``""`` for none."""
    return pc.fill_null(pc.cast(column, pa.string()), "")


#: Each dimension's value from a table holding the columns it reads (as ``dimensions.DIMENSIONS``).
_VALUES: dict[str, Callable[[pa.Table], pa.ChunkedArray]] = {
    "outcome": lambda t: t["outcome"],
    "call_end_reason": lambda t: _text(t["call_end_reason"]),
    "terminate": lambda t: _text(t["terminate"]),
    "cause": lambda t: t["cause"],
    "ended_by": lambda t: t["ended_by"],
    "fault": lambda t: t["fault"],
    "call_type": lambda t: t["call_type"],
    "direction": lambda t: t["direction"],
    "service": lambda t: pc.if_else(pc.not_equal(t["from_service_id"], ""), t["from_service_id"],
                                    t["to_service_id"]),
    "provider": lambda t: t["provider"],
    "route": lambda t: t["route"],
    "destination_country": lambda t: t["to_country"],
    "destination_prefix": lambda t: t["to_prefix"],
    "origin_country": lambda t: t["from_country"],
    "user": lambda t: t["from_user_id"],
    "destination": lambda t: t["to_user_id"],
    "ip_pair": lambda t: pc.binary_join_element_wise(t["srcip"], t["dstip"], ">"),
}


def _flag(mask: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(pc.fill_null(mask, False), pa.int64())


def counters(table: pa.Table) -> dict[str, pa.ChunkedArray]:
    """Each call's contribution to every counter (``totals.counters``), as columns in ``COUNTERS`` order."""
    answered, normal, fault = table["answered"], table["normal"], table["fault"]
    is_answered = pc.equal(answered, 1)
    setup, start = table["setup_time"], table["start_time"]
    tta_known = pc.and_(is_answered, pc.and_(pc.greater(setup, 0), pc.greater_equal(start, setup)))
    failed = pc.equal(normal, 0)
    columns = {
        "attempts": pc.add(pc.multiply(answered, 0), 1),
        "answered": answered,
        "normal": normal,
        "ner_ok": _flag(pc.or_(is_answered, pc.is_in(fault, pa.array(sorted(NER_DELIVERED_FAULTS))))),
        "abandoned": _flag(pc.equal(table["outcome"], "abandoned")),
        "duration_sum": pc.if_else(is_answered, table["duration"], 0),
        "tta_sum": pc.if_else(tta_known, pc.subtract(start, setup), 0),
        "tta_count": _flag(tta_known),
        "failed": _flag(failed),
        **{f"failed_{domain}": _flag(pc.and_(failed, pc.equal(fault, domain))) for domain in FAULT_DOMAINS},
        "answered_human": _flag(pc.and_(is_answered, pc.equal(table["answered_by"], "human"))),
    }
    return {name: columns[name] for name in COUNTERS}


def _floor(column: pa.ChunkedArray, size: int) -> pa.ChunkedArray:
    return pc.multiply(pc.divide(column, size), size)  # integer division of times >= 0


def _keys(table: pa.Table, level: int, dim: str, bucket: pa.ChunkedArray, value: pa.ChunkedArray | str,
          sums: list[str]) -> pa.Table:
    """``table``'s ``sums`` columns summed per (bucket, value), as rows of ``SCHEMA`` under ``dim``."""
    values = pa.array([value] * table.num_rows, pa.string()) if isinstance(value, str) else value
    grouped = pa.table({"dim": pa.array([dim] * table.num_rows, pa.string()), "bucket": bucket, "value": values,
                        **{name: table[column] for name, column in zip(COUNTERS, sums, strict=True)}})
    return _summed(grouped, level)


def _summed(grouped: pa.Table, level: int) -> pa.Table:
    """``grouped`` (dim, bucket, value and the counters) summed per (dim, bucket, value) at ``level``."""
    summed = grouped.group_by(["dim", "bucket", "value"], use_threads=False).aggregate(_SUMS)
    return pa.table({"level": pa.array([level] * summed.num_rows, pa.int64()), "dim": summed["dim"],
                     "bucket": summed["bucket"], "value": summed["value"],
                     **{name: summed[f"{name}_sum"] for name in COUNTERS}}, schema=SCHEMA)


def aggregate(calls: pa.Table, minute_floor: int | None = None) -> pa.Table:
    """The rollup keys and sums of ``calls`` (a table of ``calls`` columns), as rows of ``SCHEMA``; minute
    keys from ``minute_floor`` on (the store would not write older ones: an import of last year's calls
    sums their hours and days, and stages no minute)."""
    if calls.num_rows == 0:
        return SCHEMA.empty_table()
    per_call = counters(calls)
    base = pa.table({"bucket": _floor(calls["ended_at"], MINUTE), **{c: calls[c] for c in GROUP_COLUMNS},
                     **per_call})
    groups = base.group_by(["bucket", *GROUP_COLUMNS], use_threads=False).aggregate(_SUMS)
    levels = [pa.concat_tables([
        _keys(groups, MINUTE, dim, groups["bucket"], "" if dim == ALL else _VALUES[dim](groups), _SUMMED)
        for dim in (ALL, *BREAKDOWNS)])]
    for size in (HOUR, DAY):
        levels.append(_coarser(levels[-1], size))
    failed = pa.table({"ended_at": calls["ended_at"], **{c: calls[c] for c in ("from_user_id", "to_user_id",
                                                                              "srcip", "dstip")},
                       **per_call}).filter(pc.equal(calls["normal"], 0))
    tops = pa.concat_tables([_keys(failed, DAY, dim, _floor(failed["ended_at"], DAY), _VALUES[dim](failed),
                                   list(COUNTERS)) for dim in TOPS])
    if minute_floor is not None:
        levels[0] = levels[0].filter(pc.greater_equal(levels[0]["bucket"], pa.scalar(minute_floor, pa.int64())))
    return pa.concat_tables([*levels, tops, _coarser(tops, WEEK)])


def _coarser(finer: pa.Table, size: int) -> pa.Table:
    """The rows of ``finer`` (``SCHEMA``) summed per bucket of ``size`` seconds."""
    return _summed(finer.drop_columns(["level"]).set_column(
        finer.schema.get_field_index("bucket") - 1, "bucket", _floor(finer["bucket"], size)), size)
