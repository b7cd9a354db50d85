"""Real calls through the shipped Kamailio configuration to a running ``hangup serve``, one verdict per call.

sipp plays the caller and the callee on loopback; Kamailio (``deploy/kamailio/kamailio.cfg`` with its
timers lowered through defines) relays every call and reports its end to ``/callbacks/kamailio``. The
module fixture runs every case of ``CASES`` once, in order, then each test reads what arrived. A run of
the whole file takes about 50 s on a 2-core machine.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kamailio_lab import (
    ROOT,
    SCENARIOS,
    Capture,
    Hangup,
    Kamailio,
    Sipp,
    finish,
    free_port,
    tools_or_skip,
    wait_until,
)

from hangup.records import CallRecord, call_id_for
from hangup.store import open_store
from hangup.store.base import CallQuery, Store

pytestmark = pytest.mark.slow

#: Test timers (ms, s): no reply → 408 after 1 s, ringing → 408 after 2 s, an answered call lasts at most 3 s.
DEFINES = ("FR_TIMER=1000", "FR_INV_TIMER=2000", "DIALOG_TIMEOUT=3", "RETRY_INTERVAL=1")


@dataclass(frozen=True)
class Case:
    """One call: the callee's and the caller's scenario, and the verdict hangup must give."""

    name: str
    callee: str | None  # scenario file, "reject:CODE:PHRASE[:REASON|REASON…]", or None (nothing listens)
    caller: str
    expect: dict[str, Any]
    callee_args: tuple[str, ...] = ()
    caller_args: tuple[str, ...] = ()
    proxy: str = "main"  # which Kamailio relays it

    @property
    def call_id(self) -> str:
        return f"{self.name}-1@e2e"


def _verdict(outcome: str, ended_by: str, cause: str, sip: int, q850: int | None = None,
             **more: Any) -> dict[str, Any]:
    return {"outcome": outcome, "ended_by": ended_by, "cause": cause, "sip": sip,
            **({"q850": q850} if q850 is not None else {}), **more}


TALK = ("-d", "400")
CASES = [
    Case("caller_bye", "uas_answer.xml", "uac_caller_bye.xml", _verdict("completed", "caller", "q850:16", 200, 16),
         caller_args=TALK),
    Case("callee_bye", "uas_bye.xml", "uac_callee_bye.xml", _verdict("completed", "callee", "q850:16", 200, 16),
         callee_args=TALK),
    Case("busy_486", "reject:486:Busy Here", "uac_fail.xml", _verdict("busy", "callee", "sip:486", 486, 17)),
    Case("unavailable_480", "reject:480:Temporarily Unavailable", "uac_fail.xml",
         _verdict("no_answer", "callee", "sip:480", 480)),
    # the callee's own ring timer, as FreeSWITCH reports it: 480 with the Q.850 cause "no answer"
    Case("ring_timeout", 'reject:480:Temporarily Unavailable:Q.850;cause=19;text="NO_ANSWER"', "uac_fail.xml",
         _verdict("no_answer", "callee", "q850:19", 480, 19)),
    Case("caller_cancel", "uas_noanswer.xml", "uac_cancel.xml", _verdict("canceled", "caller", "sip:487", 487),
         caller_args=TALK),
    Case("cancel_elsewhere", "uas_noanswer.xml", "uac_cancel_reason.xml",
         _verdict("canceled", "caller", "sip:487", 487, causes=["sip:487", "sip:200"]), caller_args=TALK),
    # two Reason headers on one reply: both reach the verdict, the Q.850 one first
    Case("busy_two_reasons", 'reject:486:Busy Here:Q.850;cause=17;text="User busy"|SIP;cause=486', "uac_fail.xml",
         _verdict("busy", "callee", "q850:17", 486, 17, causes=["q850:17", "sip:486"])),
    Case("decline_603", "reject:603:Decline", "uac_fail.xml", _verdict("rejected", "callee", "sip:603", 603)),
    Case("not_found_404", "reject:404:Not Found", "uac_fail.xml", _verdict("unreachable", "carrier", "sip:404", 404)),
    Case("unavailable_503", "reject:503:Service Unavailable", "uac_fail.xml",
         _verdict("failed", "carrier", "sip:503", 503)),
    Case("bye_reason_q850", "uas_answer.xml", "uac_caller_bye_reason.xml",
         _verdict("busy", "caller", "q850:17", 200, 17, flags=["answered_but_busy"]), caller_args=TALK),
    Case("challenge_407", "uas_auth.xml", "uac_auth.xml", _verdict("completed", "caller", "q850:16", 200),
         caller_args=(*TALK, "-au", "alice", "-ap", "secret")),
    Case("reinvite", "uas_reinvite.xml", "uac_reinvite.xml", _verdict("completed", "caller", "q850:16", 200),
         caller_args=TALK),
    # the proxy's own endings
    Case("proxy_no_answer_timer", "uas_noanswer.xml", "uac_fail.xml",
         _verdict("no_answer", "platform", "q850:19", 408, 19)),
    Case("proxy_nothing_listening", None, "uac_fail.xml", _verdict("unreachable", "platform", "sip:408", 408)),
    Case("proxy_tcp_refused", None, "uac_fail.xml", _verdict("failed", "platform", "sip:503", 503), proxy="tcp"),
    Case("proxy_dialog_timeout", "uas_answer_lifetime.xml", "uac_proxy_bye.xml",
         _verdict("failed", "platform", "q850:102", 200)),
]
#: Calls made while hangup is stopped.
DOWN_CALLS = 3
#: The call whose event is still queued when Kamailio stops.
RESTART_CALL = "restart-1@e2e"


@dataclass
class Run:
    """What one run of every case left behind."""

    workdir: Path
    hangup: Hangup
    proxies: dict[str, Kamailio]
    exit_codes: dict[str, tuple[int, int]] = field(default_factory=dict)  # case → (caller, callee)
    capture: Path | None = None  # tcpdump's recording of the cases' SIP traffic

    def record(self, call_id: str, provider: str = "kamailio") -> CallRecord | None:
        store = open_store(f"sqlite:///{self.hangup.db}")
        try:
            return store.get(call_id_for(provider, call_id))
        finally:
            store.close()

    def log(self) -> str:
        return "".join(proxy.text() for proxy in self.proxies.values())


def _reject(workdir: Path, spec: str) -> Path:
    """A callee scenario answering ``CODE PHRASE`` (and a ``Reason`` header when the spec has one)."""
    _, code, phrase, *reason = spec.split(":", 3)
    path = workdir / f"uas_{code}_{len(reason)}.xml"
    reason_line = "".join(f"\n      Reason: {value}" for value in reason[0].split("|")) if reason else ""
    path.write_text((SCENARIOS / "uas_reject.xml.in").read_text().replace("{code}", code)
                    .replace("{phrase}", phrase).replace("{reason}", reason_line))
    return path


def _call(run: Run, sipp: Sipp, case: Case, count: int = 1) -> tuple[int, int]:
    """``count`` calls of one case (Call-IDs ``<name>-<n>@e2e``); the exit codes of caller and callee."""
    callee_rc = 0
    callee = None
    if case.callee is not None:
        scenario = _reject(run.workdir, case.callee) if case.callee.startswith("reject:") else SCENARIOS / case.callee
        args = case.callee_args or (("-d", "300") if case.callee.startswith("reject:") else ())
        callee = sipp.callee(scenario, (*args, "-m", str(count)))
    proxy = run.proxies[case.proxy]
    try:
        caller_rc = sipp.caller(SCENARIOS / case.caller, "bob", f"{case.name}-%u@e2e",
                                (*case.caller_args, "-m", str(count), "-r", "10"),
                                f"{proxy.address[0]}:{proxy.address[1]}")
    finally:
        if callee is not None:
            callee_rc = finish(callee)
    return caller_rc, callee_rc


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tools_or_skip()
    workdir = tmp_path_factory.mktemp("kamailio-e2e")
    hep_port = free_port()
    hangup = Hangup(workdir, free_port(socket.SOCK_STREAM), "--hep", f"127.0.0.1:{hep_port}")
    url = f"{hangup.url}/callbacks/kamailio"
    uas_port, uac_port, dead_port = free_port(), free_port(), free_port()
    main_port, tcp_port = free_port(), free_port()
    defines = (*DEFINES, f'HEP_URI="sip:127.0.0.1:{hep_port}"')
    proxies = {
        "main": Kamailio(workdir, "main", f"udp:127.0.0.1:{main_port}", f"sip:127.0.0.1:{uas_port}", url, defines),
        "tcp": Kamailio(workdir, "tcp", f"udp:127.0.0.1:{tcp_port}", f"sip:127.0.0.1:{dead_port};transport=tcp",
                        url, (*defines, f"LISTEN_TCP=tcp:127.0.0.1:{tcp_port}")),
    }
    result = Run(workdir, hangup, proxies)
    sipp = Sipp(workdir, uas_port, uac_port)
    capture = Capture(workdir, (uas_port, uac_port, dead_port, main_port, tcp_port))
    try:
        hangup.start()
        for proxy in proxies.values():
            proxy.start()
        capture.start()
        for case in CASES:
            result.exit_codes[case.name] = _call(result, sipp, case)
        for case in CASES:
            wait_until(lambda c=case: result.record(c.call_id) is not None, 15, f"the event of {case.name}")
            wait_until(lambda c=case: result.record(c.call_id, "sip") is not None, 15, f"{case.name} through HEP")
        capture.drain()
        capture.stop()
        result.capture = capture.path
        _receiver_down(result, sipp)
        _kamailio_restart(result, sipp)
        yield result
    finally:
        capture.stop()
        for proxy in proxies.values():
            proxy.stop()
        hangup.stop()


def _receiver_down(run: Run, sipp: Sipp) -> None:
    """Stop hangup, make calls, start it again: Kamailio's retry queue delivers every one of them."""
    run.hangup.stop()
    case = Case("down", "uas_answer.xml", "uac_caller_bye.xml", {}, caller_args=("-d", "200"))
    run.exit_codes["down"] = _call(run, sipp, case, count=DOWN_CALLS)
    # Kamailio logs each event just before queueing it; one failed POST shows hangup was really down
    for number in range(1, DOWN_CALLS + 1):
        wait_until(lambda n=number: f'"call_id":"down-{n}@e2e"' in run.log(), 15, f"Kamailio to queue down-{number}")
    wait_until(lambda: "HANGUP post of down-" in run.log(), 15, "a POST to fail while hangup is down")
    run.hangup.start()
    for number in range(1, DOWN_CALLS + 1):
        wait_until(lambda n=number: run.record(f"down-{n}@e2e") is not None, 20, f"down-{number} to arrive")


