"""Task costs and success tests of the GateL0RD paper's planning tasks (RRC and Shepherd).

From the paper code's iCEM wrappers (``shared/reference/gatel0rd.md`` Sec. 4), on the observation
layouts of Sec. 2.2-2.3. All constants live in this module:

* **Robot Remote Control** (observation ``[agent x, agent y, robot x - 2, robot y]``): the cost of a
  step is the distance of the robot to the goal, ``||obs[2:4] - (0.5, -0.5)||``; the goal is at
  ``(2.5, -0.5)`` in the world, ``(0.5, -0.5)`` in observation space. Success: the robot within
  ``1.5 x`` the env's goal threshold ``0.1``, i.e. ``0.15``.
* **Shepherd** (observation ``[agent x', agent y', cage x', cage y', sheep x - 2, sheep y, stable
  height]`` with ``x' = (x - 1) / 2``, ``y' = (y + 0.5) / 2``; the sheep is observed as ``(0, 0)``
  while hidden): in world coordinates,
  ``cost = clamp(2 * [sheep y > -0.1] + ||cage - sheep||, 0, 2)``, so 2 while the sheep is hidden
  or has not walked below ``y = -0.1``. Success: the sheep caught by the env, or caught with the
  reference wrapper's catch radius ``1.2 x 0.1 = 0.12``: gate open, cage not carried, sheep
  visible and cage-sheep distance below 0.12. (The reference wrapper also enlarges the lever
  radius to 0.24 and starts agent and cage at ``x = 2.9``; those change the env, not the cost, and
  are not reproduced here.)

Per-step costs are reduced along the horizon by :func:`reduce_along_trajectory` (the reference's
``cost_along_trajectory``: ``sum`` by default, ``best`` or ``final``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import torch

from planners.protocols import TaskCost

# --- Robot Remote Control ------------------------------------------------------------
#: Goal of the robot in observation space (world (2.5, -0.5); the observation stores robot x - 2).
RRC_GOAL_OBS: tuple[float, float] = (0.5, -0.5)
#: Slice of the robot position in the RRC observation.
RRC_ROBOT_SLICE = slice(2, 4)
#: The env's goal threshold (reward and termination within this distance).
RRC_GOAL_THRESHOLD = 0.1
#: The planning wrapper's success radius factor.
RRC_SUCCESS_FACTOR = 1.5

# --- Shepherd ------------------------------------------------------------------------
#: Slices of the cage (normalised) and sheep (x - 2, y) positions in the Shepherd observation.
SHEPHERD_CAGE_SLICE = slice(2, 4)
SHEPHERD_SHEEP_SLICE = slice(4, 6)
#: World x, y of a normalised position x', y': x = scale * x' + offset.
SHEPHERD_POS_SCALE = 2.0
SHEPHERD_POS_OFFSET: tuple[float, float] = (1.0, -0.5)
#: World x offset of the sheep observation (sheep x - 2).
SHEPHERD_SHEEP_X_OFFSET = 2.0
#: The sheep must be below this world y before the distance term counts.
SHEPHERD_SHEEP_Y_LIMIT = -0.1
#: Penalty while the sheep is hidden or above the limit, and the cap of the cost.
SHEPHERD_COST_CAP = 2.0
#: The env's catch radius (cage to sheep) and the planning wrapper's factor.
SHEPHERD_CATCH_THRESHOLD = 0.1
SHEPHERD_SUCCESS_FACTOR = 1.2


@lru_cache(maxsize=64)
def constant(values: tuple[float, ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A constant vector made once per (values, device, dtype), not on every cost call.

    Building it per call is a host-to-device copy every MPC iteration on a GPU. The cached tensor
    is shared: do not modify it.

    Args:
        values: the entries.
        device: its device.
        dtype: its dtype.

    Returns:
        ``(len(values),)`` tensor.
    """
    return torch.tensor(values, device=device, dtype=dtype)


def _check_obs(obs: torch.Tensor, min_dim: int, task: str) -> None:
    if obs.ndim < 1 or obs.shape[-1] < min_dim:
        raise ValueError(
            f"{task} cost expects observations of shape (..., obs_dim >= {min_dim}), "
            f"got {tuple(obs.shape)}"
        )


