"""The ingest pipeline: adapter (verify, parse and classify) → store, and what is derived from stored calls.

The web receiver, ``hangup ingest FILE``, ``hangup quarantine replay`` and ``hangup reclassify`` all go
through these functions, so a call is classified and stored the same way whichever door it came in by.
A request that breaks its platform's format is kept whole in the quarantine with the error it got.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import tzinfo
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs

from hangup.causes import CauseCatalog, default_catalog
from hangup.causes.actions import NO_OVERRIDES, ActionOverrides, call_action
from hangup.causes.classify import FLAGS, Evidence, classify, resolve
from hangup.errors import HTTPError, InvalidPayload
from hangup.providers.answered import DETECTION_PREFIX
from hangup.providers.base import Provider, WebhookRequest
from hangup.providers.draft import local_times, zone_named
from hangup.providers.registry import flag_meanings, kept_headers, zone_settings
from hangup.records import VERDICT_NAMES, CallRecord
from hangup.sip import verdict as sip_verdict
from hangup.store import detections
from hangup.store.base import AddResult, CallQuery, QuarantineEntry, Store
from hangup.store.detections import with_detection

MAX_QUARANTINE_BODY = 256 * 1024
MAX_KEPT_HEADER = 1024


def flag_meaning(flag: str) -> str:
    """What a flag says, from the classifier's and the adapters' own tables ("" for a flag neither knows)."""
    return FLAGS.get(flag) or flag_meanings().get(flag, "")


@dataclass(frozen=True, slots=True)
class Received:
    """What happened to one received event: the stored record and the store's answer; or, for a request that
    is no call's end, whether it was an answering-machine detection (kept) or ignored."""

    record: CallRecord | None
    result: AddResult | None
    detection: bool = False


def parse(provider: Provider, request: WebhookRequest, secrets: Mapping[str, str], *, verify: bool = True
          ) -> CallRecord | None:
    """Verify and parse one request; raises ``HTTPError`` subclasses for anything to reject."""
    if verify:
        provider.verify(request, secrets)
    zone = post_zone(provider, request, secrets)
    if zone is None:
        return provider.parse(request)
    with local_times(zone):
        return provider.parse(request)


#: The query parameter a post names its switch's time zone with (``/callbacks/freeswitch?timezone=Europe/Paris``):
#: switches in several zones posting to one hangup each get a URL of their own.
ZONE_PARAMETER = "timezone"


def post_zone(provider: Provider, request: WebhookRequest, secrets: Mapping[str, str]) -> tzinfo | None:
    """The zone of the times a post writes without an offset, for a platform whose posts write local times
    (``zone_setting``): the post's own ``timezone`` query parameter, else the platform's setting; ``None``
    for UTC. A parameter that names no zone is refused (400 naming it), as the setting is at start-up."""
    setting = f"{provider.name}_timezone"
    if setting not in zone_settings():
        return None
    asked = parse_qs(request.query).get(ZONE_PARAMETER, [""])[-1].strip() if request.query else ""
    name = asked or secrets.get(setting, "")
    if not name:
        return None
    try:
        return zone_named(name)
    except ValueError as exc:
        raise InvalidPayload(f"{provider.name}: the post's time zone is not known",
                             details=[{"field": ZONE_PARAMETER, "error": str(exc)}]) from None


async def receive(provider: Provider, request: WebhookRequest, store: Store, secrets: Mapping[str, str]
                  ) -> Received:
    """The receiver's path: parse, then store durably (returns after COMMIT)."""
    return await store_parsed(provider, request, parse(provider, request, secrets), store)


async def store_parsed(provider: Provider, request: WebhookRequest, record: CallRecord | None, store: Store
                       ) -> Received:
    """Store what ``parse`` read from ``request``, as every door stores it (returns after COMMIT): a call's end
    (``store_call``), else the request's answering-machine detection (``keep_detection``), else nothing."""
    if record is not None:
        return Received(*await store_call(provider, record, store))
    return Received(None, None, await keep_detection(provider, request, store))


async def keep_detection(provider: Provider, request: WebhookRequest, store: Store) -> bool:
    """Keep an answering-machine detection reported in a request of its own (the adapter's optional
    ``detection``: the call id and its native fields), and apply it to its call if the call's end was stored
    already (``hangup.store.detections``); True when it was one. Returns after COMMIT."""
    read = getattr(provider, "detection", None)
    found = read(request) if read is not None else None
    if found is None:
        return False
    call_id, fields = found
    await store.write_with_hooks(lambda conn, hooks: detections.keep(
        conn, provider.name, call_id, fields, request.received_at, hooks))
    return True


async def store_call(provider: Provider, record: CallRecord, store: Store) -> tuple[CallRecord, AddResult]:
    """Store a call's end durably; the call as stored and the store's answer. The end of a platform that
    reports detections on their own is joined with the detection kept for its call in the transaction that
    stores it (``hangup.store.detections.joined``), so a detection racing its end is not lost."""
    if getattr(provider, "detection", None) is None:
        return record, await store.add(record)
    return await store.add_joined(record, detections.joined)


