"""Run groups: every member equals its solo run, independent of its place and the group size;
per-member Adam and clipping; NaN stops one member; Ctrl-C and exact resume; plan_groups."""

from __future__ import annotations

import json

import pytest
import torch

from mbplan.data.tensors import SequenceTensors
from mbplan.training.config import preset_config
from mbplan.training.group import GroupTrainer
from mbplan.training.group_optim import StackedAdam, clip_member_grad_norms
from mbplan.training.sweep import plan_groups
from mbplan.training.trainer import Trainer

SMALL = {"hidden_size": 4, "feature_size": 6, "depth": 1, "f_pre_layers": 2, "k": 1}
CORES = ("gatel0rd", "elman", "gru", "lstm", "brc", "nbrc")


def walks(n: int = 24, steps: int = 8, seed: int = 0) -> SequenceTensors:
    generator = torch.Generator().manual_seed(seed)
    obs = torch.cumsum(0.1 * torch.randn(n, steps + 1, 3, generator=generator), dim=1)
    actions = torch.randn(n, steps, 2, generator=generator)
    return SequenceTensors(obs, actions, torch.zeros(n, steps + 1, 0), torch.arange(n) % 2)


DATA = walks()


def config(tmp_path, name, core="gatel0rd", **overrides):
    values = {
        "out": str(tmp_path / name),
        "core": core,
        "regime": "ss",
        "ss_slope": 0.5,  # p = 1, 0.5, 0.25: teacher forcing, then scheduled sampling
        "epochs": 3,
        "batch_size": 8,
        "batches_per_epoch": 2,
        "lr": 3e-3,
        "model": dict(SMALL),
        "tensorboard": False,
    }
    values.update(overrides)
    return preset_config("tiny", **values)


def variants(core):
    """Members differing in everything a group allows: seed, lr, lambda, noise, schedule."""
    noise = {"gate_noise_level": 0.3} if core == "gatel0rd" else {}
    return [
        {"seed": 0},
        {"seed": 1, "lr": 1e-2, "model": {**SMALL, "reg_lambda": 1e-2, **noise}},
        {"seed": 2, "regime": "tf", "ss_floor": 0.1, "grad_clip": 0.0},
        {"seed": 3, "ss_slope": 0.9, "adam_eps": 1e-6},
    ]


def solo_weights(tmp_path, name, core, **overrides):
    trainer = Trainer(config(tmp_path, name, core, **overrides), DATA, DATA)
    trainer.fit()
    return trainer.model.state_dict()


def group(tmp_path, prefix, core, members, **common):
    trainers = [
        Trainer(config(tmp_path, f"{prefix}{i}", core, **{**common, **m}), DATA, DATA)
        for i, m in enumerate(members)
    ]
    return GroupTrainer(trainers)


def max_relative_difference(a, b):
    return max(float((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-12)) for k in a)


@pytest.mark.parametrize("core", CORES)
def test_every_member_equals_its_solo_run(tmp_path, core):
    members = variants(core)
    trainer = group(tmp_path, "g", core, members)
    results = trainer.fit()
    assert [r.metrics[-1]["updates"] for r in results] == [6] * len(members)
    for i, member in enumerate(members):
        solo = solo_weights(tmp_path, f"solo{i}", core, **member)
        grouped = trainer.members[i].trainer.model.state_dict()
        assert max_relative_difference(grouped, solo) < 1e-5, (core, i)
        solo_rows = json.loads(
            (tmp_path / f"solo{i}" / "metrics.jsonl").read_text().splitlines()[0]
        )
        assert results[i].metrics[0]["train_loss"] == pytest.approx(solo_rows["train_loss"], 1e-5)


def test_a_member_does_not_depend_on_its_place_or_the_group_size(tmp_path):
    member = variants("gatel0rd")[1]
    alone = group(tmp_path, "alone", "gatel0rd", [member])
    alone.fit()
    others = variants("gatel0rd")
    crowd = group(tmp_path, "crowd", "gatel0rd", [others[0], others[3], member])
    crowd.fit()
    a = alone.members[0].trainer.model.state_dict()
    b = crowd.members[2].trainer.model.state_dict()
    assert max_relative_difference(a, b) < 1e-6
    # and not by accident: another seed in the same place gives other weights
    c = crowd.members[0].trainer.model.state_dict()
    assert max_relative_difference(a, c) > 1e-2


