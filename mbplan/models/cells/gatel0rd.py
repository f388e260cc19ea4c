"""GateL0RD, the gated L0-regularised recurrent cell (Gumbsch, Butz, Martius, NeurIPS 2021).

Equations (paper Sec. 4, Eqs. 6-10), with ``z_t = (x_t, h_{t-1})`` and ``xh_t = (x_t, h_t)``::

    s_t     = g(z_t) + eps_t,          eps_t ~ N(0, sigma^2 I) in training mode, 0 in eval mode
    Lambda  = max(0, tanh(s_t))                                  (ReTanh, Eq. 7)
    h_t     = h_{t-1} + Lambda * (r(z_t) - h_{t-1})              (Eq. 8)
    y_t     = p(xh_t) * o(xh_t)                                  (Eq. 9)
    Theta_t = Heaviside(Lambda) with a straight-through gradient (regularised by lambda mean Theta)

Sub-networks, named as in the paper: ``g`` (gating; ``num_layers_internal`` layers of widths
``2**(L-1-l) * H``, tanh between layers, linear output), ``r`` (recommendation; same widths, tanh
after every layer), ``p`` (one layer, tanh) and ``o`` (one layer, sigmoid).

Gate noise: the paper writes a diagonal covariance of 0.1 (standard deviation ~0.316); the
authors' code (library and paper code) draws noise with standard deviation 0.1. We default to the
code, ``gate_noise_level = 0.1`` as the standard deviation, and add the noise as the paper writes
(``s = g + eps``; the code subtracts it, which is the same in distribution).

Speed: ``g`` and ``r`` read the same input, so each of their layers runs as one matmul for both
(first layers stacked into one ``addmm``, deeper layers as one ``baddbmm`` over the pair); the
``x`` part of the first layer, the gate noise and the whole output network ``p * o`` do not depend
on the previous state and are computed for all time steps at once on the sequence path.

Sigmoid form (a deviation in arithmetic, not in the model): PyTorch's CPU ``tanh`` costs about
four times its ``sigmoid``, so the tanh of ``g``'s and ``r``'s layers and of ``p`` are computed as
``tanh(z) = 1 - 2 sigmoid(-2 z)`` with the factors folded into the prepared weights (see
:func:`~mbplan.models.affine.tanh_as_sigmoid_layers`; only for the ReTanh gate, whose ``s`` is
only ever read through tanh). Values agree with the tanh form to float rounding (~2e-7 in
float32); Theta can differ from the tanh form only where ``|s|`` is below that rounding (a gate
input within ~1e-7 of zero).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from mbplan.models.affine import (
    add_matmul,
    tanh_as_sigmoid_layers,
    tanh_from_sigmoid,
    transposed_layers,
)
from mbplan.models.cells.base import ProjectedCell
from mbplan.models.cells.gates import (
    GATE_TYPES,
    gate_activation,
    regularized_gate,
)
from mbplan.models.mlp import fan_in_widths, linear_layers, mlp
from mbplan.models.validation import require_positive_int


class _GateL0RDWeights(NamedTuple):
    """Weights derived from the parameters once per call (g and r fused, all transposed)."""

    first_x_t: torch.Tensor  # (input_size, 2 w1): x rows of g's and r's first layers, side by side
    first_h_t: torch.Tensor  # (H, 2 w1): h rows
    first_bias: torch.Tensor  # (2 w1,)
    deeper: list[
        tuple[torch.Tensor, torch.Tensor]
    ]  # per deeper layer: W^T (2, in, out), b (2, 1, out)
    out_x_t: torch.Tensor  # (input_size, 2 out | out): x rows of p and o side by side
    out_h_t: torch.Tensor  # (H, 2 out | out): h rows
    out_bias: torch.Tensor
    one: torch.Tensor  # 0-d constant for tanh_from_sigmoid


class GateL0RDCell(ProjectedCell):
    """One GateL0RD layer.

    State ``h`` ``(batch, hidden_size)``; output ``y`` ``(batch, output_size)``; gates Theta
    ``(batch, hidden_size)``.

    Args:
        input_size: size of ``x_t``.
        hidden_size: ``H``, size of the latent state.
        output_size: size of ``y_t`` (default: ``hidden_size``, as the authors' library).
        num_layers_internal: layers of ``g`` and ``r`` (paper: 1, up to 3 against stacked RNNs).
        gate_type: Lambda, ``"retanh"`` (paper), or the ablations ``"step"`` and ``"sigmoid"``.
        stochastic_gates: add Gaussian gate noise in training mode (paper: on).
        gate_noise_level: standard deviation of the gate noise (code: 0.1; see module docstring).
        output_gate: ``y = p * o`` (paper); ``False`` gives ``y = p``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int | None = None,
        *,
        num_layers_internal: int = 1,
        gate_type: str = "retanh",
        stochastic_gates: bool = True,
        gate_noise_level: float = 0.1,
        output_gate: bool = True,
    ) -> None:
        require_positive_int("input_size", input_size)
        require_positive_int("hidden_size", hidden_size)
        output_size = hidden_size if output_size is None else output_size
        require_positive_int("output_size", output_size)
        require_positive_int("num_layers_internal", num_layers_internal)
        if gate_type not in GATE_TYPES:
            raise ValueError(f"gate_type: expected one of {GATE_TYPES}, got {gate_type!r}")
        if not gate_noise_level >= 0.0:
            raise ValueError(f"gate_noise_level: expected a value >= 0, got {gate_noise_level!r}")
        super().__init__(input_size, output_size, hidden_size, hidden_size)
        self.hidden_size = hidden_size
        self.num_layers_internal = num_layers_internal
        self.gate_type = gate_type
        self.stochastic_gates = stochastic_gates
        self.gate_noise_level = float(gate_noise_level)
        self.output_gate = output_gate
        self._gate_fn = gate_activation(gate_type)

        joint = input_size + hidden_size
        widths = fan_in_widths(num_layers_internal, hidden_size)
        self.g = mlp([joint, *widths], activate_last=False)
        self.r = mlp([joint, *widths], activate_last=True)
        self.p = mlp([joint, output_size], activate_last=True)
        self.o = (
            mlp([joint, output_size], activate_last=True, activation=nn.Sigmoid)
            if output_gate
            else None
        )

    @property
    def noise_size(self) -> int:
        """``hidden_size`` in training mode with stochastic gates, else 0."""
        stochastic = self.stochastic_gates and self.gate_noise_level > 0.0
        return self.hidden_size if self.training and stochastic else 0

    @property
    def _sigmoid_form(self) -> bool:
        """Whether g and r run as sigmoid chains (ReTanh: every layer of both ends in tanh)."""
        return self.gate_type == "retanh"

    def _prepare(self) -> _GateL0RDWeights:
        g_pairs = transposed_layers(linear_layers(self.g))
        r_pairs = transposed_layers(linear_layers(self.r))
        if self._sigmoid_form:
            g_pairs, r_pairs = tanh_as_sigmoid_layers(g_pairs), tanh_as_sigmoid_layers(r_pairs)
        (g_first_t, g_first_b), (r_first_t, r_first_b) = g_pairs[0], r_pairs[0]
        first_t = torch.cat([g_first_t, r_first_t], dim=1)
        deeper = [
            (torch.stack([g_t, r_t]), torch.stack([g_b, r_b]).unsqueeze(1))
            for (g_t, g_b), (r_t, r_b) in zip(g_pairs[1:], r_pairs[1:], strict=True)
        ]
        out_layers = [self.p[0]] if self.o is None else [self.p[0], self.o[0]]
        out_pairs = transposed_layers(out_layers)
        out_pairs[0] = tanh_as_sigmoid_layers(out_pairs[:1])[0]  # p: tanh as 1 - 2 sigmoid
        out_t = torch.cat([weight_t for weight_t, _ in out_pairs], dim=1)
        return _GateL0RDWeights(
            first_x_t=first_t[: self.input_size],
            first_h_t=first_t[self.input_size :],
            first_bias=torch.cat([g_first_b, r_first_b]),
            deeper=deeper,
            out_x_t=out_t[: self.input_size],
            out_h_t=out_t[self.input_size :],
            out_bias=torch.cat([bias for _, bias in out_pairs]),
            one=torch.ones((), dtype=first_t.dtype, device=first_t.device),
        )

    def _project(
        self, x: torch.Tensor, noise: torch.Tensor | None, weights: _GateL0RDWeights
    ) -> tuple[torch.Tensor | None, ...]:
        """First-layer input part ``(..., 2 w1)`` and, with noise, the last layer's bias.

        The gate noise enters ``s`` where g's last layer adds its bias: with one internal layer
        it is folded into the first-layer projection; with more it becomes a per-step last-layer
        bias ``(..., 2, H)`` (g's bias plus noise, r's bias). In sigmoid form the noise takes the
        same factor -2 as the weights.
        """
        first = add_matmul(weights.first_bias, x, weights.first_x_t)
        if noise is None or self.noise_size == 0:
            return first, None
        scaled = noise * (self.gate_noise_level * (-2.0 if self._sigmoid_form else 1.0))
        if not weights.deeper:
            g_part, r_part = first.split(self.hidden_size, dim=-1)
            return torch.cat([g_part + scaled, r_part], dim=-1), None
        g_bias, r_bias = weights.deeper[-1][1]
        last_bias = torch.stack([g_bias + scaled, r_bias.expand_as(scaled)], dim=-2)
        return first, last_bias

    def _recur(
        self,
        projected: tuple[torch.Tensor | None, ...],
        state: torch.Tensor,
        weights: _GateL0RDWeights,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        first, last_bias = projected
        assert first is not None
        squash = torch.sigmoid if self._sigmoid_form else torch.tanh  # between layers
        z = torch.addmm(first, state, weights.first_h_t)  # (B, 2 w1): [g | r]
        if weights.deeper:  # g and r side by side as a batch of two: (2, B, width)
            z = z.view(z.shape[0], 2, -1).transpose(0, 1)
            last = len(weights.deeper) - 1
            for index, (weight_t, bias) in enumerate(weights.deeper):
                if index == last and last_bias is not None:
                    bias = last_bias.transpose(0, 1)
                z = torch.baddbmm(bias, squash(z), weight_t)

        def g_and_r(fused: torch.Tensor) -> tuple[torch.Tensor, ...]:
            if weights.deeper:
                return fused.unbind(0)
            return fused.split(self.hidden_size, dim=-1)

        if self._sigmoid_form:  # one sigmoid gives tanh(s) for ReTanh and r's output
            squashed_g, proposal = g_and_r(tanh_from_sigmoid(torch.sigmoid(z), weights.one))
            lam = torch.relu(squashed_g)
        else:
            s, r_pre = g_and_r(z)
            lam, proposal = self._gate_fn(s), torch.tanh(r_pre)
        return torch.lerp(state, proposal, lam), lam

    def _readout(
        self, x: torch.Tensor, state: torch.Tensor, weights: _GateL0RDWeights
    ) -> torch.Tensor:
        z = add_matmul(add_matmul(weights.out_bias, x, weights.out_x_t), state, weights.out_h_t)
        squashed = torch.sigmoid(z)  # [sigmoid(-2 p) | sigmoid(o)]
        if self.o is None:
            return tanh_from_sigmoid(squashed, weights.one)
        p_part, o_gate = squashed.split(self.output_size, dim=-1)
        return tanh_from_sigmoid(p_part, weights.one) * o_gate

    def _regularized_gates(self, gate_activation_value: torch.Tensor | None) -> torch.Tensor | None:
        assert gate_activation_value is not None
        return regularized_gate(self.gate_type, gate_activation_value)

    def extra_repr(self) -> str:
        """Sizes and options, for ``repr``."""
        return (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"output_size={self.output_size}, num_layers_internal={self.num_layers_internal}, "
            f"gate_type={self.gate_type!r}, stochastic_gates={self.stochastic_gates}, "
            f"gate_noise_level={self.gate_noise_level}, output_gate={self.output_gate}"
        )
