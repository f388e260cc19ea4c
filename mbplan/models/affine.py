"""Affine maps on pre-transposed weights: one ``addmm`` per call on the per-step hot path.

``nn.Linear`` stores ``W`` as ``(out, in)`` and ``F.linear`` transposes it on every call (two
extra dispatcher ops). The step loops of the world model and the cells prepare ``W^T`` once per
call and apply it with :func:`add_matmul`, which is a single ``torch.addmm`` for 2-D inputs.
"""

from __future__ import annotations

import torch


def add_matmul(base: torch.Tensor, x: torch.Tensor, weight_t: torch.Tensor) -> torch.Tensor:
    """``base + x @ weight_t`` for inputs with any leading dimensions.

    Args:
        base: ``(..., out)`` or anything broadcastable to it, e.g. a bias ``(out,)``.
        x: ``(..., in)``; 2-D inputs take one fused ``addmm``.
        weight_t: ``(in, out)``, a weight already transposed.

    Returns:
        ``(..., out)``.
    """
    if x.dim() == 2:
        return torch.addmm(base, x, weight_t)
    return base + x @ weight_t


def transposed_layers(
    layers: list[torch.nn.Linear], scale: float = 1.0
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(W^T (in, out), b (out,))`` of each layer, the last one scaled by ``scale``.

    Args:
        layers: linear layers in order.
        scale: factor folded into the last layer's weight and bias (e.g. an output scale).

    Returns:
        One ``(weight_t, bias)`` pair per layer, ready for :func:`add_matmul`.
    """
    pairs = [(layer.weight.t(), layer.bias) for layer in layers]
    if pairs and scale != 1.0:
        weight_t, bias = pairs[-1]
        pairs[-1] = (weight_t * scale, bias * scale)
    return pairs
