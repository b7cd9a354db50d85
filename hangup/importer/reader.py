"""The reading process of a parallel import (``hangup.importer.parallel``).

``python -m hangup.importer.reader PATH FORMAT RECEIVED_AT BATCH_SIZE`` writes pickled batches to standard output.
"""

from __future__ import annotations

import sys

from hangup.importer.parallel import write_batches

if __name__ == "__main__":
    write_batches(sys.stdout.buffer, sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
