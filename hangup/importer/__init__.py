"""Bulk import of call records from files (``hangup import``) and their export (``hangup export``).

``formats`` reads each supported file format through the platform adapters; ``run`` streams files
into a store in batches with dedup and a rejects file; ``canonical`` reads hangup's own export back;
``export`` writes the call log as JSON Lines, CSV or Parquet.
"""

from __future__ import annotations

from hangup.importer.formats import READERS
from hangup.importer.run import Importer, ImportSummary, guess_format

__all__ = ["READERS", "ImportSummary", "Importer", "guess_format"]
