"""The registry: built-in adapters, adapters of installed packages (``hangup.providers`` entry points), and the
tables built from what each adapter declares about itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hangup import ingest
from hangup.importer.formats import FORMATS
from hangup.providers import registry
from hangup.providers.registry import DEFAULT_PROVIDERS, ENTRY_POINT_GROUP
from hangup.settings import all_settings
from hangup.store.base import Store

DOCS = Path(__file__).parents[2] / "docs" / "providers.md"


def _documented_example() -> str:
    """The adapter docs/providers.md shows under "Writing an adapter" (so the docs' example is what runs)."""
    section = DOCS.read_text().split("## Writing an adapter", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


def _install(folder: Path, module: str, source: str, entry: str) -> None:
    """A package installed the way pip leaves it: the module and a ``*.dist-info`` with its entry points."""
    (folder / f"{module}.py").write_text(source)
    info = folder / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry}\n")


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on ``sys.path`` for packages installed during the test; the registry reads it afresh."""
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.forget()
    yield tmp_path
    monkeypatch.undo()
    registry.forget()


def _signed(body: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"content-type": "application/json", "x-examplepbx-signature": signature}


CALL = {"call_id": "pbx-1", "from": "1000", "to": "2001", "ended_at": "2026-06-08T10:00:30Z", "billsec": 0,
        "sip_code": 486, "q850": 17, "hangup_by": "callee", "test": True}


def test_an_adapter_installed_from_outside_receives_webhooks_end_to_end(outside: Path, make_client: Any,
                                                                          fresh_store: Store) -> None:
    _install(outside, "hangup_examplepbx", _documented_example(), "examplepbx = hangup_examplepbx:PROVIDER")
    assert "examplepbx" in registry.available()
    assert "examplepbx_secret" in {s.name for s in all_settings()}

    client = make_client(HANGUP_EXAMPLEPBX_SECRET="s3cret")
    body, headers = _signed(CALL, "s3cret")
    response = client.post("/callbacks/examplepbx", content=body, headers=headers)
    assert response.status_code == 200, response.text
    stored = fresh_store.get(response.json()["id"])
    assert stored is not None and stored.provider == "examplepbx"
    assert (stored.cause, stored.outcome, stored.ended_by, stored.sip, stored.q850) == (
        "sip:486", "busy", "callee", 486, 17)
    assert ingest.explain(stored)["flags"] == [
        {"flag": "examplepbx_test_call", "meaning": "the PBX marked the call as a test call"}]
    assert ingest.reclassify(fresh_store, registry.providers()) == (1, 0)

    forged = client.post("/callbacks/examplepbx", content=body, headers={**headers, "x-examplepbx-signature": "0"})
    assert forged.status_code == 403
    kept = fresh_store.quarantined()[0]
    assert kept.provider == "examplepbx" and kept.headers["x-examplepbx-signature"] == "0"


@pytest.mark.parametrize(("source", "entry"), [
    ("raise ImportError('missing dependency')\n", "broken = hangup_broken:PROVIDER"),
    ("from hangup.providers.plivo import PROVIDER\n", "plivo = hangup_broken:PROVIDER"),  # a taken name
], ids=["fails-to-import", "name-taken"])
def test_a_bad_outside_adapter_is_left_out_and_the_others_served(outside: Path, source: str, entry: str,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    _install(outside, "hangup_broken", source, entry)
    names = registry.available()
    assert len(names) == len(DEFAULT_PROVIDERS) and "broken" not in names
    assert "hangup_broken" in caplog.text


def test_central_tables_are_built_from_the_adapters() -> None:
    assert {"x-plivo-signature-v3", "x-twilio-signature", "telnyx-signature-ed25519", "content-type"} <= (
        registry.kept_headers())
    assert "authorization" not in registry.kept_headers()  # credentials are never kept
    assert {"duration_mismatch", "duration_includes_ringing"} <= set(registry.flag_meanings())
    rows = {row.name: row for row in registry.setting_rows()}
    assert rows["plivo_auth_token"].kind == "secret" and rows["plivo_accept_unsigned"].kind == "bool"
    assert set(registry.import_formats()) == {"planet-urls", "plivo", "twilio", "telnyx", "vonage", "freeswitch-json",
                                              "freeswitch-csv", "asterisk-csv", "asterisk-cel", "callcenter",
                                              "kamailio-log"}
    assert list(FORMATS)[:2] == ["jsonl", "csv"] and set(registry.import_formats()) <= set(FORMATS)
