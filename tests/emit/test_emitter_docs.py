"""docs/emitter.md stays true: every table row, method and setting is documented, and its snippet verifies."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

from hangup.causes import default_catalog
from hangup.emit import ReleaseMethod
from hangup.emit.signature import sign
from hangup.emit.tables import emit_tables
from hangup.emit.web import EmitSettings

DOC = (Path(__file__).parents[2] / "docs" / "emitter.md").read_text()


def test_every_debug_code_is_documented() -> None:
    for entry in emit_tables().rel_codes.values():
        assert f"| {entry.code} | `{entry.name}` | `{entry.how.value}` |" in DOC


def test_the_action_of_every_call_end_reason_is_documented_as_the_catalog_says() -> None:
    for cause in default_catalog().entries("planet"):
        assert f"| {cause.code} | `{cause.name}` | `{cause.action}` |" in DOC


def test_every_release_method_and_call_end_reason_is_documented() -> None:
    for method in ReleaseMethod:
        assert f"`{method.value}`" in DOC
    for rule in emit_tables().release.values():
        assert str(rule.call_end_reason) in DOC


def test_every_setting_is_documented() -> None:
    for field in dataclasses.fields(EmitSettings):
        assert f"`HANGUP_{field.name.upper()}`" in DOC


def test_the_verification_snippet_accepts_hangups_signature() -> None:
    code = re.search(r"```python\n(.*?)```", DOC, re.S)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(code.group(1), namespace)
    verify = namespace["verify"]
    header = sign("s3cret", "sid=a&type=A", int(time.time()))
    assert verify("s3cret", "sid=a&type=A", header) is True  # type: ignore[operator]
    assert verify("s3cret", "sid=b&type=A", header) is False  # type: ignore[operator]
