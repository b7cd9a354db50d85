"""docs/taxonomy.md stays honest: every taxonomy value is explained and the vocabulary table counts are right."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hangup.causes import EndedBy, Fault, Outcome, default_catalog

DOC = (Path(__file__).parents[2] / "docs" / "taxonomy.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("value", [*Outcome, *EndedBy, *Fault], ids=str)
def test_every_taxonomy_value_is_documented(value: str) -> None:
    assert f"`{value}`" in DOC


def test_vocabulary_table_counts_match_the_catalog() -> None:
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| `[a-z0-9-]+\.csv` \| .* \| (\d+) \|$", DOC, re.M)
    assert len(rows) == 9
    for scheme, count in rows:
        assert len(list(default_catalog().entries(scheme))) == int(count), scheme