def test_stacked_adam_and_clipping_are_per_member():
    torch.manual_seed(0)
    params = [torch.randn(3, 4, 2, requires_grad=True), torch.randn(3, 5, requires_grad=True)]
    solo = [[p[k].detach().clone().requires_grad_(True) for p in params] for k in range(3)]
    lrs, eps, clips = [1e-2, 3e-3, 1e-1], [1e-4, 1e-8, 1e-4], [0.1, 0.0, 5.0]
    optimizers = [
        torch.optim.Adam(s, lr=lr, eps=e) for s, lr, e in zip(solo, lrs, eps, strict=True)
    ]
    stacked = StackedAdam(params, lrs, eps)
    for step in range(3):
        grads = [torch.randn_like(p) * (step + 1) for p in params]
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        clip_member_grad_norms(params, clips)
        stacked.step()
        for k in range(3):
            for s, g in zip(solo[k], grads, strict=True):
                s.grad = g[k].clone()
            if clips[k] > 0:
                torch.nn.utils.clip_grad_norm_(solo[k], clips[k])
            optimizers[k].step()
    for k in range(3):
        for p, s in zip(params, solo[k], strict=True):
            torch.testing.assert_close(p[k], s, rtol=1e-6, atol=1e-7)
        state = stacked.member_state(k, optimizers[k].state_dict())
        for i, values in optimizers[k].state_dict()["state"].items():
            torch.testing.assert_close(state["state"][i]["exp_avg"], values["exp_avg"])
            assert int(state["state"][i]["step"]) == int(values["step"]) == 3


def test_a_non_finite_loss_stops_that_member_only(tmp_path):
    bad = walks()
    bad.observations[:, 3] = float("nan")
    members = variants("gru")[:2]
    trainers = [
        Trainer(config(tmp_path, "ok", "gru", **members[0]), DATA, DATA),
        Trainer(config(tmp_path, "bad", "gru", **members[1]), bad, DATA),
    ]
    results = GroupTrainer(trainers).fit()
    assert results[0].error is None and results[0].epochs_done == 3
    assert results[1].error is not None and "epoch 0" in results[1].error
    rows = [
        json.loads(line) for line in (tmp_path / "bad" / "metrics.jsonl").read_text().splitlines()
    ]
    assert rows[-1]["error"] == results[1].error
    solo = solo_weights(tmp_path, "solo", "gru", **members[0])
    assert max_relative_difference(trainers[0].model.state_dict(), solo) < 1e-5


def test_ctrl_c_saves_every_member_and_the_group_resumes_bit_exactly(tmp_path, monkeypatch):
    members = variants("gatel0rd")[:3]
    whole = group(tmp_path, "whole", "gatel0rd", members)
    whole.fit()
    cut = group(tmp_path, "cut", "gatel0rd", members)
    original = GroupTrainer._tick
    ticks = []

    def tick_then_stop(self, active, stacked):
        ticks.append(1)
        if len(ticks) == 3:  # mid-epoch 1
            self.request_stop()
        return original(self, active, stacked)

    monkeypatch.setattr(GroupTrainer, "_tick", tick_then_stop)
    results = cut.fit()
    monkeypatch.setattr(GroupTrainer, "_tick", original)
    assert all(r.interrupted and (r.epochs_done, r.batches_done) == (1, 1) for r in results)
    resumed = GroupTrainer(
        [Trainer.resume(tmp_path / f"cut{i}", DATA, DATA) for i in range(len(members))]
    )
    resumed.fit()
    for a, b in zip(whole.members, resumed.members, strict=True):
        wa, wb = a.trainer.model.state_dict(), b.trainer.model.state_dict()
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # a member alone continues from the group's checkpoint (an ordinary run folder)
    solo = Trainer.resume(tmp_path / "cut0", DATA, DATA, epochs=4)
    assert solo.fit().epochs_done == 4


def test_plan_groups_splits_by_core_and_shape_and_drops_nothing(tmp_path):
    configs = [config(tmp_path, f"g{i}", "gru", seed=i, data="d") for i in range(5)]
    configs += [config(tmp_path, "l0", "lstm", data="d")]
    configs += [config(tmp_path, "wide", "gru", data="d", model={**SMALL, "hidden_size": 9})]
    configs += [config(tmp_path, "lam", "gru", data="d", model={**SMALL, "reg_lambda": 0.5})]
    groups = plan_groups(configs, 4)
    names = [[c.out.rsplit("/", 1)[1] for c in g] for g in groups]
    assert names == [["g0", "g1", "g2", "g3"], ["g4", "lam"], ["l0"], ["wide"]]
    with pytest.raises(ValueError, match="group_size"):
        plan_groups(configs, 0)
