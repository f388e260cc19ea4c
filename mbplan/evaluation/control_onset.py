"""Robot Remote Control: does the model know when the robot comes under control?

Planning RRC with a learned model needs two predictions that no observation shows directly:
the robot starts to follow the actions once the agent has reached the computer (control onset),
and it stays put before. This probe measures both on the real env, in the situation the planner
is in:

1. a scripted episode drives the agent straight to the computer (full speed, ``||a||_inf = 1``)
   and, once the env reports ``robot_controlled``, drives the robot toward the goal for
   ``after`` more steps; the model filters the real history (``initial_state`` + ``step``);
2. **onset**: from there, the model rolls out ``horizon`` steps of the constant action that
   points the robot at the goal, and the real env takes the same actions. The *response* is the
   predicted robot displacement over the real one (1: the model knows the robot is controlled;
   0: it predicts a robot at rest);
3. **before**: the same, ``lead`` steps before the agent reaches the computer, with the constant
   action that moves the agent away from the computer: the real robot does not move, and the
   predicted displacement (world units) is the model's false motion.

The displacement is the distance between the robot position at the last rolled-out step and at
the start, in observation units (world units for the robot, whose observation is ``(x - 2, y)``).
With ``model=None`` the simulator itself is the model (:class:`planners.GroundTruthModel`):
response 1 and false motion 0 exactly, the probe's own check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mbplan.evaluation.scripted_rollout import rollout_beside_env, toward

RRC_ENV = "mbplan/RobotRemoteControl-v0"
#: computer and goal in observation space (agent: world position; robot: ``(x - 2, y)``).
COMPUTER_OBS = np.array([0.5, 0.5])
GOAL_OBS = np.array([0.5, -0.5])


@dataclass(frozen=True)
class ControlOnsetResult:
    """Per-episode measurements and their summary.

    Attributes:
        seeds: episode reset seeds.
        response: ``predicted / real`` robot displacement after the onset, per episode.
        false_motion: predicted robot displacement before the onset (the real one is 0); NaN
            for an episode whose control latches within the model's first ``k`` steps.
        mean_response: mean of ``response``.
        registered: fraction of episodes with ``response > 0.5``.
        mean_false_motion: mean of ``false_motion``.
        after: steps of observed control before the onset rollout.
        lead: steps before the computer of the false-motion rollout.
        horizon: rollout length.
    """

    seeds: list[int]
    response: list[float]
    false_motion: list[float]
    mean_response: float
    registered: float
    mean_false_motion: float
    after: int
    lead: int
    horizon: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)


def _history(env: Any, seed: int, after: int, lead: int) -> tuple[list, list, list, list]:
    """Scripted episode until ``after`` steps after the control onset.

    Returns observations, actions, the env state at every observation, and ``[cut]``, the step
    ``lead`` steps before the onset; raises if the agent never reaches the computer.
    """
    obs, _ = env.reset(seed=seed)
    observations, actions, snapshots = [obs], [], []
    controlled_for = 0
    for _ in range(100):
        controlled = bool(env.unwrapped.robot_controlled)
        if controlled:
            if controlled_for == after:
                break
            controlled_for += 1
            action = toward(GOAL_OBS, obs[2:4])
        else:
            action = toward(COMPUTER_OBS, obs[:2])
        snapshots.append(env.unwrapped.get_state())
        obs, *_ = env.step(action)
        observations.append(obs)
        actions.append(action)
    else:
        raise RuntimeError(f"seed {seed}: the scripted agent did not get control in 100 steps")
    steps_to_control = len(actions) - after
    cut = max(steps_to_control - lead, 0)
    return observations, actions, snapshots, [cut]


def _displacements(
    model: Any | None,
    env: Any,
    sim: Any,
    snapshot: np.ndarray,
    observations: list,
    actions: list,
    upto: int,
    action: np.ndarray,
    horizon: int,
) -> tuple[float, float]:
    """(predicted, real) robot displacement: ``horizon`` steps of ``action`` from ``upto``."""
    plan = np.tile(action, (horizon, 1))
    predicted, real, _ = rollout_beside_env(
        model, env, sim, snapshot, observations, actions, upto, plan
    )
    start = observations[upto][2:4]
    return (
        float(np.linalg.norm(predicted[-1, 2:4] - start)),
        float(np.linalg.norm(real[-1, 2:4] - start)),
    )


def control_onset_response(
    model: Any | None,
    *,
    episodes: int = 20,
    seed: int = 0,
    after: int = 0,
    lead: int = 3,
    horizon: int = 5,
) -> ControlOnsetResult:
    """Measure a model's response to RRC's control onset and its false robot motion before it.

    Args:
        model: an RRC world model (``k``, ``initial_state``, ``step``, ``rollout``) on the CPU,
            or ``None`` for the simulator itself.
        episodes: scripted episodes, reset seeds ``seed .. seed + episodes - 1``.
        seed: first reset seed.
        after: steps the robot is seen under control before the onset rollout (0: the rollout
            starts at the first observation in which the env has latched control).
        lead: steps before reaching the computer at which the false-motion rollout starts.
        horizon: steps of each rollout.

    Returns:
        The per-episode and summary values (see :class:`ControlOnsetResult`).

    Raises:
        ValueError: for counts below their minimum.
    """
    import gymnasium as gym

    import sims  # noqa: F401  (registers the envs)

    if episodes < 1 or horizon < 1 or after < 0 or lead < 1:
        raise ValueError(
            "control_onset_response: expected episodes >= 1, horizon >= 1, after >= 0, lead >= 1; "
            f"got episodes={episodes}, horizon={horizon}, after={after}, lead={lead}"
        )
    env, sim = gym.make(RRC_ENV), gym.make(RRC_ENV)
    sim.reset(seed=seed)
    seeds, responses, false_motion = [], [], []
    for number in range(episodes):
        episode_seed = seed + number
        observations, actions, snapshots, (cut,) = _history(env, episode_seed, after, lead)
        end = len(actions)
        onset_action = toward(GOAL_OBS, observations[end][2:4])
        final_state = env.unwrapped.get_state()
        predicted, real = _displacements(
            model,
            env,
            sim,
            final_state,
            observations,
            actions,
            end,
            onset_action,
            horizon,
        )
        responses.append(predicted / real if real > 0 else float("nan"))
        cut = max(cut, 0 if model is None else int(model.k))
        if cut >= end - after:  # control within the model's first k steps: nothing before it
            false_motion.append(float("nan"))
        else:
            away = -toward(COMPUTER_OBS, observations[cut][:2])
            moved, still = _displacements(
                model,
                env,
                sim,
                snapshots[cut],
                observations,
                actions,
                cut,
                away,
                horizon,
            )
            if still > 1e-6:
                raise RuntimeError(f"seed {episode_seed}: the robot moved before control")
            false_motion.append(moved)
        seeds.append(episode_seed)
    response = np.asarray(responses)
    return ControlOnsetResult(
        seeds=seeds,
        response=[float(r) for r in response],
        false_motion=[float(m) for m in false_motion],
        mean_response=float(np.nanmean(response)),
        registered=float(np.mean(response > 0.5)),
        mean_false_motion=float(np.nanmean(false_motion)),
        after=after,
        lead=lead,
        horizon=horizon,
    )
