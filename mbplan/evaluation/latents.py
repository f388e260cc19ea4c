"""Latent states relative to their initialisation, ``h_t - h_0``, as the paper plots them.

Fig. 4d and 7b of the paper show the latent state after every step minus the state that ``f_init``
set from the first ``k`` inputs. The world model packs its whole state into one vector
(``(batch, state_size)``: for LSTM the hidden and the cell state, for stacked cores every layer), so
the trajectories here cover every packed component; the model's own documentation says which
columns are which.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from mbplan.data.tensors import SequenceTensors
from mbplan.evaluation.prediction import predict


@dataclasses.dataclass(frozen=True)
class LatentTrajectories:
    """Latent states of a set of sequences under autoregressive prediction.

    Attributes:
        initial: ``(n, state_size)`` ``h_0`` from ``f_init``.
        states: ``(n, T, state_size)`` the state after every step.
        relative: ``(n, T, state_size)`` ``states - initial``.
        predictions: ``(n, T, obs_dim)`` the predictions made along the way.
        gate_open: ``(n, T)`` bool, True where at least one gate opened at that input; ``None``
            for cores without gates.
    """

    initial: torch.Tensor
    states: torch.Tensor
    relative: torch.Tensor
    predictions: torch.Tensor
    gate_open: torch.Tensor | None


@torch.no_grad()
def latent_trajectories(
    model: Any, data: SequenceTensors, batch_size: int = 512
) -> LatentTrajectories:
    """Run the model autoregressively (after ``k``) and return ``h_t - h_0`` for every step.

    Args:
        model: the world model (``initial_state``, ``forward(..., return_states=True)``, ``k``).
        data: the sequences.
        batch_size: sequences per forward pass.

    Raises:
        ValueError: if the model does not return its states.
    """
    result = predict(model, data, batch_size=batch_size, return_states=True)
    if result.states is None:
        raise ValueError("model: forward(..., return_states=True) returned states=None")
    k = int(model.k)
    was_training = model.training
    model.eval()
    try:
        initial = torch.cat(
            [
                model.initial_state(
                    data.observations[start : start + batch_size, :k],
                    data.actions[start : start + batch_size, :k],
                )
                for start in range(0, len(data), batch_size)
            ]
        )
    finally:
        model.train(was_training)
    gate_open = None if result.gates is None else (result.gates != 0).any(dim=2)
    return LatentTrajectories(
        initial=initial,
        states=result.states,
        relative=result.states - initial[:, None, :],
        predictions=result.predictions,
        gate_open=gate_open,
    )


def flag_onsets(flags: torch.Tensor, names: tuple[str, ...] | list[str]) -> list[tuple[str, int]]:
    """Where each hidden factor of one sequence switches on, in the steps of the latent figure.

    Step ``t`` (counted from 1, as :func:`mbplan.evaluation.plots.plot_latents` draws them) is the
    update that predicts observation ``t``. A flag that is 0 in the first observation and nonzero
    first in observation ``j >= 1`` switches on at step ``j``: the first prediction whose target
    has it on, where a model that tracks the factor must change its state (at the latest). Flags
    already on at the start or never on give no onset.

    Args:
        flags: ``(T + 1, n_flags)`` one sequence's flags (``SequenceTensors.flags[i]``).
        names: the ``n_flags`` flag names.

    Returns:
        ``(name, step)`` per flag that switches on, in flag order.

    Raises:
        ValueError: if ``flags`` is not 2-D or its columns do not match ``names``.
    """
    if flags.dim() != 2 or flags.shape[1] != len(names):
        raise ValueError(
            f"flags: expected (T + 1, {len(names)}) for flags {tuple(names)}, "
            f"got {tuple(flags.shape)}"
        )
    onsets = []
    for column, name in enumerate(names):
        values = flags[:, column]
        on = torch.nonzero(values != 0).flatten()
        if values[0] == 0 and len(on):
            onsets.append((name, int(on[0])))
    return onsets
