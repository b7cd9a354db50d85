"""The ingest pipeline after the fact: reclassification with a newer catalog, explanations, status."""

from __future__ import annotations

import dataclasses

from receiver_helpers import planet_query

from hangup import ingest
from hangup.causes import CauseCatalog, default_catalog
from hangup.providers.base import WebhookRequest
from hangup.providers.planet import PlanetProvider
from hangup.store.base import Store


def test_reclassify_applies_a_newer_catalog_to_stored_calls(fresh_store: Store) -> None:
    older = CauseCatalog([default_catalog().table("planet-terminate")])  # knows no call_end_reason yet
    record = PlanetProvider(older).parse(WebhookRequest("GET", "", planet_query(), received_at=1.0))
    assert record.cause == "planet-terminate:16" and "unknown_call_end_reason" in record.flags
    fresh_store.add_many([record])

    examined, changed = ingest.reclassify(fresh_store, {"planet": PlanetProvider(default_catalog())})

    stored = fresh_store.get(record.id)
    assert (examined, changed) == (1, 1) and stored is not None
    assert (stored.cause, stored.ended_by, stored.flags) == ("planet:1004", "caller", ())
    assert ingest.reclassify(fresh_store, {"planet": PlanetProvider(default_catalog())}) == (1, 0)


def test_calls_of_adapters_without_reclassify_use_their_cause_chain(fresh_store: Store) -> None:
    record = dataclasses.replace(
        PlanetProvider().parse(WebhookRequest("GET", "", planet_query(), received_at=1.0)),
        id="other-1", provider="other", provider_call_id="o-1", cause="nosuch:1", causes=("nosuch:1", "planet:1001"),
        outcome="unknown", reason="",
    )
    fresh_store.add_many([record])
    assert ingest.reclassify(fresh_store, {}) == (1, 1)
    stored = fresh_store.get("other-1")
    assert stored is not None and (stored.cause, stored.outcome) == ("planet:1001", "busy")


def test_explain_resolves_every_code_and_flag() -> None:
    record = PlanetProvider().parse(WebhookRequest("GET", "", planet_query(duration="29", terminate="17"),
                                                   received_at=1.0))
    detail = ingest.explain(record)
    assert [c["ref"] for c in detail["codes"]] == ["planet:1004", "planet-terminate:17"]
    assert {f["flag"]: bool(f["meaning"]) for f in detail["flags"]} == {
        "duration_mismatch": True, "duration_without_terminate_16": True}
    assert detail["status"]["ended_normally"] is True and detail["raw"] == record.raw
