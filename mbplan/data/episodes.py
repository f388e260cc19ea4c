"""Rolling out episodes: seeds, env construction, and one block of candidate episodes.

This is the part of generation that runs inside the worker processes. Candidate episode i of a
subset draws its env seed and its policy generator from ``np.random.SeedSequence(dataset seed,
spawn_key=(crc32(label), i, 0 | 1))`` alone, so its bytes do not depend on which process runs it,
on the order of execution or on resumption. A candidate is rolled out for T steps and kept if it
passes the subset's filters; filters that fail stop the rollout early.

The rollout ignores ``terminated`` and ``truncated``: the reference generators keep stepping after
a goal is reached (e.g. Shepherd's "sheep caught at t = 100" needs steps after the catch), and the
env is used unwrapped, without gymnasium's time limit, so the recipe alone sets the length.
"""

from __future__ import annotations

import importlib
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

import gymnasium as gym
import numpy as np

from mbplan.data.filters import Filter
from mbplan.data.policies import Policy, make_policy
from mbplan.data.spec import SubsetSpec

#: Namespaces whose envs are registered by importing ``sims``.
_SIMS_NAMESPACE = "mbplan/"


def episode_seeds(seed: int, label: str, index: int) -> tuple[int, np.random.Generator]:
    """Return the env seed and the policy generator of candidate episode ``index``.

    Args:
        seed: the dataset seed.
        label: the subset label.
        index: the candidate's index within the subset (0, 1, ...).

    Returns:
        ``(env_seed, policy_rng)``: an int for ``env.reset(seed=...)`` and a fresh generator.
    """
    key = zlib.crc32(label.encode("utf-8"))
    env_seed = np.random.SeedSequence(seed, spawn_key=(key, index, 0)).generate_state(1, np.uint64)
    policy = np.random.SeedSequence(seed, spawn_key=(key, index, 1))
    return int(env_seed[0]), np.random.default_rng(policy)


def make_env(env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> gym.Env:
    """Build the unwrapped env ``env_id`` (importing ``sims`` for ``mbplan/`` ids).

    Args:
        env_id: registered id, or ``module:id`` (gymnasium imports ``module`` first).
        env_kwargs: keyword arguments of ``gym.make``.

    Returns:
        The env without gymnasium's wrappers (no time limit, no checker).

    Raises:
        ValueError: the id is not registered (the message lists the ``mbplan/`` ids).
    """
    if ":" not in env_id and env_id.startswith(_SIMS_NAMESPACE):
        try:
            importlib.import_module("sims")
        except ModuleNotFoundError as err:
            raise ValueError(f"env: {env_id!r} needs the 'sims' package ({err})") from err
    try:
        env = gym.make(env_id, disable_env_checker=True, **dict(env_kwargs or {}))
    except gym.error.Error as err:
        known = sorted(k for k in gym.registry if k.startswith(_SIMS_NAMESPACE))
        raise ValueError(f"env: unknown id {env_id!r} ({err}); registered: {known}") from None
    return env.unwrapped


@dataclass(frozen=True)
class EnvLayout:
    """The shapes an env gives its episodes.

    Attributes:
        obs_dim: observation size.
        action_dim: action size (0 for action-free worlds).
        flag_names: the env's hidden factors, stored as ``flags`` in this order.
    """

    obs_dim: int
    action_dim: int
    flag_names: tuple[str, ...]


def env_layout(env: gym.Env) -> EnvLayout:
    """Read the observation/action sizes and ``flag_names`` of ``env``.

    Raises:
        ValueError: the spaces are not 1-D ``Box`` spaces.
    """
    for name, space in (("observation", env.observation_space), ("action", env.action_space)):
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"{name}_space: expected a 1-D Box, got {space!r}")
    return EnvLayout(
        obs_dim=int(env.observation_space.shape[0]),
        action_dim=int(env.action_space.shape[0]),
        flag_names=tuple(getattr(env, "flag_names", ())),
    )


@dataclass(frozen=True)
class BlockJob:
    """Candidates ``start <= i < stop`` of one subset.

    Attributes:
        subset: the subset's spec.
        seed: the dataset seed.
        steps: transitions per episode T.
        start: first candidate index.
        stop: one past the last candidate index.
    """

    subset: SubsetSpec
    seed: int
    steps: int
    start: int
    stop: int


@dataclass(frozen=True)
class BlockResult:
    """The accepted episodes of a :class:`BlockJob`, in candidate order.

    Attributes:
        label: the subset label.
        start: first candidate index of the block.
        stop: one past the last candidate index.
        indices: candidate index of each accepted episode, ascending.
        observations: ``(accepted, T+1, obs_dim)`` float32.
        actions: ``(accepted, T, action_dim)`` float32.
        flags: ``(accepted, T+1, n_flags)`` float32.
        steps_simulated: env steps taken, rejected episodes included.
        seconds: wall time spent in the block (perf counter, in the worker).
        cpu_seconds: CPU time the worker process spent on the block (``time.process_time``);
            unlike ``seconds`` it does not grow when other processes share the cores.
    """

    label: str
    start: int
    stop: int
    indices: tuple[int, ...]
    observations: np.ndarray
    actions: np.ndarray
    flags: np.ndarray
    steps_simulated: int
    seconds: float
    cpu_seconds: float


def _judge(
    filters: list[Filter], t: int, info: Mapping[str, Any], last: bool
) -> list[Filter] | None:
    """Return the filters still undecided after time ``t``, or None if one rejects."""
    undecided = []
    for condition in filters:
        verdict = condition.check(t, info, last)
        if verdict is False:
            return None
        if verdict is None:
            undecided.append(condition)
    return undecided


