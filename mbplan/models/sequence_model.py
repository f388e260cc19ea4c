"""A sequence model around any recurrent core: per-step encoder, core, per-step decoder.

For tasks other than world modelling (copying, sequential classification, video prediction): the
encoder maps each step's input to the core's features, the core runs over time from a zero state,
and the decoder maps each step's core output to the prediction::

    features_t = encoder(x_t)                    (batch * time folded for the encoder)
    y_t, h_t   = core(features_t, h_{t-1}),  h_0 = 0
    out_t      = decoder(y_t)

Shapes: ``x (batch, time, *input_shape)`` -> ``(batch, time, *output_shape)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mbplan.models.cells.base import RecurrentStack
from mbplan.models.validation import check_generator, require_positive_int


class SequenceModel(nn.Module):
    """Encoder, recurrent core and decoder (module docstring).

    Args:
        core: the recurrent core (e.g. from :func:`mbplan.models.make_core`).
        encoder: maps ``(n, *input_shape)`` to ``(n, core.input_size)``.
        decoder: maps ``(n, core.output_size)`` to ``(n, *output_shape)``.
    """

    def __init__(self, core: RecurrentStack, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.core = core
        self.encoder = encoder
        self.decoder = decoder

    def _per_step(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        batch, time = x.shape[:2]
        return module(x.flatten(0, 1)).unflatten(0, (batch, time))

    def _noise(
        self, batch: int, time: int, like: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor | None:
        """Gate noise ``(batch, time, noise_size)`` for stochastic cores in training mode."""
        size = self.core.noise_size
        if size == 0:
            return None
        check_generator("generator (the core draws noise in training mode)", generator, like.device)
        return torch.randn(
            batch, time, size, generator=generator, device=like.device, dtype=like.dtype
        )

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Outputs of every step, all inputs known.

        Args:
            x: ``(batch, time, *input_shape)``.
            generator: source of the gate noise of stochastic cores in training mode.

        Returns:
            ``(outputs (batch, time, *output_shape), gates (batch, time, G) | None)``.
        """
        if x.dim() < 2:
            raise ValueError(f"x: expected shape (batch, time, ...), got {tuple(x.shape)}")
        features = self._per_step(self.encoder, x)
        batch, time = x.shape[:2]
        state = features.new_zeros(batch, self.core.state_size)
        noise = self._noise(batch, time, features, generator)
        sequence = self.core.forward_sequence(features, state, noise)
        return self._per_step(self.decoder, sequence.outputs), sequence.gates

    @torch.no_grad()
    def generate(
        self,
        context: torch.Tensor,
        steps: int,
        feedback: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """Closed-loop prediction: read ``context``, then feed back ``feedback(prediction)``.

        Args:
            context: ``(batch, time, *input_shape)`` real inputs (at least one step).
            steps: further steps to predict after the context.
            feedback: maps one step's output ``(batch, *output_shape)`` to the next input
                ``(batch, *input_shape)`` (e.g. ``torch.sigmoid`` for frame logits).

        Returns:
            ``(batch, time + steps, *output_shape)``: the outputs on the context, then the
            closed-loop ones; output ``t`` predicts input ``t + 1``.
        """
        require_positive_int("steps", steps, allow_zero=True)
        if context.dim() < 2 or context.shape[1] < 1:
            raise ValueError(
                f"context: expected shape (batch, time >= 1, ...), got {tuple(context.shape)}"
            )
        features = self._per_step(self.encoder, context)
        state = features.new_zeros(context.shape[0], self.core.state_size)
        sequence = self.core.forward_sequence(features, state)
        outputs = [self._per_step(self.decoder, sequence.outputs)]
        step_fn = self.core.make_step_fn(with_gates=False)
        state, last = sequence.state, outputs[0][:, -1]
        for _ in range(steps):
            result = step_fn(self.encoder(feedback(last)), state, None)
            state, last = result.state, self.decoder(result.output)
            outputs.append(last.unsqueeze(1))
        return torch.cat(outputs, dim=1)
