"""Evaluating alert rules: one transition per episode, recoveries reported, low volume never fires.

A rule *fires* when its metric over the last ``window`` breaks the condition and the rule is not
already firing and did not fire within ``cooldown``; it *resolves* when the metric is back within the
condition. While a rule fires nothing more is sent, so an ASR drop is reported once, not every
minute. A metric that is N/A (fewer than ``min_samples`` calls) changes nothing. A rule with ``each``
(a dimension, e.g. ``route``) is all of that for every value of the dimension that has calls in the window:
one route fires and recovers while the others stay quiet, each value with its own cooldown and state
(kept under ``state_key``). The state of each rule is kept in the ``alert_state`` table, so
``hangup alerts check`` run from cron behaves the same
as the evaluation loop of ``hangup serve``; it is written through the database's ``write`` (on SQLite
an operation of the one writer, in line with the calls).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hangup.alerts.rules import Rule
from hangup.stats import explain as changes
from hangup.stats.labels import display
from hangup.stats.metrics import METRICS
from hangup.stats.service import StatsService
from hangup.stats.totals import Totals
from hangup.stats.windows import Window
from hangup.store.migrations import Migration

log = logging.getLogger("hangup.alerts")

STATE_TABLE = "alert_state"
#: Contributions a firing alert's payload lists (largest first).
EXPLAINED_ROWS = 10
MIGRATIONS = (
    Migration(
        "0210_alert_state",
        (
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (rule TEXT PRIMARY KEY, firing SMALLINT NOT NULL, "
            "changed_at BIGINT NOT NULL, fired_at BIGINT NOT NULL, value {real})",
        ),
    ),
)
_CLAIM_ROW = (
    f"INSERT INTO {STATE_TABLE} (rule, firing, changed_at, fired_at, value) VALUES (?, 0, 0, 0, NULL) "
    "ON CONFLICT (rule) DO NOTHING"
)
_MOVE = (
    f"UPDATE {STATE_TABLE} SET firing = ?, changed_at = ?, fired_at = ?, value = ? "
    "WHERE rule = ? AND firing = ? AND changed_at = ?"
)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A rule that started firing or recovered."""

    rule: Rule
    status: str  # "firing" | "resolved"
    value: float
    samples: int
    at: int
    window: Window
    of: str = ""  # the value of the rule's ``each`` dimension ("" for a rule over every call)
    #: what moved the metric against the same window a week earlier (``hangup.stats.explain``); firing only
    explanation: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        metric = METRICS[self.rule.metric]
        extra: dict[str, Any] = {}
        if self.explanation is not None:
            extra = {"why": changes.headline(self.explanation), "explanation": self.explanation}
        return {
            "rule": self.rule.name,
            **({"each": self.rule.each, "of": self.of} if self.rule.each else {}),
            "status": self.status,
            "metric": metric.id,
            "label": metric.label,
            "value": self.value,
            "display": display(metric, self.value),
            "condition": self.rule.condition,
            "window_seconds": self.rule.window,
            "filters": dict(self.rule.filters),
            "samples": self.samples,
            "from": self.window.start,
            "to": self.window.end,
            "at": self.at,
            **extra,
        }


@dataclass(frozen=True, slots=True)
class RuleState:
    firing: bool = False
    changed_at: int = 0
    fired_at: int = 0


Notify = Callable[[AlertEvent], None]


