"""Load the cause catalog from ``causes/data/*.csv`` into immutable two-way lookups.

One CSV file per vocabulary (the file stem is the scheme name). Lines starting with ``#`` are
comments naming the source; the first other line is the header. Required columns:
``code,name,description,outcome,ended_by,fault,normal``; optional: ``q850,sip,next_steps,action,group,
aliases`` (``|``-separated; every shipped file has ``action``, a file without it answers ``none``); any
other column is kept in ``Cause.extra``.

``mappings.csv`` holds directed translations between schemes (RFC 3398, FreeSWITCH, Asterisk),
best first within one source key. The comment lines from one starting ``action:`` to the header say
where the file's ``action`` column comes from (``Cause.action_source``). The catalog is built once,
lazily, by ``default_catalog()``.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from types import MappingProxyType

from hangup.causes.model import Action, Cause, signed_digits
from hangup.errors import CatalogError
from hangup.taxonomy import EndedBy, Fault, Outcome

MAPPINGS_FILE = "mappings.csv"
REQUIRED_COLUMNS = ("code", "name", "description", "outcome", "ended_by", "fault", "normal")
_KNOWN_COLUMNS = frozenset(REQUIRED_COLUMNS + ("q850", "sip", "next_steps", "action", "group", "aliases"))
_SEPARATORS = re.compile(r"[\s_\-]+")
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9\-]*$")


def normalize_name(name: str) -> str:
    """Names match case-insensitively, with spaces, underscores and hyphens alike."""
    return _SEPARATORS.sub("_", name.strip()).casefold()


@dataclass(frozen=True, slots=True)
class CodeMapping:
    """One directed translation row of ``mappings.csv``."""

    from_scheme: str
    from_code: int
    to_scheme: str
    to_code: int
    source: str
    note: str


@dataclass(frozen=True, slots=True)
class Translation:
    """The answer of ``translate``: equivalents ordered best first, or the reason there are none."""

    cause: Cause
    to_scheme: str
    entries: tuple[Cause, ...]
    via: tuple[str, ...]  # how each entry was found, e.g. "rfc3398", "q850 equivalent"
    reason: str = ""


class SchemeTable:
    """The entries of one scheme with lookups by code and by (normalised) name.

    Codes must be unique. A name shared by two entries of one scheme (SIP 406 and 606 are both "Not
    Acceptable") is left out of the name lookup and answers an unknown entry naming the codes to use.
    """

    __slots__ = ("scheme", "source", "entries", "by_code", "by_name", "ambiguous")

    def __init__(self, scheme: str, source: str, entries: Iterable[Cause]) -> None:
        self.scheme = scheme
        self.source = source
        self.entries: tuple[Cause, ...] = tuple(entries)
        by_code: dict[int, Cause] = {}
        named: dict[str, list[Cause]] = {}
        for entry in self.entries:
            if entry.code is not None:
                if entry.code in by_code:
                    raise CatalogError(f"{scheme}: duplicate code {entry.code}")
                by_code[entry.code] = entry
            for name in dict.fromkeys(normalize_name(n) for n in (entry.name, *entry.aliases)):
                named.setdefault(name, []).append(entry)
        for name, found in named.items():
            if len(found) > 1 and any(e.code is None for e in found):
                raise CatalogError(f"{scheme}: duplicate name {name!r} on an entry without a code")
        self.by_code: Mapping[int, Cause] = MappingProxyType(by_code)
        self.by_name: Mapping[str, Cause] = MappingProxyType({k: v[0] for k, v in named.items() if len(v) == 1})
        self.ambiguous: Mapping[str, tuple[Cause, ...]] = MappingProxyType(
            {k: tuple(v) for k, v in named.items() if len(v) > 1}
        )

    def lookup(self, key: int | str) -> Cause:
        if isinstance(key, int):
            return self.by_code.get(key) or Cause.unknown(self.scheme, str(key))
        text = key.strip()
        code = signed_digits(text)
        if code is not None:
            return self.by_code.get(code) or Cause.unknown(self.scheme, text)
        name = normalize_name(text)
        found = self.by_name.get(name)
        if found is not None:
            return found
        if name in self.ambiguous:
            codes = ", ".join(e.ref for e in self.ambiguous[name])
            return replace(Cause.unknown(self.scheme, text), description=f"{text!r} names several entries: {codes}")
        return Cause.unknown(self.scheme, text)


class CauseCatalog:
    """Every vocabulary hangup knows, looked up by ``SCHEME:KEY`` references."""

    def __init__(self, tables: Iterable[SchemeTable], mappings: Iterable[CodeMapping] = ()) -> None:
        self._tables: Mapping[str, SchemeTable] = MappingProxyType({t.scheme: t for t in tables})
        grouped: dict[tuple[str, int, str], list[CodeMapping]] = {}
        for row in mappings:
            grouped.setdefault((row.from_scheme, row.from_code, row.to_scheme), []).append(row)
        self._mappings: Mapping[tuple[str, int, str], tuple[CodeMapping, ...]] = MappingProxyType(
            {k: tuple(v) for k, v in grouped.items()}
        )
        self._ref_cache: dict[str, Cause] = {}

    # -- lookups -------------------------------------------------------------------------
    @property
    def schemes(self) -> tuple[str, ...]:
        return tuple(self._tables)

    def table(self, scheme: str) -> SchemeTable:
        try:
            return self._tables[scheme]
        except KeyError:
            known = ", ".join(sorted(self._tables))
            raise CatalogError(f"unknown scheme {scheme!r}; known schemes: {known}") from None

    def lookup(self, scheme: str, key: int | str) -> Cause:
        """The entry for ``key`` (a code or a name) in ``scheme``; an explicit unknown entry on a miss."""
        return self.table(scheme).lookup(key)

    def resolve(self, ref: str) -> Cause:
        """Look up a ``SCHEME:KEY`` reference, e.g. ``q850:17`` or ``plivo-source:Carrier``."""
        cached = self._ref_cache.get(ref)
        if cached is not None:
            return cached
        scheme, key = parse_ref(ref)
        cause = self.table(scheme).lookup(key)
        if cause.known and len(self._ref_cache) < 65536:
            self._ref_cache[ref] = cause
        return cause

    def entries(self, scheme: str | None = None) -> Iterator[Cause]:
        tables = [self.table(scheme)] if scheme else list(self._tables.values())
        for table in tables:
            yield from table.entries

    def is_answered(self, ref: str | Cause) -> bool:
        """Whether the call connected (see ``Cause.is_answered``); an unknown code is not answered."""
        return self._cause(ref).is_answered

    def is_failure(self, ref: str | Cause) -> bool:
        """Whether something broke (see ``Cause.is_failure``); an unknown code is not counted as a failure."""
        return self._cause(ref).is_failure

    def is_busy(self, ref: str | Cause) -> bool:
        return self._cause(ref).is_busy

    def is_network_failure(self, ref: str | Cause) -> bool:
        return self._cause(ref).is_network_failure

    def _cause(self, ref: str | Cause) -> Cause:
        return self.resolve(ref) if isinstance(ref, str) else ref

    def mappings(self) -> Iterator[CodeMapping]:
        for rows in self._mappings.values():
            yield from rows

    # -- translation ---------------------------------------------------------------------
    def translate(self, ref: str | Cause, to_scheme: str) -> Translation:
        """Equivalent entries of ``to_scheme``, best first; ``reason`` says why when there are none."""
        cause = self.resolve(ref) if isinstance(ref, str) else ref
        target = self.table(to_scheme)
        if not cause.known:
            return Translation(cause, to_scheme, (), (), f"{cause.ref} is not in the catalog")
        if cause.scheme == to_scheme:
            return Translation(cause, to_scheme, (cause,), ("same scheme",))
        found: dict[Cause, str] = {}
        if cause.code is not None:
            for row in self._mappings.get((cause.scheme, cause.code, to_scheme), ()):
                entry = target.by_code.get(row.to_code)
                if entry is not None:
                    found.setdefault(entry, row.source)
        for attr in ("q850", "sip"):
            value = getattr(cause, attr)
            if value is None:
                continue
            if to_scheme == attr:
                entry = target.by_code.get(value)
                if entry is not None:
                    found.setdefault(entry, f"{attr} equivalent")
            else:
                for entry in _ranked(target.entries, attr, value, cause):
                    found.setdefault(entry, f"shares {attr} {value}")
        if not found:
            return Translation(cause, to_scheme, (), (), _no_match_reason(cause, to_scheme))
        return Translation(cause, to_scheme, tuple(found), tuple(found.values()))


def _ranked(entries: Iterable[Cause], attr: str, value: int, cause: Cause) -> list[Cause]:
    """Entries sharing an equivalent code, those with the same outcome first."""
    same = [e for e in entries if getattr(e, attr) == value]
    return sorted(same, key=lambda e: (e.outcome != cause.outcome, e.ended_by != cause.ended_by))


def _no_match_reason(cause: Cause, to_scheme: str) -> str:
    if cause.q850 is None and cause.sip is None:
        return f"{cause.ref} has no Q.850 or SIP equivalent to translate through"
    return f"no {to_scheme} entry maps from {cause.ref} or shares its Q.850/SIP equivalent"


def parse_ref(ref: str) -> tuple[str, str]:
    """Split ``SCHEME:KEY``; a malformed reference is a ``CatalogError``."""
    scheme, sep, key = ref.partition(":")
    scheme = scheme.strip().lower()
    key = key.strip()
    if not sep or not key or not _SCHEME_RE.match(scheme):
        raise CatalogError(f"malformed cause reference {ref!r}: expected SCHEME:KEY, e.g. q850:17")
    return scheme, key


# -- loading -----------------------------------------------------------------------------
def _read_csv(text: str) -> tuple[str, str, list[dict[str, str]]]:
    """The file's source comment, its action-source comment (from the line starting ``action:``) and rows."""
    lines = text.splitlines()
    comments = [ln[1:].strip() for ln in lines if ln.startswith("#")]
    starts = [i for i, c in enumerate(comments) if c.startswith("action:")]
    cut = starts[0] if starts else len(comments)
    action_source = " ".join(comments[cut:])[len("action:"):].strip()
    body = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    rows = list(csv.DictReader(body))
    return " ".join(comments[:cut]), action_source, rows


def _opt_int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value else None


def _cause_from_row(scheme: str, source: str, action_source: str, row: dict[str, str]) -> Cause:
    missing = [c for c in REQUIRED_COLUMNS if c not in row]
    if missing:
        raise CatalogError(f"{scheme}.csv lacks columns {missing}")
    try:
        return Cause(
            scheme=scheme,
            code=_opt_int(row["code"]),
            name=row["name"].strip(),
            description=row["description"].strip(),
            outcome=Outcome(row["outcome"].strip()),
            ended_by=EndedBy(row["ended_by"].strip()),
            fault=Fault(row["fault"].strip()),
            normal={"true": True, "false": False}[row["normal"].strip().lower()],
            q850=_opt_int(row.get("q850")),
            sip=_opt_int(row.get("sip")),
            next_steps=(row.get("next_steps") or "").strip(),
            action=Action((row.get("action") or "none").strip()),
            action_source=action_source,
            group=(row.get("group") or "").strip(),
            aliases=tuple(a.strip() for a in (row.get("aliases") or "").split("|") if a.strip()),
            source=source,
            extra=tuple((k, v) for k, v in row.items() if k not in _KNOWN_COLUMNS and v),
        )
    except (KeyError, ValueError) as exc:
        raise CatalogError(f"{scheme}.csv: bad row {row!r}: {exc}") from exc


def load_catalog(package: str = "hangup.causes.data") -> CauseCatalog:
    """Read every CSV of ``package`` (the shipped catalog by default)."""
    root = resources.files(package)
    tables: list[SchemeTable] = []
    mappings: list[CodeMapping] = []
    for item in sorted(root.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".csv"):
            continue
        source, action_source, rows = _read_csv(item.read_text(encoding="utf-8"))
        if item.name == MAPPINGS_FILE:
            mappings.extend(
                CodeMapping(
                    r["from_scheme"], int(r["from_code"]), r["to_scheme"], int(r["to_code"]),
                    r["source"], r.get("note") or "",
                )
                for r in rows
            )
            continue
        scheme = item.name[: -len(".csv")]
        tables.append(SchemeTable(scheme, source, (_cause_from_row(scheme, source, action_source, r) for r in rows)))
    return CauseCatalog(tables, mappings)


@functools.cache
def default_catalog() -> CauseCatalog:
    """The shipped catalog, loaded on first use and shared afterwards."""
    return load_catalog()
