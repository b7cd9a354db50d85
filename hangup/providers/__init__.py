"""Platform adapters: the contract, the record builder, and one module per platform.

What an adapter is made of is public here; the adapters themselves are reached by submodule path
(``hangup.providers.plivo``), and the registry (``hangup.providers.registry``) lists them. Writing an
adapter, in or outside hangup, is described in docs/providers.md.
"""

from __future__ import annotations

from hangup.providers.base import Provider, SettingRow, WebhookRequest
from hangup.providers.draft import RecordDraft

__all__ = ["Provider", "RecordDraft", "SettingRow", "WebhookRequest"]
