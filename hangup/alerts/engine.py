"""Evaluating alert rules: one transition per episode, recoveries reported, low volume never fires.

A rule *fires* when its metric over the last ``window`` breaks the condition and the rule is not
already firing and did not fire within ``cooldown``; it *resolves* when the metric is back within the
condition. While a rule fires nothing more is sent, so an ASR drop is reported once, not every
minute. A metric that is N/A (no calls, or fewer than ``min_samples``) never fires, and resolves a firing
rule: as Alertmanager resolves an alert its rule no longer returns, a trunk taken out of service must not
stay "down" forever; the resolve says why (``reason``), so nobody reads it as a recovery. A rule with
``each`` (a dimension, e.g. ``route``) is all of that for every value of the dimension that has calls in the
window or is firing: one route fires and recovers while the others stay quiet, each value with its own
cooldown and state (kept under ``state_key``). A value's state that is neither firing nor within its
cooldown behaves as no state at all, so it is dropped, and the table does not grow with every route that
ever fired. The state of each rule is kept in the ``alert_state`` table, so ``hangup alerts check`` run
from cron behaves the same as the evaluation loop of ``hangup serve``; it is written through the database's
``write`` (on SQLite an operation of the one writer, in line with the calls).
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
#: Drops a value's idle state unless another evaluator has just moved it (the same compare-and-set as ``_MOVE``).
_FORGET = f"DELETE FROM {STATE_TABLE} WHERE rule = ? AND firing = 0 AND changed_at = ?"
#: Why an alert resolved (``AlertEvent.reason``), and the words its payload gives for it.
RECOVERED, NO_CALLS, TOO_FEW_CALLS = "recovered", "no_calls", "too_few_calls"
_REASONS = {
    RECOVERED: "the metric is back within the condition",
    NO_CALLS: "no calls in the window: nothing left to judge",
    TOO_FEW_CALLS: "too few calls in the window to judge (under min_samples)",
}


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A rule that started firing or recovered."""

    rule: Rule
    status: str  # "firing" | "resolved"
    value: float | None  # None: N/A, when a rule resolves for want of calls
    samples: int
    at: int
    window: Window
    of: str = ""  # the value of the rule's ``each`` dimension ("" for a rule over every call)
    #: what moved the metric against the same window a week earlier (``hangup.stats.explain``); firing only
    explanation: dict[str, Any] | None = None
    reason: str = ""  # resolved only: RECOVERED, NO_CALLS or TOO_FEW_CALLS

    def to_json(self) -> dict[str, Any]:
        metric = METRICS[self.rule.metric]
        extra: dict[str, Any] = {}
        if self.explanation is not None:
            extra = {"why": changes.headline(self.explanation), "explanation": self.explanation}
        if self.reason:
            extra |= {"reason": self.reason, "reason_text": _REASONS[self.reason]}
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
                log.warning("alert %s%s %s: %s = %s (%s)%s", rule.name, f" {rule.each}={event.of}" if rule.each else "",
                            event.status, rule.metric, event.to_json()["display"], rule.condition,
                            f": {_REASONS[event.reason]}" if event.reason else "")
                self.notify(event)
        return events

    def _check_rule(self, rule: Rule, at: int) -> list[AlertEvent]:
        window = Window(at - rule.window, at, dict(rule.filters))
        if not rule.each:
            totals, _ = self.service.totals(window)
            event = self._check_value(rule, "", totals, self._load(rule.name), at, window)
            return [event] if event is not None else []
        found, _ = self.service.totals_by(window, rule.each)
        stored = self._states(rule)
        prefix = state_key(rule, "")
        # a firing value without calls in the window is still judged: it resolves for want of calls
        values = set(found) | {key[len(prefix):] for key, state in stored.items() if state.firing}
        events = [self._check_value(rule, of, found.get(of, Totals()), stored.get(state_key(rule, of), RuleState()),
                                    at, window) for of in sorted(values)]
        self._forget([(key, state.changed_at) for key, state in stored.items()
                      if not state.firing and at - state.fired_at >= rule.cooldown])
        return [event for event in events if event is not None]

    def _check_value(self, rule: Rule, of: str, totals: Totals, state: RuleState, at: int,
                     window: Window) -> AlertEvent | None:
        value = METRICS[rule.metric](totals, rule.min_samples)
        key = state_key(rule, of)
        if value is None:  # N/A never fires; a firing rule resolves, saying why
            if state.firing and self._move(key, state, RuleState(False, at, state.fired_at), None):
                reason = NO_CALLS if totals.attempts == 0 else TOO_FEW_CALLS
                return AlertEvent(rule, "resolved", None, totals.attempts, at, window, of, reason=reason)
            return None
        breached = rule.breached(value)
        if breached and not state.firing and (not state.fired_at or at - state.fired_at >= rule.cooldown):
            if self._move(key, state, RuleState(True, at, at), value):
                return AlertEvent(rule, "firing", value, totals.attempts, at, window, of, self._explain(rule, window))
        elif not breached and state.firing:
            if self._move(key, state, RuleState(False, at, state.fired_at), value):
                return AlertEvent(rule, "resolved", value, totals.attempts, at, window, of, reason=RECOVERED)
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

    def _move(self, name: str, old: RuleState, new: RuleState, value: float | None) -> bool:
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

    def _forget(self, idle: list[tuple[str, int]]) -> None:
        """Drop the stored states ``(key, changed_at)`` of values neither firing nor within their cooldown: a
        value without a row behaves the same. A state another evaluator moved meanwhile is kept. Not persisted
        (a dry run, one check), nothing is dropped."""
        if not idle or not self.persist:
            return
        db = self.service.db
        forget = db.sql(_FORGET)

        def delete(conn: Any) -> None:
            for key, changed_at in idle:
                conn.execute(forget, [key, changed_at])

        db.write(delete)

    def states(self) -> dict[str, RuleState]:
        """Each rule's state; a rule with ``each`` is firing while any of its values is."""
        return {rule.name: self._state_of(rule) for rule in self.rules}

    def _state_of(self, rule: Rule) -> RuleState:
        if not rule.each:
            return self._load(rule.name)
        firing = [s for s in self._states(rule).values() if s.firing]
        return max(firing, key=lambda s: s.changed_at) if firing else RuleState()

    def _states(self, rule: Rule) -> dict[str, RuleState]:
        """The states of every value of a rule with ``each`` that has one, by ``state_key``."""
        prefix = state_key(rule, "")
        rows = self.service.db.read(f"SELECT rule, firing, changed_at, fired_at FROM {STATE_TABLE} WHERE rule >= ? "
                                    "AND rule < ?", [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)])
        found = {row[0]: RuleState(bool(row[1]), int(row[2]), int(row[3])) for row in rows}
        found.update((key, state) for key, state in self._memory.items() if key.startswith(prefix))
        return found

    def firing_values(self, rule: Rule) -> list[str]:
        """The values of a rule with ``each`` that are firing now."""
        prefix = state_key(rule, "")
        return sorted(key[len(prefix):] for key, state in self._states(rule).items() if state.firing)


def state_key(rule: Rule, of: str) -> str:
    """The ``alert_state`` row of a rule, or of one value of a rule with ``each``: the rule's name, a unit
    separator (U+001F, which no name holds), then ``each=value``."""
    return f"{rule.name}\x1f{rule.each}={of}" if rule.each else rule.name
