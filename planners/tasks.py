"""The planning tasks: per env, its cost, how its episodes start and the planner settings it needs.

The paper's planning wrappers (``shared/reference/gatel0rd.md`` Sec. 4) set more than a cost:
Shepherd episodes start on the right, and the task needs a horizon long enough to see the sheep
come out. These task defaults live here, in one table, so that ``mbplan plan``, ``mbplan demo``
and library users get the same settings (``mbplan plan --help`` lists them); every one of them
can still be overridden.

* **Robot Remote Control**: the iCEM reference's "blitz" settings (horizon 30) suffice: the robot
  can be reached and driven to the goal within 30 steps of every state.
* **Shepherd**: horizon 60. The cost is 2 while the sheep is hidden or above ``y = -0.1``; starting
  on the right the agent needs about 35-40 steps to reach the lever and the sheep 5 more to come
  out, so at horizon 30 every candidate costs ``2 H`` in most planning calls and the planner has
  nothing to rank (measured: 7 of 20 ground-truth episodes solved at horizon 30, 20 of 20 at 60).
  The warm-up action is "stand still and hold the cage", ``(0, 0, 1)``: the box midpoint would
  drop the cage (``a[2] <= 0``) before the first plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from planners.costs import RRCCost, ShepherdCost
from planners.protocols import TaskCost


@dataclass(frozen=True)
class PlanningTask:
    """How one env is planned in.

    Attributes:
        env_id: the registered env id.
        cost: builds the task cost (per-step cost and success test).
        reset_options: ``options`` of every episode's ``reset``.
        planner_defaults: planner constructor options that replace the planner's own defaults
            for this task (an explicit option still wins).
        warmup_action: ``(action_dim,)`` action of the model's ``k`` warm-up steps, or ``None``
            for the action box midpoint.
    """

    env_id: str
    cost: Callable[[], TaskCost]
    reset_options: Mapping[str, Any] = field(default_factory=dict)
    planner_defaults: Mapping[str, Any] = field(default_factory=dict)
    warmup_action: tuple[float, ...] | None = None

    def planner_options(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The task defaults overridden by the given options (``None`` values do not override).

        Args:
            options: planner options chosen by the user.

        Returns:
            The options to build the planner with.
        """
        chosen = {key: value for key, value in (options or {}).items() if value is not None}
        return {**self.planner_defaults, **chosen}

    def describe(self) -> str:
        """One line for ``--help``: the env and its non-default settings."""
        parts = [f"{key}={value}" for key, value in self.planner_defaults.items()]
        if self.reset_options:
            parts.append(f"reset options {dict(self.reset_options)}")
        if self.warmup_action is not None:
            parts.append(f"warm-up action {list(self.warmup_action)}")
        return f"{self.env_id}: " + (", ".join(parts) if parts else "the planner's defaults")


#: The planning tasks by env id (the ids of ``sims``; no import of ``sims`` needed).
PLANNING_TASKS: dict[str, PlanningTask] = {
    "mbplan/RobotRemoteControl-v0": PlanningTask("mbplan/RobotRemoteControl-v0", RRCCost),
    "mbplan/Shepherd-v0": PlanningTask(
        "mbplan/Shepherd-v0",
        ShepherdCost,
        reset_options=MappingProxyType({"start": "right"}),
        planner_defaults=MappingProxyType({"horizon": 60}),
        warmup_action=(0.0, 0.0, 1.0),
    ),
}


def planning_task(env_id: str) -> PlanningTask:
    """The planning task of an env id.

    Args:
        env_id: a registered id, e.g. ``"mbplan/Shepherd-v0"``.

    Returns:
        Its :class:`PlanningTask`.

    Raises:
        ValueError: for an env without a planning task.
    """
    if env_id not in PLANNING_TASKS:
        raise ValueError(f"no planning task for env {env_id!r}; known: {sorted(PLANNING_TASKS)}")
    return PLANNING_TASKS[env_id]


@dataclass(frozen=True)
class SuccessSummary:
    """Success over MPC episodes, with the episodes solved at reset counted apart.

    Attributes:
        episodes: all episodes.
        solved_at_reset: episodes whose first observation already passed the success test; the
            planner had nothing to do in them.
        successes: episodes solved by planning (solved at reset excluded).
    """

    episodes: int
    solved_at_reset: int
    successes: int

    @property
    def attempted(self) -> int:
        """Episodes not solved at reset."""
        return self.episodes - self.solved_at_reset

    @property
    def rate(self) -> float:
        """``successes / attempted`` (NaN when every episode was solved at reset)."""
        return self.successes / self.attempted if self.attempted else float("nan")

    def __str__(self) -> str:
        line = f"success rate {self.successes}/{self.attempted} = {self.rate:.2f}"
        if self.solved_at_reset:
            line += (
                f" ({self.solved_at_reset} of {self.episodes} episodes solved at reset, left out)"
            )
        return line


def summarize_success(results: Sequence[Any]) -> SuccessSummary:
    """Count successes of :class:`~planners.mpc.EpisodeResult`, solved-at-reset apart.

    Args:
        results: episodes with ``success`` and ``success_step`` (0 = solved at reset).

    Returns:
        The :class:`SuccessSummary`.
    """
    at_reset = sum(1 for r in results if r.success and r.success_step == 0)
    solved = sum(1 for r in results if r.success and r.success_step != 0)
    return SuccessSummary(episodes=len(results), solved_at_reset=at_reset, successes=solved)
