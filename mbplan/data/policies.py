"""Data-collection policies of the GateL0RD paper, seeded by an explicit ``np.random.Generator``.

A policy is built once per (worker, subset) with the action space and the episode length T, then
``reset(rng)`` at the start of every episode and asked ``act(t, observation, info)`` for t = 0..T-1,
where ``observation`` and ``info`` are the env's at time t (after ``reset`` for t = 0). Everything
random is drawn at ``reset`` in one vectorised call per quantity, so the per-step work is an index
and, for Shepherd, one flag lookup; the draws depend on the generator alone, never on global state.

Policies (``shared/reference/gatel0rd.md`` Sec. 2.2-2.3, PAPER ``generate_*_data*.py``):

* ``uniform``: every action dimension i.i.d. uniform in the action space's bounds, for any env. It
  is also the RRC *generalisation* policy (``rrc-generalization``, uniform in [-1, 1]).
* ``rrc-biased``: a uniform random direction theta_t in [0, 2 pi) at each step, magnitude m_t the
  t-th of T evenly spaced values from 1e-4 to 1, action ``(sin theta_t, cos theta_t) * m_t``.
* ``shepherd``: movement uniform in [-1, 1]^2; grasp ``U(-0.5, 0.5) + 0.5 * f_t`` where the sign
  ``f`` starts at +1 and flips with probability 0.1 before each step (so holding and releasing
  persist); optionally (start-right sets) a walk-up and a walk-left bias, each switched on for good
  with probability ``bias_probability`` per step and applied from the next step on while the gate
  is closed: ``a_y <- 0.5 a_y + 0.5``, ``a_x <- 0.5 a_x - 0.5``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces


class Policy(ABC):
    """An open-loop or flag-reactive data-collection policy.

    Args:
        action_space: the env's ``Box`` action space.
        steps: episode length T (number of actions per episode).
    """

    def __init__(self, action_space: spaces.Box, steps: int) -> None:
        if not isinstance(action_space, spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f"action_space: expected a 1-D gymnasium Box, got {action_space!r}")
        if steps < 1:
            raise ValueError(f"steps: expected an episode length >= 1, got {steps}")
        self.action_space = action_space
        self.action_dim = int(action_space.shape[0])
        self.steps = int(steps)
        self._plan = np.zeros((self.steps, self.action_dim), dtype=np.float32)
        self._rows: list[np.ndarray] = list(self._plan)  # row views: cheap per-step indexing

    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode: draw every random quantity of it from ``rng``.

        Args:
            rng: the episode's policy generator.
        """
        self._plan = np.ascontiguousarray(self._draw_plan(rng), dtype=np.float32)
        self._rows = list(self._plan)

    @abstractmethod
    def _draw_plan(self, rng: np.random.Generator) -> np.ndarray:
        """Return the episode's open-loop actions ``(T, action_dim)``."""

    def act(self, t: int, observation: np.ndarray, info: Mapping[str, Any]) -> np.ndarray:
        """Return the action at time step ``t``.

        Args:
            t: time step, 0 <= t < T.
            observation: the env's observation at time t, ``(obs_dim,)``.
            info: the env's info dict at time t.

        Returns:
            ``(action_dim,)`` float32 action, within the action space.
        """
        return self._rows[t]

    def params(self) -> dict[str, Any]:
        """Return the constructor parameters other than the action space and episode length."""
        return {}


class UniformPolicy(Policy):
    """Actions i.i.d. uniform within the action space's bounds (RRC generalisation policy)."""

    def _draw_plan(self, rng: np.random.Generator) -> np.ndarray:
        low = np.asarray(self.action_space.low, dtype=np.float64)
        high = np.asarray(self.action_space.high, dtype=np.float64)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise ValueError(f"action_space: uniform needs finite bounds, got {low}..{high}")
        return rng.uniform(low, high, size=(self.steps, self.action_dim))


class RRCBiasedPolicy(Policy):
    """RRC training policy: random direction, magnitude growing linearly over the episode.

    ``a_t = (sin theta_t, cos theta_t) * m_t`` with ``theta_t ~ U[0, 2 pi)`` and
    ``m_t = linspace(min_magnitude, 1, T)[t]`` (PAPER ``generate_RRC_data_biased.py``).

    Args:
        action_space: a 2-D Box.
        steps: episode length T.
        min_magnitude: the first magnitude (1e-4 in the reference).
    """

    def __init__(self, action_space: spaces.Box, steps: int, min_magnitude: float = 1e-4) -> None:
        super().__init__(action_space, steps)
        if self.action_dim != 2:
            raise ValueError(f"action_space: rrc-biased needs 2 action dims, got {self.action_dim}")
        if not 0.0 <= min_magnitude <= 1.0:
            raise ValueError(f"min_magnitude: expected a value in [0, 1], got {min_magnitude}")
        self.min_magnitude = float(min_magnitude)
        self.magnitudes = np.linspace(self.min_magnitude, 1.0, self.steps)

    def _draw_plan(self, rng: np.random.Generator) -> np.ndarray:
        angles = rng.uniform(0.0, 2.0 * np.pi, size=self.steps)
        return np.stack([np.sin(angles), np.cos(angles)], axis=1) * self.magnitudes[:, None]

    def params(self) -> dict[str, Any]:  # noqa: D102
        return {"min_magnitude": self.min_magnitude}


