"""The reading process of a parallel import (``hangup.importer.parallel``).

``python -m hangup.importer.reader PATH FORMAT RECEIVED_AT BATCH_SIZE [STAGING_FOLDER]`` writes pickled
batches to standard output (their rows in staging files in STAGING_FOLDER when given).
"""

from __future__ import annotations

import sys

from hangup.importer.parallel import write_batches

if __name__ == "__main__":
    write_batches(sys.stdout.buffer, sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]),
                  sys.argv[5] if len(sys.argv) > 5 else None)
