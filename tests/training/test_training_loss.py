"""The training loss equals MSE + lambda * mean(Theta) on a hand example."""

from __future__ import annotations

import pytest
import torch

from mbplan.models import WorldModelOutput, make_world_model
from mbplan.training.loss import prediction_loss


def test_loss_is_mse_plus_lambda_times_mean_theta():
    model = make_world_model("gatel0rd", 2, 0, hidden_size=2, feature_size=4, reg_lambda=0.5)
    predictions = torch.tensor([[[1.0, 2.0], [0.0, 0.0]]])  # (1, 2, 2)
    targets = torch.tensor([[[0.0, 2.0], [3.0, -1.0]]])
    gates = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])  # 3 of 4 open
    output = WorldModelOutput(predictions, torch.zeros(1, 2), gates, None)
    terms = prediction_loss(model, output, targets)
    mse = (1.0 + 0.0 + 9.0 + 1.0) / 4
    assert float(terms.mse) == pytest.approx(mse)
    assert float(terms.regularization) == pytest.approx(0.5 * 0.75)
    assert float(terms.total) == pytest.approx(mse + 0.375)


def test_cores_without_gates_add_nothing():
    model = make_world_model("gru", 2, 0, hidden_size=2, feature_size=4)
    predictions = torch.ones(1, 2, 2)
    output = WorldModelOutput(predictions, torch.zeros(1, 2), None, None)
    terms = prediction_loss(model, output, torch.zeros(1, 2, 2))
    assert float(terms.regularization) == 0.0 and float(terms.total) == 1.0
    with pytest.raises(ValueError, match="targets"):
        prediction_loss(model, output, torch.zeros(1, 3, 2))
