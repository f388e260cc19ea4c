"""The HMM emulator: a noise-driven ReLU RNN that emits symbols by a hard Gumbel-softmax.

``shared/reference/cells.md`` C.3::

    x_t ~ N(0, I_d)                   Gaussian input noise, d = input_size
    h_t = ReLU(W_ih x_t + W_hh h_{t-1}),  h_0 = 0
    z_t = W_o h_t                     logits of the K = 3 symbols
    y_t = GumbelSoftmax(z_t; tau, hard=True)    a one-hot sample, straight-through gradient

The recurrence is :class:`~mbplan.models.cells.noise_rnn.NoiseReLUCell` (one cell, the shared
sequence path). Every random number (input noise, Gumbel noise) comes from the ``generator``
passed to :meth:`HMMEmulator.forward`; the reference uses ``F.gumbel_softmax`` on the global
generator, with ``eps = 1e-10`` in the Gumbel transform, which is kept here.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from mbplan.models.cells.noise_rnn import NoiseReLUCell
from mbplan.models.validation import check_generator, require_positive_int

#: The reference's ``eps`` in ``-log(-log(u + eps) + eps)``.
GUMBEL_EPS = 1e-10


def hard_gumbel_softmax(
    logits: torch.Tensor, tau: float, generator: torch.Generator
) -> torch.Tensor:
    """One-hot samples of ``softmax(logits)`` with straight-through gradients.

    Forward: ``one_hot(argmax(logits + g))`` with Gumbel noise ``g``; backward: the gradient of
    ``softmax((logits + g) / tau)`` (the hard-minus-soft trick of ``F.gumbel_softmax``).

    Args:
        logits: ``(..., K)``.
        tau: temperature (> 0).
        generator: source of the Gumbel noise, on the logits' device.

    Returns:
        ``(..., K)`` one-hot, differentiable with respect to ``logits``.
    """
    if not tau > 0:
        raise ValueError(f"tau: expected a temperature > 0, got {tau!r}")
    uniform = torch.rand(
        logits.shape, generator=generator, device=logits.device, dtype=logits.dtype
    )
    gumbel = -torch.log(-torch.log(uniform + GUMBEL_EPS) + GUMBEL_EPS)
    soft = torch.softmax((logits + gumbel) / tau, dim=-1)
    hard = torch.nn.functional.one_hot(soft.argmax(-1), logits.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft


class EmulatorOutput(NamedTuple):
    """What :meth:`HMMEmulator.forward` returns.

    Attributes:
        symbols: ``(batch, time, K)`` one-hot emitted symbols (straight-through gradients).
        logits: ``(batch, time, K)``.
        hidden: ``(batch, time, H)`` the state after every step.
        inputs: ``(batch, time, input_size)`` the noise that drove the network.
    """

    symbols: torch.Tensor
    logits: torch.Tensor
    hidden: torch.Tensor
    inputs: torch.Tensor


class HMMEmulator(nn.Module):
    """Noise-driven ReLU RNN with hard Gumbel-softmax outputs.

    Args:
        input_size: noise dimension ``d`` (default config: 100).
        hidden_size: ``H`` (default config: 150).
        num_symbols: ``K`` (3 in the paper).
        tau: Gumbel-softmax temperature (1 in all experiments).
        generator: source of the initial weights (``None``: torch's global generator).
    """

    def __init__(
        self,
        input_size: int = 100,
        hidden_size: int = 150,
        num_symbols: int = 3,
        tau: float = 1.0,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        require_positive_int("num_symbols", num_symbols)
        if not tau > 0:
            raise ValueError(f"tau: expected a temperature > 0, got {tau!r}")
        self.cell = NoiseReLUCell(input_size, hidden_size, num_symbols, generator=generator)
        self.tau = float(tau)

    @property
    def hparams(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this architecture."""
        return {
            "input_size": self.cell.input_size,
            "hidden_size": self.cell.hidden_size,
            "num_symbols": self.cell.output_size,
            "tau": self.tau,
        }

    def forward(
        self,
        batch: int,
        time: int,
        generator: torch.Generator,
        *,
        input_std: float = 1.0,
        inputs: torch.Tensor | None = None,
    ) -> EmulatorOutput:
        """Generate ``batch`` symbol sequences of length ``time`` from ``h_0 = 0``.

        Args:
            batch: number of sequences.
            time: steps per sequence.
            generator: source of the input noise (unless ``inputs`` is given) and of the Gumbel
                noise, on the parameters' device.
            input_std: standard deviation of the input noise (1 in training; the reference's
                variance-contour analysis varies it).
            inputs: ``(batch, time, input_size)`` to use instead of fresh noise.

        Returns:
            An :class:`EmulatorOutput`.

        Raises:
            ValueError: for bad sizes, a generator on another device, ``inputs`` of the wrong
                shape, or logits that overflow (an expanding network run for too many steps).
        """
        require_positive_int("batch", batch)
        require_positive_int("time", time)
        weight = self.cell.weight_hh
        check_generator("generator", generator, weight.device)
        shape = (batch, time, self.cell.input_size)
        if inputs is None:
            inputs = input_std * torch.randn(
                shape, generator=generator, device=weight.device, dtype=weight.dtype
            )
        elif tuple(inputs.shape) != shape:
            raise ValueError(f"inputs: expected shape {shape}, got {tuple(inputs.shape)}")
        h0 = weight.new_zeros((batch, self.cell.hidden_size))
        sequence = self.cell.forward_sequence(inputs, h0, return_states=True)
        finite = torch.isfinite(sequence.outputs).all(dim=(0, 2))  # (time,)
        if not bool(finite.all()):
            # an expanding recurrence overflows; its argmax would be silently arbitrary
            step = int((~finite).nonzero()[0, 0])
            raise ValueError(
                f"time: the emulator's logits overflow at step {step} of {time} (its recurrence "
                f"is expanding); generate shorter sequences or in float64"
            )
        symbols = hard_gumbel_softmax(sequence.outputs, self.tau, generator)
        assert sequence.states is not None
        return EmulatorOutput(symbols, sequence.outputs, sequence.states, inputs)
