"""The platform side: derive the call-event callback from call facts and deliver it through a durable outbox.

Public here: ``CallFacts``, ``ReleaseMethod``, ``CallEvent``, ``derive``. The outbox, delivery, simulator and
web routes are reached by submodule path (``hangup.emit.outbox``, ``hangup.emit.delivery`` …).
"""

from __future__ import annotations

from hangup.emit.callback import CALLBACK_KEYS, CallEvent
from hangup.emit.derive import derive
from hangup.emit.facts import CallFacts, ReleaseMethod, decode_facts, facts_from_dict

__all__ = ["CALLBACK_KEYS", "CallEvent", "CallFacts", "ReleaseMethod", "decode_facts", "derive", "facts_from_dict"]
