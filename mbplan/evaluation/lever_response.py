"""Shepherd: does the model know that pulling the lever lets the sheep out, and where it comes out?

Planning Shepherd with a learned model from the right-hand start needs, within the horizon, two
predictions no current observation shows: the hidden sheep comes out of the stable once the agent
reaches the lever (``sims.shepherd``: the gate latches within 0.2 of it and the sheep is seen again
in the next observation), and it comes out at the x where it was last seen, many steps earlier.
Until the sheep is out below ``y = -0.1`` every step costs the cap
(``planners.costs.ShepherdCost``), so a model that does not predict the release gives the
planner nothing to rank. This probe measures both on the real env, in the planner's situation
(the analogue of RRC's :mod:`mbplan.evaluation.control_onset`):

1. a scripted episode (start on the right, the cage held, full speed toward the lever) runs until
   the gate opens; the model filters the real history up to ``lead`` steps before that;
2. **release**: from there the model rolls out the scripted actions to the lever and then
   ``wait`` steps of standing still, and the real env takes the same actions. The sheep is *out*
   at the first step whose (predicted) observation puts it below ``y = -0.1``, the cost's own
   test. Measured: whether the model predicts it out within the rollout (*registered*), the
   predicted minus the real out step, and the predicted sheep's distance from the real one over
   the steps where the real sheep is out (world units; a model that knows nothing of the sheep's
   x but its range U(1.5, 2.5) and puts it at x = 2 is off by 0.25 on average in x alone);
3. **false release**: from the same cut, ``lead + wait`` steps walking away from the lever: the
   real sheep stays hidden, and the fraction of episodes in which the model lets it out anyway.

With ``model=None`` the simulator is the model: everything registered, timing and distance 0,
no false release; the probe's own check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mbplan.evaluation.scripted_rollout import rollout_beside_env, toward
from planners.costs import SHEPHERD_SHEEP_SLICE, SHEPHERD_SHEEP_Y_LIMIT
from sims.shepherd import FIELD_NORMALIZATION, LEVER_POSITION

SHEPHERD_ENV = "mbplan/Shepherd-v0"
#: the lever in observation coordinates (agent position space).
LEVER_OBS = FIELD_NORMALIZATION.world_to_obs(np.asarray(LEVER_POSITION))
HOLD = np.float32(1.0)  #: ``a[2]`` that keeps the cage carried


@dataclass(frozen=True)
class LeverResponseResult:
    """Per-episode measurements and their summary.

    Attributes:
        seeds: episode reset seeds.
        registered: per episode, whether the model predicts the sheep out within the rollout.
        timing: predicted minus real out step (NaN where not registered).
        sheep_error: mean predicted-to-real sheep distance over the real out steps, world units.
        false_release: per episode, whether the model lets the sheep out walking away.
        registered_rate: mean of ``registered``.
        mean_timing: mean of ``timing`` over registered episodes (NaN if none).
        mean_sheep_error: mean of ``sheep_error``.
        false_release_rate: mean of ``false_release``.
        lead: steps before the gate opens at which the rollouts start.
        wait: steps of standing still after the scripted actions reach the lever.
    """

    seeds: list[int]
    registered: list[bool]
    timing: list[float]
    sheep_error: list[float]
    false_release: list[bool]
    registered_rate: float
    mean_timing: float
    mean_sheep_error: float
    false_release_rate: float
    lead: int
    wait: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)


def _out(observations: np.ndarray) -> np.ndarray:
    """``(steps,)`` bool: the sheep is below the cost's line (hidden sheep read (0, 0): not out)."""
    return observations[:, SHEPHERD_SHEEP_SLICE][:, 1] <= SHEPHERD_SHEEP_Y_LIMIT


def _to_lever(env: Any, seed: int) -> tuple[list, list, list]:
    """Scripted episode until the gate opens: observations, actions, states at each observation."""
    obs, _ = env.reset(seed=seed, options={"start": "right"})
    observations, actions, snapshots = [obs], [], []
    for _ in range(100):
        action = np.append(toward(LEVER_OBS, obs[:2]), HOLD).astype(np.float32)
        snapshots.append(env.unwrapped.get_state())
        obs, _, _, _, info = env.step(action)
        observations.append(obs)
        actions.append(action)
        if info["gate_open"]:
            return observations, actions, snapshots
    raise RuntimeError(f"seed {seed}: the scripted agent did not open the gate in 100 steps")


