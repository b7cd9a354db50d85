"""``python -m hangup`` runs the command line."""

from __future__ import annotations

from hangup.cli import main

if __name__ == "__main__":
    main()
