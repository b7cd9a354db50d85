"""Alerts: rules over the statistics, evaluated periodically, posted to a webhook when they fire and recover."""

from __future__ import annotations

from hangup.alerts.engine import AlertEngine, AlertEvent
from hangup.alerts.rules import Rule, load_rules, parse_rules

__all__ = ["AlertEngine", "AlertEvent", "Rule", "load_rules", "parse_rules"]