class AlertEngine:
    """Evaluates rules against a statistics service and notifies on transitions."""

    def __init__(self, service: StatsService, rules: Sequence[Rule], notify: Notify, persist: bool = True) -> None:
        self.service = service
        self.rules = tuple(rules)
        self.notify = notify
        self.persist = persist  # False: keep state in memory only (a dry run changes nothing stored)
        self._memory: dict[str, RuleState] = {}

    def check(self, now: float | None = None) -> list[AlertEvent]:
        """Evaluate every rule once at ``now``; return (and notify) the transitions."""
        at = int(time.time() if now is None else now)
        events: list[AlertEvent] = []
        for rule in self.rules:
            for event in self._check_rule(rule, at):
                events.append(event)
                log.warning("alert %s%s %s: %s = %s (%s)", rule.name, f" {rule.each}={event.of}" if rule.each else "",
                            event.status, rule.metric, event.to_json()["display"], rule.condition)
                self.notify(event)
        return events

    def _check_rule(self, rule: Rule, at: int) -> list[AlertEvent]:
        window = Window(at - rule.window, at, dict(rule.filters))
        if not rule.each:
            totals, _ = self.service.totals(window)
            event = self._check_value(rule, "", totals, at, window)
            return [event] if event is not None else []
        found, _ = self.service.totals_by(window, rule.each)
        events = (self._check_value(rule, of, totals, at, window) for of, totals in sorted(found.items()))
        return [event for event in events if event is not None]

    def _check_value(self, rule: Rule, of: str, totals: Totals, at: int, window: Window) -> AlertEvent | None:
        value = METRICS[rule.metric](totals, rule.min_samples)
        if value is None:
            return None
        key = state_key(rule, of)
        state = self._load(key)
        breached = rule.breached(value)
        if breached and not state.firing and (not state.fired_at or at - state.fired_at >= rule.cooldown):
            if self._move(key, state, RuleState(True, at, at), value):
                return AlertEvent(rule, "firing", value, totals.attempts, at, window, of, self._explain(rule, window))
        elif not breached and state.firing:
            if self._move(key, state, RuleState(False, at, state.fired_at), value):
                return AlertEvent(rule, "resolved", value, totals.attempts, at, window, of)
        return None

    def _explain(self, rule: Rule, window: Window) -> dict[str, Any]:
        """The leading contributions to the metric's change since the same window a week earlier."""
        question = changes.question(rule.metric, window, limit=EXPLAINED_ROWS)
        return changes.explain(self.service, question, rule.min_samples)

    def _load(self, name: str) -> RuleState:
        if name in self._memory:
            return self._memory[name]
        rows = self.service.db.read(f"SELECT firing, changed_at, fired_at FROM {STATE_TABLE} WHERE rule = ?", [name])
        return RuleState(bool(rows[0][0]), int(rows[0][1]), int(rows[0][2])) if rows else RuleState()

    def _move(self, name: str, old: RuleState, new: RuleState, value: float) -> bool:
        """Compare-and-set the rule's state; ``False`` when another evaluator (a second worker, cron) moved it
        first, so each transition is notified once however many processes evaluate the rules."""
        if not self.persist:
            self._memory[name] = new
            return True
        db = self.service.db
        claim, move = db.sql(_CLAIM_ROW), db.sql(_MOVE)
        params = [int(new.firing), new.changed_at, new.fired_at, value, name, int(old.firing), old.changed_at]

        def compare_and_set(conn: Any) -> bool:
            conn.execute(claim, [name])
            return bool(conn.execute(move, params).rowcount == 1)

        return db.write(compare_and_set)

    def states(self) -> dict[str, RuleState]:
        """Each rule's state; a rule with ``each`` is firing while any of its values is."""
        return {rule.name: self._state_of(rule) for rule in self.rules}

    def _state_of(self, rule: Rule) -> RuleState:
        if not rule.each:
            return self._load(rule.name)
        prefix = state_key(rule, "")
        rows = self.service.db.read(f"SELECT rule, firing, changed_at, fired_at FROM {STATE_TABLE} WHERE rule >= ? "
                                    "AND rule < ?", [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)])
        found = {row[0]: RuleState(bool(row[1]), int(row[2]), int(row[3])) for row in rows}
        found.update((key, state) for key, state in self._memory.items() if key.startswith(prefix))
        firing = [s for s in found.values() if s.firing]
        return max(firing, key=lambda s: s.changed_at) if firing else RuleState()

    def firing_values(self, rule: Rule) -> list[str]:
        """The values of a rule with ``each`` that are firing now."""
        prefix = state_key(rule, "")
        rows = self.service.db.read(f"SELECT rule FROM {STATE_TABLE} WHERE firing = 1 AND rule >= ? AND rule < ?",
                                    [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)])
        keys = {row[0] for row in rows} | {k for k, s in self._memory.items() if s.firing and k.startswith(prefix)}
        return sorted(key[len(prefix):] for key in keys)


def state_key(rule: Rule, of: str) -> str:
    """The ``alert_state`` row of a rule, or of one value of a rule with ``each``: the rule's name, a unit
    separator (U+001F, which no name holds), then ``each=value``."""
    return f"{rule.name}\x1f{rule.each}={of}" if rule.each else rule.name