@dataclass(frozen=True)
class RRCCost:
    """Robot Remote Control: distance of the robot to the goal.

    Attributes:
        goal: goal in observation space, ``(robot x - 2, robot y)``.
        success_radius: success when the robot is closer than this to the goal.
    """

    goal: tuple[float, float] = RRC_GOAL_OBS
    success_radius: float = RRC_SUCCESS_FACTOR * RRC_GOAL_THRESHOLD

    def step_cost(self, obs: torch.Tensor) -> torch.Tensor:
        """Distance of the robot to the goal.

        Args:
            obs: ``(..., 4)`` RRC observations.

        Returns:
            ``(...)`` distances.
        """
        _check_obs(obs, 4, "RRC")
        goal = constant(tuple(self.goal), obs.device, obs.dtype)
        return torch.linalg.vector_norm(obs[..., RRC_ROBOT_SLICE] - goal, dim=-1)

    def terminal(self, obs: torch.Tensor) -> torch.Tensor:
        """Whether the env would end the episode here: the robot within the goal threshold 0.1.

        Args:
            obs: ``(..., 4)`` (predicted) RRC observations.

        Returns:
            ``(...)`` bool.
        """
        _check_obs(obs, 4, "RRC")
        goal = constant(tuple(self.goal), obs.device, obs.dtype)
        distance = torch.linalg.vector_norm(obs[..., RRC_ROBOT_SLICE] - goal, dim=-1)
        return distance < RRC_GOAL_THRESHOLD

    def is_success(self, obs: np.ndarray, info: Mapping[str, Any]) -> bool:
        """Whether the robot is within :attr:`success_radius` of the goal.

        Args:
            obs: ``(4,)`` real observation.
            info: the env's info (unused).

        Returns:
            The success flag.
        """
        robot = np.asarray(obs, dtype=np.float64)[RRC_ROBOT_SLICE]
        return bool(np.linalg.norm(robot - np.asarray(self.goal)) < self.success_radius)


