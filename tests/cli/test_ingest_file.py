"""``hangup ingest FILE``: recorded callbacks stored as the receiver stores them, detections included."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from receiver_helpers import DATA

from hangup.cli import _register, cli
from hangup.composition import open_store
from hangup.store.base import CallQuery

_END = json.loads((DATA / "vonage" / "completed.json").read_text())
#: Vonage's detection event of the same call, as its GET event webhook sends it.
_DETECTION = {"uuid": _END["uuid"], "conversation_uuid": _END["conversation_uuid"], "status": "machine",
              "direction": "outbound", "timestamp": "2026-06-08T12:00:05.000Z"}
_RINGING = {**_DETECTION, "status": "ringing"}  # neither an end nor a detection


@pytest.mark.parametrize(("lines", "said"), [
    ([_DETECTION, _END], "1 inserted, 0 duplicate, 0 conflict, 0 leg, 0 ignored, 0 rejected, 1 detections kept"),
    ([_END, _DETECTION], "1 inserted, 0 duplicate, 0 conflict, 0 leg, 0 ignored, 0 rejected, 1 detections kept"),
    ([_RINGING, _DETECTION, _END, _END, {**_END, "uuid": ""}],
     "1 inserted, 1 duplicate, 0 conflict, 0 leg, 1 ignored, 1 rejected, 1 detections kept"),
])
def test_a_detection_in_the_file_reaches_its_call_in_either_order(tmp_path: Path, lines: list[dict[str, str]],
                                                                  said: str) -> None:
    source = tmp_path / "vonage.txt"
    source.write_text("".join(f"/callbacks/vonage?{urlencode(line)}\n" for line in lines))
    url = f"sqlite:///{tmp_path}/calls.db"
    _register()
    result = CliRunner().invoke(cli, ["ingest", str(source), "--provider", "vonage", "--db", url, "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == said
    store = open_store(url)
    try:
        [call] = store.query(CallQuery(provider="vonage")).calls
    finally:
        store.close()
    assert call.answered_by == "machine" and call.extra["detection.status"] == "machine"
