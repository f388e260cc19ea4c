"""Shepherd's sheep-reappearance error: can the model say where a hidden object comes back?

The reference's metric (``shared/reference/gatel0rd.md`` Sec. 2.3, the paper's Fig. 5b): feed the
real observations while the gate is closed (teacher forcing until the gate opens, schedule
``1 - gate flag``, closed loop after), then take the squared error of the predicted sheep x
position (observation element 4) at the step where the gate flag switches on. With ``s`` the first
index with ``gate_open[s] = 1``: the sheep is still hidden in ``observations[:, s]`` (the env
decides visibility before the lever check) and visible again in ``observations[:, s + 1]``, so
the scored prediction is ``predictions[:, s]``, the model's guess of ``observations[:, s + 1]``
made from the real inputs up to ``s - 1`` and its own prediction at ``s``. This is the step the
authors' mask selects (measured by running their env beside ours). Scoring the row-``s``
observation instead would compare two placeholders, and a model with no memory would score 0;
a copy-last predictor scores about ``E[U(-0.5, 0.5)^2] = 1/12`` here. Sequences whose gate never
opens, is open from the start, or opens at the last index (no later observation to score) are
left out.

During training (:func:`validation_event_metrics`) the same error is measured on the validation
sequences at every validation, as ``val_reappearance`` in ``metrics.jsonl``, for the curve over
training of the paper's Fig. 5b.
"""

from __future__ import annotations

from typing import Any

import torch

from mbplan.data.tensors import SequenceTensors
from mbplan.evaluation.prediction import predict

#: index of the sheep's x position in the Shepherd observation.
SHEEP_X = 4
#: the event flag whose switch-on is scored (Shepherd's gate).
GATE_FLAG = "gate_open"


def reappearance_error(
    model: Any,
    data: SequenceTensors,
    flag: str = GATE_FLAG,
    dimension: int = SHEEP_X,
    batch_size: int = 512,
) -> dict[str, Any]:
    """Squared error of the predicted ``dimension`` one step after ``flag`` switches on.

    Args:
        model: the world model.
        data: sequences with the flag column ``flag`` in ``data.flag_names``.
        flag: name of the event flag (Shepherd: ``gate_open``).
        dimension: observation element scored (Shepherd: 4, the sheep's x).
        batch_size: sequences per forward pass.

    Returns:
        ``{"n": sequences scored, "mse": mean squared error (NaN if none), "errors": per
        sequence}``.

    Raises:
        ValueError: if ``flag`` is not among the data's flags or ``dimension`` is out of range.
    """
    if flag not in data.flag_names:
        raise ValueError(f"flag: expected one of {list(data.flag_names)}, got {flag!r}")
    obs_dim = data.observations.shape[-1]
    if not 0 <= dimension < obs_dim:
        raise ValueError(f"dimension: expected a value in [0, {obs_dim}), got {dimension!r}")
    is_open = data.flags[:, :, data.flag_names.index(flag)] > 0.5  # (n, T + 1)
    # s = first index with the flag on; scored: the prediction of observation s + 1 <= T
    switches = is_open[:, :-1].any(dim=1) & ~is_open[:, 0]
    data = data.select(switches)
    if len(data) == 0:
        return {"n": 0, "mse": float("nan"), "errors": []}
    is_open = is_open[switches]
    first_open = is_open.int().argmax(dim=1)  # s, in [1, T - 1]
    # real input while the gate is closed at the input step t (t < s), own predictions after
    result = predict(model, data, teacher_mask=~is_open[:, :-1], batch_size=batch_size)
    rows = torch.arange(len(data), device=first_open.device)
    predicted = result.predictions[rows, first_open, dimension]
    true = data.observations[rows, first_open + 1, dimension]
    errors = (predicted.double() - true.double()) ** 2
    return {
        "n": len(data),
        "mse": float(errors.mean()),
        "errors": [float(value) for value in errors],
    }


#: metrics row key of the reappearance error measured at each validation.
VAL_REAPPEARANCE = "val_reappearance"


def validation_event_metrics(
    model: Any, data: SequenceTensors, batch_size: int = 512
) -> dict[str, float | None]:
    """The event metrics a validation row carries for ``data``'s flags.

    Args:
        model: the world model.
        data: validation sequences.
        batch_size: sequences per forward pass.

    Returns:
        ``{"val_reappearance": mse}`` when the data have a ``gate_open`` flag (Shepherd), with
        ``None`` where no sequence can be scored (JSON has no NaN); ``{}`` otherwise.
    """
    if GATE_FLAG not in data.flag_names:
        return {}
    mse = reappearance_error(model, data, batch_size=batch_size)["mse"]
    return {VAL_REAPPEARANCE: None if mse != mse else mse}
