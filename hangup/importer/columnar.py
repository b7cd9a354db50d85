"""Asterisk ``Master.csv`` read column-wise: many rows at once with pyarrow, the same rows as the adapter gives.

The adapter (``asterisk.record_from_row`` through ``formats.read_asterisk_csv``) stays the one definition of a
row. For the rows whose every value this reader derives exactly, it produces the ``calls`` rows
``sql.record_row`` would give (the digest left empty: the store computes it only when a second delivery of the
call arrives); every other row goes to the adapter, as the ``Item`` ``read_asterisk_csv`` would yield for it.

Blocks of whole lines are parsed by ``pyarrow.csv`` (which splits fields as the ``csv`` module does, stray
quotes included), and taken only when each line is one record: a quoted line break (or a block cut inside
quotes), invalid UTF-8 or an oversized field splits the block in two, down to a few lines that the ``csv``
module reads from the file, past the block's end if a record goes on, as ``read_asterisk_csv`` reads them.

Which rows take the adapter: rows with another column count, control characters, times not in the exact
``YYYY-MM-DD HH:MM:SS`` form (or before 1970), a ``billsec`` that is not plain digits, a call id the adapter
would strip (blanks or non-ASCII at an end of ``uniqueid``/``linkedid``) or cannot make (none, and no channel
and start), and rows the adapter rejects (no disposition, a hangup cause that is not a number).

Classification depends only on the disposition, the cause and dial status recorded in ``userfield`` and
whether the call was answered; each distinct combination is classified once, by the adapter itself on a row
carrying those values, and its columns are spread over the rows that share it.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from hangup import bounds
from hangup.errors import PayloadError
from hangup.importer import vectors
from hangup.importer.formats import Item, RowText, attempt, guarded, read_asterisk_csv
from hangup.numbers import callee_fields, caller_fields
from hangup.providers import asterisk
from hangup.records import FIELDS, call_ids
from hangup.routes import route_of
from hangup.store import staging
from hangup.store.schema import CALL_COLUMNS, ROUTE_COLUMNS
from hangup.store.sql import CLASSIFICATION_COLUMNS, record_row

#: The import format; a row read column-wise stores it in place of ``extra``, which the adapter rebuilds from the
#: row's line (``asterisk.extra_of_line``): the same values are stored once, not as the line and again as JSON.
FORMAT = "asterisk-csv"
#: Column counts read column-wise: without uniqueid/userfield, with both, with the ``newcdrcolumns`` too.
COLUMN_COUNTS = (16, 18, 21)
#: Columns of a ``calls`` row that follow from the classification of its combination.
#: The route and number columns are read per row (``_route_columns``), not per classified combination.
_CLASSIFIED = ("answered", *(name for name in CLASSIFICATION_COLUMNS if name not in ROUTE_COLUMNS))
#: Values of the columns a Master.csv row does not fill, the same on every row: the adapter's constants, and
#: the record's defaults (``_rows`` sets them where it computed nothing else).
_CONSTANT = {**{f.name: f.default for f in FIELDS if not f.required}, "provider": asterisk.NAME,
             "from_service_id": "", "to_service_id": "", "call_type": "A", "digest": "", "extra": FORMAT}
_HEAD = 1 << 16  # bytes read to tell whether a file is supported
_MAX_BLOCK = 1 << 28  # bytes parsed at once at most (memory; pyarrow's block size is a 32-bit integer)
_LEAF_LINES = 64  # a failing block this short is read by the csv module instead of split further
_TERMINATOR = re.compile(rb"[\r\n]")


@dataclass(slots=True)
class ColumnarBatch:
    """One block of the file: the rows read column-wise and the rows left to the adapter."""

    table: pa.Table  # ``calls`` rows (``hangup.store.staging.SCHEMA``), one per CDR read column-wise, digest ""
    items: list[Item]  # the adapter's items for the other rows, in file order
    read: int  # rows read: ``table.num_rows + len(items)`` (blank rows are skipped, as the adapter skips them)
    position: int  # bytes of the file consumed so far


def supports(path: str) -> bool:
    """Whether ``read_asterisk_batches`` reads the file column-wise (else it hands the whole file to the adapter):
    a header-less ``Master.csv`` whose first row has 16, 18 or 21 columns."""
    with open(path, "rb") as stream:
        return _column_count(stream.read(_HEAD)) is not None


def read_asterisk_batches(path: str, received_at: float, batch_rows: int = 50_000) -> Iterator[ColumnarBatch]:
    """The file's CDRs in batches of about ``batch_rows`` rows (see the module's description)."""
    with open(path, "rb") as stream:
        columns = _column_count(stream.read(_HEAD))
        stream.seek(0)
        if columns is None:
            yield from _adapter_batches(stream, received_at, batch_rows)
        else:
            yield from _Reader(stream, columns, received_at).batches(batch_rows)


def _column_count(head: bytes) -> int | None:
    """The first row's column count when the file can be read column-wise."""
    found = _TERMINATOR.search(head)
    # pyarrow drops a byte order mark the adapter keeps; a first row the csv module reads on would start split
    if not head or head.startswith(codecs.BOM_UTF8) or (found is None and len(head) >= _HEAD):
        return None
    fields = next(csv.reader([head[:found.end() if found else len(head)].decode("utf-8", "replace")]), [])
    if len(fields) not in COLUMN_COUNTS or any("\r" in f or "\n" in f for f in fields):
        return None
    return None if "disposition" in (f.strip().lower() for f in fields) else len(fields)


