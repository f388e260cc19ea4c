"""Sampling-based trajectory optimisers (iCEM, CEM, MPPI) and model-predictive control.

``planners`` depends only on torch and numpy: models and envs are reached through the small
protocols in :mod:`planners.protocols`.
"""

from __future__ import annotations

from planners.action_box import ActionBox
from planners.agent import MPCAgent
from planners.cem import CEM
from planners.colored_noise import ColoredNoise, powerlaw_psd_gaussian
from planners.costs import (
    RRCCost,
    ShepherdCost,
    alive_steps,
    reduce_along_trajectory,
    task_cost_for,
)
from planners.ground_truth import GroundTruthModel
from planners.icem import ICEM
from planners.mpc import EpisodeResult, make_objective, run_mpc, success_rate
from planners.mppi import MPPI
from planners.sampling import SamplingPlanner
from planners.tasks import (
    PLANNING_TASKS,
    PlanningTask,
    SuccessSummary,
    planning_task,
    summarize_success,
)
from planners.trajectory_costs import ActionPenalty, ActionSmoothness, CostWithTerms, LatentGoal

__all__ = [
    "CEM",
    "ICEM",
    "MPPI",
    "MPCAgent",
    "PLANNING_TASKS",
    "PlanningTask",
    "SuccessSummary",
    "ActionBox",
    "ActionPenalty",
    "ActionSmoothness",
    "CostWithTerms",
    "LatentGoal",
    "alive_steps",
    "ColoredNoise",
    "EpisodeResult",
    "GroundTruthModel",
    "RRCCost",
    "SamplingPlanner",
    "ShepherdCost",
    "make_objective",
    "planning_task",
    "powerlaw_psd_gaussian",
    "reduce_along_trajectory",
    "run_mpc",
    "success_rate",
    "summarize_success",
    "task_cost_for",
]