def _kamailio_restart(run: Run, sipp: Sipp) -> None:
    """An event still queued when Kamailio stops is lost to HTTP: hangup is down, one call, Kamailio stops."""
    run.hangup.stop()
    case = Case("restart", "uas_answer.xml", "uac_caller_bye.xml", {}, caller_args=("-d", "200"))
    run.exit_codes["restart"] = _call(run, sipp, case)
    wait_until(lambda: f'"call_id":"{RESTART_CALL}"' in run.log(), 15, "Kamailio to queue the call")
    run.proxies["main"].stop()
    run.hangup.start()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_call_arrives_once_with_its_verdict(run: Run, case: Case) -> None:
    assert run.exit_codes[case.name] == (0, 0), f"sipp failed; logs in {run.workdir}"
    record = run.record(case.call_id)
    assert record is not None
    got = record.to_json()
    assert {key: got[key] for key in case.expect} == case.expect
    assert record.answered == (case.expect["sip"] == 200)
    ends = [line for line in run.log().splitlines() if "HANGUP_CALL_END" in line and case.call_id in line]
    posts = [line for line in run.log().splitlines() if f"HANGUP posted {case.call_id} " in line]
    # the 407 is an event of its own (acknowledged, not stored): the call's end is still one event
    assert len(ends) == len(posts) == (2 if case.name == "challenge_407" else 1)


