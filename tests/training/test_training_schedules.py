"""Real-input probability schedules and the balanced, seeded batch order."""

from __future__ import annotations

import pytest
import torch

from mbplan.training.batches import epoch_batches, epoch_generator
from mbplan.training.schedules import matched_slope, teacher_probability


def test_teacher_forcing_is_always_one():
    assert [teacher_probability(e, "tf") for e in (0, 10, 10_000)] == [1.0, 1.0, 1.0]


def test_scheduled_sampling_decays_and_stops_at_the_floor():
    assert teacher_probability(0, "ss") == 1.0
    assert teacher_probability(100, "ss") == pytest.approx(0.998**100)
    assert teacher_probability(100, "ss", slope=0.5, floor=0.05) == 0.05
    assert teacher_probability(3, "ss", slope=0.5, floor=0.05) == 0.125


def test_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match="regime"):
        teacher_probability(1, "free-running")
    with pytest.raises(ValueError, match="epoch"):
        teacher_probability(-1, "ss")


def test_matched_slope_keeps_the_schedule_shape():
    slope = matched_slope(50, 5000)
    # after half of the reduced run p equals the reference's p after half of its run
    assert slope**25 == pytest.approx(0.998**2500)
    assert slope**50 == pytest.approx(0.998**5000)


def test_balanced_batches_take_equal_shares_of_every_subset():
    subset = torch.tensor([0] * 10 + [1] * 7 + [2] * 12)
    batches = epoch_batches(subset, 6, True, torch.Generator().manual_seed(0))
    assert len(batches) == 3  # the smallest subset (7) holds 3 batches of 2
    for batch in batches:
        assert torch.bincount(subset[batch], minlength=3).tolist() == [2, 2, 2]
    used = torch.cat(batches)
    assert len(set(used.tolist())) == len(used)  # no sequence twice in an epoch
    with pytest.raises(ValueError, match="multiple"):
        epoch_batches(subset, 7, True, torch.Generator().manual_seed(0))


def test_plain_batches_are_a_shuffled_pass_and_the_order_depends_on_seed_and_epoch_only():
    subset = torch.zeros(10, dtype=torch.long)
    first = epoch_batches(subset, 4, False, epoch_generator(seed=3, epoch=5))
    again = epoch_batches(subset, 4, False, epoch_generator(seed=3, epoch=5))
    other = epoch_batches(subset, 4, False, epoch_generator(seed=3, epoch=6))
    assert [b.tolist() for b in first] == [b.tolist() for b in again]
    assert [b.tolist() for b in first] != [b.tolist() for b in other]
    assert [len(b) for b in first] == [4, 4]  # the incomplete last batch is dropped
