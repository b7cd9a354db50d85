"""``hangup quarantine list|replay``: a rejected request fixed by configuration is replayed into the log."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from receiver_helpers import DATA, ClientFactory, planet_query

from hangup.cli import _register, cli
from hangup.store.base import CallQuery, Store


def test_replay_after_the_source_network_is_allowed(make_client: ClientFactory, fresh_store: Store,
                                                    tmp_path: Path) -> None:
    client = make_client(client=("192.0.2.7", 1), HANGUP_CALLBACK_ALLOW="10.0.0.0/8")
    assert client.get("/callbacks/planet?" + planet_query()).status_code == 403
    allowed = make_client(client=("10.1.1.1", 1), HANGUP_CALLBACK_ALLOW="10.0.0.0/8")
    assert allowed.get("/callbacks/planet?sid=bad").status_code == 400
    _register()
    url = f"sqlite:///{fresh_store.path}"  # type: ignore[attr-defined]
    listing = CliRunner().invoke(cli, ["quarantine", "list", "--db", url])
    assert listing.exit_code == 0 and len(listing.output.splitlines()) == 3 and "403" in listing.output  # header + 2
    first, second = (e.id for e in sorted(fresh_store.quarantined(), key=lambda e: e.id))
    replay = CliRunner().invoke(cli, ["quarantine", "replay", str(first), str(second), "--db", url])
    assert replay.exit_code == 1  # the malformed one is rejected again
    assert f"{first}: inserted" in replay.output and f"{second}: rejected again (400" in replay.output
    assert fresh_store.count() == 1
    entries = {e.id: e for e in fresh_store.quarantined()}
    assert entries[first].replay_result.startswith("inserted") and entries[second].replayed_at is not None


def test_a_truncated_entry_is_not_replayed(make_client: ClientFactory, fresh_store: Store) -> None:
    """Its first bytes could form a valid call on their own: replaying them would store a call never sent."""
    client = make_client(client=("192.0.2.7", 1), HANGUP_CALLBACK_ALLOW="10.0.0.0/8",
                         HANGUP_QUARANTINE_ENTRY_BYTES="64")
    assert client.get("/callbacks/planet?" + planet_query()).status_code == 403
    _register()
    [entry] = fresh_store.quarantined()
    replay = CliRunner().invoke(cli, ["quarantine", "replay", str(entry.id), "--db",
                                      f"sqlite:///{fresh_store.path}"])  # type: ignore[attr-defined]
    assert replay.exit_code == 1 and "not replayed" in replay.output
    assert fresh_store.count() == 0


_VONAGE_END = json.loads((DATA / "vonage" / "completed.json").read_text())
#: Vonage's detection event of the same call (status ``machine``), as the GET event webhook sends it.
_VONAGE_DETECTION = {"uuid": _VONAGE_END["uuid"], "conversation_uuid": _VONAGE_END["conversation_uuid"],
                     "status": "machine", "direction": "outbound", "timestamp": "2026-06-08T12:00:05.000Z"}


@pytest.mark.parametrize("order", [("detection", "end"), ("end", "detection")])
def test_a_replayed_detection_reaches_its_call_in_either_order(make_client: ClientFactory, fresh_store: Store,
                                                               order: tuple[str, str]) -> None:
    """Replay stores as the receiver does: a detection is kept and applied to its stored call, an end is
    joined with the detection kept for it (it used to answer "not a call-end event" and drop the detection)."""
    client = make_client(client=("192.0.2.7", 1), HANGUP_CALLBACK_ALLOW="10.0.0.0/8")
    queries = {"detection": urlencode(_VONAGE_DETECTION), "end": urlencode(_VONAGE_END)}
    for kind in order:
        assert client.get("/callbacks/vonage?" + queries[kind]).status_code == 403
    _register()
    ids = [str(e.id) for e in sorted(fresh_store.quarantined(), key=lambda e: e.id)]
    replay = CliRunner().invoke(cli, ["quarantine", "replay", *ids, "--no-verify", "--db",
                                      f"sqlite:///{fresh_store.path}"])  # type: ignore[attr-defined]
    assert replay.exit_code == 0, replay.output
    said = dict(line.split(": ", 1) for line in replay.output.splitlines())
    assert [said[i].split()[0] for i in ids] == [{"detection": "detection", "end": "inserted"}[k] for k in order]
    [call] = fresh_store.query(CallQuery(provider="vonage")).calls
    assert call.answered_by == "machine" and call.extra["detection.status"] == "machine"
