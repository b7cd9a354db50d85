"""The shipped Grafana dashboard parses and names only metrics hangup exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hangup.web.metrics import METRIC_NAMES

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "hangup.json"


def test_dashboard_parses_and_uses_only_exported_metrics() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    assert len(exprs) >= 10
    used = {name for expr in exprs for name in re.findall(r"\bhangup_[a-z_]+", expr)}
    assert used and used <= set(METRIC_NAMES), used - set(METRIC_NAMES)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))


def test_every_exported_family_is_charted() -> None:
    text = DASHBOARD.read_text(encoding="utf-8")
    families = {re.sub(r"_(total|bucket|sum|count|created)$", "", n) for n in METRIC_NAMES}
    assert all(family in text for family in families)


#: Families every node reports database-wide (read from the shared rollups, quarantine and outbox).
DATABASE_WIDE = ("hangup_calls", "hangup_answered_calls", "hangup_conversation_seconds",
                 "hangup_failed_calls_by_fault", "hangup_quarantined_requests", "hangup_emit_pending",
                 "hangup_emit_dead")


def test_database_wide_series_are_not_summed_over_nodes() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    # the innermost aggregation around a database-wide series must be max, or two nodes double it
    inner = re.compile(r"(\w+)(?:\s+by\s*\([^)]*\))?\s*\(\s*(?:(?:rate|increase)\()?(hangup_[a-z_]+?)(?:_total)?[\[)]")
    checked = 0
    for expr in exprs:
        for aggregation, family in inner.findall(expr):
            if family in DATABASE_WIDE:
                checked += 1
                assert aggregation == "max", expr
    assert checked >= 10
