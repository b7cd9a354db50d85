"""Realistic simulated call-event traffic, for demos, load tests and receiver tests.

Calls arrive as a Poisson process at ``rate`` per second. Each picks a way of ending from ``data/traffic.csv``
(about 55 % answered), a caller and callee from Zipf-weighted user populations inside a few services, audio or video
(70/30), a ring time and, when answered, a log-normal talk time (median 75 s). A small share of callbacks carry an
anomaly a receiver must accept and flag (see ``ANOMALIES``), such as the LINE Planet specification's own example
(``call_end_reason=1005`` with ``start_time=0`` and ``terminate=16``). The same seed and start give the same calls.
"""

from __future__ import annotations

import csv
import functools
import math
import random
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import cast

import msgspec

from hangup.emit.callback import CallEvent
from hangup.emit.derive import derive
from hangup.emit.facts import CallFacts, Party, ReleaseMethod, Releaser

SERVICES: tuple[tuple[str, float], ...] = (("planetkit", 0.6), ("clinic.example", 0.25), ("tutor.example", 0.15))
SERVERS = ("voip-1.sim", "voip-2.sim")
USER_REL_CODES = ("app:hangup-button", "app:low-battery", "app:switched-device")
TALK_MEDIAN = 75.0  # seconds
TALK_SIGMA = 1.1
TALK_MAX = 7200
RING_TIMEOUT = 30  # seconds a no-answer call rings
VIDEO_SHARE = 0.3
ANOMALY_SHARE = 0.01
USER_REL_CODE_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class Scenario:
    """One row of ``data/traffic.csv``."""

    name: str
    weight: float
    answered: bool
    released_by: Releaser
    how: ReleaseMethod
    party: Party | None
    sip_status: int | None


@dataclass(frozen=True, slots=True)
class SimulatedCall:
    """One simulated callback: when to send it (seconds after the start) and what to send."""

    offset: float
    scenario: str
    event: CallEvent
    anomaly: str | None = None


@functools.cache
def scenarios() -> tuple[Scenario, ...]:
    text = resources.files("hangup.emit.data").joinpath("traffic.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return tuple(
        Scenario(
            name=r["scenario"], weight=float(r["weight"]), answered=r["answered"] == "true",
            released_by=cast(Releaser, r["released_by"]), how=ReleaseMethod(r["how"]),
            party=cast(Party, r["party"]) if r["party"] else None,
            sip_status=int(r["sip_status"]) if r["sip_status"] else None,
        )  # fmt: skip
        for r in rows
    )


def _answered_without_start(event: CallEvent) -> CallEvent:
    # the LINE Planet specification's example callback: ended "during a call" yet never started
    return msgspec.structs.replace(event, call_end_reason=1005, start_time=0, duration=0, terminate=16)


def _duration_mismatch(event: CallEvent) -> CallEvent:
    return msgspec.structs.replace(event, duration=event.duration + 7)


def _failed_with_duration(event: CallEvent) -> CallEvent:
    return msgspec.structs.replace(event, terminate=127) if event.duration > 0 else _answered_without_start(event)


ANOMALIES: Mapping[str, Callable[[CallEvent], CallEvent]] = MappingProxyType(
    {
        "answered_without_start": _answered_without_start,
        "duration_mismatch": _duration_mismatch,
        "terminate_contradicts_duration": _failed_with_duration,
    }
)


class Simulator:
    """A seeded generator of simulated calls."""

    def __init__(
        self, seed: int | None = None, *, users: int = 200, stid: str | None = "sim",
        anomaly_share: float = ANOMALY_SHARE,
    ) -> None:  # fmt: skip
        self.rng = random.Random(seed)
        self.stid = stid
        self.anomaly_share = anomaly_share
        self._scenarios = scenarios()
        self._weights = [s.weight for s in self._scenarios]
        self._users = [f"user-{i:04d}" for i in range(1, users + 1)]
        self._user_weights = [1 / (i**0.8) for i in range(1, users + 1)]  # a few heavy callers, a long tail
        self._anomalies = sorted(ANOMALIES)

    def calls(self, rate: float, duration: float, start: int) -> Iterator[SimulatedCall]:
        """Calls ending between ``start`` and ``start + duration`` (Unix s), in order."""
        offset = 0.0
        while True:
            offset += self.rng.expovariate(rate)
            if offset >= duration:
                return
            yield self.call(offset, start + int(offset))

    def call(self, offset: float, end_time: int) -> SimulatedCall:
        scenario, facts = self.facts(end_time)
        event = derive(facts)
        anomaly = self.rng.choice(self._anomalies) if self.rng.random() < self.anomaly_share else None
        if anomaly is not None:
            event = ANOMALIES[anomaly](event)
        return SimulatedCall(offset, scenario.name, event, anomaly)

    def facts(self, end_time: int) -> tuple[Scenario, CallFacts]:
        """The facts of one simulated call ending at ``end_time`` (what a platform would know)."""
        rng = self.rng
        scenario = rng.choices(self._scenarios, self._weights)[0]
        talk = min(TALK_MAX, max(1, round(rng.lognormvariate(math.log(TALK_MEDIAN), TALK_SIGMA))))
        ring = self._ring_time(scenario)
        start_time = end_time - talk if scenario.answered else 0
        setup_time = (start_time or end_time) - ring
        from_service = self._service()
        to_service = from_service if rng.random() < 0.9 else self._service()
        caller, callee = rng.choices(self._users, self._user_weights, k=2)
        if callee == caller:  # nobody calls themselves: take the next user
            callee = self._users[(self._users.index(caller) + 1) % len(self._users)]
        facts = CallFacts(
            sid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            from_service_id=from_service, from_user_id=caller, to_service_id=to_service, to_user_id=callee,
            type="V" if rng.random() < VIDEO_SHARE else "A", setup_time=setup_time, start_time=start_time,
            end_time=end_time, released_by=scenario.released_by,
            server=rng.choice(SERVERS) if scenario.released_by == "server" else "", how=scenario.how,
            party=scenario.party, sip_status=scenario.sip_status,
            user_rel_code=rng.choice(USER_REL_CODES) if rng.random() < USER_REL_CODE_SHARE else None,
            stid=self.stid, srcip=f"198.51.100.{rng.randint(1, 254)}", dstip=f"203.0.113.{rng.randint(1, 254)}",
        )  # fmt: skip
        return scenario, facts

    def _ring_time(self, scenario: Scenario) -> int:
        rng = self.rng
        ring: Mapping[str, Callable[[], float]] = {
            "no_answer": lambda: RING_TIMEOUT,
            "cancel": lambda: rng.uniform(2, 25),
            "busy": lambda: rng.uniform(0, 3),
            "reject": lambda: rng.uniform(2, 15),
        }
        if scenario.answered:
            return max(1, round(min(45.0, rng.lognormvariate(math.log(6), 0.5))))
        return round(ring.get(_kind(scenario), lambda: rng.uniform(0, 10))())

    def _service(self) -> str:
        return self.rng.choices([s for s, _ in SERVICES], [w for _, w in SERVICES])[0]


def _kind(scenario: Scenario) -> str:
    if scenario.sip_status is None:
        return scenario.how.value
    return _SIP_KIND.get(scenario.sip_status, "failure")


_SIP_KIND: Mapping[int, str] = MappingProxyType({486: "busy", 603: "reject", 480: "no_answer", 487: "cancel"})
