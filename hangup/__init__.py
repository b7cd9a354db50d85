"""hangup: why did this call end, and what does that say about my service?

The public API is this short list; everything else is reached by submodule path.
"""

from __future__ import annotations

from hangup.causes import Cause, CauseCatalog, default_catalog
from hangup.errors import CatalogError, HangupError, HTTPError, InvalidPayload, PayloadError
from hangup.records import CallRecord

__version__ = "0.1.0"

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
    "default_catalog",
]
