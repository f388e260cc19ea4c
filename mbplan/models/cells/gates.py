"""Gate functions of GateL0RD: the gate activation Lambda and the regularised gate Theta.

* ReTanh (paper Eq. 7): ``Lambda(s) = max(0, tanh(s))``; its gradient is ``1 - tanh(s)**2`` for
  ``s > 0`` and 0 for ``s <= 0``.
* Straight-through Heaviside (paper Sec. 4, Fig. 1c): forward ``1`` where the input is ``> 0``,
  else ``0``; backward the identity.
* The ablations of the paper code (``shared/reference/gatel0rd.md`` Sec. 1.3): a ``"step"`` gate
  (Lambda = straight-through Heaviside of ``s``) and a ``"sigmoid"`` gate (Lambda = Theta =
  sigmoid of ``s``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

#: The gate activations (Lambda) by name; ``"retanh"`` is the paper's choice.
GATE_TYPES = ("retanh", "step", "sigmoid")


def retanh(s: torch.Tensor) -> torch.Tensor:
    """ReTanh, ``max(0, tanh(s))`` elementwise (paper Eq. 7)."""
    return torch.relu(torch.tanh(s))


def heaviside_st(x: torch.Tensor) -> torch.Tensor:
    """Heaviside step with a straight-through gradient.

    The forward value is exactly ``1.0`` where ``x > 0`` and exactly ``0.0`` elsewhere
    (``x - x.detach()`` is exactly zero for finite ``x``); the gradient is passed through
    unchanged.

    Args:
        x: any shape, floating dtype.

    Returns:
        A tensor of the shape and dtype of ``x`` with values in ``{0, 1}``.
    """
    return (x > 0).to(x.dtype) + (x - x.detach())


def gate_activation(gate_type: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Lambda, the gate activation function, by name.

    Args:
        gate_type: one of :data:`GATE_TYPES`.

    Returns:
        An elementwise function of the gate input ``s``.
    """
    functions = {"retanh": retanh, "step": heaviside_st, "sigmoid": torch.sigmoid}
    if gate_type not in functions:
        raise ValueError(f"gate_type: expected one of {GATE_TYPES}, got {gate_type!r}")
    return functions[gate_type]


def regularized_gate(gate_type: str, gate_activation_value: torch.Tensor) -> torch.Tensor:
    """Theta, the gate that the L0 term counts, from the gate activation Lambda.

    ``Theta = Heaviside_ST(Lambda)`` for the ReTanh and step gates, so it is 1 exactly where the
    gate is open (``Lambda > 0``); for the sigmoid ablation ``Theta = Lambda`` (as in the paper
    code, whose regulariser then penalises the sigmoid activation itself).

    Args:
        gate_type: one of :data:`GATE_TYPES`.
        gate_activation_value: Lambda, any shape.

    Returns:
        Theta, same shape.
    """
    if gate_type == "sigmoid":
        return gate_activation_value
    return heaviside_st(gate_activation_value)
