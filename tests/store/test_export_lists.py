"""List cells of the CSV export (causes, flags): joined unambiguously and read back, old cells included."""

from __future__ import annotations

import pytest

from hangup.store.export import LIST_SEPARATOR, join_list, split_list

LISTS = [
    (),
    ("plivo:4000",),
    ("plivo:3010", "freeswitch:17", "plivo-source:Call recipient"),
    ("plivo-source:API Request", "plivo-source:Answer XML"),
    ("unknown_call_end_reason", "answered_without_start"),
]


@pytest.mark.parametrize("items", LISTS)
def test_joined_lists_read_back_unchanged(items: tuple[str, ...]) -> None:
    assert split_list(join_list(items)) == items


@pytest.mark.parametrize("items", LISTS)
def test_space_joined_cells_of_earlier_exports_still_read(items: tuple[str, ...]) -> None:
    assert split_list(" ".join(items)) == items


def test_the_separator_is_in_no_catalog_reference() -> None:
    from hangup.causes import default_catalog

    catalog = default_catalog()
    refs = [cause.ref for scheme in catalog.schemes for cause in catalog.entries(scheme)]
    assert refs and not any(LIST_SEPARATOR in ref for ref in refs)
