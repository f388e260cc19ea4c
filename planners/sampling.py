"""The mechanism every sampling planner shares: bounds, noise, scale-and-clip, warm starts.

:class:`SamplingPlanner` keeps a per-problem Gaussian over action sequences, ``mean`` and ``std`` of
shape ``(batch, horizon, action_dim)``, and draws populations from it as ``clip(mean + std *
noise)`` with (colored) noise along the horizon. ``reset`` starts an episode at the box midpoint
with ``std = init_std * half_range``; ``shift`` advances the warm start by one control step as the
iCEM reference does (``shared/reference/icem.md`` Sec. 1.5): the mean moves one step earlier, its
last entry is kept, and the std goes back to its initial value. Subclasses implement :meth:`plan`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

from planners.action_box import ActionBox, ArrayLike
from planners.colored_noise import ColoredNoise
from planners.ranking import CostFn, check_some_finite


def _same_device(first: torch.device, second: torch.device) -> bool:
    return first.type == second.type and (first.index or 0) == (second.index or 0)


def check_positive_int(value: int, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer ``>= minimum``.

    Args:
        value: the value to check.
        name: argument name used in the error message.
        minimum: smallest admissible value.

    Returns:
        ``int(value)``.

    Raises:
        ValueError: naming the argument, the expected range and the received value.
    """
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_fraction(value: float, name: str, *, low: float, high: float, open_low: bool) -> float:
    """Return ``value`` as a float in ``(low, high]`` (``open_low``) or ``[low, high]``, else raise.

    Args:
        value: the value to check.
        name: argument name used in the error message.
        low: lower end of the admissible interval.
        high: upper end of the admissible interval (``math.inf`` for none).
        open_low: whether ``low`` itself is excluded.

    Returns:
        ``float(value)``.

    Raises:
        ValueError: naming the argument, the interval and the received value.
    """
    value = float(value)
    below = value <= low if open_low else value < low
    if math.isnan(value) or below or value > high:
        interval = f"{'(' if open_low else '['}{low}, {high}]"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return value