def test_nothing_else_was_stored(run: Run) -> None:
    store = open_store(f"sqlite:///{run.hangup.db}")
    try:
        # the server also stores the calls it follows through HEP, under the provider "sip"
        assert store.count(CallQuery(provider="kamailio")) == len(CASES) + DOWN_CALLS
        assert store.conflicts() == [] and store.quarantined() == []
    finally:
        store.close()


def test_a_receiver_that_was_down_loses_nothing(run: Run) -> None:
    assert run.exit_codes["down"] == (0, 0)
    tries = []
    for number in range(1, DOWN_CALLS + 1):
        record = run.record(f"down-{number}@e2e")
        assert record is not None and (record.outcome, record.ended_by) == ("completed", "caller")
        (posted,) = re.findall(rf"HANGUP posted down-{number}@e2e \(try (\d+)\)", run.log())
        tries.append(int(posted))
    assert max(tries) > 1  # delivered by the retry queue, not by a lucky first try


@pytest.fixture(scope="module")
def imported(run: Run) -> Iterator[Store]:
    """Both Kamailio logs imported into a store of their own, as an operator recovers lost events."""
    db = run.workdir / "imported.db"
    for proxy in run.proxies.values():
        summary = _import(run, proxy.log, db, None)  # the format is recognised by the log lines
        assert summary["formats"] == {str(proxy.log): "kamailio-log"} and summary["rejected"] == 0
    store = open_store(f"sqlite:///{db}")
    yield store
    store.close()