def quarantine_entry(provider: str, request: WebhookRequest, path: str, error: HTTPError,
                     max_bytes: int = MAX_QUARANTINE_BODY) -> QuarantineEntry:
    """The entry kept of a rejected request: query and body together at most ``max_bytes`` (each kept
    header at most ``MAX_KEPT_HEADER``). What is cut is described in the entry's ``error["received"]``: the
    request's query and body lengths and the body's SHA-256, so the original can still be recognised."""
    kept = kept_headers()  # the common ones and every adapter's signature headers
    headers = {k: v[:MAX_KEPT_HEADER] for k, v in request.headers.items() if k in kept}
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
#: How calls of sources that are not webhook adapters are classified again: SIP signalling (HEP, captures,
#: traces, acc records) keeps who ended the call in the record, not in a platform's body.
WITHOUT_ADAPTER: Mapping[str, Callable[[CallRecord], CallRecord | None]] = {
    sip_verdict.PROVIDER: sip_verdict.reclassify,
}


def reclassify_record(record: CallRecord, providers: Mapping[str, Provider], catalog: CauseCatalog) -> CallRecord:
    """The record classified again: its adapter reads its ``raw`` again when it can (so what the adapter knew,
    such as who hung up, is kept); else its stored cause references go through the classifier."""
    adapter = providers.get(record.provider)
    reread: Callable[[CallRecord], CallRecord | None] | None = getattr(adapter, "reclassify", None)
    reread = reread or WITHOUT_ADAPTER.get(record.provider)
    if reread is not None:
        fresh = reread(record)
        # a raw that no longer reads as this call end keeps the stored classification
        if fresh is None or fresh.id != record.id:
            return record
        return with_detection(fresh, {k: v for k, v in record.extra.items() if k.startswith(DETECTION_PREFIX)})
    verdict = classify(Evidence(chain=tuple(dict.fromkeys(r for r in (record.cause, *record.causes) if r)),
                                answered=record.answered), catalog)
    if not resolve(verdict.cause, catalog).known:
        return record
    # the stored codes and flags stay: only what the catalog derives from them is read again
    return replace(record, **verdict._replace(causes=record.causes, flags=record.flags)._asdict())


def changed(old: CallRecord, new: CallRecord) -> bool:
    """Whether reclassifying changed a ``Verdict[…]`` field: the classifier's verdict, who answered, the route or
    the numbers (derived again with the route map and numbering regions in force now)."""
    return any(getattr(old, f) != getattr(new, f) for f in VERDICT_NAMES)


def reclassify(store: Store, providers: Mapping[str, Provider], catalog: CauseCatalog | None = None,
               records: Iterable[CallRecord] | None = None, batch: int = 500) -> tuple[int, int]:
    """Classify stored calls again; return (calls examined, calls changed).

    Each call's adapter reads its ``raw`` again with the adapter's catalog (the default one); ``catalog``
    classifies the calls of adapters that cannot (not registered, or without ``reclassify``). Only the
    ``Verdict`` fields are rewritten, and only on calls whose verdict changed."""
    catalog = catalog or default_catalog()
    examined = updated = 0
    pending: list[CallRecord] = []
    for record in records if records is not None else store.iter_calls(CallQuery()):
        examined += 1
        try:
            fresh = reclassify_record(record, providers, catalog)
        except (HTTPError, ValueError, TypeError, KeyError):
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
#: The keys of ``status`` that show a record field, and the field each shows (the OpenAPI schema's list too).
STATUS_FIELDS: Mapping[str, str] = MappingProxyType({
    "sid": "id", "provider": "provider", "provider_call_id": "provider_call_id", "ended_normally": "normal",
    "outcome": "outcome", "ended_by": "ended_by", "fault": "fault", "reason": "reason", "cause": "cause",
    "answered": "answered", "answered_by": "answered_by", "duration": "duration", "flags": "flags",
})


def status(record: CallRecord, overrides: ActionOverrides = NO_OVERRIDES) -> dict[str, Any]:
    """The short answer to "did this call end normally, why did it end, and what now?".

    ``action`` is worked out now from the stored causes and ``overrides`` (``hangup.causes.actions``).
    """
    action = call_action(record, overrides)
    shown = {key: getattr(record, name) for key, name in STATUS_FIELDS.items()}
    return {**shown, "flags": list(record.flags), "action": action["action"], "action_from": action["from"]}


def explain(record: CallRecord, catalog: CauseCatalog | None = None,
            overrides: ActionOverrides = NO_OVERRIDES) -> dict[str, Any]:
    """The call, its classification, what to do next, its flags and every code it carried, explained."""
    catalog = catalog or default_catalog()
    action = call_action(record, overrides, catalog)
    return {
        "call": {**record.to_json(), "action": action["action"]},
        "status": status(record, overrides),
        "action": action,
        "flags": [{"flag": f, "meaning": flag_meaning(f)} for f in record.flags],
        "codes": [resolve(ref, catalog).to_json() for ref in dict.fromkeys((record.cause, *record.causes)) if ref],
        "raw": record.raw,
    }
