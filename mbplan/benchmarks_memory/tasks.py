"""The supervised information-restitution datasets of the warmup paper.

[source: glambrechts/warmup@8d9a33b datasets.py; ``shared/reference/cells.md`` Sec. B.3]

* ``copy_first_input(n, T)``: ``x_t ~ N(0, 1)`` (one channel); the target is ``x_1``, read from
  the network's output at the last step.
* ``denoising(n, T, pad_length, number=5)``: channel 0 ``~ N(0, 1)``, channel 1 a marker: 1 at
  ``number`` positions drawn without replacement from the first ``T - pad_length`` steps, -1 at
  step ``T - number`` (the recall cue), 0 elsewhere; the targets are the marked values in temporal
  order, read from the outputs of the last ``number`` steps.

Every draw comes from the ``torch.Generator`` passed in.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class MemoryTask(NamedTuple):
    """Sequences whose last ``targets.shape[1]`` outputs are scored.

    Attributes:
        inputs: ``(n, T, input_size)``.
        targets: ``(n, K, output_size)``, compared with the outputs of the last ``K`` steps.
    """

    inputs: torch.Tensor
    targets: torch.Tensor

    def select(self, index: torch.Tensor) -> MemoryTask:
        """The sequences at ``index``."""
        return MemoryTask(self.inputs[index], self.targets[index])


def _check_length(n: int, length: int) -> None:
    if n < 1:
        raise ValueError(f"n: expected at least one sequence, got {n}")
    if length < 1:
        raise ValueError(f"length: expected at least one step, got {length}")


def copy_first_input(n: int, length: int, generator: torch.Generator) -> MemoryTask:
    """``n`` sequences of ``length`` N(0, 1) values; the target is the first one.

    Returns:
        inputs ``(n, length, 1)``, targets ``(n, 1, 1)``.
    """
    _check_length(n, length)
    inputs = torch.randn(n, length, 1, generator=generator)
    return MemoryTask(inputs, inputs[:, :1].clone())


def denoising(
    n: int, length: int, pad_length: int, generator: torch.Generator, number: int = 5
) -> MemoryTask:
    """``n`` denoising sequences (see the module docstring).

    Returns:
        inputs ``(n, length, 2)``, targets ``(n, number, 1)``.
    """
    _check_length(n, length)
    selectable = length - pad_length
    if not number <= selectable or pad_length < number:
        raise ValueError(
            f"pad_length: expected number={number} <= pad_length <= length - number "
            f"(so the cue at step length - number is not a marked step), got {pad_length}"
        )
    values = torch.randn(n, length, generator=generator)
    marker = torch.zeros(n, length)
    marker[:, length - number] = -1.0
    chosen = torch.rand(n, selectable, generator=generator).argsort(dim=1)[:, :number]
    chosen = chosen.sort(dim=1).values
    marker.scatter_(1, chosen, 1.0)
    inputs = torch.stack([values, marker], dim=-1)
    targets = values.gather(1, chosen).unsqueeze(-1)
    return MemoryTask(inputs, targets)
