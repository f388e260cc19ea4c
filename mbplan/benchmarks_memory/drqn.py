"""A DRQN agent on the T-maze, with optional warmup: episodes until the greedy policy is optimal.

Protocol of the official ``reinforcement.py`` / ``agents.py`` / ``memory.py``
(``shared/reference/cells.md`` Sec. B.3), with the sizes configurable:

* agent input per step: one-hot previous action (4), previous reward (1), observation (4);
  Q-network = recurrent stack + linear readout of 4 action values, zero initial state;
* a replay buffer of ``buffer_capacity`` transitions (oldest overwritten), filled first by
  episodes of the exploration policy (epsilon = 1, actions with probabilities 1/2, 1/6, 1/6, 1/6);
* warmup (optional) on the buffer's input histories: the initial states are the network's states
  after the history of uniformly sampled transitions;
* per episode: every ``eval_every`` episodes the optimality test (two greedy rollouts, cue up and
  down, each must return 4 in exactly ``L + 1`` transitions); every ``target_update`` episodes
  the target network is copied; one epsilon-greedy episode (epsilon 0.2) into the buffer; then
  ``steps_per_episode`` Adam steps (lr 1e-3) on batches of ``batch_size`` transitions sampled
  with replacement, loss ``(Q(h_t, a_t) - r_t - gamma (1 - done) max_a Q_target(h_{t+1}, a))^2``.

Vectorised where the official code loops per transition: a transition's history is a prefix of
its episode, and the networks are causal, so ``Q`` of all sampled histories comes from one
forward pass over their (padded) episodes, read at each transition's step. Deviation:
``stop_when_optimal`` (default on) ends the run at the first optimal evaluation, since the
measure is that episode number (the official code keeps training to ``episodes``).

Randomness: the environment, exploration and replay sampling from one ``np.random.Generator``,
weights and gate noise from seeded torch generators.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from mbplan.analysis import core_prefix_states, vaa
from mbplan.benchmarks_memory.network import SequenceNetwork, make_network
from mbplan.benchmarks_memory.tmaze import EXPLORATION, TMaze
from mbplan.training.config import WarmupConfig
from mbplan.training.warmup import Warmup


@dataclasses.dataclass
class DRQNConfig:
    """One T-maze run (defaults: the official values, except where a budget is set)."""

    cell: str = "gru"
    hidden_size: int = 32
    num_layers: int = 2
    double: bool = False
    length: int = 10
    stochasticity: float = 0.0
    episodes: int = 2000
    batch_size: int = 32
    buffer_capacity: int = 8192
    lr: float = 1e-3
    steps_per_episode: int = 10
    target_update: int = 20
    epsilon: float = 0.2
    eval_every: int = 20
    stop_when_optimal: bool = True
    warmup: WarmupConfig = dataclasses.field(default_factory=WarmupConfig)
    vaa_steps: int = 1000
    vaa_states: int = 200
    seed: int = 0


class ReplayBuffer:
    """Transitions of whole episodes, stored as (episode, step) pairs in a ring.

    Args:
        capacity: transitions kept.
        width: size of one observed vector (action one-hot, reward, observation).
        max_steps: the horizon (an episode holds at most ``max_steps + 1`` observed vectors).
    """

    def __init__(self, capacity: int, width: int, max_steps: int) -> None:
        self.capacity = capacity
        self.max_steps = max_steps
        self.width = width
        self.episodes: list[np.ndarray] = []  # (max_steps + 1, width) zero-padded histories
        self.episode = np.zeros(capacity, dtype=np.int64)
        self.step = np.zeros(capacity, dtype=np.int64)
        self.done = np.zeros(capacity, dtype=np.float32)
        self.count = 0
        self._next = 0

    @property
    def full(self) -> bool:
        """Whether ``capacity`` transitions are stored."""
        return self.count == self.capacity

    def add(self, observed: list[np.ndarray], terminal: bool) -> None:
        """Store one episode's observed vectors (``len - 1`` transitions)."""
        history = np.zeros((self.max_steps + 1, self.width), dtype=np.float32)
        history[: len(observed)] = np.stack(observed)
        self.episodes.append(history)
        transitions = len(observed) - 1
        for t in range(transitions):
            slot = self._next
            self.episode[slot] = len(self.episodes) - 1
            self.step[slot] = t
            self.done[slot] = float(terminal and t == transitions - 1)
            self._next = (self._next + 1) % self.capacity
            self.count = min(self.count + 1, self.capacity)

    def histories(self, slots: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The padded episodes ``(b, T, width)`` of transitions ``slots`` and their steps ``(b,)``.

        ``T`` is cut to the longest needed history plus one step (the next history).
        """
        steps = self.step[slots]
        length = min(int(steps.max()) + 2, self.max_steps + 1)
        episodes = np.stack([self.episodes[i][:length] for i in self.episode[slots]])
        return torch.from_numpy(episodes), torch.from_numpy(steps)


def _observed(action: int | None, reward: float, observation: np.ndarray) -> np.ndarray:
    vector = np.zeros(TMaze.num_actions + 1 + TMaze.observation_size, dtype=np.float32)
    if action is not None:
        vector[action] = 1.0
    vector[TMaze.num_actions] = reward
    vector[TMaze.num_actions + 1 :] = observation
    return vector


def play(
    env: TMaze,
    network: SequenceNetwork,
    epsilon: float,
    rng: np.random.Generator,
    goal_up: bool | None = None,
) -> tuple[list[np.ndarray], float, bool]:
    """One epsilon-greedy episode; returns the observed vectors, the return and ``terminal``."""
    observed = [_observed(None, 0.0, env.reset(rng, goal_up))]
    total, terminal = 0.0, False
    explore_only = epsilon >= 1.0
    if not explore_only:
        network.eval()
        step_fn = network.core.make_step_fn(with_gates=False)
        state = torch.zeros(1, network.core.state_size)
    with torch.no_grad():
        for _ in range(env.horizon):
            if not explore_only:
                result = step_fn(torch.from_numpy(observed[-1]).unsqueeze(0), state, None)
                state = result.state
            if explore_only or rng.random() < epsilon:
                action = int(rng.choice(env.num_actions, p=EXPLORATION))
            else:
                action = int(network.readout(result.output).argmax())
            observation, reward, terminal = env.step(action, rng)
            observed.append(_observed(action, reward, observation))
            total += reward
            if terminal:
                break
    return observed, total, terminal


def is_optimal(env: TMaze, network: SequenceNetwork, rng: np.random.Generator) -> bool:
    """Both greedy rollouts (cue up, cue down) return 4 in exactly ``L + 1`` transitions."""
    for goal_up in (True, False):
        observed, total, _ = play(env, network, 0.0, rng, goal_up)
        if total != 4.0 or len(observed) - 1 != env.length + 1:
            return False
    return True


def _optimize(
    network: SequenceNetwork,
    target: SequenceNetwork,
    optimizer: torch.optim.Optimizer,
    buffer: ReplayBuffer,
    config: DRQNConfig,
    rng: np.random.Generator,
    generator: torch.Generator,
) -> float:
    slots = rng.integers(0, buffer.count, size=config.batch_size)
    histories, steps = buffer.histories(slots)
    actions = histories[torch.arange(len(slots)), steps + 1, : TMaze.num_actions].argmax(-1)
    rewards = histories[torch.arange(len(slots)), steps + 1, TMaze.num_actions]
    done = torch.from_numpy(buffer.done[slots])
    length = histories.shape[1]
    rows = torch.arange(len(slots))
    with torch.no_grad():
        target.eval()
        next_values = target(histories, length)[0][rows, (steps + 1).clamp(max=length - 1)]
        goal = rewards + TMaze.gamma * (1.0 - done) * next_values.max(-1).values
    network.train()
    values, gates = network(histories, length, generator)
    loss = F.mse_loss(values[rows, steps, actions], goal) + network.regularization(gates)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _buffer_states(
    network: SequenceNetwork, buffer: ReplayBuffer, slots: np.ndarray
) -> torch.Tensor:
    histories, steps = buffer.histories(slots)
    return core_prefix_states(network.core, histories, lengths=steps + 1)


def buffer_vaa(
    network: SequenceNetwork, buffer: ReplayBuffer, config: DRQNConfig, seed: int
) -> float:
    """VAA of ``vaa_states`` states after the histories of random buffer transitions."""
    rng = np.random.default_rng(seed)
    slots = rng.integers(0, buffer.count, size=config.vaa_states)
    network.eval()
    with torch.no_grad():
        states = _buffer_states(network, buffer, slots)
        generator = torch.Generator().manual_seed(seed)
        return float(vaa(network.core, states, config.vaa_steps, generator=generator))


def train_drqn(config: DRQNConfig, progress: bool = False) -> dict[str, Any]:
    """One T-maze run; returns the first optimal episode (or ``None``), evaluations and timings."""
    rng = np.random.default_rng(config.seed)
    env = TMaze(config.length, config.stochasticity)
    width = TMaze.num_actions + 1 + TMaze.observation_size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        network = make_network(
            config.cell,
            width,
            TMaze.num_actions,
            config.hidden_size,
            config.num_layers,
            double=config.double,
        )
    target = copy.deepcopy(network)
    buffer = ReplayBuffer(config.buffer_capacity, width, env.horizon)
    started = time.perf_counter()
    while not buffer.full:
        observed, _, terminal = play(env, network, 1.0, rng)
        buffer.add(observed, terminal)
    warmup_rows: list[dict[str, Any]] = []
    if config.warmup.steps > 0:

        def states(index: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
            return _buffer_states(network, buffer, index.numpy())

        warmup = Warmup(
            network.core, states, buffer.count, network.parameters(), config.warmup, config.seed
        )
        warmup.run(on_row=warmup_rows.append, progress=progress)
    warmup_seconds = time.perf_counter() - started
    vaa_start = buffer_vaa(network, buffer, config, config.seed)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed + 1)
    evaluations: list[dict[str, Any]] = []
    first_optimal = None
    losses: list[float] = []
    bar = tqdm(range(config.episodes + 1), desc=f"tmaze/{config.cell}", disable=not progress)
    for episode in bar:
        if episode % config.eval_every == 0:
            optimal = is_optimal(env, network, rng)
            evaluations.append(
                {
                    "episode": episode,
                    "optimal": optimal,
                    "loss": float(np.mean(losses)) if losses else None,
                }
            )
            losses = []
            if optimal and first_optimal is None:
                first_optimal = episode
                if config.stop_when_optimal:
                    break
        if episode == config.episodes:
            break
        if episode % config.target_update == 0:
            target.load_state_dict(network.state_dict())
        observed, _, terminal = play(env, network, config.epsilon, rng)
        buffer.add(observed, terminal)
        for _ in range(config.steps_per_episode):
            losses.append(_optimize(network, target, optimizer, buffer, config, rng, generator))
    return {
        "config": dataclasses.asdict(config),
        "warmup": warmup_rows,
        "evaluations": evaluations,
        "episode_optimality": first_optimal,
        "vaa_start": vaa_start,
        "vaa_end": buffer_vaa(network, buffer, config, config.seed + 1),
        "warmup_seconds": warmup_seconds,
        "seconds": time.perf_counter() - started,
    }
