"""Column-wise building blocks of bulk imports (pyarrow): exact times, plain integers, and CSV lines.

Each function computes, for a whole column at once, what the row path computes value by value
(``hangup.providers._common.parse_time``, ``csv.writer``), together with
where it can: a row it cannot reproduce exactly, or whose value is outside ``hangup.bounds``, is left to the row
path by the caller (which names the field).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hangup import bounds
from hangup.providers.draft import NAIVE_ZONE, wall_clock

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: The times read column-wise: that form, each field in its range (the day is checked against the month later).
TIME_SHAPE = r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
# Arguments of compute functions are typed scalars: pyarrow infers the type of a plain Python value through
# failing imports (dateutil) that cost a fifth of a millisecond per call.
EPOCH = pa.scalar("1970-01-01 00:00:00", pa.string())
EMPTY = pa.scalar("", pa.string())
ZERO = pa.scalar(0, pa.int64())
FALSE = pa.scalar(False, pa.bool_())
LAST_TIME = pa.scalar(bounds.MAX_TIME, pa.int64())


def all_of(*masks: pa.Array) -> pa.Array:
    """Where every mask holds (null counts as not)."""
    return pc.fill_null(functools.reduce(pc.and_, masks), FALSE)


def control_rows(raw: pa.Array) -> pa.Array | None:
    """Where a row holds a control character (U+0000 to U+001F); ``None`` when no row does (the common case,
    told from the smallest byte of all rows at once)."""
    data = raw.buffers()[2]
    smallest = pc.min(pa.Array.from_buffers(pa.uint8(), data.size, [None, data])).as_py() if data else None
    if smallest is None or smallest >= 0x20:
        return None
    return pc.match_substring_regex(raw, r"[\x00-\x1f]")


def holds(values: pa.Array, character: bytes) -> bool:
    """Whether any value of a string array holds ``character`` (one search of its data buffer)."""
    data = values.buffers()[2]
    return data is not None and character in data.to_pybytes()


def times(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Unix seconds of exact ``YYYY-MM-DD HH:MM:SS`` times (0 for empty) and where the value is one; the times
    are in the zone ``parse_time`` reads them in (``draft.NAIVE_ZONE``, UTC unless the import names one)."""
    shape = pc.match_substring_regex(values, TIME_SHAPE)
    shaped = pc.if_else(shape, values, EPOCH)
    try:
        seconds = pc.cast(pc.cast(shaped, pa.timestamp("s")), pa.int64())
    except pa.ArrowInvalid:  # a day past the month's end (02-30): found by the day strptime moves it to
        stamps = pc.strptime(shaped, format=TIME_FORMAT, unit="s", error_is_null=True)
        shape = all_of(shape, pc.equal(pc.day(stamps), pc.cast(pc.utf8_slice_codeunits(shaped, 8, 10), pa.int64())))
        seconds = pc.fill_null(pc.cast(pc.if_else(shape, stamps, pa.scalar(None, stamps.type)), pa.int64()), ZERO)
    if NAIVE_ZONE.get() is not UTC:
        seconds = pc.if_else(shape, _from_local(seconds), seconds)
    in_range = pc.and_(pc.greater_equal(seconds, ZERO), pc.less_equal(seconds, LAST_TIME))
    ok = pc.or_(pc.equal(values, EMPTY), all_of(shape, in_range))
    return pc.max_element_wise(seconds, ZERO), ok


def _from_local(seconds: pa.Array) -> pa.Array:
    """Wall-clock times of ``NAIVE_ZONE`` (as Unix seconds read as UTC) as Unix seconds: each distinct time
    once through ``draft.wall_clock``, as ``parse_time`` reads it, so both paths agree around every clock change."""
    distinct = pc.unique(seconds)
    utc = [int(wall_clock(datetime.fromtimestamp(int(s), UTC).replace(tzinfo=None)).timestamp())
           for s in distinct.to_pylist()]
    return pc.take(pa.array(utc, pa.int64()), pc.index_in(seconds, value_set=distinct))


def digits(values: pa.Array, high: int) -> tuple[pa.Array, pa.Array]:
    """Plain digits as an integer (0 for empty) and where the value is one of at most ``high`` (below 2**53 by
    their length first, so the cast cannot overflow)."""
    plain = pc.and_(pc.ascii_is_decimal(values), pc.less_equal(pc.binary_length(values), pa.scalar(15, pa.int32())))
    number = pc.cast(pc.if_else(plain, values, scalar_text("0")), pa.int64())
    plain = pc.and_(plain, pc.less_equal(number, pa.scalar(high, pa.int64())))
    return number, pc.or_(plain, pc.equal(values, EMPTY))


def csv_lines(fields: list[pa.Array]) -> pa.Array:
    """Each row as ``csv.writer`` writes it (QUOTE_MINIMAL): quoted where a field holds ``,`` or ``"``; one join
    over every piece, the quotes there only where a field needs them."""
    pieces: list[Any] = []
    for values in fields:
        if pieces:
            pieces.append(",")
        comma, quote = holds(values, b","), holds(values, b'"')
        if not comma and not quote:
            pieces.append(values)
            continue
        masks = [pc.match_substring(values, c) for c, present in ((",", comma), ('"', quote)) if present]
        needed = masks[0] if len(masks) == 1 else pc.or_(*masks)
        mark: Any = '"' if pc.all(needed).as_py() else pc.if_else(needed, scalar_text('"'), EMPTY)
        pieces += [mark, pc.replace_substring(values, '"', '""') if quote else values, mark]
    return joined(pieces)


def joined(pieces: list[Any]) -> pa.Array:
    """The pieces (arrays, or strings, adjacent ones merged) joined row by row."""
    merged: list[Any] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    return pc.binary_join_element_wise(*(scalar_text(p) if isinstance(p, str) else p for p in merged), EMPTY)


def scalar_text(value: str) -> pa.Scalar:
    """``value`` as a typed string scalar (see the note on typed scalars above)."""
    return pa.scalar(value, pa.string())
