"""Alert rules, read from a TOML file.

::

    interval = "1m"                       # how often `hangup serve` evaluates (default 1m)
    webhook = "https://ops.example/hook"   # default destination; empty = log only

    [[rule]]
    name = "asr-drop"
    metric = "asr"                         # any id of `hangup.stats.metrics.METRICS`
    condition = "< 0.45"                   # <, <=, >, >=, ==, != and a number
    window = "15m"                         # the span evaluated, ending now
    min_samples = 50                       # fewer calls: N/A, never fires, and a firing rule resolves
    cooldown = "30m"                       # at least this long between two firings of the rule
    filter = { provider = "planet" }       # the call log's filters, as in /api/stats/*
    each = "route"                         # optional: the rule is evaluated for every value of this dimension,
                                           # each with its own min_samples, cooldown and state
"""

from __future__ import annotations

import operator
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hangup.errors import ConfigError, PayloadError
from hangup.stats.dimensions import DIMENSIONS
from hangup.stats.metrics import get_metric
from hangup.stats.windows import DIMENSION_FILTERS, PARAM_OF, QUERY_FILTERS, parse_span, parse_window

#: Comparison operators of a condition.
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}
_CONDITION = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*$")
_FILTER_NAMES = {"type": "call_type", **{n: n for n in (*QUERY_FILTERS, *DIMENSION_FILTERS)}}
DEFAULT_INTERVAL = 60


@dataclass(frozen=True, slots=True)
class Rule:
    """One alert rule (see the module docstring for the file format)."""

    name: str
    metric: str
    op: str
    threshold: float
    window: int  # seconds
    min_samples: int
    cooldown: int  # seconds
    filters: dict[str, str] = field(default_factory=dict)
    webhook: str = ""
    each: str = ""  # a dimension id: evaluated per value of it ("" = once, over every call)

    @property
    def condition(self) -> str:
        return f"{self.op} {self.threshold:g}"

    def breached(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.threshold)


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]
    interval: int = DEFAULT_INTERVAL


def _span(name: str, key: str, value: Any, default: str) -> int:
    try:
        return parse_span(str(value if value is not None else default))
    except Exception:
        raise ConfigError(f"rule {name!r}: {key} must look like 15m, 1h or 1d") from None


def _rule(raw: Mapping[str, Any], webhook: str) -> Rule:
    name = str(raw.get("name") or "")
    if not name:
        raise ConfigError("every [[rule]] needs a name")
    try:
        metric = get_metric(str(raw.get("metric", ""))).id
    except Exception as exc:
        raise ConfigError(f"rule {name!r}: {exc}") from None
    match = _CONDITION.match(str(raw.get("condition", "")))
    if not match:
        raise ConfigError(f"rule {name!r}: condition must look like '< 0.45' (operators {', '.join(OPERATORS)})")
    filters: dict[str, str] = {}
    for key, value in dict(raw.get("filter") or {}).items():
        if key not in _FILTER_NAMES:
            raise ConfigError(f"rule {name!r}: unknown filter {key!r}; known: {', '.join(sorted(_FILTER_NAMES))}")
        filters[_FILTER_NAMES[key]] = str(value).lower() if isinstance(value, bool) else str(value)
    _check_filters(name, filters)
    each = str(raw.get("each") or "")
    if each and (each not in DIMENSIONS or DIMENSIONS[each].top):
        valid = ", ".join(d.id for d in DIMENSIONS.values() if not d.top)
        raise ConfigError(f"rule {name!r}: each must be one of: {valid}")
    min_samples = raw.get("min_samples", 20)
    if not isinstance(min_samples, int) or min_samples < 1:
        raise ConfigError(f"rule {name!r}: min_samples must be a positive integer")
    return Rule(
        name=name, metric=metric, op=match.group(1), threshold=float(match.group(2)),
        window=_span(name, "window", raw.get("window"), "15m"), min_samples=min_samples,
        cooldown=_span(name, "cooldown", raw.get("cooldown"), "30m"), filters=filters,
        webhook=str(raw.get("webhook", webhook)), each=each,
    )


def _check_filters(name: str, filters: Mapping[str, str]) -> None:
    """The filters' values read as a statistics question reads them (``parse_window``): a value no call can have
    (``outcome = "fialed"``) would match nothing, and the rule would never fire."""
    try:
        parse_window([("range", "1m"), *((PARAM_OF.get(k, k), v) for k, v in filters.items())])
    except PayloadError as exc:
        found = "; ".join(f"{d.get('field')}: {d.get('error')}" for d in exc.details) or str(exc)
        raise ConfigError(f"rule {name!r}: filter {found}") from None


def parse_rules(text: str) -> RuleSet:
    """Rules from TOML text; a mistake is a ``ConfigError`` naming the rule and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"alert rules are not valid TOML: {exc}") from None
    webhook = str(data.get("webhook", ""))
    rules = tuple(_rule(raw, webhook) for raw in data.get("rule", []))
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ConfigError("rule names must be unique")
    return RuleSet(rules, _span("(file)", "interval", data.get("interval"), "1m"))


def load_rules(path: str | Path) -> RuleSet:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read alert rules {path}: {exc}") from None
    return parse_rules(text)
