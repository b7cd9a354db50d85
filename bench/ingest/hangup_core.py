"""hangup's receiver without the app's lifespan hooks (statistics rollups, metrics, emitter, demo, alerts).

Not a way to run hangup: it shows what the receiver and store cost on their own, next to ``hangup`` as
served, so the share of the write hooks is visible. Usage: ``python bench/ingest/hangup_core.py PORT DB_URL``.
"""

from __future__ import annotations

import sys

import uvicorn

from hangup.cli.serve import UVICORN_OPTIONS
from hangup.settings import load_settings
from hangup.web import app as web_app


def main() -> None:
    port, db = int(sys.argv[1]), sys.argv[2]
    web_app.LIFESPAN_HOOKS.clear()
    application = web_app.create_app(load_settings({"HANGUP_DB": db}))
    uvicorn.run(application, host="127.0.0.1", port=port, **UVICORN_OPTIONS)


if __name__ == "__main__":
    main()
