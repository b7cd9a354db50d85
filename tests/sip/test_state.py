"""Saved dialogs (hangup.sip.state): a restart goes on with them, whichever build (compiled or sources) saved them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hangup.sip import state
from hangup.sip.dialogs import DialogEngine
from hangup.sip.hep import decode

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "sip"
sys.path.insert(0, str(BENCH))
from hep_work import datagrams  # noqa: E402  # calls of every step: INVITE, 100, 180, 200, ACK, BYE, 200

CALLS = 30
SENT = datagrams(CALLS)
STOP = len(SENT) // 2  # half the messages, then a restart: every call is in progress

# argv: save|resume, the state file. save: the first half into the file; resume: the second half from it,
# the calls as JSON on stdout, with which build ran
SCRIPT = f"""
import json, sys
sys.path.insert(0, {str(BENCH)!r})
from hep_work import datagrams
from hangup import native
from hangup.sip import state
from hangup.sip.dialogs import DialogEngine
from hangup.sip.hep import decode
engine, sent = DialogEngine(received_at=lambda: 0.0), datagrams({CALLS})
if sys.argv[1] == "save":
    for d in sent[:{STOP}]:
        engine.feed(decode(d, 0.0).packet)
    open(sys.argv[2], "wb").write(state.dumps(engine.snapshot()))
else:
    engine.restore(state.load(open(sys.argv[2], "rb")))
    calls = [r for d in sent[{STOP}:] for r in engine.feed(decode(d, 0.0).packet)] + engine.flush()
    print(json.dumps([native.MODE, [r.to_json() for r in calls]]))
"""


def _calls(engine: DialogEngine, start: int) -> list[dict[str, object]]:
    records = [r for d in SENT[start:] for r in engine.feed(decode(d, 0.0).packet)] + engine.flush()
    return [r.to_json() for r in records]


UNBROKEN = _calls(DialogEngine(received_at=lambda: 0.0), 0)


def test_a_restored_engine_ends_every_call_as_one_that_never_stopped() -> None:
    first = DialogEngine(received_at=lambda: 0.0)
    assert [r for d in SENT[:STOP] for r in first.feed(decode(d, 0.0).packet)] == []
    restored = DialogEngine(received_at=lambda: 0.0)
    restored.restore(state.load(io.BytesIO(state.dumps(first.snapshot()))))
    assert restored.open_dialogs == first.open_dialogs == CALLS
    assert _calls(restored, STOP) == UNBROKEN and len(UNBROKEN) == CALLS


def _run(step: str, path: Path, pure: str) -> str:
    return subprocess.run([sys.executable, "-c", SCRIPT, step, str(path)], capture_output=True, text=True,
                          timeout=120, check=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "HANGUP_PURE_PYTHON": pure}).stdout


@pytest.mark.parametrize(("saved_by", "resumed_by"), [("", "1"), ("1", ""), ("1", "1")])
def test_either_build_reads_the_dialogs_the_other_saved(tmp_path: Path, saved_by: str, resumed_by: str) -> None:
    path = tmp_path / "dialogs.state"
    _run("save", path, saved_by)
    mode, calls = json.loads(_run("resume", path, resumed_by))
    assert (mode == "pure") == bool(resumed_by)
    assert calls == UNBROKEN