def _adapter_batches(stream: IO[bytes], received_at: float, batch_rows: int) -> Iterator[ColumnarBatch]:
    items: list[Item] = []
    position = 0
    with io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="") as text:
        for item in read_asterisk_csv(text, received_at):
            items.append(item)
            if len(items) >= batch_rows:
                position = stream.tell()
                yield ColumnarBatch(staging.SCHEMA.empty_table(), items, len(items), position)
                items = []
        if items or stream.tell() > position:  # the last rows, or the bytes of a header or blank lines
            yield ColumnarBatch(staging.SCHEMA.empty_table(), items, len(items), stream.tell())


class _Buffer:
    """The bytes of the file from ``base`` on, read as far as the reader needs."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.data = b""
        self.base = 0  # file offset of data[0]
        self.eof = False

    def want(self, end: int) -> None:
        while end > len(self.data) and not self.eof:
            more = self.stream.read(max(end - len(self.data), 1 << 20))
            self.eof = not more
            self.data += more

    def line_end(self, pos: int) -> int:
        """The offset after the line starting at ``pos`` (its terminator ``\\n``, ``\\r\\n`` or ``\\r`` included)."""
        while (found := _TERMINATOR.search(self.data, pos)) is None or found.end() == len(self.data):
            if self.eof:
                return found.end() if found else len(self.data)
            self.want(len(self.data) + 1)  # read on: no line end yet, or a \r whose \n may follow
        end = found.end()
        return end + 1 if self.data[end - 1:end + 1] == b"\r\n" else end

    def boundary(self, pos: int, size: int) -> int:
        """A line end near ``pos + size``: the last one before it, else the first after ``pos``."""
        limit = pos + max(size, 1)
        self.want(limit + 1)
        if limit >= len(self.data) and self.eof:
            return len(self.data)
        cut = max(self.data.rfind(b"\n", pos, limit), self.data.rfind(b"\r", pos, min(limit, len(self.data) - 1)))
        if cut < pos:
            return self.line_end(pos)
        return cut + (2 if self.data[cut:cut + 2] == b"\r\n" else 1)


class _Reader:
    """Reads one supported file: ``number`` is the CSV row number of the next row, as the adapter counts."""

    def __init__(self, stream: IO[bytes], columns: int, received_at: float) -> None:
        self.buffer = _Buffer(stream)
        self.names = asterisk.MASTER_CSV_COLUMNS[:columns]
        self.received_at = received_at
        self.number = 1
        self.row_text = RowText()
        self.combinations: dict[tuple[str, str, str, bool], int | None] = {}
        self.classified_rows: list[tuple[Any, ...]] = []
        self.classified = {name: pa.array([], staging.SCHEMA.field(name).type) for name in _CLASSIFIED}
        self.tables: list[pa.Table] = []
        self.items: list[Item] = []

    def batches(self, batch_rows: int) -> Iterator[ColumnarBatch]:
        pos, rows, consumed = 0, 0, 0
        while True:
            self.buffer.data, self.buffer.base, pos = self.buffer.data[pos:], self.buffer.base + pos, 0
            self.buffer.want(1)
            if not self.buffer.data:
                return
            # Block size from the bytes per row so far (the first line's length to begin with).
            per_row = consumed / rows if rows else self.buffer.line_end(0)
            end = self.buffer.boundary(0, min(int(per_row * batch_rows), _MAX_BLOCK))
            self.tables, self.items = [], []
            first = self.number
            pos = self._span(0, end)
            rows, consumed = rows + self.number - first, consumed + pos
            table = pa.concat_tables(self.tables) if self.tables else staging.SCHEMA.empty_table()
            yield ColumnarBatch(table, self.items, table.num_rows + len(self.items), self.buffer.base + pos)

    # -- cutting ----------------------------------------------------------------------------
    def _span(self, start: int, end: int) -> int:
        """Reads the lines from ``start`` to ``end``; the offset reached (past ``end`` if a record went on)."""
        while start < end:
            data = self.buffer.data
            try:
                str(memoryview(data)[start:end], "utf-8")
            except UnicodeDecodeError as exc:
                bad = start + exc.start
                line = max(data.rfind(b"\n", start, bad), data.rfind(b"\r", start, bad)) + 1
                # the lines before the bad one column-wise, the bad one by the csv module (as "replace" decodes it)
                start = self._block(start, line) if line > start else self._csv_rows(start, self.buffer.line_end(bad))
            else:
                start = self._block(start, end)
        return start

    def _block(self, start: int, end: int) -> int:
        if self._columnar(start, end):
            return end
        middle = self.buffer.boundary(start, (end - start) // 2)
        if len(self.buffer.data[start:end].splitlines()) <= _LEAF_LINES or not start < middle < end:
            return self._csv_rows(start, end)
        return self._block(start, middle)  # the caller goes on from where this half ended

    def _csv_rows(self, start: int, stop: int) -> int:
        """The adapter's items of the rows from ``start``, read by the csv module until a row ends at or past
        ``stop``; the offset after that row."""
        buffer, reached = self.buffer, start

        def lines() -> Iterator[str]:
            nonlocal reached
            while (end := buffer.line_end(reached)) > reached:
                line, reached = buffer.data[reached:end], end
                yield line.decode("utf-8", "replace")

        for number, fields in guarded(csv.reader(lines()), self.number):
            self.number = number + 1
            item = fields if isinstance(fields, Item) else self._item(number, fields)
            if item is not None:
                self.items.append(item)
            if reached >= stop:
                break
        return reached

    def _item(self, number: int, fields: list[str]) -> Item | None:
        """What ``read_asterisk_csv`` yields for a header-less row (``None`` for a blank one)."""
        if not fields or not any(fields):
            return None
        if len(fields) < 16:
            return Item(f"row {number}", None, PayloadError(
                "not a Master.csv row", details=[{"field": "row", "error": f"{len(fields)} columns, need 16"}]),
                self.row_text(fields))
        raw = self.row_text(fields)
        return attempt(f"row {number}", raw, asterisk.record_from_row, asterisk.row_from_csv(fields), raw,
                        self.received_at)

    # -- column-wise ------------------------------------------------------------------------
    def _columnar(self, start: int, end: int) -> bool:
        """Reads a block of whole lines column-wise; False (nothing taken) unless each line is one record."""
        other: list[int] = []  # lines whose column count differs

        def invalid(row: Any) -> str:
            other.append(row.number - 1)
            return "skip"

        try:
            table = _parse(self.buffer.data, start, end, self.names, invalid)
        except (pa.ArrowException, ValueError):
            return False
        accepted, left = staging.SCHEMA.empty_table(), list[int]()
        if table.num_rows:
            fields = [table[name].combine_chunks() for name in self.names]
            limit = csv.field_size_limit()
            if end - start >= limit and any(pc.max(pc.utf8_length(f)).as_py() >= limit for f in fields):
                return False
            raw = vectors.csv_lines(fields)
            control = vectors.control_rows(raw)
            # A line break inside a field: a record over several lines, or a block cut inside quotes.
            if control is not None and pc.any(pc.match_substring_regex(pc.filter(raw, control), r"[\r\n]")).as_py():
                return False
            accepted, left = self._rows(dict(zip(self.names, fields, strict=True)), raw, control)
        items = self._leftovers(start, end, table, left, sorted(other))
        if items is None:
            return False
        self.tables.append(accepted)
        self.items += items
        self.number += table.num_rows + len(other)
        return True

    def _rows(self, fields: dict[str, pa.Array], raw: pa.Array, control: pa.Array | None
              ) -> tuple[pa.Table, list[int]]:
        """The ``calls`` rows of the rows read column-wise, and the indexes of the rows left to the adapter."""
        setup, setup_ok = vectors.times(fields["start"])
        answer, answer_ok = vectors.times(fields["answer"])
        end, end_ok = vectors.times(fields["end"])
        duration, duration_ok = vectors.digits(fields["billsec"], bounds.MAX_DURATION)
        call_id, call_id_ok = _provider_call_id(fields)
        blank = pc.equal(raw, vectors.scalar_text("," * (len(fields) - 1)))
        ok = vectors.all_of(pc.invert(blank), setup_ok, answer_ok, end_ok, duration_ok, call_id_ok,
                  *([] if control is None else [pc.invert(control)]))
        answered = pc.or_(pc.greater(answer, vectors.ZERO), pc.greater(duration, vectors.ZERO))
        combination = self._combinations(fields, answered, ok)
        ok = pc.is_valid(combination)
        left = pc.indices_nonzero(pc.and_(pc.invert(ok), pc.invert(blank))).to_pylist()
        columns: dict[str, pa.Array] = {
            "provider_call_id": call_id, "from_user_id": fields["src"], "to_user_id": fields["dst"],
            "setup_time": setup, "start_time": answer, "end_time": end, "duration": duration,
            "raw": raw,
            "leg_id": pc.binary_join_element_wise(*(fields[name] for name in asterisk.LEG_COLUMNS),
                                                  vectors.scalar_text("|")),
            **_route_columns(fields),
        }
        if not pc.all(ok).as_py():
            columns = {name: pc.filter(values, ok) for name, values in columns.items()}
            combination = pc.filter(combination, ok)
        for name, values in self.classified.items():
            columns[name] = pc.take(values, combination)
        # A row the adapter reads as unanswered (``asterisk.NOT_ANSWERED``) has no answer time and no talk time,
        # whatever its answer and billsec columns say: its combination's ``answered`` is the adapter's verdict.
        answered_rows = pc.cast(columns["answered"], pa.bool_())
        for name in ("start_time", "duration"):
            columns[name] = pc.if_else(answered_rows, columns[name], vectors.ZERO)
        rows = len(combination)
        columns["id"] = pa.array(call_ids(asterisk.NAME, columns["provider_call_id"].to_pylist()), pa.string())
        columns["received_at"] = pa.repeat(pa.scalar(self.received_at, pa.float64()), rows)
        columns["ended_at"] = pc.if_else(pc.greater(columns["end_time"], vectors.ZERO), columns["end_time"],
                                         pa.scalar(int(self.received_at), pa.int64()))
        columns.update((name, pa.repeat(pa.scalar(value, staging.SCHEMA.field(name).type), rows))
                       for name, value in _CONSTANT.items() if name not in columns)
        return pa.Table.from_arrays([columns[name] for name in CALL_COLUMNS], schema=staging.SCHEMA), left

    def _combinations(self, fields: dict[str, pa.Array], answered: pa.Array, ok: pa.Array) -> pa.Array:
        """Per row, the index of its combination in ``classified`` (null where not ``ok`` or the adapter rejects
        the combination). Disposition and userfield repeat a handful of values: each distinct one is read once."""
        disposition = pc.dictionary_encode(fields["disposition"])
        dispositions = disposition.dictionary.to_pylist()
        code = pc.cast(disposition.indices, pa.int64())
        recorded = [("", "")]
        if "userfield" in fields:
            userfield = pc.dictionary_encode(fields["userfield"])
            recorded = [(values.get(asterisk.HANGUPCAUSE, ""), values.get(asterisk.DIALSTATUS, ""))
                        for values in map(asterisk.userfield_values, userfield.dictionary.to_pylist())]
            code = pc.add(pc.multiply(code, pa.scalar(len(recorded), pa.int64())),
                          pc.cast(userfield.indices, pa.int64()))
        code = pc.add(pc.multiply(code, pa.scalar(2, pa.int64())), pc.cast(answered, pa.int64()))
        distinct = pc.dictionary_encode(pc.if_else(ok, code, pa.scalar(None, pa.int64())))
        known = []
        for value in distinct.dictionary.to_pylist():
            rest, flag = divmod(value, 2)
            which, recorded_at = divmod(rest, len(recorded))
            known.append(self._classify((dispositions[which], *recorded[recorded_at], flag == 1)))
        if len(self.classified_rows) > len(self.classified["cause"]):
            self.classified = {name: pa.array([r[i] for r in self.classified_rows], staging.SCHEMA.field(name).type)
                               for i, name in enumerate(_CLASSIFIED)}
        return pc.take(pa.array(known, pa.int32()), distinct.indices)

    def _classify(self, key: tuple[str, str, str, bool]) -> int | None:
        """The index in ``classified_rows`` of a combination (disposition, recorded cause and dial status, answered),
        classified by the adapter on a row carrying it; ``None`` when the adapter rejects it."""
        if key not in self.combinations:
            disposition, cause, dial, answered = key
            row = {asterisk.UNIQUEID: "x", asterisk.BILLSEC: "1" if answered else "",
                   asterisk.DISPOSITION: disposition, asterisk.HANGUPCAUSE: cause, asterisk.DIALSTATUS: dial}
            record = attempt("", "", asterisk.record_from_row, row).record
            self.combinations[key] = None
            if record is not None:
                self.combinations[key] = len(self.classified_rows)
                row_values = dict(zip(CALL_COLUMNS, record_row(record), strict=True))
                self.classified_rows.append(tuple(row_values[name] for name in _CLASSIFIED))
        return self.combinations[key]

    def _leftovers(self, start: int, end: int, table: pa.Table, rows: list[int], other: list[int]
                   ) -> list[Item] | None:
        """The adapter's items of a block's rows not read column-wise, in file order; ``None`` when a line of
        another column count starts a record that goes on past it (pyarrow's row text would hide that)."""
        found: list[tuple[int, list[str] | Item]] = []
        if rows:
            skipped = set(other)
            lines_of_rows = [line for line in range(table.num_rows + len(other)) if line not in skipped]
            taken = table.take(pa.array(rows, pa.int64())).to_pylist()
            found += [(self.number + lines_of_rows[row], list(values.values()))
                      for row, values in zip(rows, taken, strict=True)]
        if other:
            lines = self.buffer.data[start:end].splitlines(keepends=True)
            for line in other:
                record = _one_line(lines[line].decode("utf-8", "replace"), self.number + line)
                if record is None:
                    return None
                found.append(record)
        items = []
        for number, fields in sorted(found, key=lambda pair: pair[0]):
            item = fields if isinstance(fields, Item) else self._item(number, fields)
            if item is not None:
                items.append(item)
        return items


def _parse(data: bytes, start: int, end: int, names: Sequence[str], invalid: Callable[[Any], str]) -> pa.Table:
    return pcsv.read_csv(
        pa.BufferReader(pa.py_buffer(data)[start:end]),
        read_options=pcsv.ReadOptions(column_names=list(names), use_threads=False,
                                      block_size=min(max(end - start + 1, 1 << 16), 2**31 - 1)),
        parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False,
                                        invalid_row_handler=invalid),
        convert_options=pcsv.ConvertOptions(column_types={name: pa.string() for name in names},
                                            strings_can_be_null=False, quoted_strings_can_be_null=False),
    )


