"""``hangup quarantine list|replay``: a rejected request fixed by configuration is replayed into the log."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from receiver_helpers import ClientFactory, planet_query

from hangup.cli import _register, cli
from hangup.store.base import Store


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
