"""Scheduled sampling as the trainer drives it: mask statistics, the first k steps, p = 0."""

from __future__ import annotations

import pytest
import torch

from mbplan.data.tensors import SequenceTensors
from mbplan.models import make_world_model
from mbplan.training.config import preset_config
from mbplan.training.trainer import Trainer

SMALL = {"hidden_size": 4, "feature_size": 8, "depth": 1, "f_pre_layers": 1, "f_init_layers": 1}


def recover_mask(model, obs, actions, predictions):
    """Find, step by step, which inputs were real: the prediction at t matches exactly one choice.

    Returns the mask and, per step, whether both choices gave the drawn prediction (the input
    was real whatever the mask said).
    """
    batch, time, _ = obs.shape
    mask = torch.ones(batch, time, dtype=torch.bool)
    forced_real = []
    for t in range(time):
        matches = []
        for real in (True, False):
            trial = mask.clone()
            trial[:, t] = real
            out = model(obs, actions, teacher_mask=trial)
            # close, not equal: the sampled and the masked forward may round differently (BLAS
            # paths differ between machines); a wrong input choice moves a prediction by O(1)
            close = torch.isclose(out.predictions[:, t], predictions[:, t], rtol=1e-5, atol=1e-6)
            matches.append(close.all(dim=1))
        real_match, own_match = matches
        forced_real.append(bool((real_match & own_match).all()))
        if not forced_real[-1]:
            assert bool((real_match ^ own_match).all()), f"step {t}: ambiguous inputs"
        mask[:, t] = real_match
    return mask, forced_real


@torch.no_grad()
def test_mask_statistics_match_p_and_the_first_k_steps_are_real():
    torch.manual_seed(0)
    model = make_world_model("elman", 2, 1, k=2, **SMALL).eval()
    generator = torch.Generator().manual_seed(1)
    obs = torch.randn(1000, 10, 2, generator=generator)
    actions = torch.randn(1000, 10, 1, generator=generator)
    p = 0.3
    drawn = model(obs, actions, p, generator=torch.Generator().manual_seed(7)).predictions
    mask, forced_real = recover_mask(model, obs, actions, drawn)
    # the first k = 2 inputs are real even where a mask says otherwise; later ones are drawn
    assert forced_real == [True, True] + [False] * 8
    assert bool(mask[:, :2].all())
    later = mask[:, 2:].double()
    # 1000 x 8 Bernoulli(0.3) draws: std of the mean 0.0051; tolerance 4 std
    assert float(later.mean()) == pytest.approx(p, abs=0.021)
    # every step on its own: 1000 draws, std 0.0145, tolerance 4 std
    assert torch.allclose(later.mean(dim=0), torch.full((8,), p, dtype=torch.float64), atol=0.058)


@pytest.mark.parametrize("core", ["gatel0rd", "elman", "gru", "lstm"])
@torch.no_grad()
def test_teacher_prob_zero_equals_a_pure_autoregressive_rollout(core):
    torch.manual_seed(0)
    model = make_world_model(core, 3, 2, k=2, **SMALL).eval()
    generator = torch.Generator().manual_seed(2)
    obs = torch.randn(5, 9, 3, generator=generator)
    actions = torch.randn(5, 9, 2, generator=generator)
    forward = model(obs, actions, 0.0).predictions
    state = model.initial_state(obs[:, :2], actions[:, :2])
    first = []
    for t in range(2):  # the k real inputs, filtered one step at a time
        prediction, state, _ = model.step(obs[:, t], actions[:, t], state)
        first.append(prediction)
    rest, _ = model.rollout(state, first[-1], actions[:, 2:])
    manual = torch.cat([torch.stack(first, dim=1), rest], dim=1)
    torch.testing.assert_close(forward, manual, atol=1e-6, rtol=1e-5)


def test_trainer_passes_p_of_each_epoch_and_its_generator(tmp_path):
    n, steps = 8, 5
    data = SequenceTensors(
        observations=torch.randn(n, steps + 1, 2, generator=torch.Generator().manual_seed(0)),
        actions=torch.zeros(n, steps, 0),
        flags=torch.zeros(n, steps + 1, 0),
        subset=torch.zeros(n, dtype=torch.long),
    )
    config = preset_config(
        "tiny",
        out=str(tmp_path / "run"),
        regime="ss",
        ss_slope=0.5,
        ss_floor=0.2,
        epochs=4,
        batches_per_epoch=1,
        batch_size=8,
        lr=1e-3,
        model=SMALL,
    )
    trainer = Trainer(config, data, data)
    seen = []
    forward = trainer.model.forward

    def spy(obs, actions, teacher_prob=1.0, **kwargs):
        if trainer.model.training:
            seen.append((teacher_prob, kwargs.get("generator")))
        return forward(obs, actions, teacher_prob, **kwargs)

    trainer.model.forward = spy
    trainer.fit()
    assert [p for p, _ in seen] == [1.0, 0.5, 0.25, 0.2]
    assert all(generator is trainer.mask_generator for _, generator in seen)
