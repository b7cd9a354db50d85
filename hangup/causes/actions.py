"""What to do next with a call: the catalog's action for its cause, or a team's override of it.

The catalog gives every entry an ``Action`` (``causes/data/*.csv``, column ``action``). A team whose
carrier misuses a code overrides it in a TOML file (the ``actions_file`` setting,
``HANGUP_ACTIONS_FILE``) without touching the catalog::

    [[override]]
    cause = "sip:480"          # a SCHEME:KEY reference, matched against the call's causes
    provider = "plivo"         # optional: only calls of this platform
    route = "carrier-x"        # optional: only calls whose record carries this route
    action = "fail_over"
    reason = "carrier X answers 480 when its trunk is full"

The action is worked out when a call is read, from its stored causes and the file as it is now, so
an edited file applies to calls stored before the edit too. A rule's match keys (``MATCH_KEYS``) are
record fields; a key the record does not have as a field is looked up in its ``extra`` (so ``route``
matches once calls carry one). Of the rules that match, the most specific (most match keys) wins, and
among equally specific rules the first in the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hangup.causes.catalog import CauseCatalog, default_catalog, parse_ref
from hangup.causes.model import Action, Cause
from hangup.errors import CatalogError, ConfigError
from hangup.records import CallRecord

#: Where ``call_action`` found a call's action ("from"): the catalog's entry or a rule of the overrides file.
ActionFrom = Literal["catalog", "override"]
#: The record fields a rule may narrow on, besides its ``cause``.
MATCH_KEYS = ("provider", "route")
_RULE_KEYS = frozenset({"cause", "action", "reason", *MATCH_KEYS})


@dataclass(frozen=True, slots=True)
class Override:
    """One ``[[override]]`` table: a cause, optional match keys, the action to answer instead."""

    cause: str
    action: Action
    where: tuple[tuple[str, str], ...] = ()
    reason: str = ""
    line: int = 0  # the rule's position in the file (1-based), shown so a team can find it

    def matches(self, record: CallRecord, refs: Sequence[str]) -> bool:
        return self.cause in refs and all(_value(record, key) == value for key, value in self.where)

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.line, "cause": self.cause, **dict(self.where), "action": str(self.action),
                "reason": self.reason}


def _value(record: CallRecord, key: str) -> str:
    value = getattr(record, key, None)
    if value is None:
        value = record.extra.get(key)
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class ActionOverrides:
    """The rules of one overrides file, in file order."""

    rules: tuple[Override, ...] = ()
    path: str = ""

    def find(self, record: CallRecord, refs: Sequence[str]) -> Override | None:
        best: Override | None = None
        for rule in self.rules:
            if rule.matches(record, refs) and (best is None or len(rule.where) > len(best.where)):
                best = rule
        return best


NO_OVERRIDES = ActionOverrides()


def parse_overrides(text: str, path: str = "") -> ActionOverrides:
    """Read an overrides file's text; a bad rule is a ``ConfigError`` naming the rule and the key."""
    where = path or "actions file"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"override"})
    if unknown:
        raise ConfigError(f"{where}: unknown top-level keys {unknown}; expected [[override]] tables")
    tables = data.get("override", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{where}: 'override' must be an array of tables ([[override]])")
    return ActionOverrides(tuple(_rule(t, n, where) for n, t in enumerate(tables, 1)), path)


def _rule(table: Any, number: int, where: str) -> Override:
    label = f"{where}: override {number}"
    if not isinstance(table, dict):
        raise ConfigError(f"{label}: must be a table")
    unknown = sorted(set(table) - _RULE_KEYS)
    if unknown:
        raise ConfigError(f"{label}: unknown keys {unknown}; allowed: {sorted(_RULE_KEYS)}")
    for key in ("cause", "action"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise ConfigError(f"{label}: '{key}' is required and must be a string")
    try:
        scheme, key = parse_ref(table["cause"])
    except CatalogError as exc:
        raise ConfigError(f"{label}: cause: {exc}") from exc
    try:
        action = Action(table["action"].strip())
    except ValueError:
        raise ConfigError(f"{label}: action {table['action']!r} is not one of {[str(a) for a in Action]}") from None
    pairs = tuple((k, str(table[k])) for k in MATCH_KEYS if k in table)
    return Override(f"{scheme}:{key}", action, pairs, str(table.get("reason", "")), number)


_LOADED: dict[str, tuple[tuple[int, int], ActionOverrides]] = {}


def overrides_from_file(path: str) -> ActionOverrides:
    """The file's rules, read again only when it changed (so an edit applies without a restart); "" = none."""
    if not path:
        return NO_OVERRIDES
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"actions file {path!r} cannot be read: {exc.strerror}") from exc
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _LOADED.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with open(path, encoding="utf-8") as handle:
        overrides = parse_overrides(handle.read(), path)
    _LOADED[path] = (stamp, overrides)
    return overrides


def call_action(record: CallRecord, overrides: ActionOverrides = NO_OVERRIDES,
                catalog: CauseCatalog | None = None) -> dict[str, Any]:
    """What to do next with this call: ``action``, where it comes from, and the override that set it."""
    refs = [ref for ref in dict.fromkeys((record.cause, *record.causes)) if ref]
    rule = overrides.find(record, refs)
    if rule is not None:
        return _answer(str(rule.action), "override", rule.cause,
                       f"{overrides.path or 'actions file'}, override {rule.line}", rule.to_json())
    cause = _primary(record, catalog or default_catalog())
    if cause is None:
        return _answer(str(Action.NONE), "catalog", "", "", None)
    return _answer(str(cause.action), "catalog", cause.ref, cause.action_source, None)


def _answer(action: str, found: ActionFrom, cause: str, source: str, rule: dict[str, Any] | None) -> dict[str, Any]:
    return {"action": action, "from": found, "cause": cause, "source": source, "override": rule}


def _primary(record: CallRecord, catalog: CauseCatalog) -> Cause | None:
    if not record.cause:
        return None
    try:
        return catalog.resolve(record.cause)
    except CatalogError:
        return None


def actions_by_cause(overrides: ActionOverrides) -> Mapping[str, tuple[Override, ...]]:
    """The rules grouped by the cause they override (``hangup explain`` lists them under the entry)."""
    grouped: dict[str, list[Override]] = {}
    for rule in overrides.rules:
        grouped.setdefault(rule.cause, []).append(rule)
    return {k: tuple(v) for k, v in grouped.items()}
