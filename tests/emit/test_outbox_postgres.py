"""The PostgreSQL outbox: the SQLite outbox's contract tests on PostgreSQL, and claims from several nodes at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

# The contract tests of test_outbox.py, collected again here where ``outbox`` is the PostgreSQL one.
from test_outbox import (  # noqa: F401 - collected by pytest
    new,
    test_claim_leases_entries_until_the_lease_runs_out,
    test_claim_respects_the_limit_and_due_time,
    test_closing_orphans_forgets_every_started_call_given,
    test_delivered_retried_and_dead_states,
    test_enqueue_is_idempotent_per_sid_and_destination,
    test_retry_and_purge,
    test_retry_and_purge_match_lists_of_ids_and_states,
    test_started_calls_are_forgotten_when_their_end_is_enqueued,
)

from hangup.emit.outbox import BACKENDS, Entry, open_outbox
from hangup.emit.outbox.postgres import PostgresOutbox

pytestmark = pytest.mark.postgres


@pytest.fixture
def outbox(postgres_url: str) -> Iterator[PostgresOutbox]:
    box = PostgresOutbox(postgres_url)
    yield box
    box.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_postgres_urls_open_the_postgres_outbox(postgres_url: str, scheme: str) -> None:
    assert set(BACKENDS) == {"sqlite", "postgresql"}  # keyed by dialect: every spelling of a scheme finds it
    box = open_outbox(scheme + postgres_url[postgres_url.index("://"):])
    assert isinstance(box, PostgresOutbox) and box.migrate() == []
    box.close()


def test_nodes_claiming_at_once_never_get_the_same_entry(postgres_url: str) -> None:
    nodes = [PostgresOutbox(postgres_url) for _ in range(3)]
    nodes[0].enqueue([new(f"s{i}") for i in range(300)], 10.0)
    claimed: list[list[Entry]] = [[] for _ in nodes]
    start = threading.Barrier(len(nodes))

    def work(k: int) -> None:
        start.wait()
        while batch := nodes[k].claim(7, 10.0, lease=60.0):
            claimed[k].extend(batch)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(nodes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [e.id for got in claimed for e in got]
    assert len(ids) == len(set(ids)) == 300  # each entry leased by exactly one node
    assert sum(1 for got in claimed if got) >= 2  # the work was actually shared
    assert all(e.attempts == 1 for got in claimed for e in got)
    for node in nodes:
        node.close()


def test_a_repeat_enqueued_on_another_node_keeps_the_first_entry(postgres_url: str) -> None:
    a, b = PostgresOutbox(postgres_url), PostgresOutbox(postgres_url)
    [(first, created)] = a.enqueue([new("x")], 10.0)
    [(again, created_again)] = b.enqueue([new("x")], 11.0)
    assert created and not created_again and first == again
    a.close()
    b.close()


def test_a_dead_letter_answer_keeps_its_text_without_nul(outbox: PostgresOutbox) -> None:
    [(entry_id, _)] = outbox.enqueue([new("a")], 10.0)
    outbox.mark_dead(entry_id, 400, "HTTP 400", "bad\x00body", 11.0)
    dead = outbox.get(entry_id)
    assert dead is not None and dead.response_body == "bad\ufffdbody"