class EpisodeRunner:
    """Rolls out candidate episodes of one env; one instance per worker process.

    Args:
        env_id: gymnasium id (see :func:`make_env`).
        env_kwargs: keyword arguments of ``gym.make``.
        steps: transitions per episode T.
    """

    def __init__(self, env_id: str, env_kwargs: Mapping[str, Any], steps: int) -> None:
        self.env = make_env(env_id, env_kwargs)
        self.layout = env_layout(self.env)
        self.steps = int(steps)
        self._policies: dict[str, Policy] = {}
        self._check_cache: dict[str, list[bool]] = {}
        names = self.layout.flag_names
        self._read_flags: Callable[[Mapping[str, Any]], tuple[Any, ...]]
        if len(names) > 1:
            self._read_flags = itemgetter(*names)  # one C call per step
        elif names:
            self._read_flags = lambda info, name=names[0]: (info[name],)
        else:
            self._read_flags = lambda info: ()

    def policy(self, subset: SubsetSpec) -> Policy:
        """Return the (cached) policy of ``subset``."""
        policy = self._policies.get(subset.label)
        if policy is None:
            policy = make_policy(
                subset.policy.name, self.env.action_space, self.steps, subset.policy.params
            )
            self._policies[subset.label] = policy
        return policy

    def run(
        self, subset: SubsetSpec, seed: int, index: int
    ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, int]:
        """Roll out candidate ``index`` of ``subset``.

        Args:
            subset: the subset's spec.
            seed: the dataset seed.
            index: the candidate's index.

        Returns:
            ``((observations (T+1, obs_dim), actions (T, action_dim), flags (T+1, n_flags)) or
            None if rejected, env steps taken)``.
        """
        steps, env, read_flags = self.steps, self.env, self._read_flags
        env_seed, rng = episode_seeds(seed, subset.label, index)
        policy = self.policy(subset)
        policy.reset(rng)
        check_at = self._check_steps(subset)
        obs, info = env.reset(seed=env_seed, options=dict(subset.reset_options) or None)
        observations, actions, flags = [obs], [], [read_flags(info)]
        pending = list(subset.filters)
        if check_at[0]:
            pending = _judge(pending, 0, info, False)
            if pending is None:
                return None, 0
        step, act = env.step, policy.act
        for t in range(steps):
            action = act(t, obs, info)
            obs, _, _, _, info = step(action)
            actions.append(action)
            observations.append(obs)
            flags.append(read_flags(info))
            if check_at[t + 1]:
                pending = _judge(pending, t + 1, info, t + 1 == steps)
                if pending is None:
                    return None, t + 1
        layout = self.layout
        n_flags = len(layout.flag_names)
        return (
            np.concatenate(observations, dtype=np.float32).reshape(steps + 1, layout.obs_dim),
            np.concatenate(actions, dtype=np.float32).reshape(steps, layout.action_dim),
            np.fromiter(chain.from_iterable(flags), np.float32, (steps + 1) * n_flags).reshape(
                steps + 1, n_flags
            ),
        ), steps

    def _check_steps(self, subset: SubsetSpec) -> list[bool]:
        """Return, per time step 0..T, whether any filter of ``subset`` may decide there."""
        cached = self._check_cache.get(subset.label)
        if cached is None:
            wanted = [False] * (self.steps + 1)
            wanted[self.steps] = bool(subset.filters)
            for condition in subset.filters:
                at = condition.decision_steps(self.steps)
                for t in range(self.steps + 1) if at is None else at:
                    wanted[t] = True
            self._check_cache[subset.label] = cached = wanted
        return cached

    def run_block(self, job: BlockJob) -> BlockResult:
        """Roll out every candidate of ``job`` and keep the accepted ones."""
        began, began_cpu = time.perf_counter(), time.process_time()
        kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        indices: list[int] = []
        simulated = 0
        for index in range(job.start, job.stop):
            episode, taken = self.run(job.subset, job.seed, index)
            simulated += taken
            if episode is not None:
                kept.append(episode)
                indices.append(index)
        layout = self.layout
        shapes = (
            (job.steps + 1, layout.obs_dim),
            (job.steps, layout.action_dim),
            (job.steps + 1, len(layout.flag_names)),
        )
        stacked = [
            np.stack([episode[k] for episode in kept])
            if kept
            else np.zeros((0, *shapes[k]), dtype=np.float32)
            for k in range(3)
        ]
        return BlockResult(
            label=job.subset.label,
            start=job.start,
            stop=job.stop,
            indices=tuple(indices),
            observations=stacked[0],
            actions=stacked[1],
            flags=stacked[2],
            steps_simulated=simulated,
            seconds=time.perf_counter() - began,
            cpu_seconds=time.process_time() - began_cpu,
        )


_WORKER_RUNNER: EpisodeRunner | None = None


def init_worker(env_id: str, env_kwargs: Mapping[str, Any], steps: int) -> None:
    """Process-pool initializer: build this worker's :class:`EpisodeRunner`.

    Workers ignore Ctrl-C (SIGINT reaches the whole process group): the parent stops the pool
    and reports the interruption once, instead of every worker printing a traceback.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _WORKER_RUNNER
    _WORKER_RUNNER = EpisodeRunner(env_id, env_kwargs, steps)


def run_block_in_worker(job: BlockJob) -> BlockResult:
    """Process-pool task: run ``job`` on the worker's runner (see :func:`init_worker`)."""
    if _WORKER_RUNNER is None:
        raise RuntimeError("run_block_in_worker called before init_worker")
    return _WORKER_RUNNER.run_block(job)
