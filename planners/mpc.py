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
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from planners.costs import Reduction, reduce_along_trajectory
from planners.protocols import RecurrentWorldModel, StepEnv, TaskCost
from planners.ranking import CostFn
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


def make_objective(
    model: RecurrentWorldModel,
    state: torch.Tensor,
    obs: torch.Tensor,
    task: TaskCost,
    *,
    reduction: Reduction = "sum",
    rows: torch.Tensor | None = None,
    rollout_kwargs: Mapping[str, Any] | None = None,
) -> CostFn:
    """Cost function of action sequences through the model's rollout.

    Args:
        model: world model with ``rollout``.
        state: ``(B, state_size)`` filtered states.
        obs: ``(B, obs_dim)`` current real observations.
        task: per-step task cost of predicted observations.
        reduction: how step costs are reduced along the horizon.
        rows: ``(n,)`` int64 indices of the problems to evaluate; the others get cost 0 without a
            rollout. All problems when ``None``.
        rollout_kwargs: extra keyword arguments of ``model.rollout`` (e.g. ``check_nan=False`` for
            mbplan's world models, which skips their one host synchronisation per call).

    Returns:
        ``cost_fn(actions (B, P, H, A)) -> costs (B, P)``.
    """
    extra = dict(rollout_kwargs or {})

    @torch.no_grad()
    def cost_fn(actions: torch.Tensor) -> torch.Tensor:
        batch, population, horizon, action_dim = actions.shape
        chosen = actions if rows is None else actions.index_select(0, rows)
        sel_state = state if rows is None else state.index_select(0, rows)
        sel_obs = obs if rows is None else obs.index_select(0, rows)
        n = chosen.shape[0]
        flat_state = sel_state.unsqueeze(1).expand(n, population, -1).reshape(n * population, -1)
        flat_obs = sel_obs.unsqueeze(1).expand(n, population, -1).reshape(n * population, -1)
        pred, _ = model.rollout(
            flat_state, flat_obs, chosen.reshape(n * population, horizon, action_dim), **extra
        )
        costs = reduce_along_trajectory(task.step_cost(pred), reduction).reshape(n, population)
        costs = costs.to(actions.dtype)
        if rows is None:
            return costs
        full = torch.zeros(batch, population, device=costs.device, dtype=costs.dtype)
        return full.index_copy(0, rows, costs)

    return cost_fn


class _EpisodeRecorder:
    """Per-env lists that become an :class:`EpisodeResult`."""

    def __init__(
        self, index: int, seed: int | None, obs: np.ndarray, info: dict[str, Any], task: TaskCost
    ):
        self.index = index
        self.seed = seed
        self.error: str | None = None
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
    record_predictions: bool = False,
    record_states: bool = False,
    render: bool = False,
    rollout_kwargs: Mapping[str, Any] | None = None,
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
        record_predictions: keep the model's rollout of every executed plan.
        record_states: keep the filtered model state at every planning step.
        render: keep a frame after the reset and after every step.
        rollout_kwargs: extra keyword arguments of ``model.rollout`` in the objective.
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
    planner.reset(batch)
    plan_seconds: list[float] = []

    # 1-2: warm-up actions, then filter the model's state through them.
    warm_actions = np.broadcast_to(warmup_action, (batch, action_dim))
    for _ in range(warmup):
        _step_envs(envs, recorders, warm_actions, render)
    context = [
        np.stack(r.observations[: warmup + 1])
        if r.error is None
        else np.repeat(r.last_finite_observation[None], warmup + 1, 0)
        for r in recorders
    ]
    if any(len(c) < warmup + 1 for c in context):  # an env ended during the warm-up
        context = [np.concatenate([c, np.repeat(c[-1:], warmup + 1 - len(c), 0)]) for c in context]
    obs_context = torch.as_tensor(np.stack(context), device=device, dtype=dtype)
    act_context = torch.as_tensor(np.array(warm_actions[:, None].repeat(warmup, 1)), device=device)
    act_context = act_context.to(dtype)
    with torch.no_grad():
        state = model.initial_state(obs_context[:, :warmup], act_context)
        for t in range(warmup):
            _, state, _ = model.step(obs_context[:, t], act_context[:, t], state)
    current = obs_context[:, warmup]

    # 3-4: plan, execute, filter.
    steps = warmup
    while steps < max_steps and not all(r.done for r in recorders):
        active = [b for b, r in enumerate(recorders) if not r.done]
        rows = None if len(active) == batch else torch.tensor(active, device=device)
        cost_fn = make_objective(
            model,
            state,
            current,
            task,
            reduction=reduction,
            rows=rows,
            rollout_kwargs=rollout_kwargs,
        )
        start = time.perf_counter()
        plan = planner.plan(cost_fn)
        actions = plan[:, 0].detach().cpu().numpy()
        plan_seconds.append(time.perf_counter() - start)
        if record_predictions:
            with torch.no_grad():
                predicted, _ = model.rollout(state, current, plan)
            predicted = predicted.detach().cpu().numpy()
        for b in active:
            if record_predictions:
                recorders[b].predictions.append(predicted[b])
            if record_states:
                recorders[b].model_states.append(state[b].detach().cpu().numpy())
        _step_envs(envs, recorders, actions, render)
        executed = torch.as_tensor(actions, device=device, dtype=dtype)
        with torch.no_grad():
            _, state, _ = model.step(current, executed, state)
        current = _last_observations(recorders, device).to(dtype)
        planner.shift()
        steps += 1
        logger.debug("MPC step %d: %d of %d envs active", steps, len(active), batch)
        if on_step is not None:
            on_step(steps)
    return [r.result(warmup, action_dim, plan_seconds) for r in recorders]
