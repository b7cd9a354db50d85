"""hangup: why did this call end, and what does that say about my service?

The public API is this short list; everything else is reached by submodule path. ``open_store`` and
``create_app`` are imported on first use, so ``import hangup`` stays light (no web framework, no store
back end) for code that only explains release codes.
"""

from __future__ import annotations

import importlib
import typing

from hangup import native  # noqa: F401  # first: decides whether the compiled modules are current
from hangup.causes import Cause, CauseCatalog, default_catalog
from hangup.errors import CatalogError, HangupError, HTTPError, InvalidPayload, PayloadError
from hangup.records import CallRecord

if typing.TYPE_CHECKING:
    from hangup.composition import open_store
    from hangup.web.app import create_app

__version__ = "0.1.0"

#: Public names imported on first access: name -> module defining it.
_LAZY: dict[str, str] = {"open_store": "hangup.composition", "create_app": "hangup.web.app"}

__all__ = [
    "CallRecord",
    "CatalogError",
    "Cause",
    "CauseCatalog",
    "HTTPError",
    "HangupError",
    "InvalidPayload",
    "PayloadError",
    "__version__",
    "create_app",
    "default_catalog",
    "open_store",
]


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hangup' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