@dataclass(frozen=True)
class ShepherdCost:
    """Shepherd: bring the cage to the sheep once it has come out below ``y = -0.1``.

    Attributes:
        success_radius: catch radius for success, cage to sheep, world units.
    """

    success_radius: float = SHEPHERD_SUCCESS_FACTOR * SHEPHERD_CATCH_THRESHOLD

    @staticmethod
    def world_positions(obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cage and sheep positions in world coordinates.

        Args:
            obs: ``(..., 7)`` Shepherd observations.

        Returns:
            ``(cage (..., 2), sheep (..., 2))``; a hidden sheep comes out at ``(2, 0)``.
        """
        _check_obs(obs, 6, "Shepherd")
        offset = constant(SHEPHERD_POS_OFFSET, obs.device, obs.dtype)
        cage = SHEPHERD_POS_SCALE * obs[..., SHEPHERD_CAGE_SLICE] + offset
        sheep_offset = constant((SHEPHERD_SHEEP_X_OFFSET, 0.0), obs.device, obs.dtype)
        sheep = obs[..., SHEPHERD_SHEEP_SLICE] + sheep_offset
        return cage, sheep

    def step_cost(self, obs: torch.Tensor) -> torch.Tensor:
        """``clamp(2 * [sheep y > -0.1] + ||cage - sheep||, 0, 2)`` in world coordinates.

        Args:
            obs: ``(..., 7)`` Shepherd observations.

        Returns:
            ``(...)`` costs in ``[0, 2]``.
        """
        cage, sheep = self.world_positions(obs)
        not_out = (sheep[..., 1] > SHEPHERD_SHEEP_Y_LIMIT).to(obs.dtype)
        distance = torch.linalg.vector_norm(cage - sheep, dim=-1)
        return torch.clamp(SHEPHERD_COST_CAP * not_out + distance, 0.0, SHEPHERD_COST_CAP)

    def terminal(self, obs: torch.Tensor) -> torch.Tensor:
        """Whether the sheep looks caught: visible, out below ``y = -0.1``, within 0.1 of the cage.

        The env terminates when it catches the sheep (gate open, cage dropped, cage within its
        catch radius 0.1 of the sheep); the gate and the cage's carried flag are not in the
        observation, so this test reads the positions only: it is the part of the env's catch
        test that a predicted observation shows.

        Args:
            obs: ``(..., 7)`` (predicted) Shepherd observations.

        Returns:
            ``(...)`` bool.
        """
        cage, sheep = self.world_positions(obs)
        visible = obs[..., SHEPHERD_SHEEP_SLICE].abs().amax(dim=-1) > 0.0
        out = sheep[..., 1] <= SHEPHERD_SHEEP_Y_LIMIT
        close = torch.linalg.vector_norm(cage - sheep, dim=-1) < SHEPHERD_CATCH_THRESHOLD
        return visible & out & close

    def is_success(self, obs: np.ndarray, info: Mapping[str, Any]) -> bool:
        """Caught by the env, or gate open, cage dropped, sheep visible and within the radius.

        A hidden sheep is observed as the placeholder ``(0, 0)``, i.e. at ``(2, 0)`` in the
        world, right above a cage parked at the gate: it never counts as within the radius (the
        env's own catch test, reported as ``sheep_caught``, sees the true position).

        Args:
            obs: ``(7,)`` real observation.
            info: the env's info with ``sheep_caught``, ``gate_open`` and ``cage_carried``.

        Returns:
            The success flag.
        """
        if bool(info.get("sheep_caught", False)):
            return True
        values = np.asarray(obs, dtype=np.float64)
        if not np.any(values[SHEPHERD_SHEEP_SLICE]):  # hidden: no position to test
            return False
        cage, sheep = self.world_positions(torch.as_tensor(values))
        close = float(torch.linalg.vector_norm(cage - sheep)) < self.success_radius
        return bool(info.get("gate_open", False)) and not info.get("cage_carried", True) and close


def task_cost_for(env_id: str) -> TaskCost:
    """The task cost of an env id (see :mod:`planners.tasks` for the other task settings).

    Args:
        env_id: a registered id, e.g. ``"mbplan/RobotRemoteControl-v0"``.

    Returns:
        The task cost with its reference constants.

    Raises:
        ValueError: for an env without a planning task.
    """
    from planners.tasks import planning_task

    return planning_task(env_id).cost()


Reduction = Literal["sum", "best", "final"]


def alive_steps(terminal: torch.Tensor) -> torch.Tensor:
    """Which steps of a predicted trajectory happen before (or at) its first termination.

    Step ``t`` is alive when no step ``s < t`` is terminal: the terminal step itself still counts
    (the env reports the reward or cost of the step that ends the episode), every later one is
    after the end.

    Args:
        terminal: ``(..., horizon)`` bool, the steps at which the trajectory terminates.

    Returns:
        ``(..., horizon)`` bool.
    """
    if terminal.dtype != torch.bool:
        raise ValueError(f"terminal must be a bool tensor, got {terminal.dtype}")
    before = torch.cumsum(terminal.to(torch.int32), dim=-1) - terminal.to(torch.int32)
    return before == 0


def reduce_along_trajectory(
    step_costs: torch.Tensor, how: Reduction = "sum", alive: torch.Tensor | None = None
) -> torch.Tensor:
    """Reduce per-step costs over the horizon (the reference's ``cost_along_trajectory``).

    With ``alive`` (see :func:`alive_steps`) the steps after a predicted termination are left
    out, as an episode that ended costs nothing more (mbrl-lib zeroes the rewards after a
    predicted ``done`` in the same way): ``sum`` adds the alive steps, ``best`` takes the
    minimum over them, ``final`` the cost of the last alive step (the terminal one).

    Args:
        step_costs: ``(..., horizon)``.
        how: ``"sum"``, ``"best"`` (minimum over time) or ``"final"`` (last step).
        alive: ``(..., horizon)`` bool, or ``None`` (every step counts). Step 0 must be alive.

    Returns:
        ``(...)`` sequence costs. NaN propagates (and then ranks last in the planners).

    Raises:
        ValueError: for an unknown ``how`` or an ``alive`` of another shape.
    """
    if how not in ("sum", "best", "final"):
        raise ValueError(f"how must be 'sum', 'best' or 'final', got {how!r}")
    if alive is not None:
        if alive.shape != step_costs.shape:
            raise ValueError(
                f"alive must have the shape of step_costs {tuple(step_costs.shape)}, "
                f"got {tuple(alive.shape)}"
            )
        if how == "sum":
            return torch.where(alive, step_costs, 0.0).sum(dim=-1)
        if how == "best":
            return torch.where(alive, step_costs, torch.inf).amin(dim=-1)
        last = (alive.sum(dim=-1, keepdim=True) - 1).clamp(min=0)
        return step_costs.gather(-1, last).squeeze(-1)
    if how == "sum":
        return step_costs.sum(dim=-1)
    if how == "best":
        return step_costs.amin(dim=-1)
    return step_costs[..., -1]