def test_the_fallback_log_imports_to_the_same_verdicts(run: Run, imported: Store) -> None:
    assert imported.count() == len(CASES) + DOWN_CALLS + 1
    for case in CASES:
        received, again = run.record(case.call_id), imported.get(call_id_for("kamailio", case.call_id))
        assert received is not None and again is not None
        assert _verdict_of(again) == _verdict_of(received), case.name


def test_a_kamailio_restart_loses_the_queue_and_the_log_covers_it(run: Run, imported: Store) -> None:
    assert run.exit_codes["restart"] == (0, 0)
    assert run.record(RESTART_CALL) is None
    recovered = imported.get(call_id_for("kamailio", RESTART_CALL))
    assert recovered is not None and (recovered.outcome, recovered.ended_by) == ("completed", "caller")


def _verdict_of(record: CallRecord) -> tuple[object, ...]:
    return (record.outcome, record.ended_by, record.cause, record.causes, record.sip, record.q850, record.flags,
            record.setup_time, record.end_time, record.duration)


def _import(run: Run, path: Path, db: Path, fmt: str | None) -> dict[str, Any]:
    """``hangup import`` as an operator runs it; its JSON summary."""
    named = ["--format", fmt] if fmt else []
    done = subprocess.run([sys.executable, "-m", "hangup", "import", str(path), "--db", f"sqlite:///{db}", *named,
                           "--quiet", "--json"], cwd=run.workdir,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True,
                          timeout=60, check=True)
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


@pytest.fixture(scope="module")
def signalling(run: Run) -> dict[str, dict[str, CallRecord | None]]:
    """Each case's record from the signalling itself: through HEP (stored by the same server, provider
    ``sip``) and through ``hangup import`` of tcpdump's recording."""
    assert run.capture is not None
    db = run.workdir / "capture.db"
    assert _import(run, run.capture, db, "pcap")["rejected"] == 0
    found: dict[str, dict[str, CallRecord | None]] = {}
    for source, path in (("hep", run.hangup.db), ("pcap", db)):
        store = open_store(f"sqlite:///{path}")
        try:
            for case in CASES:
                found.setdefault(case.name, {})[source] = store.get(call_id_for("sip", case.call_id))
        finally:
            store.close()
    return found


#: Endings the signalling cannot tell as the proxy's own. The capture shows the proxy's other side for
#: every call of the main proxy, so its timers' 408s and its BYEs at the dialog lifetime are recognised
#: (``hangup.sip.proxy``). The second proxy never sends an INVITE on (its next hop refuses TCP), so nothing
#: in the capture shows it forwarding: its 503 reads like any 503 relayed from further on, as it would in a
#: capture of the caller's side only. (outcome, ended_by, q850) as the signalling paths give them; the
#: Kamailio event's are in CASES.
SIGNALLING_SEES: dict[str, tuple[object, ...]] = {
    "proxy_tcp_refused": ("failed", "carrier", 41),
}
#: Kamailio relays a 503 upstream as 500 (RFC 3261 §16.7 step 6): the event reports the 503 it received,
#: the signalling paths the 500 the caller got. Same outcome, same party, same Q.850 cause.
RELAYED_AS = {"unavailable_503": "sip:500"}


def _verdict_of_call(record: CallRecord) -> tuple[object, ...]:
    return (record.outcome, record.ended_by, record.q850)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hep_and_the_capture_give_the_same_verdict(run: Run, signalling: dict[str, dict[str, CallRecord | None]],
                                                   case: Case) -> None:
    event = run.record(case.call_id)
    hep, pcap = signalling[case.name]["hep"], signalling[case.name]["pcap"]
    assert event is not None and hep is not None and pcap is not None
    assert _verdict_of_call(hep) == _verdict_of_call(pcap) and hep.cause == pcap.cause
    assert _verdict_of_call(hep) == SIGNALLING_SEES.get(case.name, _verdict_of_call(event))
    if case.name not in SIGNALLING_SEES:
        assert hep.cause == RELAYED_AS.get(case.name, event.cause)
