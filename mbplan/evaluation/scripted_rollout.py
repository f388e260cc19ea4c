"""Open-loop probes on the real env: a model filters a scripted history, then rolls out beside it.

The probes of :mod:`mbplan.evaluation.control_onset` (RRC) and
:mod:`mbplan.evaluation.lever_response` (Shepherd) ask the same kind of question: after a scripted
real history, does the model predict what the real env does under a fixed action sequence? Both use
the mechanism here: the model filters the real history (``initial_state`` on its first ``k`` steps,
then ``step``), rolls out the plan, and the real env, restored to the state at the cut, takes the
same actions. With ``model=None`` the simulator itself is the model
(:class:`planners.GroundTruthModel`), which predicts exactly: each probe's own check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def toward(target: Sequence[float] | np.ndarray, position: np.ndarray) -> np.ndarray:
    """Full-speed 2D action from ``position`` toward ``target`` (largest entry +-1; zeros at it).

    Args:
        target: ``(2,)`` target, in the same coordinates as ``position``.
        position: ``(2,)`` current position.

    Returns:
        ``(2,)`` float32 action.
    """
    delta = np.asarray(target, dtype=np.float64) - np.asarray(position, dtype=np.float64)
    scale = np.abs(delta).max()
    return (delta / scale if scale > 0 else np.zeros(2)).astype(np.float32)


def filtered_state(
    model: Any, observations: Sequence[np.ndarray], actions: Sequence[np.ndarray], upto: int
) -> torch.Tensor:
    """The model's state after filtering the real history up to observation ``upto``.

    Args:
        model: a world model (``k``, ``initial_state``, ``step``) on the CPU.
        observations: the history's observations, ``(obs_dim,)`` each, at least ``upto + 1``.
        actions: its actions, ``(action_dim,)`` each, at least ``upto``.
        upto: index of the observation the rollout starts from.

    Returns:
        The model state before observation ``upto`` (``step`` has read observations
        ``0 .. upto - 1``), shaped as the model's states, batch 1.

    Raises:
        RuntimeError: when the history is shorter than the model's context ``k``.
    """
    k = int(model.k)
    if upto < k:
        raise RuntimeError(f"the history ({upto} steps) is shorter than the model's k = {k}")
    obs = torch.as_tensor(np.stack(observations[: upto + 1]))[None]
    action_dim = np.asarray(actions[0]).shape[-1]
    act = torch.as_tensor(
        np.stack(actions[:upto]) if upto else np.zeros((0, action_dim), np.float32)
    )[None]
    state = model.initial_state(obs[:, :k], act[:, :k])
    for t in range(upto):
        _, state, _ = model.step(obs[:, t], act[:, t], state)
    return state


def rollout_beside_env(
    model: Any | None,
    env: Any,
    simulator: Any,
    snapshot: np.ndarray,
    observations: Sequence[np.ndarray],
    actions: Sequence[np.ndarray],
    upto: int,
    plan: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Predicted and real observations of ``plan`` from observation ``upto`` of a real history.

    Args:
        model: a world model on the CPU, or ``None`` for the simulator as the model.
        env: the real env (``gym.make`` of the probe's env id); it is restored to ``snapshot``
            and steps through ``plan``.
        simulator: a scratch env of the same id, reset once (the simulator model's rollouts).
        snapshot: ``env.unwrapped.get_state()`` taken at observation ``upto``.
        observations: the history's observations (``(obs_dim,)`` each).
        actions: its actions (``(action_dim,)`` each).
        upto: index of the observation the rollout starts from.
        plan: ``(horizon, action_dim)`` actions.

    Returns:
        ``(predicted (horizon, obs_dim), real (horizon, obs_dim), infos)``: float64 arrays of the
        observations after each action, and the real env's info dicts.
    """
    import planners

    plan_t = torch.as_tensor(np.asarray(plan, dtype=np.float32))[None]
    current = torch.as_tensor(np.asarray(observations[upto]))[None]
    env.unwrapped.set_state(snapshot)
    if model is None:
        truth = planners.GroundTruthModel([env], simulator)
        state = truth.initial_state(current[:, None, :0], torch.zeros(1, 0, plan_t.shape[-1]))
        predicted, _ = truth.rollout(state, current, plan_t)
    else:
        with torch.no_grad():
            state = filtered_state(model, observations, actions, upto)
            predicted, _ = model.rollout(state, current, plan_t)
    real, infos = [], []
    for step in plan_t[0].numpy():
        obs, _, _, _, info = env.step(step)
        real.append(obs)
        infos.append(info)
    return predicted[0].double().numpy(), np.asarray(real, dtype=np.float64), infos