class SamplingPlanner(ABC):
    """Base class: a Gaussian over action sequences for ``B`` independent problems.

    Args:
        action_low: lower action bounds, shape ``(action_dim,)``.
        action_high: upper action bounds, shape ``(action_dim,)``.
        horizon: planning horizon ``H >= 1``.
        init_std: initial standard deviation relative to the half range of the box; the absolute
            std is ``init_std * (high - low) / 2`` per dimension.
        noise_beta: colored-noise exponent along the horizon (0 = white); see
            :mod:`planners.colored_noise`.
        generator: source of all randomness, on the planner's device; a fresh, randomly seeded one
            when ``None``.
        device: device of the planner; defaults to the device of ``action_low`` when it is a tensor,
            else the generator's device.
        dtype: floating dtype of the actions; defaults to ``action_low``'s floating dtype, else
            ``torch.float32``.

    Raises:
        ValueError: for bad bounds, ``horizon < 1``, ``init_std <= 0``, a negative ``noise_beta``
            or a generator on another device.
    """

    def __init__(
        self,
        action_low: ArrayLike,
        action_high: ArrayLike,
        horizon: int,
        *,
        init_std: float,
        noise_beta: float,
        generator: torch.Generator | None,
        device: torch.device | str | None,
        dtype: torch.dtype | None,
        fixed_shape: bool = False,
    ) -> None:
        if device is None and not isinstance(action_low, torch.Tensor) and generator is not None:
            device = generator.device
        self.box = ActionBox(action_low, action_high, device=device, dtype=dtype)
        self.horizon = check_positive_int(horizon, "horizon")
        self.init_std = check_fraction(init_std, "init_std", low=0.0, high=math.inf, open_low=True)
        if generator is None:
            generator = torch.Generator(device=self.box.device)
            generator.seed()
        if not _same_device(generator.device, self.box.device):
            raise ValueError(
                f"generator must be on the planner's device {self.box.device}, "
                f"got a generator on {generator.device}"
            )
        self.generator = generator
        self.noise = ColoredNoise(
            noise_beta, self.horizon, device=self.box.device, dtype=self.box.dtype
        )
        self._mean: torch.Tensor | None = None
        self._std: torch.Tensor | None = None
        #: fixed-shape mode: buffers preallocated by :meth:`reset`, updated in place, and no host
        #: synchronisation in :meth:`plan` (non-finite plans are flagged, see
        #: :meth:`nonfinite_problems`, instead of raising).
        self.fixed_shape = bool(fixed_shape)
        self._nonfinite: torch.Tensor | None = None

    # ------------------------------------------------------------------ state
    @property
    def action_dim(self) -> int:
        """Action dimension ``A``."""
        return self.box.dim

    @property
    def device(self) -> torch.device:
        """Device of the planner's tensors."""
        return self.box.device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the planner's actions."""
        return self.box.dtype

    @property
    def batch_size(self) -> int:
        """Number of independent problems ``B`` set by :meth:`reset`."""
        return self._require_reset()[0].shape[0]

    @property
    def mean(self) -> torch.Tensor:
        """A copy of the sampling mean, ``(batch, horizon, action_dim)``."""
        return self._require_reset()[0].clone()

    @property
    def std(self) -> torch.Tensor:
        """A copy of the sampling standard deviation, ``(batch, horizon, action_dim)``."""
        return self._require_reset()[1].clone()

    @property
    def initial_std(self) -> torch.Tensor:
        """Absolute initial std ``init_std * half_range``, shape ``(action_dim,)``."""
        return self.init_std * self.box.half_range

    def _require_reset(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._mean is None or self._std is None:
            raise RuntimeError(f"call {type(self).__name__}.reset(batch_size) before planning")
        return self._mean, self._std

    def _set_distribution(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        if self.fixed_shape and self._mean is not None and self._std is not None:
            if mean is not self._mean:
                self._mean.copy_(mean)
            if std is not self._std:
                self._std.copy_(std)
            return
        self._mean, self._std = mean, std

    def _report_plan_costs(self, best_costs: torch.Tensor) -> None:
        """Deal with problems whose best cost is NaN or ``+inf`` (no usable sequence).

        Eager mode raises at once (:func:`~planners.ranking.check_some_finite`, one host
        synchronisation); fixed-shape mode only sets the problems' flags on the device, read once
        per episode through :meth:`nonfinite_problems` or :meth:`check_finite`.

        Args:
            best_costs: ``(batch,)`` the ranking cost of each problem's returned plan.
        """
        if not self.fixed_shape or self._nonfinite is None:
            check_some_finite(best_costs)
            return
        self._nonfinite.logical_or_(~(best_costs < math.inf))

    def nonfinite_problems(self) -> torch.Tensor:
        """``(batch,)`` bool: problems for which some plan since :meth:`reset` saw no finite cost.

        Always all ``False`` in eager mode, which raises instead. Reading it on the host is one
        synchronisation: do it once per episode.
        """
        batch = self.batch_size
        if self._nonfinite is None:
            return torch.zeros(batch, dtype=torch.bool, device=self.device)
        return self._nonfinite.clone()

    def check_finite(self) -> None:
        """Raise if some plan since :meth:`reset` saw no finite cost (one host synchronisation).

        Raises:
            ValueError: naming the problems.
        """
        flags = self.nonfinite_problems()
        if bool(flags.any()):
            bad = torch.nonzero(flags).flatten().tolist()
            raise ValueError(
                f"cost_fn returned no finite cost for problem(s) {bad} in some plan of this "
                "episode: NaN and +inf rank last, so those plans executed an arbitrary sequence"
            )

    def _initial_std_like(self, batch_size: int) -> torch.Tensor:
        return self.initial_std.expand(batch_size, self.horizon, self.action_dim).clone()

    def reset(self, batch_size: int = 1) -> None:
        """Start an episode: mean at the box midpoint, std at its initial value.

        Args:
            batch_size: number of independent problems ``B`` planned in one call.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        mean = self.box.middle.expand(batch_size, self.horizon, self.action_dim).clone()
        self._mean = self._std = None  # a new batch size gets new buffers
        self._set_distribution(mean, self._initial_std_like(batch_size))
        self._nonfinite = None
        if self.fixed_shape:
            self._nonfinite = torch.zeros(batch_size, dtype=torch.bool, device=self.device)

    def shift(self) -> None:
        """Advance the warm start by one control step (call after executing an action).

        The mean moves one step earlier and keeps its last entry for the new last step (the
        reference's "preserve the last one"); the std is reset to its initial value.
        """
        mean, std = self._require_reset()
        if self.fixed_shape:  # in place, no new buffers
            mean[:, :-1] = mean[:, 1:].clone()
            std.copy_(self.initial_std)
            return
        shifted = torch.cat([mean[:, 1:], mean[:, -1:]], dim=1)
        self._set_distribution(shifted, self._initial_std_like(mean.shape[0]))

    # --------------------------------------------------------------- sampling
    def sample(
        self, mean: torch.Tensor, std: torch.Tensor, count: int, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Draw ``count`` sequences per problem by scale-and-clip.

        Args:
            mean: ``(batch, horizon, action_dim)``.
            std: ``(batch, horizon, action_dim)``.
            count: sequences per problem.
            out: ``(batch, count, horizon, action_dim)`` buffer to write into (may be a view);
                the same draws and values as without it.

        Returns:
            ``(batch, count, horizon, action_dim)`` actions ``clip(mean + std * noise, low, high)``,
            the noise correlated along the horizon only (``out`` when given).
        """
        batch = mean.shape[0]
        noise = self.noise.sample((batch, count), self.generator, channels=self.action_dim)
        if out is None:
            return self.box.clip(torch.addcmul(mean.unsqueeze(1), std.unsqueeze(1), noise))
        out.copy_(torch.addcmul(mean.unsqueeze(1), std.unsqueeze(1), noise))
        return out.clamp_(self.box.low, self.box.high)

    @abstractmethod
    def plan(self, cost_fn: CostFn) -> torch.Tensor:
        """Optimise the action sequences of all problems.

        Args:
            cost_fn: ``(batch, population, horizon, action_dim) -> (batch, population)`` costs;
                lower is better, NaN ranks last. It may be called with a different population size
                at every iteration.

        Returns:
            ``(batch, horizon, action_dim)`` planned sequences; execute ``[:, 0]``.
        """
