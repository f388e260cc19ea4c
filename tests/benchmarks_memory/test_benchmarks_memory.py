"""The memory benchmarks: datasets, the T-maze's rules, the DRQN's batched histories."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mbplan.benchmarks_memory import TMaze, copy_first_input, denoising, make_network
from mbplan.benchmarks_memory.drqn import ReplayBuffer, is_optimal, play
from mbplan.benchmarks_memory.tmaze import DOWN, LEFT, RIGHT, UP


def test_copy_and_denoising_targets():
    generator = torch.Generator().manual_seed(0)
    task = copy_first_input(4, 7, generator)
    assert task.inputs.shape == (4, 7, 1) and torch.equal(task.targets[:, 0], task.inputs[:, 0])
    task = denoising(3, 20, 5, generator)
    marker = task.inputs[..., 1]
    assert torch.equal(marker[:, 15], -torch.ones(3))  # the cue at T - 5
    for i in range(3):
        marked = torch.nonzero(marker[i] == 1.0).flatten()
        assert len(marked) == 5 and int(marked.max()) < 15
        torch.testing.assert_close(task.targets[i, :, 0], task.inputs[i, marked, 0])
    with pytest.raises(ValueError, match="pad_length"):
        denoising(2, 20, 2, generator)


def test_tmaze_rewards_and_the_optimal_path():
    rng = np.random.default_rng(0)
    env = TMaze(length=3)
    assert env.horizon == 8
    observation = env.reset(rng, goal_up=False)
    assert observation.tolist() == [0, 1, 0, 0]  # the down cue, only in the first cell
    assert env.step(LEFT, rng)[1] == -0.1 and env.step(UP, rng)[1] == -0.1  # walls
    rewards = [env.step(RIGHT, rng) for _ in range(3)]
    assert [r[1] for r in rewards] == [0.0] * 3
    assert rewards[0][0].tolist() == [0, 0, 1, 0] and rewards[-1][0].tolist() == [0, 0, 0, 1]
    assert env.step(RIGHT, rng)[1] == -0.1  # the junction's end wall
    observation, reward, terminal = env.step(DOWN, rng)
    assert (reward, terminal) == (4.0, True)
    assert env.step(UP, rng)[1:] == (0.0, True)  # terminal states give nothing
    env.reset(rng, goal_up=True)
    for _ in range(3):
        env.step(RIGHT, rng)
    assert env.step(DOWN, rng)[1:] == (-0.1, True)  # the wrong goal


def test_batched_histories_give_each_transitions_q_values():
    torch.manual_seed(0)
    env = TMaze(length=3)
    network = make_network("brc", 9, 4, hidden_size=5, num_layers=2).eval()
    rng = np.random.default_rng(1)
    buffer = ReplayBuffer(capacity=40, width=9, max_steps=env.horizon)
    while not buffer.full:
        observed, _, terminal = play(env, network, 1.0, rng)
        buffer.add(observed, terminal)
    slots = np.arange(0, 40, 3)
    histories, steps = buffer.histories(slots)
    with torch.no_grad():
        values, _ = network(histories, histories.shape[1])
        for row, slot in enumerate(slots):
            episode = buffer.episodes[buffer.episode[slot]]
            t = int(buffer.step[slot])
            alone, _ = network(torch.from_numpy(episode[None, : t + 1]), 1)
            torch.testing.assert_close(values[row, steps[row]], alone[0, 0])
    assert not is_optimal(env, network, rng)  # an untrained network is not optimal
