"""Who or what answered a call: hangup's four values read from each platform's answering-machine detection.

The table is ``answered_by.csv`` beside this module (its header names the document each row follows).
``RecordDraft.finish()`` reads it for every adapter, from the native fields the adapter kept in ``extra``,
so a platform's detection result is read the same way whichever door (webhook, import, reclassify) the
call came in by. The raw value stays in ``extra``.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from importlib import resources
from typing import cast, get_args

from hangup.records import AnsweredBy

#: The prefix of the fields of a detection that arrived in an event of its own (``hangup.store.detections``).
DETECTION_PREFIX = "detection."

VALUES: tuple[str, ...] = get_args(AnsweredBy)


@functools.cache
def table() -> Mapping[str, tuple[tuple[str, Mapping[str, AnsweredBy]], ...]]:
    """platform → ((key, {lower-cased value: answered_by}), …), keys in the file's order."""
    text = resources.files("hangup.providers").joinpath("answered_by.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    found: dict[str, dict[str, dict[str, AnsweredBy]]] = {}
    for row in rows:
        value = row["answered_by"].strip()
        if value not in VALUES:
            raise ValueError(f"answered_by.csv: {value!r} is not one of {VALUES}")
        keys = found.setdefault(row["platform"].strip(), {})
        keys.setdefault(row["key"].strip(), {})[row["value"].strip().casefold()] = cast(AnsweredBy, value)
    return {platform: tuple(keys.items()) for platform, keys in found.items()}


def answered_by(platform: str, native: Mapping[str, str], answered: bool) -> AnsweredBy:
    """The platform's detection result among ``native`` fields; ``unknown`` when absent or not answered."""
    if not answered:
        return "unknown"
    for key, values in table().get(platform, ()):
        raw = native.get(DETECTION_PREFIX + key) or native.get(key)
        if raw:
            found = values.get(raw.strip().casefold())
            if found is not None:
                return found
    return "unknown"
