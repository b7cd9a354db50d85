"""Which leg decides a call, and the call its legs make: the same whatever order the legs are in."""

from __future__ import annotations

from itertools import permutations

import pytest
from legs_data import EXPECTED, lines, record

from hangup.legs import deciding, leg_json, merge, talk_time
from hangup.records import CallRecord


def _leg(leg_id: str, answered: bool, duration: int, end: int, setup: int = 100) -> CallRecord:
    return CallRecord(id="c", provider="asterisk", provider_call_id="c", from_service_id="", from_user_id="a",
                      to_service_id="", to_user_id="b", call_type="A", setup_time=setup,
                      start_time=end - duration if answered else 0, end_time=end, duration=duration,
                      answered=answered, leg_id=leg_id, outcome="completed" if answered else "no_answer")


@pytest.mark.parametrize(("legs", "decider", "talk"), [
    ([_leg("stub", True, 0, 100), _leg("talk", True, 183, 300)], "talk", 183),  # a Local/ stub, then the talk
    ([_leg("a", True, 9, 114), _leg("b", True, 50, 164)], "b", 59),  # a transfer: the spans follow each other
    ([_leg("a", True, 40, 150), _leg("b", True, 40, 150)], "b", 40),  # two halves of one talk count once
    ([_leg("a", True, 40, 150), _leg("b", True, 30, 170)], "a", 60),  # overlapping spans: their union
    ([_leg("busy", False, 0, 120), _leg("noans", False, 0, 130)], "noans", 0),  # no answer: the last to end
    ([_leg("noans", False, 0, 130), _leg("ok", True, 5, 125)], "ok", 5),  # any answer beats a failure
])
def test_the_deciding_leg_and_the_talk_time(legs: list[CallRecord], decider: str, talk: int) -> None:
    for order in permutations(legs):
        call = merge(order)
        assert deciding(order).leg_id == decider
        assert (call.leg_id, call.duration, talk_time(order)) == (decider, talk, talk)
        assert call.answered == any(leg.answered for leg in legs)
        assert call.end_time == max(leg.end_time for leg in legs)


@pytest.mark.parametrize("uniqueid", sorted(EXPECTED))
def test_the_asterisk_calls_merge_as_their_readme_says(uniqueid: str) -> None:
    count, answered, talk, dstchannel = EXPECTED[uniqueid]
    legs = [record(fields) for fields in lines()[uniqueid]]
    assert len({leg.id for leg in legs}) == 1 and len({leg.leg_id for leg in legs}) == count
    calls = [merge(order) for order in permutations(legs)]
    assert all(call == calls[0] for call in calls)
    call = calls[0]
    assert (call.answered, call.duration, call.extra["dstchannel"]) == (answered, talk, dstchannel)


def test_a_call_of_one_leg_is_that_leg() -> None:
    leg = _leg("only", True, 12, 200)
    assert merge([leg]) is leg


def test_a_leg_shows_its_channels_and_raw() -> None:
    leg = record(lines()["1772445600.10"][1])
    shown = leg_json(leg)
    assert shown["extra"]["channel"].startswith("Local/") and shown["extra"]["disposition"] == "ANSWERED"
    assert shown["duration"] == 183 and shown["raw"] == leg.raw and shown["leg_id"] == leg.leg_id
