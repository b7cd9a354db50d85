"""SIP messages for dialog tests, built the way a caller, a proxy and a callee send them.

Three parties on one network: the caller (10.0.0.1), a stateful proxy (10.0.0.2) and the callee
(10.0.0.3). A message between the caller and the proxy carries one Via; the proxy's copy towards
the callee carries two (RFC 3261 §16.6), as in a capture taken on the proxy.
"""

from __future__ import annotations

from collections.abc import Sequence

from hangup.sip.packet import Packet

CALLER = ("10.0.0.1", 5060)
PROXY = ("10.0.0.2", 5060)
CALLEE = ("10.0.0.3", 5060)
CALL_ID = "3848276298220188511@10.0.0.1"
CALLER_TAG = "9fxced76sl"
CALLEE_TAG = "314159"


def sip(start: str, cseq: str, *, from_tag: str = CALLER_TAG, to_tag: str = "", vias: int = 1,
        branch: str = "z9hG4bK74bf9", headers: Sequence[str] = (), call_id: str = CALL_ID,
        caller_to_callee: bool | None = None) -> bytes:
    """One message; ``from_tag``/``to_tag`` as on the wire (a callee's request swaps them)."""
    swapped = caller_to_callee is False or (caller_to_callee is None and from_tag != CALLER_TAG)
    alice, bob = '"Alice" <sip:alice@atlanta.example.com>', "<sip:bob@biloxi.example.com>"
    from_uri, to_uri = (bob, alice) if swapped else (alice, bob)
    lines = [start]
    if vias == 2:
        lines.append(f"Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKproxy{branch[-4:]}")
    lines += [
        f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch={branch};rport",
        "Max-Forwards: 70",
        f"From: {from_uri};tag={from_tag}",
        f"To: {to_uri}" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq}",
        *headers,
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def packet(time: float, text: bytes, src: tuple[str, int] = CALLER, dst: tuple[str, int] = PROXY) -> Packet:
    return Packet(time, src[0], src[1], dst[0], dst[1], "udp", text)


def invite(cseq: int = 1, **kw: object) -> bytes:
    return sip("INVITE sip:bob@biloxi.example.com SIP/2.0", f"{cseq} INVITE", **kw)  # type: ignore[arg-type]


def response(status: int, phrase: str, cseq: str = "1 INVITE", to_tag: str = CALLEE_TAG, **kw: object) -> bytes:
    return sip(f"SIP/2.0 {status} {phrase}", cseq, to_tag=to_tag, **kw)  # type: ignore[arg-type]


def request(method: str, cseq: int, *, by_callee: bool = False, **kw: object) -> bytes:
    """An in-dialog request (ACK, BYE, re-INVITE, UPDATE) from the caller, or from the callee."""
    if by_callee:
        branch = str(kw.pop("branch", "z9hG4bKcallee"))
        return sip(f"{method} sip:alice@10.0.0.1 SIP/2.0", f"{cseq} {method}", from_tag=CALLEE_TAG,
                   to_tag=CALLER_TAG, branch=branch, **kw)  # type: ignore[arg-type]
    to_tag = kw.pop("to_tag", CALLEE_TAG)
    return sip(f"{method} sip:bob@10.0.0.3 SIP/2.0", f"{cseq} {method}", to_tag=str(to_tag),
               **kw)  # type: ignore[arg-type]


def cancel(cseq: int = 1, **kw: object) -> bytes:
    return sip("CANCEL sip:bob@biloxi.example.com SIP/2.0", f"{cseq} CANCEL", **kw)  # type: ignore[arg-type]
