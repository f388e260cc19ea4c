"""The T-maze of the warmup paper: a cue seen only at the start decides the goal at the end.

[source: glambrechts/warmup@8d9a33b environments.py; ``shared/reference/cells.md`` Sec. B.3]

A corridor of cells ``x = 0 .. L`` ends in a junction at ``x = L`` with goals up and down. The
observation (one-hot of 4) is the goal cue (up or down) in the first cell only, "corridor" for
``0 < x < L`` and "junction" at the junction and in the goals. Actions: right, up, left, down.
Rewards (for the action taken in the current state): +4 for the correct goal, -0.1 for a wall
bump or the wrong goal, 0 otherwise; the goal cells are terminal. Discount 0.98, horizon
``3 L - 1``; with stochasticity ``lambda`` the move in the corridor follows a uniform action
with that probability (the reward is the chosen action's, as in the official code). All
randomness comes from the ``np.random.Generator`` passed in.
"""

from __future__ import annotations

import numpy as np

UP_CUE, DOWN_CUE, CORRIDOR, JUNCTION = range(4)
RIGHT, UP, LEFT, DOWN = range(4)
#: the exploration policy's action probabilities (right, up, left, down)
EXPLORATION = (1 / 2, 1 / 6, 1 / 6, 1 / 6)


class TMaze:
    """The T-maze of length ``length`` (see the module docstring).

    Args:
        length: ``L >= 2``.
        stochasticity: ``lambda`` in [0, 1].
    """

    observation_size = 4
    num_actions = 4
    gamma = 0.98

    def __init__(self, length: int = 10, stochasticity: float = 0.0) -> None:
        if length < 2:
            raise ValueError(f"length: expected a T-maze length >= 2, got {length}")
        if not 0.0 <= stochasticity <= 1.0:
            raise ValueError(f"stochasticity: expected a value in [0, 1], got {stochasticity}")
        self.length = int(length)
        self.stochasticity = float(stochasticity)
        self.horizon = 3 * self.length - 1
        self.x, self.y, self.goal_up = 0, 0, True

    def reset(self, rng: np.random.Generator, goal_up: bool | None = None) -> np.ndarray:
        """Start an episode (goal up with probability 1/2 unless forced); the first observation."""
        self.goal_up = bool(rng.random() < 0.5) if goal_up is None else bool(goal_up)
        self.x, self.y = 0, 0
        return self._observation()

    @property
    def terminal(self) -> bool:
        """Whether the agent is in a goal cell."""
        return self.y != 0

    def _observation(self) -> np.ndarray:
        observation = np.zeros(self.observation_size, dtype=np.float32)
        if self.x == 0:
            observation[UP_CUE if self.goal_up else DOWN_CUE] = 1.0
        elif self.x < self.length:
            observation[CORRIDOR] = 1.0
        else:
            observation[JUNCTION] = 1.0
        return observation

    def _reward(self, action: int) -> float:
        if self.terminal:
            return 0.0
        if self.x < self.length:
            bump = action in (UP, DOWN) or (self.x == 0 and action == LEFT)
            return -0.1 if bump else 0.0
        if action == RIGHT:
            return -0.1
        if action == LEFT:
            return 0.0
        return 4.0 if (action == UP) == self.goal_up else -0.1

    def _move(self, action: int) -> None:
        if self.terminal:
            return
        if self.x < self.length:
            if action == RIGHT:
                self.x += 1
            elif action == LEFT and self.x > 0:
                self.x -= 1
            return
        if action == LEFT:
            self.x -= 1
        elif action == UP:
            self.y = 1
        elif action == DOWN:
            self.y = -1

    def step(self, action: int, rng: np.random.Generator) -> tuple[np.ndarray, float, bool]:
        """Take ``action``; returns ``(observation, reward, terminal)``."""
        if action not in range(self.num_actions):
            raise ValueError(f"action: expected 0..3 (right, up, left, down), got {action!r}")
        reward = self._reward(action)  # the chosen action's reward, as the official code
        if self.x < self.length and self.stochasticity > 0 and rng.random() < self.stochasticity:
            action = int(rng.integers(self.num_actions))
        self._move(action)
        return self._observation(), reward, self.terminal
