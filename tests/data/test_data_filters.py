"""Acceptance conditions, judged step by step on synthetic info sequences."""

from __future__ import annotations

import pytest

from mbplan.data.filters import (
    EventStepIn,
    FlagAt,
    FlagEver,
    filter_from_dict,
)


def verdicts(condition, infos):
    """The answers of ``condition`` at t = 0..T (stopping after the first decision)."""
    answers = []
    for t, info in enumerate(infos):
        answer = condition.check(t, info, t == len(infos) - 1)
        answers.append(answer)
        if answer is not None:
            break
    return answers


def flags(name, values):
    return [{name: bool(v)} for v in values]


def test_flag_at_decides_exactly_at_its_step():
    gate = flags("gate", [0, 0, 0, 1, 1, 1])
    assert verdicts(FlagAt("gate", 3, True), gate) == [None, None, None, True]
    assert verdicts(FlagAt("gate", 2, True), gate) == [None, None, False]
    assert verdicts(FlagAt("gate", 2, False), gate) == [None, None, True]
    assert FlagAt("gate", 4, True).decision_steps(10) == (4,)
    with pytest.raises(ValueError, match="step: expected a time index >= 0, got -1"):
        FlagAt("gate", -1, True)


def test_flag_never_rejects_at_the_first_true_step():
    never = FlagEver("c", ever=False)
    assert verdicts(never, flags("c", [0, 0, 1, 0])) == [None, None, False]
    assert verdicts(never, flags("c", [0, 0, 0, 0])) == [None, None, None, True]
    assert never.decision_steps(10) is None


def test_flag_ever_accepts_at_the_first_true_step():
    assert verdicts(FlagEver("c"), flags("c", [0, 1, 0])) == [None, True]
    assert verdicts(FlagEver("c"), flags("c", [0, 0, 0])) == [None, None, False]


def test_event_step_in_interval():
    def infos(event_at, length=12):
        return [
            {"s": event_at if event_at is not None and t >= event_at else -1} for t in range(length)
        ]

    window = EventStepIn("s", 4, 8)
    assert verdicts(window, infos(5)) == [None] * 5 + [True]
    assert verdicts(window, infos(4))[-1] is True
    assert verdicts(window, infos(8)) == [None] * 8 + [False]  # step 8 reached without event
    assert verdicts(window, infos(2)) == [None, None, False]  # too early: rejected at once
    assert verdicts(window, infos(None)) == [None] * 8 + [False]
    assert verdicts(EventStepIn("s", 4, 20), infos(None, 12))[-1] is False  # episode ends
    with pytest.raises(ValueError, match="low, high: expected 0 <= low < high"):
        EventStepIn("s", 5, 5)


def test_filters_round_trip_through_json():
    for condition in (
        FlagAt("g", 30, False),
        FlagEver("c", ever=False),
        FlagEver("c"),
        EventStepIn("p", 1, 9),
    ):
        assert filter_from_dict(condition.to_dict()) == condition
    assert FlagAt("g", 30, False).to_dict() == {
        "kind": "flag_at",
        "flag": "g",
        "step": 30,
        "value": False,
    }
    with pytest.raises(ValueError, match="filter kind: expected one of"):
        filter_from_dict({"kind": "teleport"})
    with pytest.raises(ValueError, match="expected fields"):
        filter_from_dict({"kind": "flag_ever", "flag": "c", "extra": 1})
