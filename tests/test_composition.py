"""The composition root: every package's tables, the standard write hooks, the jobs the settings ask for."""

from __future__ import annotations

from pathlib import Path

import pytest

from hangup.alerts import engine as alert_engine
from hangup.composition import MIGRATIONS, WRITE_HOOKS, open_configured_store, open_store, repeating_jobs
from hangup.emit import schema as emit_schema
from hangup.settings import load_settings
from hangup.stats import rollups
from hangup.stats.db import StatsDB
from hangup.stats.service import StatsService
from hangup.store import open_store as open_bare_store
from hangup.store import schema as store_schema

RULES = '[[rule]]\nname = "low-asr"\nmetric = "asr"\ncondition = "< 0.5"\n'


def test_every_package_with_tables_contributes_its_migrations() -> None:
    for module in (store_schema, emit_schema, rollups, alert_engine):
        assert {m.name for m in module.MIGRATIONS} <= {m.name for m in MIGRATIONS}, module.__name__
    assert [m.name for m in MIGRATIONS] == sorted(m.name for m in MIGRATIONS)


def test_the_bare_store_has_its_own_tables_and_the_composed_one_every_table(tmp_path: Path) -> None:
    bare = open_bare_store(f"sqlite:///{tmp_path}/bare.db")
    composed = open_store(f"sqlite:///{tmp_path}/composed.db")
    try:
        assert bare.applied_migrations() == [m.name for m in store_schema.MIGRATIONS]
        assert composed.applied_migrations() == [m.name for m in MIGRATIONS]
    finally:
        bare.close()
        composed.close()


def test_a_configured_store_carries_the_standard_hooks(tmp_path: Path) -> None:
    store = open_configured_store(load_settings({"HANGUP_DB": f"sqlite:///{tmp_path}/calls.db"}))
    try:
        assert len(store._hooks) == len(WRITE_HOOKS)  # type: ignore[attr-defined]  # noqa: SLF001
    finally:
        store.close()


@pytest.mark.parametrize(
    ("env", "jobs"),
    [
        ({"HANGUP_MINUTE_ROLLUP_DAYS": "0"}, ["detection-prune"]),
        ({}, ["minute-rollup-prune", "detection-prune"]),  # minute rows are pruned by default
        ({"HANGUP_MINUTE_ROLLUP_DAYS": "0", "HANGUP_ALERTS_FILE": "{rules}"}, ["alerts", "detection-prune"]),
        ({"HANGUP_ALERTS_FILE": "{rules}"}, ["alerts", "minute-rollup-prune", "detection-prune"]),
    ],
)
def test_the_settings_choose_the_repeating_jobs(tmp_path: Path, env: dict[str, str], jobs: list[str]) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    url = f"sqlite:///{tmp_path}/calls.db"
    settings = load_settings({"HANGUP_DB": url, **{k: v.format(rules=rules) for k, v in env.items()}})
    store, db = open_store(url), StatsDB(url)
    try:
        found = repeating_jobs(store, settings, StatsService(db))
        assert [job.name for job in found] == jobs
        for job in found:
            job.close()
    finally:
        db.close()
        store.close()
