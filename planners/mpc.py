"""Model-predictive control: plan with a recurrent world model, execute, filter, repeat.

The loop of ``shared/DESIGN.md`` ("MPC"), batched over ``B`` environments with one planner call per
control step for all of them:

1. reset the envs and execute ``k = model.k`` warm-up actions (the box midpoint unless given), since
   the model's ``f_init`` needs the first ``k`` real observations *and actions*;
2. filter: ``state = initial_state(o_{0:k}, a_{0:k})``, then ``step`` through those ``k`` inputs, so
   that ``state`` summarises the real history up to the current observation ``o_t``;
3. plan: the cost of a population ``(B, P, H, A)`` is the task cost of ``rollout(state, o_t, a)``,
   with the state and observation expanded to the population, reduced along the horizon;
4. execute the first action of the plan in every unfinished env, advance the state with
   ``step(o_t, a_t, state)``, shift the planner's warm start, and go to 3.

An episode ends on the task's success test (:meth:`TaskCost.is_success`), on the env's
``terminated`` / ``truncated``, or after ``max_steps`` env steps. Finished envs stay in the batch
but are not stepped, and their rows are left out of the rollouts. An env that returns a
non-finite observation ends its own episode (unsolved, with :attr:`EpisodeResult.error` naming the
env and step, and a warning); the other episodes of the batch go on. The same loop runs with
:class:`~planners.ground_truth.GroundTruthModel` to validate a planner without a learned model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from planners.agent import MPCAgent
from planners.costs import Reduction
from planners.objective import make_objective  # noqa: F401  (re-exported)
from planners.protocols import RecurrentWorldModel, StepEnv, TaskCost
from planners.sampling import SamplingPlanner

logger = logging.getLogger(__name__)


@dataclass
class EpisodeResult:
    """What happened in one MPC episode.

    Attributes:
        seed: the seed the env was reset with.
        success: whether the task was solved.
        success_step: env step count at which success was first seen (0 = at reset), -1 if never.
        observations: ``(steps + 1, obs_dim)`` real observations, the reset one first.
        actions: ``(steps, action_dim)`` executed actions, the warm-up ones first.
        costs: ``(steps + 1,)`` task step cost of every real observation.
        warmup_steps: number of warm-up actions at the start of :attr:`actions`.
        predictions: ``(plans, horizon, obs_dim)`` the model's rollout of each executed plan from
            the observation it was planned at (``observations[warmup_steps + i]``), when recorded.
        model_states: ``(plans, state_size)`` filtered model state at each planning step, when
            recorded.
        frames: ``steps + 1`` rendered frames ``(height, width, 3)`` uint8, when rendered.
        plan_seconds: wall time of each planning call of this episode (shared with the batch).
        error: why the episode was cut short (an env's non-finite observation), else ``None``.
        nonfinite_plan: a fixed-shape planner saw no finite cost in some plan of this episode
            (read once at its end; an eager planner raises instead).
    """

    seed: int | None
    success: bool
    success_step: int
    observations: np.ndarray
    actions: np.ndarray
    costs: np.ndarray
    warmup_steps: int
    predictions: np.ndarray | None = None
    model_states: np.ndarray | None = None
    frames: list[np.ndarray] | None = None
    plan_seconds: list[float] = field(default_factory=list)
    error: str | None = None
    nonfinite_plan: bool = False

    @property
    def steps(self) -> int:
        """Env steps taken, warm-up included."""
        return int(self.actions.shape[0])


def success_rate(results: Sequence[EpisodeResult]) -> float:
    """Fraction of successful episodes.

    Args:
        results: episodes.

    Returns:
        Successes divided by episodes (0 for none).
    """
    return sum(r.success for r in results) / len(results) if results else 0.0


class _EpisodeRecorder:
    """Per-env lists that become an :class:`EpisodeResult`."""

    def __init__(
        self, index: int, seed: int | None, obs: np.ndarray, info: dict[str, Any], task: TaskCost
    ):
        self.index = index
        self.seed = seed
        self.error: str | None = None
        self.nonfinite_plan = False
        self.task = task
        self.observations = [np.asarray(obs, dtype=np.float32)]
        self.actions: list[np.ndarray] = []
        self.predictions: list[np.ndarray] = []
        self.model_states: list[np.ndarray] = []
        self.frames: list[np.ndarray] = []
        self.success_step = -1
        self.done = False
        if self._check_finite(obs):
            self.success_step = 0 if task.is_success(obs, info) else -1
            self.done = self.success_step == 0

    def _check_finite(self, obs: np.ndarray) -> bool:
        """End the episode on a non-finite observation; return whether ``obs`` is finite."""
        if np.isfinite(obs).all():
            return True
        step = len(self.observations) - 1
        self.error = (
            f"env {self.index} (seed {self.seed}) returned a non-finite observation at step "
            f"{step}: {np.asarray(obs).tolist()}"
        )
        logger.warning("%s; that episode ends unsolved, the others go on", self.error)
        self.done = True
        return False

    @property
    def last_finite_observation(self) -> np.ndarray:
        """The latest finite observation (what the model is fed after an env's failure)."""
        for obs in reversed(self.observations):
            if np.isfinite(obs).all():
                return obs
        return np.zeros_like(self.observations[0])

    def record_step(
        self,
        action: np.ndarray,
        obs: np.ndarray,
        terminated: bool,
        truncated: bool,
        info: dict[str, Any],
    ) -> None:
        self.actions.append(np.asarray(action, dtype=np.float32))
        self.observations.append(np.asarray(obs, dtype=np.float32))
        if not self._check_finite(obs):
            return
        if self.success_step < 0 and self.task.is_success(obs, info):
            self.success_step = len(self.actions)
        self.done = self.success_step >= 0 or bool(terminated) or bool(truncated)

    def result(
        self, warmup_steps: int, action_dim: int, plan_seconds: list[float]
    ) -> EpisodeResult:
        observations = np.stack(self.observations)
        with torch.no_grad():
            finite = np.nan_to_num(observations, nan=0.0, posinf=0.0, neginf=0.0)
            costs = self.task.step_cost(torch.from_numpy(finite)).numpy()
        costs[~np.isfinite(observations).all(axis=-1)] = np.nan
        actions = np.stack(self.actions) if self.actions else np.zeros((0, action_dim), np.float32)
        return EpisodeResult(
            seed=self.seed,
            success=self.success_step >= 0,
            success_step=self.success_step,
            observations=observations,
            actions=actions,
            costs=costs,
            warmup_steps=warmup_steps,
            predictions=np.stack(self.predictions) if self.predictions else None,
            model_states=np.stack(self.model_states) if self.model_states else None,
            frames=list(self.frames) if self.frames else None,
            plan_seconds=plan_seconds,
            error=self.error,
            nonfinite_plan=self.nonfinite_plan,
        )


def _step_envs(
    envs: Sequence[StepEnv],
    recorders: list[_EpisodeRecorder],
    actions: np.ndarray,
    render: bool,
) -> None:
    for env, recorder, action in zip(envs, recorders, actions, strict=True):
        if recorder.done:
            continue
        obs, _, terminated, truncated, info = env.step(action)
        recorder.record_step(action, obs, terminated, truncated, info)
        if render:
            recorder.frames.append(np.asarray(env.render()))


def _last_observations(recorders: list[_EpisodeRecorder], device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.stack([r.last_finite_observation for r in recorders]), device=device)


def _record_plan(
    agent: MPCAgent,
    recorders: list[_EpisodeRecorder],
    active: np.ndarray,
    record_predictions: bool,
    record_states: bool,
) -> None:
    """Keep the rollout of the plan just made and the filtered state, for the active envs."""
    assert agent.plan is not None and agent.state is not None and agent.current is not None
    if record_predictions:
        with torch.no_grad():
            predicted, _ = agent.model.rollout(agent.state, agent.current, agent.plan)
        predicted = predicted.detach().cpu().numpy()
    for b in active:
        if record_predictions:
            recorders[b].predictions.append(predicted[b])
        if record_states:
            recorders[b].model_states.append(agent.state[b].detach().cpu().numpy())


def run_mpc(
    envs: Sequence[StepEnv],
    model: RecurrentWorldModel,
    planner: SamplingPlanner,
    task: TaskCost,
    *,
    max_steps: int,
    seeds: Sequence[int] | None = None,
    reset_options: dict[str, Any] | None = None,
    warmup_action: np.ndarray | None = None,
    reduction: Reduction = "sum",
    mask_terminal: bool = False,
    record_predictions: bool = False,
    record_states: bool = False,
    render: bool = False,
    rollout_kwargs: Mapping[str, Any] | None = None,
    step_kwargs: Mapping[str, Any] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> list[EpisodeResult]:
    """Run one MPC episode in each env, all planned together.

    Args:
        envs: ``B`` envs (gymnasium API); with ``render`` they must render ``rgb_array`` frames.
        model: the world model (or :class:`~planners.ground_truth.GroundTruthModel` over ``envs``).
        planner: a sampling planner; it is reset to batch size ``B``.
        task: per-step cost and success test.
        max_steps: largest number of env steps per episode, warm-up included.
        seeds: ``B`` reset seeds (``None``: unseeded resets).
        reset_options: ``options`` for every ``reset``.
        warmup_action: ``(action_dim,)`` action of the ``model.k`` warm-up steps; box midpoint when
            ``None``.
        reduction: how step costs are reduced along the horizon.
        mask_terminal: leave the steps after a predicted termination out of the plans' costs.
        record_predictions: keep the model's rollout of every executed plan.
        record_states: keep the filtered model state at every planning step.
        render: keep a frame after the reset and after every step.
        rollout_kwargs: extra keyword arguments of ``model.rollout`` in the objective.
        step_kwargs: extra keyword arguments of ``model.step`` when filtering.
        on_step: called with the env step count after every control step (progress bars).

    Returns:
        ``B`` :class:`EpisodeResult`, in the order of ``envs``.

    Raises:
        ValueError: for an empty batch, seeds of the wrong length, ``max_steps`` not above
            ``model.k``, or a ``warmup_action`` outside the planner's action box.
    """
    batch = len(envs)
    if batch == 0:
        raise ValueError("envs must hold at least one env, got an empty sequence")
    if seeds is not None and len(seeds) != batch:
        raise ValueError(f"seeds must have length len(envs) = {batch}, got {len(seeds)}")
    warmup = int(model.k)
    if warmup < 0 or max_steps <= warmup:
        raise ValueError(f"max_steps must exceed model.k = {warmup}, got max_steps={max_steps}")
    device, dtype = planner.device, planner.dtype
    action_dim = planner.action_dim
    if warmup_action is None:
        warmup_action = planner.box.middle.cpu().numpy()
    warmup_action = np.asarray(warmup_action, dtype=np.float32)
    if warmup_action.shape != (action_dim,):
        raise ValueError(
            f"warmup_action must have shape ({action_dim},), got {warmup_action.shape}"
        )
    planner.box.check_inside(torch.from_numpy(warmup_action), "warmup_action")

    recorders = []
    for b, env in enumerate(envs):
        seed = None if seeds is None else int(seeds[b])
        obs, info = env.reset(seed=seed, options=reset_options)
        recorders.append(_EpisodeRecorder(b, seed, obs, info, task))
        if render:
            recorders[-1].frames.append(np.asarray(env.render()))
    agent = MPCAgent(
        model,
        planner,
        task,
        reduction=reduction,
        mask_terminal=mask_terminal,
        warmup_action=warmup_action,
        rollout_kwargs=rollout_kwargs,
        step_kwargs=step_kwargs,
    )
    agent.reset(_last_observations(recorders, device))
    plan_seconds: list[float] = []
    steps = 0
    while steps < max_steps and not all(r.done for r in recorders):
        active = np.array([not r.done for r in recorders])
        actions = agent.act(_last_observations(recorders, device).to(dtype), active=active)
        actions = actions.detach().cpu().numpy()
        if agent.replanned:  # (the warm-up steps do not plan)
            plan_seconds.append(agent.last_plan_seconds)
            rows = np.flatnonzero(active)
            _record_plan(agent, recorders, rows, record_predictions, record_states)
        _step_envs(envs, recorders, actions, render)
        steps += 1
        logger.debug("MPC step %d: %d of %d envs active", steps, int(active.sum()), batch)
        if on_step is not None and steps > warmup:
            on_step(steps)
    flagged = agent.nonfinite_problems() if planner.fixed_shape else np.zeros(batch, bool)
    for recorder, bad in zip(recorders, flagged, strict=True):
        recorder.nonfinite_plan = bool(bad)
        if bad:
            logger.warning(
                "env %d (seed %s): some plan saw no finite cost (the model predicted NaN/inf)",
                recorder.index,
                recorder.seed,
            )
    return [r.result(warmup, action_dim, plan_seconds) for r in recorders]
