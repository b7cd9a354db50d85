"""The reading process of a parallel import (``hangup.importer.parallel.ReadingProcess``).

``python -m hangup.importer.reader`` reads one request per line on standard input, a JSON array
``[PATH, FORMAT, RECEIVED_AT, BATCH_SIZE, STAGING_FOLDER or null, MINUTE_FLOOR or null, TIME_ZONE or null]``,
and writes each file's pickled batches to standard output (their rows in staging files in STAGING_FOLDER when
given, their rollup sums without minutes before MINUTE_FLOOR, times without an offset read in TIME_ZONE), then
``None``.
"""

from __future__ import annotations

import sys

from hangup.importer.parallel import serve

if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
