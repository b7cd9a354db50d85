"""The ingest pipeline: adapter (verify, parse and classify) → store, and what is derived from stored calls.

The web receiver, ``hangup ingest FILE``, ``hangup quarantine replay`` and ``hangup reclassify`` all go
through these functions, so a call is classified and stored the same way whichever door it came in by.
A request that breaks its platform's format is kept whole in the quarantine with the error it got.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from hangup.causes import Cause, CauseCatalog, Outcome, default_catalog
from hangup.errors import CatalogError, HTTPError
from hangup.providers import planet
from hangup.providers.base import Provider, WebhookRequest
from hangup.records import CallRecord
from hangup.store.base import AddResult, CallQuery, QuarantineEntry, Store

#: Request headers kept with a quarantined request (others may carry credentials or are noise).
KEPT_HEADERS = frozenset(
    {
        "content-type", "content-length", "user-agent", "host", "x-forwarded-for", "x-real-ip",
        "x-plivo-signature-v3", "x-plivo-signature-v3-nonce", "x-twilio-signature", "telnyx-signature-ed25519",
        "telnyx-timestamp",
    }
)
MAX_QUARANTINE_BODY = 256 * 1024
MAX_KEPT_HEADER = 1024

#: Meanings of flags, for explanations (adapters may add flags this table does not know).
FLAG_MEANINGS: Mapping[str, str] = {**planet.FLAGS}


@dataclass(frozen=True, slots=True)
class Received:
    """What happened to one received event: the stored record and the store's answer, or ignored."""

    record: CallRecord | None
    result: AddResult | None


def parse(provider: Provider, request: WebhookRequest, secrets: Mapping[str, str], *, verify: bool = True
          ) -> CallRecord | None:
    """Verify and parse one request; raises ``HTTPError`` subclasses for anything to reject."""
    if verify:
        provider.verify(request, secrets)
    return provider.parse(request)


async def receive(provider: Provider, request: WebhookRequest, store: Store, secrets: Mapping[str, str]
                  ) -> Received:
    """The receiver's path: parse, then store durably (returns after COMMIT)."""
    record = parse(provider, request, secrets)
    if record is None:
        return Received(None, None)
    return Received(record, await store.add(record))


def quarantine_entry(provider: str, request: WebhookRequest, path: str, error: HTTPError,
                     max_bytes: int = MAX_QUARANTINE_BODY) -> QuarantineEntry:
    """The entry kept of a rejected request: query and body together at most ``max_bytes`` (each kept
    header at most ``MAX_KEPT_HEADER``). What is cut is described in the entry's ``error["received"]``: the
    request's query and body lengths and the body's SHA-256, so the original can still be recognised."""
    headers = {k: v[:MAX_KEPT_HEADER] for k, v in request.headers.items() if k in KEPT_HEADERS}
    query = request.query[:max_bytes]
    body = request.body[: max_bytes - len(query)]
    answered = error.to_json()
    if len(query) < len(request.query) or len(body) < len(request.body):
        answered["received"] = {"query_bytes": len(request.query), "body_bytes": len(request.body),
                                "body_sha256": hashlib.sha256(request.body).hexdigest()}
    return QuarantineEntry(
        id=0, received_at=request.received_at or time.time(), provider=provider, method=request.method,
        path=path, query=query, body=body, headers=headers, client=request.client, status=error.status,
        error=answered,
    )


def is_truncated(entry: QuarantineEntry) -> bool:
    """Whether the entry keeps only part of its request (``quarantine_entry``): it cannot be replayed."""
    return "received" in entry.error


def request_of(entry: QuarantineEntry, public_url: str = "") -> WebhookRequest:
    """The quarantined request as the adapter saw it (for replay); the URL is rebuilt as the receiver did."""
    base = public_url.rstrip("/") if public_url else f"http://{entry.headers.get('host', '')}"
    url = f"{base}{entry.path}" + (f"?{entry.query}" if entry.query else "")
    return WebhookRequest(
        method=entry.method, url=url, query=entry.query, body=entry.body, headers=entry.headers,
        received_at=entry.received_at, client=entry.client,
    )


