"""Acceptance conditions on an episode's hidden factors, checked while the episode runs.

The paper's datasets are rejection samples: roll out the policy, keep the episode only if the env's
hidden factors (``info`` flags such as ``gate_open``) satisfy conditions at given time steps. Each
condition is checked after ``reset`` (t = 0) and after every step t = 1..T, on the ``info`` of that
time step, i.e. on the flags stored as ``flags[t]`` next to ``observations[t]``. A condition answers
``True`` (satisfied, stop asking), ``False`` (reject: the episode is abandoned at once, which saves
the remaining steps) or ``None`` (not decided yet). At the last step every condition decides.

Conditions are small frozen dataclasses that round-trip through the manifest as JSON
(:meth:`Filter.to_dict`, :func:`filter_from_dict`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar


class Filter(ABC):
    """A condition an episode must satisfy to be kept."""

    #: Name of the condition in the manifest.
    kind: ClassVar[str]

    @abstractmethod
    def check(self, t: int, info: Mapping[str, Any], last: bool) -> bool | None:
        """Judge the episode after time step ``t``.

        Args:
            t: time index of ``info`` (0 after ``reset``, t after the t-th step).
            info: the env's info dict at time t.
            last: whether t is the episode's last time step (then the answer must not be None).

        Returns:
            True if satisfied, False if violated, None if not decided yet.
        """

    def latest_step(self) -> int:
        """Return the last time step the condition needs, or 0 if it can use any length."""
        return 0

    def decision_steps(self, steps: int) -> tuple[int, ...] | None:
        """Return the time steps at which :meth:`check` may decide, or None for every step.

        The episode's last step ``steps`` is always checked as well; the generator skips the
        other steps, so a condition must return None there.
        """
        return None

    @property
    def info_keys(self) -> tuple[str, ...]:
        """The ``info`` keys this condition reads."""
        return ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description, ``{"kind": ..., **fields}``."""
        return {"kind": self.kind, **asdict(self)}  # type: ignore[call-overload]

    def describe(self) -> str:
        """Return a one-line human description."""
        args = ", ".join(f"{key}={value!r}" for key, value in asdict(self).items())  # type: ignore[call-overload]
        return f"{self.kind}({args})"


@dataclass(frozen=True)
class FlagAt(Filter):
    """``info[flag]`` equals ``value`` at time step ``step`` (the paper's ``states[t, k] == v``)."""

    flag: str
    step: int
    value: bool

    kind: ClassVar[str] = "flag_at"

    def __post_init__(self) -> None:
        if self.step < 0:
            raise ValueError(f"step: expected a time index >= 0, got {self.step}")

    def check(self, t: int, info: Mapping[str, Any], last: bool) -> bool | None:  # noqa: D102
        if t == self.step:
            return bool(info[self.flag]) == self.value
        if last:
            raise ValueError(f"FlagAt(step={self.step}) on an episode whose last time step is {t}")
        return None

    def latest_step(self) -> int:  # noqa: D102
        return self.step

    def decision_steps(self, steps: int) -> tuple[int, ...] | None:  # noqa: D102
        return (self.step,)

    @property
    def info_keys(self) -> tuple[str, ...]:  # noqa: D102
        return (self.flag,)


@dataclass(frozen=True)
class FlagEver(Filter):
    """Whether ``info[flag]`` is true at some time step equals ``ever``.

    ``FlagEver(flag)`` keeps episodes where the flag turns on (accepting at the first true step);
    ``FlagEver(flag, ever=False)`` keeps those where it never does (rejecting at the first true
    step, as the reference's RRC NoControl generator breaks off).
    """

    flag: str
    ever: bool = True

    kind: ClassVar[str] = "flag_ever"

    def check(self, t: int, info: Mapping[str, Any], last: bool) -> bool | None:  # noqa: D102
        if info[self.flag]:
            return self.ever
        return (not self.ever) if last else None

    @property
    def info_keys(self) -> tuple[str, ...]:  # noqa: D102
        return (self.flag,)


@dataclass(frozen=True)
class EventStepIn(Filter):
    """A one-off event happened at a step in ``[low, high)``.

    ``info[key]`` holds the step at which the event happened, or -1 before it (BilliardBall's
    ``pocket_step``). Rejects as soon as the event happens outside the interval, or once step
    ``high`` is reached without it.
    """

    key: str
    low: int
    high: int

    kind: ClassVar[str] = "event_step_in"

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high:
            raise ValueError(
                f"low, high: expected 0 <= low < high, got low={self.low}, high={self.high}"
            )

    def check(self, t: int, info: Mapping[str, Any], last: bool) -> bool | None:  # noqa: D102
        step = int(info[self.key])
        if step >= 0:
            return self.low <= step < self.high
        if t >= self.high or last:
            return False
        return None

    @property
    def info_keys(self) -> tuple[str, ...]:  # noqa: D102
        return (self.key,)


FILTER_KINDS: dict[str, type[Filter]] = {cls.kind: cls for cls in (FlagAt, FlagEver, EventStepIn)}


def filter_from_dict(data: Mapping[str, Any]) -> Filter:
    """Rebuild a condition from :meth:`Filter.to_dict` output.

    Raises:
        ValueError: unknown ``kind`` or wrong fields.
    """
    kind = data.get("kind")
    if kind not in FILTER_KINDS:
        raise ValueError(f"filter kind: expected one of {sorted(FILTER_KINDS)}, got {kind!r}")
    cls = FILTER_KINDS[kind]
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    given = {key: value for key, value in data.items() if key != "kind"}
    if set(given) != names:
        raise ValueError(f"filter {kind!r}: expected fields {sorted(names)}, got {sorted(given)}")
    return cls(**given)
