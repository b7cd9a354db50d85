"""The same calls give the same statistics on PostgreSQL as on SQLite, from rollups and from raw rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from stats_fixtures import ranked

from hangup.composition import open_store
from hangup.stats import raw, rebuild, rollup_reads, traffic
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.explain import explain, question
from hangup.stats.route_table import route_table
from hangup.stats.service import StatsService, aligned
from hangup.stats.windows import Window

pytestmark = pytest.mark.postgres

END = 1_727_740_800  # 2024-10-01T00:00:00Z
START = END - 2 * 86400


def _answers(url: str) -> dict[str, object]:
    store = open_store(url)
    attach_rollups(store)
    records = list(traffic.generate(1500, START, END, seed=17, users=25))
    for i in range(0, len(records), 250):
        store.add_many(records[i : i + 250])
    db = StatsDB(url)
    try:
        service = StatsService(db)
        window = Window(START + 3000, END - 3000)
        answers: dict[str, object] = {
            "summary": service.summary(window),
            "series": service.timeseries(window, "ner", "hour"),
            "reasons": service.breakdown(window, "call_end_reason"),
            "filtered": service.breakdown(Window(window.start, window.end, {"from_user_id": "user0003"}), "outcome"),
            "top": service.top(window, "ip_pair", 5),
            "routes": route_table(service, window, "route", min_samples=0),
            "routes_by_days": route_table(service, Window(END - 10 * 86400, END), "route", sort="asr"),
            "routes_filtered": route_table(service, Window(window.start, window.end, {"outcome": "busy"}), "route"),
            "explain": explain(service, question("asr", Window(START + 86400 + 3000, END - 3000),
                                                 Window(START + 3000, START + 86400 - 3000), limit=200)),
            "explain_filtered": explain(service, question(
                "asr", Window(START + 86400, END, {"from_user_id": "user0003"}), Window(START, START + 86400),
                limit=200)),
        }
        day_window = aligned(window, 86400)
        answers["top_users"] = list(rollup_reads.top(db.reader(), day_window.start, day_window.end, "user", 7).items())
        answers["top_users_raw"] = list(ranked(raw.breakdown(db.reader(), day_window, "user", db.paramstyle,
                                                              failed_only=True), 7).items())
        rebuild.rebuild(db)
        answers["after_rebuild"] = service.summary(window)
        answers["top_users_after_rebuild"] = list(
            rollup_reads.top(db.reader(), day_window.start, day_window.end, "user", 7).items())
        answers["routes_after_rebuild"] = route_table(service, window, "route", min_samples=0)
        return answers
    finally:
        db.close()
        store.close()


def test_postgres_answers_equal_sqlite_answers(postgres_url: str, tmp_path: Path) -> None:
    on_postgres = _answers(postgres_url)
    on_sqlite = _answers(f"sqlite:///{tmp_path}/calls.db")
    assert on_postgres == on_sqlite
    assert on_postgres["explain"]["contributions"] and on_postgres["explain_filtered"]["contributions"]  # type: ignore[index]
    assert on_postgres["after_rebuild"] == on_postgres["summary"]
    assert on_postgres["routes_after_rebuild"] == on_postgres["routes"]
    # dicts in rank order: compared as item lists, so the order counts too
    assert on_postgres["top_users"] == on_postgres["top_users_raw"] == on_postgres["top_users_after_rebuild"]
