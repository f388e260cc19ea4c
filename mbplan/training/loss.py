"""The training objective of the reference: next-observation MSE plus the model's gate penalty.

``loss = mean((predictions - observations[:, 1:]) ** 2) + model.regularization(gates)``, where the
MSE averages over batch, time and observation dimensions (``nn.MSELoss``'s mean) and the penalty is
``lambda * mean(Theta)`` for GateL0RD and 0 for cores without gates
(``shared/reference/gatel0rd.md`` Sec. 1.1 and 3; the paper's Eq. 5).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch


@dataclasses.dataclass(frozen=True)
class LossTerms:
    """The loss and its two parts, all scalar tensors.

    Attributes:
        total: ``mse + regularization``, the quantity minimised.
        mse: mean squared error of the predicted next observations.
        regularization: the model's gate penalty (0 for cores without gates).
    """

    total: torch.Tensor
    mse: torch.Tensor
    regularization: torch.Tensor


def prediction_loss(model: Any, output: Any, targets: torch.Tensor) -> LossTerms:
    """Compute the reference loss for one forward pass.

    Args:
        model: the world model (provides ``regularization(gates)``).
        output: its ``WorldModelOutput``: ``predictions (batch, time, obs_dim)``, ``gates
            (batch, time, G) | None``.
        targets: ``(batch, time, obs_dim)`` the true next observations ``observations[:, 1:]``.

    Raises:
        ValueError: if predictions and targets differ in shape.
    """
    predictions = output.predictions
    if predictions.shape != targets.shape:
        raise ValueError(
            f"targets: expected shape {tuple(predictions.shape)} (that of the predictions), "
            f"got {tuple(targets.shape)}"
        )
    mse = torch.mean((predictions - targets) ** 2)
    if output.gates is None:
        regularization = torch.zeros((), dtype=mse.dtype, device=mse.device)
    else:
        regularization = torch.as_tensor(model.regularization(output.gates), device=mse.device)
    return LossTerms(total=mse + regularization, mse=mse, regularization=regularization)
