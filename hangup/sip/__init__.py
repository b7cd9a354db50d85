"""SIP signalling in, classified calls out.

=============== ==========================================================================================
module          concept
=============== ==========================================================================================
``packet``      ``Packet``: one captured SIP message with its time, addresses and transport
``message``     parsing one SIP message (RFC 3261 §7, compact forms, comma lists, RFC 3326 ``Reason``)
``dialog``      the state of one INVITE dialog and what each message does to it
``dialogs``     ``DialogEngine``: matching messages to dialogs, waits, orphans, memory bounds
``proxy``       endings a proxy made itself (its timers' replies, its BYEs), told from its two sides
``verdict``     a finished dialog as a ``CallRecord``: the cause chain and its precedence
``hep``         HEP v1/v2/v3 decoding (and encoding, as capturing SIP elements send it)
``listener``    the HEP listener of ``hangup serve --hep`` (UDP and TCP), its quarantine and saved state
``trace``       ``hangup import`` of plain-text traces (sngrep, ngrep)
``acc``         ``hangup import`` of Kamailio/OpenSIPS ``acc`` syslog lines and table exports
``pcap``        ``hangup import`` of packet captures (``capture/`` reads them down to packets)
=============== ==========================================================================================

How a dialog becomes a verdict, rule by rule, is in ``docs/sip.md``.
"""

from __future__ import annotations
