"""Fixtures shared by every test folder; every test runs torch single-threaded.

The models in the tests are tiny: with two intra-op threads on a shared 2-core machine, thread
synchronisation dominates and one update can take 20x longer than single-threaded.

For command-line runs: a tiny real Billiard dataset (``dataset``, ``other_dataset``) and
``train_argv`` for a tiny ``mbplan train``.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest
import torch

from mbplan.data.tensors import SequenceTensors

# A job started in the background by a non-interactive shell inherits SIGINT ignored, and Python
# then installs no KeyboardInterrupt handler. The tests of Ctrl-C handling (which raise SIGINT
# and check that the handler is restored) need Python's usual one, whatever started pytest.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run the test with one torch thread (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _shepherd_sequences(episodes: int, steps: int = 100) -> SequenceTensors:
    """Sequences of the real Shepherd env under the dataset's Shepherd policy (start left)."""
    from mbplan.data.policies import make_policy
    from sims.shepherd import ShepherdEnv

    env = ShepherdEnv()
    policy = make_policy("shepherd", env.action_space, steps)
    rng = np.random.default_rng(0)
    observations, actions, flags = [], [], []
    for episode in range(episodes):
        obs, info = env.reset(seed=episode)
        policy.reset(rng)
        episode_obs, episode_act, episode_flags = [obs], [], [[float(info["gate_open"])]]
        for t in range(steps):
            action = policy.act(t, obs, info)
            obs, _, _, _, info = env.step(action)
            episode_obs.append(obs)
            episode_act.append(action)
            episode_flags.append([float(info["gate_open"])])
        observations.append(np.stack(episode_obs))
        actions.append(np.stack(episode_act))
        flags.append(np.array(episode_flags, np.float32))
    return SequenceTensors(
        observations=torch.as_tensor(np.stack(observations)),
        actions=torch.as_tensor(np.stack(actions)),
        flags=torch.as_tensor(np.stack(flags)),
        subset=torch.zeros(episodes, dtype=torch.long),
        flag_names=("gate_open",),
    )


@pytest.fixture
def shepherd_sequences():
    """``shepherd_sequences(episodes, steps=100)``: real Shepherd env sequences (start left)."""
    return _shepherd_sequences


#: model options that make every ``mbplan train`` run tiny.
SMALL_MODEL_ARGV = ["--model.hidden-size", "4", "--model.feature-size", "8", "--model.depth", "1"]


def _billiard(root, episodes: int, seed: int = 0):
    from mbplan.data import generate, generic_spec

    spec = generic_spec("mbplan/BilliardBall-v0", "uniform", episodes=episodes, steps=12, seed=seed)
    generate(spec, root)
    return root


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """20 uniform-policy Billiard episodes of 12 steps."""
    return _billiard(tmp_path_factory.mktemp("data") / "bb", 20)


@pytest.fixture(scope="session")
def other_dataset(tmp_path_factory):
    """Another dataset of the same shapes (another seed)."""
    return _billiard(tmp_path_factory.mktemp("data") / "bb_other", 20, seed=1)


@pytest.fixture
def train_argv():
    """``train_argv(data, out, *extra)``: ``mbplan train`` on the tiny preset, tiny model."""

    def make(data, out, *extra: str) -> list[str]:
        argv = ["train", "--preset", "tiny", "--data", str(data), "--out", str(out)]
        return [*argv, *SMALL_MODEL_ARGV, *extra]

    return make
