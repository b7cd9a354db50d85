"""SIP signalling in, classified calls out.

``packet.Packet`` is one captured SIP message; ``dialogs.DialogEngine`` follows INVITE dialogs and
returns a ``CallRecord`` for each finished call. The sources (HEP, packet captures, plain-text traces,
Kamailio/OpenSIPS ``acc`` records) each turn their input into packets or records.
"""

from __future__ import annotations
