"""``hangup import --columns``: CDR CSV files whose columns are not the ones a reader knows.

A PBX writes CDR CSVs with whatever columns its configuration names: Asterisk's ``cdr_custom`` and
``cdr_adaptive_odbc`` (exported with a header), FreeSWITCH's ``mod_cdr_csv`` templates, or a billing
tool's own export. The readers know the platforms' variable names (Asterisk CDR variables such as
``uniqueid``/``disposition``, FreeSWITCH channel variables such as ``uuid``/``hangup_cause``); a column
mapping tells them which of the file's columns is which. The specification, inline or in a file (one
entry per line or comma separated, ``#`` comments):

* ``file_column=variable`` entries rename the columns of a file's header row (columns not named keep
  their names, so a mapping lists only the differences);
* plain ``variable`` entries name, in order, the columns of a file without a header row (the
  template's variables, e.g. ``cdr_custom.conf``'s ``${CDR(uniqueid)}`` → ``uniqueid``).

The mapped header is handed to the format's reader as if the file had been written with it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO, cast

from hangup.providers.reading import ImportReader, Item, RowText

#: The formats whose rows are CDR variables or accounting-table columns a mapping can name (webhook-shaped CSVs
#: name their parameters); ``sip-acc-csv`` for the ``db_extra`` columns ``db_flatstore`` writes without names.
CDR_CSV_FORMATS = ("asterisk-csv", "freeswitch-csv", "sip-acc-csv")


@dataclass(frozen=True, slots=True)
class Columns:
    """A column mapping: renames of a header row, or the names of a header-less file's columns."""

    renames: dict[str, str] = field(default_factory=dict)  # file column → variable
    names: tuple[str, ...] = ()  # header-less file: variable of each column, in order

    def rename(self, header: list[str]) -> list[str]:
        return [self.renames.get(name.strip(), name.strip()) for name in header]


def parse_columns(spec: str) -> Columns:
    """The mapping of a ``--columns`` value: a file holding the specification, or the specification itself.

    A specification that mixes renames and plain names is refused: the two describe different files."""
    source = Path(spec)
    text = source.read_text(encoding="utf-8") if "\n" not in spec and source.is_file() else spec
    entries = [entry.strip() for line in text.splitlines() for entry in line.split("#", 1)[0].split(",")]
    entries = [entry for entry in entries if entry]
    if not entries:
        raise ValueError("--columns: no columns named")
    pairs = [entry.partition("=") for entry in entries]
    if all(sep for _, sep, _ in pairs):
        return Columns(renames={old.strip(): new.strip() for old, _, new in pairs})
    if any(sep for _, sep, _ in pairs):
        raise ValueError("--columns: either rename header columns (a=b, …) or name every column (a, b, …), not both")
    return Columns(names=tuple(entries))


def with_columns(reader: ImportReader, columns: Columns) -> ImportReader:
    """``reader`` reading files through ``columns``: the header row renamed, or one given to a header-less file."""

    def read(stream: IO[str], received_at: float) -> Iterator[Item]:
        lines = iter(stream)
        consumed: list[str] = []
        for line in lines:
            consumed.append(line)
            if line.strip():
                break
        if not consumed or not consumed[-1].strip():
            return
        if columns.names:
            header = list(columns.names)
        else:  # the first row is the file's header: read it renamed instead
            header = columns.rename(next(csv.reader([consumed.pop()]), []))
        rows = chain([RowText()(header) + "\n"], consumed, lines)
        yield from reader(cast(IO[str], _LineStream(rows)), received_at)

    return read


class _LineStream:
    """Lines already read and the rest of a stream, read again as one text stream (readers only iterate
    their stream, line by line)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines

    def __iter__(self) -> Iterator[str]:
        return self._lines

    def __next__(self) -> str:
        return next(self._lines)


__all__ = ["CDR_CSV_FORMATS", "Columns", "parse_columns", "with_columns"]
