"""deploy/kamailio/kamailio.cfg and docs/kamailio.md agree, and Kamailio accepts the file with every define set."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hangup.providers import kamailio

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
DOCS = ROOT / "docs" / "kamailio.md"
#: A value for each optional define, to check the file as an operator would start it with all of them.
OPTIONAL = ('-A', 'LISTEN_TCP=tcp:127.0.0.1:5060', '-A', 'HEP_URI="sip:127.0.0.1:9060"')


def defines() -> set[str]:
    """Every define the file reads: those with a default (``#!ifndef``) and the optional ones (``#!ifdef``)."""
    return set(re.findall(r"^#!ifn?def (\w+)", CONFIG.read_text(), re.M))


def documented() -> set[str]:
    """The names in the first column of docs/kamailio.md's tables (a cell may name several)."""
    cells = re.findall(r"^\| (`[^|]+`) \|", DOCS.read_text(), re.M)
    return {name for cell in cells for name in re.findall(r"`(\w+)`", cell)}


def test_every_define_is_documented() -> None:
    assert {"LISTEN", "CALLEE", "HANGUP_URL", "HANGUP_SECRET", "HEP_URI"} <= defines()
    assert defines() <= documented()


def test_every_event_key_the_file_sends_is_documented_and_read() -> None:
    sent = set(re.findall(r'jansson_set\("\w+", "(\w+)"', CONFIG.read_text()))
    assert {"call_id", "event", "final_code", "reasons"} <= sent
    assert sent <= documented()
    assert sent <= {kamailio.VERSION, kamailio.CALL_ID, *kamailio.KEPT}


@pytest.mark.parametrize("extra", [(), OPTIONAL], ids=["defaults", "optional defines"])
def test_kamailio_accepts_the_file(extra: tuple[str, ...]) -> None:
    kamailio = shutil.which("kamailio") or shutil.which("kamailio", path="/usr/sbin")
    if kamailio is None:
        reason = "kamailio is not installed (scripts/ensure-test-tools)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    done = subprocess.run([kamailio, "-c", "-f", str(CONFIG), *extra], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
