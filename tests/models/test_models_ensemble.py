"""WorldModelEnsemble: filtering and rollouts member by member, and planning with the mean of
the members' costs, on the shipped RRC world models (examples/checkpoints/rrc_60k) and the real
RRC env."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from mbplan.cli import main
from mbplan.commands.plan import plan_episodes
from mbplan.evaluation.report import load_run_model
from mbplan.models import WorldModelEnsemble, make_world_model
from planners import CostWithTerms, LatentGoal, RRCCost, make_objective

SHIPPED = Path(__file__).resolve().parents[2] / "examples" / "checkpoints" / "rrc_60k"
RRC = "mbplan/RobotRemoteControl-v0"


def shipped(core: str):
    return load_run_model(SHIPPED / f"{core}_ss_s0", which="best", device="cpu")[0].eval()


@pytest.fixture(scope="module")
def rrc_context():
    """Observations and actions of 4 real RRC episodes, ``(4, 6, 4)`` and ``(4, 5, 2)``."""
    import gymnasium as gym

    import sims  # noqa: F401

    env = gym.make(RRC)
    generator = torch.Generator().manual_seed(0)
    observations, actions = [], []
    for episode in range(4):
        obs, _ = env.reset(seed=episode)
        episode_obs, episode_act = [torch.as_tensor(obs)], []
        for _ in range(5):
            action = torch.rand(2, generator=generator) * 2 - 1
            obs, *_ = env.step(action.numpy())
            episode_obs.append(torch.as_tensor(obs))
            episode_act.append(action)
        observations.append(torch.stack(episode_obs))
        actions.append(torch.stack(episode_act))
    return torch.stack(observations).float(), torch.stack(actions).float()


def filtered(model, obs, act, k):
    state = model.initial_state(obs[:, :k], act[:, :k])
    for t in range(obs.shape[1] - 1):
        _, state, _ = model.step(obs[:, t], act[:, t], state)
    return state


def test_filtering_and_rollouts_are_each_members_own(rrc_context):
    obs, act = rrc_context
    gatel0rd, lstm = shipped("gatel0rd"), shipped("lstm")
    ensemble = WorldModelEnsemble([gatel0rd, lstm])
    assert ensemble.state_size == gatel0rd.state_size + lstm.state_size
    state = filtered(ensemble, obs, act, ensemble.k)
    alone = [filtered(member, obs, act, ensemble.k) for member in (gatel0rd, lstm)]
    torch.testing.assert_close(state, torch.cat(alone, dim=1), rtol=0, atol=0)
    plan = torch.rand(4, 7, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    members, final = ensemble.rollout_members(state, obs[:, -1], plan)
    assert members.shape == (2, 4, 7, 4)
    for index, (member, part) in enumerate(zip((gatel0rd, lstm), alone, strict=True)):
        torch.testing.assert_close(members[index], member.rollout(part, obs[:, -1], plan)[0])
    mean, _ = ensemble.rollout(state, obs[:, -1], plan)
    torch.testing.assert_close(mean, members.mean(dim=0))
    assert final.shape == state.shape


def test_a_member_with_a_smaller_k_starts_from_its_own_first_inputs(rrc_context):
    obs, act = rrc_context
    one = make_world_model("gru", 4, 2, k=1, hidden_size=5).eval()
    three = make_world_model("gatel0rd", 4, 2, k=3, hidden_size=6).eval()
    ensemble = WorldModelEnsemble([one, three])
    assert ensemble.k == 3
    state = filtered(ensemble, obs, act, 3)
    expected = [filtered(one, obs, act, 1), filtered(three, obs, act, 3)]
    torch.testing.assert_close(state, torch.cat(expected, dim=1), rtol=0, atol=0)


def test_the_objective_is_the_mean_of_the_members_costs(rrc_context):
    obs, act = rrc_context
    members = [shipped("gatel0rd"), shipped("gru"), shipped("elman")]
    ensemble = WorldModelEnsemble(members)
    state = filtered(ensemble, obs, act, ensemble.k)
    parts = torch.split(state, ensemble.state_sizes, dim=1)
    candidates = torch.rand(4, 9, 12, 2, generator=torch.Generator().manual_seed(2)) * 2 - 1
    for mask_terminal in (False, True):
        costs = make_objective(ensemble, state, obs[:, -1], RRCCost(), mask_terminal=mask_terminal)(
            candidates
        )
        each = [
            make_objective(member, part, obs[:, -1], RRCCost(), mask_terminal=mask_terminal)(
                candidates
            )
            for member, part in zip(members, parts, strict=True)
        ]
        torch.testing.assert_close(costs, torch.stack(each).mean(dim=0))
        # not the cost of the members' mean trajectory
        mean_path = ensemble.rollout(
            state.repeat_interleave(9, 0),
            obs[:, -1].repeat_interleave(9, 0),
            candidates.flatten(0, 1),
        )[0]
        assert not torch.allclose(costs.flatten(), RRCCost().step_cost(mean_path).sum(dim=1))


def test_two_copies_of_one_model_plan_exactly_as_the_model():
    model = shipped("gatel0rd")
    ensemble = WorldModelEnsemble([model, copy.deepcopy(model)])
    alone = plan_episodes(RRC, model, episodes=2, seed=3, max_steps=12)
    together = plan_episodes(RRC, ensemble, episodes=2, seed=3, max_steps=12)
    for one, two in zip(alone, together, strict=True):
        assert one.actions.tolist() == two.actions.tolist()
        assert one.success == two.success


def test_bad_members_and_states_are_named(rrc_context):
    rrc = shipped("gatel0rd")
    with pytest.raises(ValueError, match="at least 2 models, got 1"):
        WorldModelEnsemble([rrc])
    with pytest.raises(ValueError, match="model 1 has obs_dim 6, model 0 has obs_dim 4"):
        WorldModelEnsemble([rrc, make_world_model("gru", 6, 2)])
    ensemble = WorldModelEnsemble([rrc, shipped("lstm")])
    obs, act = rrc_context
    with pytest.raises(ValueError, match=r"state: expected \(batch, \d+\) \(the members' states"):
        ensemble.step(obs[:, 0], act[:, 0], torch.zeros(4, 3))
    goal = CostWithTerms(RRCCost(), [LatentGoal(torch.zeros(rrc.state_size), 1.0)])
    with pytest.raises(ValueError, match="is an ensemble"):
        make_objective(ensemble, torch.zeros(4, ensemble.state_size), obs[:, 0], goal)
    with pytest.raises(ValueError, match="plan it uncompiled"):
        plan_episodes(RRC, ensemble, episodes=1, max_steps=2, compile_rollout=True)


def test_plan_cli_plans_with_several_runs(tmp_path, capsys):
    out = tmp_path / "plan.json"
    runs = [str(SHIPPED / "gatel0rd_ss_s0"), str(SHIPPED / "gru_ss_s0")]
    argv = ["plan", "--run", *runs, "--env", RRC, "--episodes", "1", "--max-steps", "4"]
    assert main([*argv, "--no-progress", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["model"] == " ".join(runs)
    assert "episode   0 (seed 0)" in capsys.readouterr().out
