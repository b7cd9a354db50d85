from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from emit_helpers import Clock

from hangup.emit.outbox import SQLiteOutbox


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[SQLiteOutbox]:
    box = SQLiteOutbox(f"sqlite:///{tmp_path / 'emit.db'}")
    yield box
    box.close()
