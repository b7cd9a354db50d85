"""Where alert transitions go: a JSON POST to the rule's webhook, and the log either way."""

from __future__ import annotations

import logging

import httpx

from hangup.alerts.engine import AlertEvent

log = logging.getLogger("hangup.alerts")
TIMEOUT = 5.0


class WebhookNotifier:
    """POSTs each event as JSON to its rule's webhook; a failed delivery is logged, never raised."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(timeout=TIMEOUT)
        self.sent: list[AlertEvent] = []

    def __call__(self, event: AlertEvent) -> None:
        if not event.rule.webhook:
            return
        try:
            response = self.client.post(event.rule.webhook, json=event.to_json())
            response.raise_for_status()
            self.sent.append(event)
        except httpx.HTTPError as exc:
            log.error("alert %s: webhook %s failed: %s", event.rule.name, event.rule.webhook, exc)

    def close(self) -> None:
        self.client.close()
