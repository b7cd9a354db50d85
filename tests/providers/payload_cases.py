"""Recorded webhook payloads under ``tests/data/<platform>/`` and their expected canonical records.

A case is a payload file plus ``<case>.expected.json`` beside it. The payload's extension says how
it was delivered: ``.form`` (form POST), ``.query`` (GET), ``.json`` (JSON POST), ``.xml`` (text/xml
POST), ``.csv`` (text/csv POST). The expected file is ``null`` (not a call end), ``{"error":
[fields]}`` (rejected naming those fields) or the subset of ``CallRecord.to_json()`` to compare.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hangup.errors import HTTPError, PayloadError
from hangup.providers.base import Provider, WebhookRequest
from hangup.records import CallRecord

DATA = Path(__file__).resolve().parent.parent / "data"
CONTENT_TYPES = {
    ".form": "application/x-www-form-urlencoded",
    ".json": "application/json",
    ".xml": "text/xml",
    ".csv": "text/csv",
}
RECEIVED_AT = 1_780_920_000.0
BASE_URL = "https://hangup.example.com/callbacks/"


def cases(platform: str) -> list[Path]:
    folder = DATA / platform
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".expected.json"))


def expected(payload: Path) -> Any:
    return json.loads(payload.with_name(payload.stem + ".expected.json").read_text())


def request_for(payload: Path, platform: str, headers: dict[str, str] | None = None,
                received_at: float = RECEIVED_AT) -> WebhookRequest:
    data = payload.read_bytes()
    if payload.suffix in (".form", ".query"):
        data = data.rstrip(b"\n")
    url = BASE_URL + platform
    if payload.suffix == ".query":
        query = data.decode()
        return WebhookRequest("GET", f"{url}?{query}", query, b"", dict(headers or {}), received_at)
    all_headers = {"content-type": CONTENT_TYPES[payload.suffix], **(headers or {})}
    return WebhookRequest("POST", url, "", data, all_headers, received_at)


def compare(record: Any, want: Any) -> None:
    """Assert that every field named in ``want`` has that value in the record."""
    got = record.to_json()
    mismatched = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    assert not mismatched, f"field: (got, expected) {mismatched}"


def parsed_as_expected(provider: Provider, payload: Path, platform: str,
                       rejected_with: type[HTTPError] = PayloadError) -> CallRecord | None:
    """Parse a recorded case and check it against its expected file: rejected naming exactly the expected
    fields, no record, or a record with the expected values. Returns the record, when one is expected."""
    want = expected(payload)
    request = request_for(payload, platform)
    if want is not None and "error" in want:
        with pytest.raises(rejected_with) as caught:
            provider.parse(request)
        assert [d["field"] for d in caught.value.details] == want["error"]
        return None
    record = provider.parse(request)
    if want is None:
        assert record is None
        return None
    assert record is not None
    compare(record, want)
    return record