# -- classification after the fact ---------------------------------------------------------
def _resolve(catalog: CauseCatalog, ref: str) -> Cause:
    try:
        return catalog.resolve(ref)
    except CatalogError:
        scheme, _, key = ref.partition(":")
        return Cause.unknown(scheme, key)


def primary_cause(record: CallRecord, catalog: CauseCatalog) -> Cause:
    """The first cause of the record's chain the catalog knows with a definite outcome."""
    chain = [r for r in (record.cause, *record.causes) if r]
    causes = [_resolve(catalog, r) for r in chain]
    for cause in causes:
        if cause.known and cause.outcome != Outcome.UNKNOWN:
            return cause
    return causes[0] if causes else Cause.unknown("none", "")


def reclassify_record(record: CallRecord, providers: Mapping[str, Provider], catalog: CauseCatalog) -> CallRecord:
    """The record classified with the current catalog: by its adapter when it can, else from its causes."""
    adapter: Any = providers.get(record.provider)
    if adapter is not None and hasattr(adapter, "reclassify"):
        fresh: CallRecord = adapter.reclassify(record)
        return fresh
    cause = primary_cause(record, catalog)
    if not cause.known:
        return record
    return replace(
        record, cause=cause.ref, outcome=str(cause.outcome), ended_by=str(cause.ended_by), fault=str(cause.fault),
        normal=cause.normal, reason=cause.description, q850=cause.q850, sip=cause.sip,
    )


def changed(old: CallRecord, new: CallRecord) -> bool:
    fields = ("cause", "causes", "outcome", "ended_by", "fault", "normal", "reason", "q850", "sip", "flags")
    return any(getattr(old, f) != getattr(new, f) for f in fields)


def reclassify(store: Store, providers: Mapping[str, Provider], catalog: CauseCatalog | None = None,
               records: Iterable[CallRecord] | None = None, batch: int = 500) -> tuple[int, int]:
    """Re-apply the catalog to stored calls; return (calls examined, calls changed)."""
    catalog = catalog or default_catalog()
    examined = updated = 0
    pending: list[CallRecord] = []
    for record in records if records is not None else store.iter_calls(CallQuery()):
        examined += 1
        try:
            fresh = reclassify_record(record, providers, catalog)
        except HTTPError:
            continue  # a raw request today's adapter rejects keeps its stored classification
        if changed(record, fresh):
            pending.append(fresh)
        if len(pending) >= batch:
            updated += store.replace_classification(pending)
            pending = []
    if pending:
        updated += store.replace_classification(pending)
    return examined, updated


# -- what the API and CLI show ----------------------------------------------------------------
def status(record: CallRecord) -> dict[str, Any]:
    """The short answer to "did this call end normally, and why did it end?"."""
    return {
        "sid": record.id,
        "provider": record.provider,
        "provider_call_id": record.provider_call_id,
        "ended_normally": record.normal,
        "outcome": record.outcome,
        "ended_by": record.ended_by,
        "fault": record.fault,
        "reason": record.reason,
        "cause": record.cause,
        "answered": record.answered,
        "duration": record.duration,
        "flags": list(record.flags),
    }


def explain(record: CallRecord, catalog: CauseCatalog | None = None) -> dict[str, Any]:
    """The call, its classification, its flags and every code it carried, explained by the catalog."""
    catalog = catalog or default_catalog()
    return {
        "call": record.to_json(),
        "status": status(record),
        "flags": [{"flag": f, "meaning": FLAG_MEANINGS.get(f, "")} for f in record.flags],
        "codes": [_resolve(catalog, ref).to_json() for ref in dict.fromkeys((record.cause, *record.causes)) if ref],
        "raw": record.raw,
    }
