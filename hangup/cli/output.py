"""One output option set for every listing command: ``--table`` (the default), ``--json`` and ``--csv``.

sqlite-utils' convention, so a listing reads the same way whichever command printed it:

- ``--table``: aligned columns for a person (numbers aligned right);
- ``--json``: JSON Lines, one object per line, streamed (``hangup calls list --all --json | jq …`` never
  holds the log in memory); a command whose answer is one document (``hangup stats summary``) prints
  that document instead, the same JSON its API endpoint answers;
- ``--csv``: a header row, then one row per item; cells a spreadsheet would evaluate are made safe.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import click

from hangup.store.export import safe_cell

Format = Literal["table", "json", "csv"]

_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("table", "as_table", "Aligned columns (the default)."),
    ("json", "as_json", "JSON: one object per line for a listing, else the API's document."),
    ("csv", "as_csv", "CSV with a header row (formula-safe cells)."),
)


class ConflictingFormats(click.ClickException):
    """Two output formats asked for at once: one line on stderr, exit status 2 (a usage error)."""

    exit_code = 2


def output_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--table/--json/--csv`` to a command; it receives the chosen one as ``fmt``.

    Two of them at once is an error (exit 2), not a silent pick.
    """

    @functools.wraps(function)
    def command(*args: Any, as_table: bool, as_json: bool, as_csv: bool, **kwargs: Any) -> Any:
        chosen = [name for name, on in zip(("table", "json", "csv"), (as_table, as_json, as_csv), strict=True) if on]
        if len(chosen) > 1:
            raise ConflictingFormats(f"--{chosen[0]} and --{chosen[1]} exclude each other")
        return function(*args, fmt=chosen[0] if chosen else "table", **kwargs)

    # wraps() shares the wrapped function's option list; the command gets a copy of its own.
    command.__click_params__ = list(getattr(function, "__click_params__", []))  # type: ignore[attr-defined]
    for name, dest, help_text in reversed(_FLAGS):
        command = click.option(f"--{name}", dest, is_flag=True, help=help_text)(command)
    return command


def table_lines(headers: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[int] = ()) -> Iterator[str]:
    """Aligned columns; ``right`` lists the columns aligned right (numbers)."""
    body = [list(row) for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    yield line(headers)
    for row in body:
        yield line(row)


def csv_text(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV chunks: the header row, then the rows, cells made spreadsheet-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        if buffer.tell() > 16384:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def cell(value: Any) -> str:
    """A value as a table shows it: lists joined, booleans as yes/no, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return "|".join(str(v) for v in value)
    return str(value)


def write_items(fmt: Format, items: Iterable[Mapping[str, Any]], columns: Sequence[str], *,
                headers: Sequence[str] | None = None, right: Sequence[int] = ()) -> None:
    """Print a listing: JSON Lines of whole items, or ``columns`` of each as CSV or a table."""
    if fmt == "json":
        sys.stdout.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
        return
    if fmt == "csv":
        rows = ([_csv_value(item.get(c)) for c in columns] for item in items)
        sys.stdout.writelines(csv_text(columns, rows))
        return
    rows_text = [[cell(item.get(c)) for c in columns] for item in items]
    for line in table_lines(headers or columns, rows_text, right):
        click.echo(line)


def write_document(fmt: Format, answer: Mapping[str, Any], headers: Sequence[str], rows: Sequence[Sequence[str]],
                   right: Sequence[int] = ()) -> None:
    """Print a one-document answer: the document as JSON, or its main rows as CSV or a table."""
    if fmt == "json":
        click.echo(json.dumps(answer, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        sys.stdout.writelines(csv_text(headers, rows))
    else:
        for line in table_lines(headers, rows, right):
            click.echo(line)


def _csv_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return "|".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else ""
    return value