def release_rollout(
    model: Any | None, env: Any, simulator: Any, seed: int, lead: int = 5, wait: int = 25
) -> tuple[np.ndarray, np.ndarray, tuple[list, list, list, int]]:
    """One episode's release rollout: scripted to the lever, then ``wait`` steps standing still.

    Args:
        model: a Shepherd world model on the CPU, or ``None`` for the simulator.
        env: a ``mbplan/Shepherd-v0`` env (reset here with ``seed``, start on the right).
        simulator: a scratch env of the same id, reset once.
        seed: the episode's reset seed.
        lead: steps before the gate opens at which the rollout starts.
        wait: steps of standing still (cage held) after the scripted approach.

    Returns:
        ``(predicted, real, (observations, actions, snapshots, cut))``: the ``(lead + wait, 7)``
        predicted and real observations after each rollout action, and the scripted history
        with the index ``cut`` of the observation the rollout starts from (the gate opens with
        rollout action ``lead - 1``, i.e. in real observation ``lead - 1`` of the rollout).

    Raises:
        RuntimeError: when the gate opens within the model's first ``k`` steps.
    """
    observations, actions, snapshots = _to_lever(env, seed)
    cut = len(actions) - lead
    if cut < (0 if model is None else int(model.k)):
        raise RuntimeError(f"seed {seed}: the gate opens within {lead} steps (plus the model's k)")
    still = np.array([0.0, 0.0, HOLD], dtype=np.float32)
    plan = np.concatenate([np.stack(actions[cut:]), np.tile(still, (wait, 1))])
    predicted, real, _ = rollout_beside_env(
        model, env, simulator, snapshots[cut], observations, actions, cut, plan
    )
    return predicted, real, (observations, actions, snapshots, cut)


def lever_response(
    model: Any | None, *, episodes: int = 20, seed: int = 0, lead: int = 5, wait: int = 25
) -> LeverResponseResult:
    """Measure a Shepherd model's prediction of the sheep's release and of its false release.

    Args:
        model: a Shepherd world model (``k``, ``initial_state``, ``step``, ``rollout``) on the
            CPU, or ``None`` for the simulator itself.
        episodes: scripted episodes, reset seeds ``seed .. seed + episodes - 1``.
        seed: first reset seed.
        lead: steps before the gate opens at which the rollouts start (at least the model's
            ``k`` steps of history remain before it: the start on the right is ~30 steps away).
        wait: steps of standing still (cage held) after the scripted approach.

    Returns:
        The per-episode and summary values (see :class:`LeverResponseResult`).

    Raises:
        ValueError: for counts below their minimum.
    """
    import gymnasium as gym

    import sims  # noqa: F401  (registers the envs)

    if episodes < 1 or lead < 1 or wait < 5:
        raise ValueError(
            "lever_response: expected episodes >= 1, lead >= 1, wait >= 5 (the sheep needs 4 "
            f"steps to pass y = -0.1); got episodes={episodes}, lead={lead}, wait={wait}"
        )
    env, sim = gym.make(SHEPHERD_ENV), gym.make(SHEPHERD_ENV)
    sim.reset(seed=seed)
    seeds, registered, timing, error, false_release = [], [], [], [], []
    for number in range(episodes):
        episode_seed = seed + number
        predicted, real, (observations, actions, snapshots, cut) = release_rollout(
            model, env, sim, episode_seed, lead, wait
        )
        real_out, predicted_out = _out(real), _out(predicted)
        if not real_out.any():
            raise RuntimeError(f"seed {episode_seed}: the real sheep did not come out")
        first_real = int(np.argmax(real_out))
        registered.append(bool(predicted_out.any()))
        timing.append(
            float(np.argmax(predicted_out) - first_real) if predicted_out.any() else float("nan")
        )
        gap = predicted[real_out][:, SHEPHERD_SHEEP_SLICE] - real[real_out][:, SHEPHERD_SHEEP_SLICE]
        error.append(float(np.linalg.norm(gap, axis=-1).mean()))

        away = -toward(LEVER_OBS, observations[cut][:2])
        away_plan = np.tile(np.append(away, HOLD).astype(np.float32), (lead + wait, 1))
        predicted, real, infos = rollout_beside_env(
            model, env, sim, snapshots[cut], observations, actions, cut, away_plan
        )
        if any(info["gate_open"] for info in infos):
            raise RuntimeError(f"seed {episode_seed}: walking away from the lever opened the gate")
        false_release.append(bool(_out(predicted).any()))
        seeds.append(episode_seed)
    timed = [t for t in timing if np.isfinite(t)]
    return LeverResponseResult(
        seeds=seeds,
        registered=registered,
        timing=timing,
        sheep_error=error,
        false_release=false_release,
        registered_rate=float(np.mean(registered)),
        mean_timing=float(np.mean(timed)) if timed else float("nan"),
        mean_sheep_error=float(np.mean(error)),
        false_release_rate=float(np.mean(false_release)),
        lead=lead,
        wait=wait,
    )
