"""Endings a proxy made itself, told from the signalling when the capture shows both of its sides.

A stateful proxy relays the final response it chose among those its branches received (RFC 3261
§16.7), but it also answers on its own: when its Timer C runs out on a branch that sent a provisional
response it CANCELs the branch (§16.8, §9.1) and, with no final response to relay, answers the caller
408 (Kamailio's ``fr_inv_timer``); when a branch never answered at all its client transaction times out
(Timer B, §17.1.1.2) and it behaves as if the branch had answered 408 (§16.8); when it cannot send the
INVITE on (a TCP connection refused) it answers as if the branch had answered 503 (§16.9). On the
caller's hop each of these looks like any relayed reply. What tells them apart is the proxy's other
side, when the capture holds it:

========================  =====================================================================
kind                      the caller's hop got a final response ≥ 400 while …
========================  =====================================================================
``no_answer``             … a branch of the proxy got a provisional response and no final one
                          (Timer C ran out; the proxy CANCELs the branch, after or before its reply)
``no_response``           … a branch got no response at all (the branch's transaction timed out)
``not_forwarded``         … no INVITE left the proxy, whose forwarding the capture has shown for
                          other calls (a relay failure, or the proxy's own refusal)
``replaced``              … every branch got a final response, none of that code (the proxy's own
                          choice; a 500 relaying a branch's 503 is a relay, §16.7 step 6)
``lifetime``              an answered call ended by BYEs the proxy sent itself (its dialog timeout)
========================  =====================================================================

The proxy's branches are the INVITEs with one Via more than the caller's, told apart by their top Via's
branch parameter, which the responses of each branch carry back (§16.6 step 8, §16.7). Only the proxy
nearest the caller is judged. A capture that shows only the caller's hop, or a proxy never seen
forwarding, gives nothing: the verdict stays what the reply says.
"""

from __future__ import annotations

from collections.abc import Container
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hangup.sip.dialog import Dialog, Ending

NO_ANSWER, NO_RESPONSE, NOT_FORWARDED, REPLACED, LIFETIME = (
    "no_answer", "no_response", "not_forwarded", "replaced", "lifetime")
#: A proxy relays a branch's 503 upstream as 500 (RFC 3261 §16.7 step 6): still a relay.
RELAYED_AS = {500: 503}
#: ``extra`` keys of what was inferred.
GENERATED_BY, PROXY_ENDING = "generated_by", "proxy_ending"


def proxy_ending(dialog: Dialog, ending: Ending, forwarders: Container[tuple[str, int]]) -> str | None:
    """The kind of ending the proxy nearest the caller made itself (module docstring), or ``None``.

    ``forwarders`` are the addresses that, in this capture, received a caller's INVITE and sent it on.
    """
    if ending.how == "BYE":
        return LIFETIME if ending.by == "platform" else None
    if ending.how != "response" or ending.by is not None or ending.code < 400 or ending.code in (401, 407):
        return None
    latest = max(dialog.initial_cseqs, default=0)
    branches = [b for b in dialog.branches.values() if b.vias == dialog.min_vias + 1 and b.cseq == latest]
    if not branches:
        return NOT_FORWARDED if dialog.entry is not None and dialog.entry in forwarders else None
    finals = {b.status for b in branches if b.status >= 200}
    if ending.code in finals or RELAYED_AS.get(ending.code) in finals:
        return None
    if any(100 <= b.status < 200 for b in branches):
        return NO_ANSWER
    if any(b.status == 0 for b in branches):
        return NO_RESPONSE
    return REPLACED
