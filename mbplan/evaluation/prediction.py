"""Autoregressive N-step prediction and its error per prediction step.

The paper's test (Sec. 6.1, ``shared/reference/gatel0rd.md`` Sec. 3): the model receives the first
``k`` real observations and all real actions and predicts the rest of the sequence from its own
outputs, in eval mode (no gate noise). The error at prediction step ``t`` is the squared error of
the prediction of ``o_{t+1}``, averaged over sequences and observation dimensions; the paper's
single number is the mean over all steps, the first ``k`` one-step predictions included.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from mbplan.data.tensors import SequenceTensors
from mbplan.evaluation.gates import gate_statistics


@dataclasses.dataclass(frozen=True)
class Predictions:
    """A model's predictions for a set of sequences.

    Attributes:
        predictions: ``(n, T, obs_dim)`` prediction of ``observations[:, t + 1]``.
        gates: ``(n, T, G)`` gate activations Theta, ``None`` for cores without gates.
        states: ``(n, T, state_size)`` packed state after every step, if requested.
    """

    predictions: torch.Tensor
    gates: torch.Tensor | None = None
    states: torch.Tensor | None = None


@torch.no_grad()
def predict(
    model: Any,
    data: SequenceTensors,
    teacher_mask: torch.Tensor | None = None,
    batch_size: int = 512,
    return_states: bool = False,
) -> Predictions:
    """Run the model over ``data`` in eval mode, autoregressively after the first ``k`` steps.

    Args:
        model: a world model (``forward(obs, actions, teacher_prob, *, teacher_mask,
            return_states)``).
        data: the sequences; ``observations[:, :-1]`` are the candidate inputs.
        teacher_mask: ``(n, T)`` bool, True where the real observation is fed (the first ``k``
            steps are real regardless); default: none after ``k`` (``teacher_prob = 0``).
        batch_size: sequences per forward pass.
        return_states: also return the state after every step.

    Returns:
        The predictions (and gates, states) on the data's device. The model's train/eval mode is
        restored afterwards.
    """
    n, steps = len(data), data.steps
    if teacher_mask is not None and tuple(teacher_mask.shape) != (n, steps):
        raise ValueError(
            f"teacher_mask: expected shape ({n}, {steps}), got {tuple(teacher_mask.shape)}"
        )
    was_training = model.training
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {"predictions": [], "gates": [], "states": []}
    try:
        for start in range(0, n, batch_size):
            chunk = slice(start, start + batch_size)
            output = model(
                data.observations[chunk, :-1],
                data.actions[chunk],
                0.0,
                teacher_mask=None if teacher_mask is None else teacher_mask[chunk],
                return_states=return_states,
            )
            parts["predictions"].append(output.predictions)
            if output.gates is not None:
                parts["gates"].append(output.gates)
            if return_states and output.states is not None:
                parts["states"].append(output.states)
    finally:
        model.train(was_training)
    return Predictions(
        predictions=torch.cat(parts["predictions"]),
        gates=torch.cat(parts["gates"]) if parts["gates"] else None,
        states=torch.cat(parts["states"]) if parts["states"] else None,
    )


def step_errors(predictions: torch.Tensor, observations: torch.Tensor) -> torch.Tensor:
    """Return the mean squared error at every prediction step.

    Args:
        predictions: ``(n, T, obs_dim)`` predictions of ``observations[:, 1:]``.
        observations: ``(n, T + 1, obs_dim)`` the true sequences.

    Returns:
        ``(T,)`` float64: the squared error of step ``t`` averaged over sequences and dimensions.

    Raises:
        ValueError: if the shapes do not line up.
    """
    targets = observations[:, 1:]
    if predictions.shape != targets.shape:
        raise ValueError(
            f"predictions: expected {tuple(targets.shape)} (observations[:, 1:]), "
            f"got {tuple(predictions.shape)}"
        )
    return ((predictions.double() - targets.double()) ** 2).mean(dim=(0, 2))


def autoregressive_mse(model: Any, data: SequenceTensors, batch_size: int = 512) -> float:
    """Return the paper's validation number: the autoregressive MSE over all steps and sequences."""
    result = predict(model, data, batch_size=batch_size)
    return float(step_errors(result.predictions, data.observations).mean())


def _error_summary(predictions: torch.Tensor, observations: torch.Tensor) -> dict[str, Any]:
    per_step = step_errors(predictions, observations)
    return {
        "n": int(observations.shape[0]),
        "mse": float(per_step.mean()),
        "mse_per_step": [float(value) for value in per_step],
    }


def evaluate_prediction(
    model: Any, data: SequenceTensors, horizon: int | None = None, batch_size: int = 512
) -> dict[str, Any]:
    """Autoregressive N-step errors overall and per subset, with gate statistics.

    Args:
        model: the world model.
        data: the evaluation sequences.
        horizon: number of prediction steps ``N`` (default: all ``T`` steps of the data); the
            sequences are cut to their first ``N`` transitions.
        batch_size: sequences per forward pass.

    Returns:
        ``{"horizon", "k", "n", "mse", "mse_per_step", "gates", "subsets": {name: {...}}}``; each
        subset entry has ``n``, ``mse``, ``mse_per_step`` and ``gates``. ``gates`` is ``None`` for
        cores without gates.
    """
    if horizon is not None:
        data = data.truncate(horizon)
    result = predict(model, data, batch_size=batch_size)
    summary: dict[str, Any] = {"horizon": data.steps, "k": int(getattr(model, "k", 0))}
    summary.update(_error_summary(result.predictions, data.observations))
    summary["gates"] = None if result.gates is None else gate_statistics(result.gates)
    subsets: dict[str, Any] = {}
    for index in torch.unique(data.subset).tolist():
        members = data.subset == index
        name = data.subset_names[index] if index < len(data.subset_names) else str(index)
        entry = _error_summary(result.predictions[members], data.observations[members])
        entry["gates"] = None if result.gates is None else gate_statistics(result.gates[members])
        subsets[name] = entry
    summary["subsets"] = subsets
    return summary
