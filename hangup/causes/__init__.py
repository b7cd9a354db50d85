"""The cause catalog: every code of every vocabulary, one outcome taxonomy over them."""

from __future__ import annotations

from hangup.causes.catalog import CauseCatalog, Translation, default_catalog, load_catalog, parse_ref
from hangup.causes.model import Action, Cause
from hangup.taxonomy import EndedBy, Fault, Outcome

__all__ = [
    "Action",
    "Cause",
    "CauseCatalog",
    "EndedBy",
    "Fault",
    "Outcome",
    "Translation",
    "default_catalog",
    "load_catalog",
    "parse_ref",
]
