"""Legs posted as webhooks, in any order: one call, its legs in ``/api/calls/{id}`` and on its page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from legs_data import EXPECTED, hooked_store_fixture, orders  # noqa: F401
from receiver_helpers import SyncClient

from hangup.settings import load_settings
from hangup.stats import rollup_reads
from hangup.store.base import Store
from hangup.web.app import create_app


@pytest.fixture(name="client")
def client_fixture(store: Store) -> Iterator[SyncClient]:
    with ExitStack() as stack:
        yield SyncClient(create_app(load_settings({"HANGUP_ASTERISK_ACCEPT_UNSIGNED": "true"}), store=store), stack)


def _line(fields: list[str]) -> str:
    return ",".join('"' + value.replace('"', '""') + '"' if not value.isdigit() else value for value in fields)


@pytest.mark.parametrize("uniqueid", sorted(EXPECTED))
def test_legs_posted_in_any_order_make_one_call(client: SyncClient, store: Store, uniqueid: str) -> None:
    count, answered, talk, dstchannel = EXPECTED[uniqueid]
    for n, order in enumerate(orders(uniqueid)):
        ids = {client.post("/callbacks/asterisk", content=_line(fields), headers={"content-type": "text/csv"}
                           ).json()["id"] for fields in order}
        (call_id,) = ids
        body = client.get(f"/api/calls/{call_id}").json()
        assert (body["call"]["answered"], body["call"]["duration"]) == (answered, talk)
        assert len(body["legs"]) == count and body["conflicts"] == []
        deciding = [leg for leg in body["legs"] if leg["leg_id"] == body["call"]["leg_id"]]
        assert [leg["extra"]["dstchannel"] for leg in deciding] == [dstchannel]
        assert sorted(leg["raw"] for leg in body["legs"]) == sorted(_line(fields) for fields in order)
        page = client.get(f"/calls/{call_id}").text
        assert 'id="legs"' in page and page.count("(deciding)") == 1
        with store.database.reading() as conn:  # type: ignore[attr-defined]
            total = rollup_reads.totals(conn, 0, 2**40)
        assert (total.attempts, total.duration_sum) == (n + 1, (n + 1) * talk)


def test_a_call_of_one_record_has_no_legs(client: SyncClient) -> None:
    (first, _) = orders("1772445600.10")[0]
    response = client.post("/callbacks/asterisk", content=_line(first), headers={"content-type": "text/csv"})
    call_id = response.json()["id"]
    body = client.get(f"/api/calls/{call_id}").json()
    assert body["legs"] == [] and 'id="legs"' not in client.get(f"/calls/{call_id}").text