def _one_line(line: str, number: int) -> tuple[int, list[str] | Item] | None:
    """The row the csv module reads from one line (with its terminator); ``None`` if the row goes on."""
    more = False

    def lines() -> Iterator[str]:
        nonlocal more
        yield line
        more = True

    found = next(guarded(csv.reader(lines()), number), None)
    return None if more or found is None else found


def _provider_call_id(fields: dict[str, pa.Array]) -> tuple[pa.Array, pa.Array]:
    """``linkedid``, else ``uniqueid``, else ``channel|start``, as the adapter chooses, where its ``strip`` changes
    nothing: ASCII without a blank at either end (control characters are excluded already)."""
    channel, start = fields["channel"], fields["start"]
    empty = pa.repeat(vectors.EMPTY, len(channel))
    linked = fields.get("linkedid", empty)
    first = pc.if_else(pc.equal(linked, vectors.EMPTY), fields.get("uniqueid", empty), linked)
    present = pc.not_equal(first, vectors.EMPTY)
    plain = vectors.all_of(pc.string_is_ascii(first), pc.invert(pc.starts_with(first, " ")),
                 pc.invert(pc.ends_with(first, " ")))
    if pc.all(present).as_py():
        return first, plain
    call_id = pc.if_else(present, first, pc.binary_join_element_wise(channel, start, vectors.scalar_text("|")))
    named = pc.and_(pc.not_equal(channel, vectors.EMPTY), pc.not_equal(start, vectors.EMPTY))
    return call_id, pc.if_else(present, plain, named)


def _per_value(values: pa.Array, read: Callable[[str], tuple[str, ...]], names: tuple[str, ...]
               ) -> dict[str, pa.Array]:
    """``read`` of each distinct value of ``values`` (once each), spread over the rows as one column per name."""
    encoded = pc.dictionary_encode(values)
    answers = [read(value or "") for value in encoded.dictionary.to_pylist()]
    return {name: pc.take(pa.array([a[i] for a in answers], pa.string()), encoded.indices)
            for i, name in enumerate(names)}


def _route_columns(fields: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """The route and number columns, as ``asterisk.record_from_row`` and ``RecordDraft.finish`` give them."""
    return {
        **_per_value(fields["dstchannel"], lambda v: (route_of(asterisk.channel_peer(v)),), ("route",)),
        **_per_value(fields["src"], partial(caller_fields, asterisk.NAME), ("from_e164", "from_country")),
        **_per_value(fields["dst"], partial(callee_fields, asterisk.NAME),
                     ("to_e164", "to_country", "to_number_type", "to_prefix")),
    }