class ShepherdPolicy(Policy):
    """Shepherd data policy: uniform movement, persistent grasp, optional start-right bias.

    Args:
        action_space: a 3-D Box (move x, move y, grasp).
        steps: episode length T.
        flip_probability: per-step probability that the grasp sign flips (0.1).
        bias_probability: per-step probability that the walk-up (and, drawn separately, the
            walk-left) bias switches on; 0.02 in the reference's start-right sets, 0 for start-left.
        gate_flag: the ``info`` key that ends the bias once true.
    """

    def __init__(
        self,
        action_space: spaces.Box,
        steps: int,
        flip_probability: float = 0.1,
        bias_probability: float = 0.0,
        gate_flag: str = "gate_open",
    ) -> None:
        super().__init__(action_space, steps)
        if self.action_dim != 3:
            raise ValueError(f"action_space: shepherd needs 3 action dims, got {self.action_dim}")
        for name, value in (
            ("flip_probability", flip_probability),
            ("bias_probability", bias_probability),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}: expected a probability in [0, 1], got {value}")
        self.flip_probability = float(flip_probability)
        self.bias_probability = float(bias_probability)
        self.gate_flag = gate_flag
        self._biased_rows: list[np.ndarray] = list(self._plan)
        self._bias_active: list[bool] = [False] * self.steps

    def _draw_plan(self, rng: np.random.Generator) -> np.ndarray:
        # One draw per episode: columns 0-2 movement x, y and grasp noise, 3 the grasp flip,
        # 4-5 the walk-up and walk-left switches.
        draws = rng.random((self.steps, 6))
        plan = 2.0 * draws[:, :3] - 1.0
        sign = np.cumprod(np.where(draws[:, 3] < self.flip_probability, -1.0, 1.0))
        plan[:, 2] = 0.5 * plan[:, 2] + 0.5 * sign
        # A bias turns on at the first step whose draw succeeds and applies from the next step on
        # (as in the reference, where the switching step itself is not biased).
        switches = draws[:, 4:] < self.bias_probability
        first = np.where(switches.any(axis=0), switches.argmax(axis=0), self.steps)
        active = np.arange(self.steps)[:, None] > first  # (T, 2): up, left
        biased = plan.copy()
        biased[:, 1] = np.where(active[:, 0], 0.5 * plan[:, 1] + 0.5, plan[:, 1])  # walk up
        biased[:, 0] = np.where(active[:, 1], 0.5 * plan[:, 0] - 0.5, plan[:, 0])  # walk left
        self._biased_rows = list(biased.astype(np.float32))
        self._bias_active = active.any(axis=1).tolist()
        return plan

    def act(self, t: int, observation: np.ndarray, info: Mapping[str, Any]) -> np.ndarray:  # noqa: D102
        if self._bias_active[t] and not info[self.gate_flag]:
            return self._biased_rows[t]
        return self._rows[t]

    def params(self) -> dict[str, Any]:  # noqa: D102
        return {
            "flip_probability": self.flip_probability,
            "bias_probability": self.bias_probability,
            "gate_flag": self.gate_flag,
        }


#: Policy name -> class. ``rrc-generalization`` is the uniform policy under the reference's name.
POLICIES: dict[str, type[Policy]] = {
    "uniform": UniformPolicy,
    "rrc-generalization": UniformPolicy,
    "rrc-biased": RRCBiasedPolicy,
    "shepherd": ShepherdPolicy,
}


def make_policy(
    name: str, action_space: spaces.Box, steps: int, params: Mapping[str, Any] | None = None
) -> Policy:
    """Build the policy ``name``.

    Args:
        name: a key of :data:`POLICIES`.
        action_space: the env's action space.
        steps: episode length T.
        params: extra constructor arguments (e.g. ``{"bias_probability": 0.02}``).

    Returns:
        The policy (call ``reset(rng)`` before the first ``act``).

    Raises:
        ValueError: unknown name, unknown parameter, or a parameter out of range.
    """
    if name not in POLICIES:
        raise ValueError(f"policy: expected one of {sorted(POLICIES)}, got {name!r}")
    try:
        return POLICIES[name](action_space, steps, **dict(params or {}))
    except TypeError as err:
        raise ValueError(f"policy {name!r}: bad parameters {dict(params or {})} ({err})") from None
    except ValueError as err:
        raise ValueError(f"policy {name!r}: {err}") from None
