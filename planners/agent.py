"""An MPC agent for gymnasium loops: ``reset(obs)``, then ``act(obs) -> action`` every step.

:class:`MPCAgent` is the MPC loop of :mod:`planners.mpc` turned inside out, for ``B`` envs at once
(a ``gymnasium.vector`` env, or a list of envs): the caller owns the envs and passes every
observation in; the agent owns the filtered model state and the planner's warm start.

1. The first ``model.k`` calls of :meth:`MPCAgent.act` return the warm-up action (the model's
   ``f_init`` needs ``k`` real observations and actions);
2. the next call filters the state through that context, and every later call first advances the
   state with the previous observation and executed action (``model.step``);
3. every ``replan_every`` calls the planner optimises ``(B, P, H, A)`` sequences against the task
   cost of ``model.rollout`` from the current state and observation; in between, the agent
   executes the next actions of the last plan. The planner's warm start shifts every step.

Envs that are no longer ``active`` (terminated, truncated or solved; the caller says which) cost 0
for every candidate: an eager planner leaves their rows out of the rollouts, a fixed-shape one
(``fixed_shape=True``) keeps the shapes and masks the costs. Inputs that are numpy arrays give
numpy actions, tensors give tensors; a single ``(obs_dim,)`` observation is a batch of one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from planners.costs import Reduction
from planners.objective import make_objective, terminal_test
from planners.protocols import RecurrentWorldModel, TaskCost, TrajectoryCost
from planners.sampling import SamplingPlanner


class MPCAgent:
    """Model-predictive control of ``B`` envs with a recurrent world model.

    Args:
        model: world model with ``k``, ``initial_state``, ``step`` and ``rollout``.
        planner: a sampling planner; :meth:`reset` resets it to the batch size.
        task_cost: per-step cost of predicted observations, or a cost that also reads the
            planned actions and the model's latent states
            (:class:`~planners.trajectory_costs.CostWithTerms`).
        replan_every: plan every this many control steps, executing the plan open loop in
            between (1: every step).
        reduction: how step costs are reduced along the horizon.
        mask_terminal: leave the steps after a predicted termination (``task_cost.terminal``)
            out of the plans' costs, as the real env ends the episode there.
        warmup_action: ``(action_dim,)`` action of the ``model.k`` warm-up steps; box midpoint
            when ``None``.
        rollout_kwargs: extra keyword arguments of ``model.rollout`` (``check_nan=False`` for
            mbplan's world models: no host sync per call).
        step_kwargs: extra keyword arguments of ``model.step`` (likewise).

    Raises:
        ValueError: for ``replan_every < 1``, a warm-up action of the wrong shape or outside
            the planner's box, or ``mask_terminal`` with a task cost without ``terminal``.
    """

    def __init__(
        self,
        model: RecurrentWorldModel,
        planner: SamplingPlanner,
        task_cost: TaskCost | TrajectoryCost,
        *,
        replan_every: int = 1,
        reduction: Reduction = "sum",
        mask_terminal: bool = False,
        warmup_action: np.ndarray | torch.Tensor | None = None,
        rollout_kwargs: Mapping[str, Any] | None = None,
        step_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(replan_every, bool) or int(replan_every) != replan_every or replan_every < 1:
            raise ValueError(f"replan_every must be an integer >= 1, got {replan_every!r}")
        self.model, self.planner, self.task_cost = model, planner, task_cost
        self.replan_every = int(replan_every)
        self.reduction: Reduction = reduction
        if mask_terminal:
            terminal_test(task_cost)  # raises now, not at the first plan
        self.mask_terminal = bool(mask_terminal)
        self.rollout_kwargs = dict(rollout_kwargs or {})
        self.step_kwargs = dict(step_kwargs or {})
        device, dtype = planner.device, planner.dtype
        if warmup_action is None:
            warm = planner.box.middle.clone()
        else:
            warm = torch.as_tensor(np.asarray(warmup_action, dtype=np.float32)).to(device, dtype)
            if warm.shape != (planner.action_dim,):
                raise ValueError(
                    f"warmup_action must have shape ({planner.action_dim},), "
                    f"got {tuple(warm.shape)}"
                )
            planner.box.check_inside(warm, "warmup_action")
        self.warmup_action = warm
        #: filtered model state ``(B, state_size)`` once the warm-up is over, else ``None``.
        self.state: torch.Tensor | None = None
        #: the observation the last plan was made at, ``(B, obs_dim)``.
        self.current: torch.Tensor | None = None
        #: the last plan ``(B, horizon, action_dim)``, ``None`` during the warm-up.
        self.plan: torch.Tensor | None = None
        #: whether the last :meth:`act` planned, and the wall time of that planning (else 0).
        self.replanned = False
        self.last_plan_seconds = 0.0
        self._batch = 0
        self._obs_context: list[torch.Tensor] = []
        self._act_context: list[torch.Tensor] = []
        self._last_action: torch.Tensor | None = None
        self._steps = 0

    @property
    def warmup_steps(self) -> int:
        """Number of warm-up actions, ``model.k``."""
        return int(self.model.k)

    @property
    def steps(self) -> int:
        """Calls of :meth:`act` since :meth:`reset`."""
        return self._steps

    def _as_batch(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        tensor = torch.as_tensor(obs).to(self.planner.device, self.planner.dtype)
        return tensor.unsqueeze(0) if tensor.ndim == 1 else tensor

    def reset(self, obs: np.ndarray | torch.Tensor) -> None:
        """Start episodes in all envs.

        Args:
            obs: ``(B, obs_dim)`` (or ``(obs_dim,)``) reset observations; only the batch size is
                read here: pass the same observation to the first :meth:`act`.
        """
        self._batch = self._as_batch(obs).shape[0]
        self.planner.reset(self._batch)
        self.state = self.current = self.plan = self._last_action = None
        self._obs_context, self._act_context = [], []
        self._steps = 0

    def act(
        self,
        obs: np.ndarray | torch.Tensor,
        active: np.ndarray | torch.Tensor | None = None,
    ) -> np.ndarray | torch.Tensor:
        """The actions for the current observations.

        Args:
            obs: ``(B, obs_dim)`` (or ``(obs_dim,)``) current observations; for envs that are
                no longer active, any finite observation (e.g. their last one).
            active: ``(B,)`` bool, envs still running; all when ``None``. Inactive envs cost 0
                for every candidate.

        Returns:
            ``(B, action_dim)`` actions (``(action_dim,)`` for a single observation), numpy for
            numpy input, a tensor on the planner's device otherwise.

        Raises:
            RuntimeError: if :meth:`reset` was not called.
            ValueError: for a batch size other than the one given to :meth:`reset`.
        """
        if self._batch == 0:
            raise RuntimeError("call MPCAgent.reset(obs) before act(obs)")
        current = self._as_batch(obs)
        if current.shape[0] != self._batch:
            raise ValueError(
                f"obs must have batch size {self._batch} (as at reset), got {tuple(current.shape)}"
            )
        self.last_plan_seconds, self.replanned = 0.0, False
        k = self.warmup_steps
        if self._steps < k:
            self._obs_context.append(current)
            action = self.warmup_action.expand(self._batch, -1)
            self._act_context.append(action)
        else:
            self._filter(current)
            action = self._planned_action(active)
        self._last_action = action
        self._steps += 1
        return self._output(action, obs)

    def _filter(self, current: torch.Tensor) -> None:
        """Bring the state up to the current observation."""
        with torch.no_grad():
            if self.state is None:  # the first planning step: the warm-up context
                k = self.warmup_steps
                obs_context = torch.stack([*self._obs_context, current], dim=1)
                act_context = (
                    torch.stack(self._act_context, dim=1)
                    if k
                    else current.new_zeros(self._batch, 0, self.planner.action_dim)
                )
                state = self.model.initial_state(obs_context[:, :k], act_context)
                for t in range(k):
                    _, state, _ = self.model.step(
                        obs_context[:, t], act_context[:, t], state, **self.step_kwargs
                    )
            else:
                assert self.current is not None and self._last_action is not None
                _, state, _ = self.model.step(
                    self.current, self._last_action, self.state, **self.step_kwargs
                )
                self.planner.shift()
        self.state, self.current = state, current

    def _planned_action(self, active: np.ndarray | torch.Tensor | None) -> torch.Tensor:
        offset = (self._steps - self.warmup_steps) % self.replan_every
        if offset == 0 or self.plan is None:
            assert self.state is not None and self.current is not None
            cost_fn = make_objective(
                self.model,
                self.state,
                self.current,
                self.task_cost,
                reduction=self.reduction,
                mask_terminal=self.mask_terminal,
                **self._active_rows(active),
                rollout_kwargs=self.rollout_kwargs,
            )
            start = time.perf_counter()
            self.plan = self.planner.plan(cost_fn)
            self.last_plan_seconds = time.perf_counter() - start
            self.replanned = True
            offset = 0
        return self.plan[:, min(offset, self.plan.shape[1] - 1)]

    def _active_rows(self, active: np.ndarray | torch.Tensor | None) -> dict[str, torch.Tensor]:
        """``rows`` (eager planner) or ``mask`` (fixed-shape) of :func:`make_objective`."""
        if active is None:
            return {}
        mask = torch.as_tensor(active, dtype=torch.bool).reshape(-1)
        if mask.shape[0] != self._batch:
            raise ValueError(f"active must have shape ({self._batch},), got {tuple(mask.shape)}")
        device = self.planner.device
        if self.planner.fixed_shape:
            return {"mask": mask.to(device, non_blocking=True)}
        if mask.device.type != "cpu":  # a host read; pass active on the host to avoid it
            mask = mask.cpu()
        if bool(mask.all()):
            return {}
        return {"rows": torch.nonzero(mask).flatten().to(device)}

    def _output(
        self, action: torch.Tensor, like: np.ndarray | torch.Tensor
    ) -> np.ndarray | torch.Tensor:
        single = np.ndim(like) == 1
        out: np.ndarray | torch.Tensor = action[0] if single else action
        if not isinstance(like, torch.Tensor):
            return out.detach().cpu().numpy()
        return out.clone()

    def nonfinite_problems(self) -> np.ndarray:
        """``(B,)`` bool: envs for which some plan of this episode saw no finite cost.

        Only a fixed-shape planner can flag one (an eager planner raises inside the step); one
        host synchronisation, so read it once per episode.
        """
        return self.planner.nonfinite_problems().cpu().numpy()
