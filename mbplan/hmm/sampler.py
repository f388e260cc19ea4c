"""Batched sampling of HMM sequences from an explicit generator.

All sequences of a batch advance together: one vectorised inverse-CDF draw per time step for the
states and one for the symbols, on torch. The uniforms come from the generator passed in, a
``torch.Generator`` (on the device where sampling runs) or a ``numpy.random.Generator``; no global
random state is touched. The reference samples with ``hmmlearn.CategoricalHMM``; the distribution
is the same, the random streams are not.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from mbplan.hmm.models import HMM
from mbplan.models.validation import require_positive_int

Generator = torch.Generator | np.random.Generator


class HMMSamples(NamedTuple):
    """Sampled sequences.

    Attributes:
        states: ``(num_seq, seq_len)`` int64 latent states.
        symbols: ``(num_seq, seq_len)`` int64 emitted symbols.
    """

    states: torch.Tensor
    symbols: torch.Tensor


def _uniforms(generator: Generator, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    if isinstance(generator, torch.Generator):
        if generator.device.type != device.type:
            raise ValueError(
                f"generator: expected a generator on {device.type}, got one on "
                f"{generator.device.type}"
            )
        return torch.rand(shape, generator=generator, device=device, dtype=torch.float64)
    if isinstance(generator, np.random.Generator):
        return torch.from_numpy(generator.random(shape)).to(device)
    raise ValueError(
        f"generator: expected a torch.Generator or numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )


def _categorical(cumulative: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF draw: ``cumulative (n, C)`` rows, ``uniform (n,)`` -> indices ``(n,)``."""
    index = (uniform.unsqueeze(-1) >= cumulative).sum(-1)
    return index.clamp_(max=cumulative.shape[-1] - 1)


def sample(
    hmm: HMM,
    num_seq: int,
    seq_len: int,
    generator: Generator,
    *,
    device: str | torch.device = "cpu",
) -> HMMSamples:
    """Draw ``num_seq`` independent sequences of length ``seq_len``.

    ``s_0 ~ start``, ``s_{t+1} ~ transition[s_t]``, ``y_t ~ emission[s_t]``.

    Args:
        hmm: the model.
        num_seq: number of sequences.
        seq_len: steps per sequence.
        generator: ``torch.Generator`` (on ``device``) or ``numpy.random.Generator``.
        device: where the samples are drawn and returned.

    Returns:
        :class:`HMMSamples` with states and symbols ``(num_seq, seq_len)``.
    """
    require_positive_int("num_seq", num_seq)
    require_positive_int("seq_len", seq_len)
    device = torch.device(device)
    start = torch.from_numpy(np.cumsum(hmm.start)).to(device)
    transition = torch.from_numpy(np.cumsum(hmm.transition, axis=1)).to(device)
    emission = torch.from_numpy(np.cumsum(hmm.emission, axis=1)).to(device)
    uniform = _uniforms(generator, (2, seq_len, num_seq), device)
    states = [_categorical(start.expand(num_seq, -1), uniform[0, 0])]
    for t in range(1, seq_len):
        states.append(_categorical(transition[states[-1]], uniform[0, t]))
    state_tensor = torch.stack(states, dim=1)
    symbols = _categorical(emission[state_tensor], uniform[1].T)
    return HMMSamples(state_tensor, symbols)


def one_hot(
    symbols: torch.Tensor, num_symbols: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``(..., T)`` int symbols -> ``(..., T, num_symbols)`` one-hot vectors."""
    require_positive_int("num_symbols", num_symbols)
    return torch.nn.functional.one_hot(symbols, num_symbols).to(dtype)
