"""Emission statistics of HMMs and their emulators (``shared/reference/cells.md`` C.5).

All functions take one-hot symbol sequences ``(num_seq, time, K)`` (an HMM's after
:func:`~mbplan.hmm.sampler.one_hot`, an emulator's ``symbols``):

* :func:`matched_distances`: the entropic transport plan between two sets of flattened sequences,
  each sequence of the second set matched to the argmax of its column, and the Euclidean distance
  of every matched pair;
* :func:`symbol_transition_matrix`: row-normalised counts of consecutive symbols;
* :func:`volatility`: symbol changes per sequence;
* :func:`output_frequencies`: per-sequence symbol frequencies;
* :func:`emission_report`: all of them for an HMM against an emulator, with the HMM-HMM baseline
  (three independent HMM sets A, B, C: distances A-RNN against B-C).
"""

from __future__ import annotations

from typing import Any

import torch

from mbplan.hmm.emulator import HMMEmulator
from mbplan.hmm.models import HMM
from mbplan.hmm.sampler import one_hot, sample
from mbplan.hmm.sinkhorn import entropic_transport_plan


def _check_sequences(name: str, value: torch.Tensor) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.dim() != 3:
        got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"{name}: expected one-hot sequences (num_seq, time, K), got {got}")
    return value


def matched_distances(
    a: torch.Tensor, b: torch.Tensor, *, epsilon: float = 0.1, iterations: int = 1000
) -> torch.Tensor:
    """Distances between each sequence of ``b`` and its transport-matched sequence of ``a``.

    Args:
        a: ``(n, time, K)``.
        b: ``(m, time, K)``.
        epsilon: entropic regularisation of the plan (reference 0.1).
        iterations: maximum Sinkhorn iterations (reference 1000).

    Returns:
        ``(m,)`` Euclidean distances of the flattened one-hot sequences.
    """
    a = _check_sequences("a", a).flatten(1).float()
    b = _check_sequences("b", b).flatten(1).float()
    plan = entropic_transport_plan(a, b, epsilon=epsilon, iterations=iterations)
    match = plan.argmax(dim=0)
    return (a[match] - b).norm(dim=-1)


def symbol_transition_matrix(sequences: torch.Tensor) -> torch.Tensor:
    """``(K, K)`` row-normalised counts of ``(y_t, y_{t+1})`` over all sequences."""
    symbols = _check_sequences("sequences", sequences).argmax(-1)
    k = sequences.shape[-1]
    pairs = symbols[:, :-1] * k + symbols[:, 1:]
    counts = torch.bincount(pairs.flatten(), minlength=k * k).reshape(k, k).double()
    return counts / counts.sum(-1, keepdim=True).clamp(min=1)


def volatility(sequences: torch.Tensor) -> torch.Tensor:
    """``(num_seq,)`` number of symbol changes per sequence."""
    symbols = _check_sequences("sequences", sequences).argmax(-1)
    return (symbols[:, 1:] != symbols[:, :-1]).sum(-1)


def output_frequencies(sequences: torch.Tensor) -> torch.Tensor:
    """``(num_seq, K)`` symbol frequencies of each sequence."""
    return _check_sequences("sequences", sequences).float().mean(1)


def _mean_std(values: torch.Tensor) -> dict[str, Any]:
    values = values.double()
    return {"mean": values.mean(0).tolist(), "std": values.std(0).tolist()}


def emission_report(
    hmm: HMM,
    emulator: HMMEmulator,
    *,
    num_seq: int,
    seq_len: int,
    generator: torch.Generator,
    epsilon: float = 0.1,
    iterations: int = 1000,
) -> dict[str, Any]:
    """Compare an emulator's emissions with its HMM's (C.5 metrics 1-4).

    Args:
        hmm: the target HMM.
        emulator: the trained network.
        num_seq: sequences per set (reference metrics: 5000).
        seq_len: steps per sequence (reference metrics: 100).
        generator: source of all four sets (on the emulator's device).
        epsilon: entropic regularisation of the matching plan (reference 0.1).
        iterations: maximum Sinkhorn iterations of the matching (reference 1000).

    Returns:
        A JSON-ready dict: ``distance_hmm_rnn`` and ``distance_hmm_hmm`` (mean, std), the two
        transition matrices, their mean squared difference, volatility and output frequencies of
        both.
    """
    device = emulator.cell.weight_hh.device
    sets = [
        one_hot(sample(hmm, num_seq, seq_len, generator, device=device).symbols, hmm.num_symbols)
        for _ in range(3)
    ]
    with torch.no_grad():
        rnn = emulator(num_seq, seq_len, generator).symbols
    hmm_rnn = matched_distances(sets[0], rnn, epsilon=epsilon, iterations=iterations)
    hmm_hmm = matched_distances(sets[1], sets[2], epsilon=epsilon, iterations=iterations)
    transitions_hmm = symbol_transition_matrix(sets[0])
    transitions_rnn = symbol_transition_matrix(rnn)
    return {
        "num_seq": num_seq,
        "seq_len": seq_len,
        "distance_hmm_rnn": _mean_std(hmm_rnn),
        "distance_hmm_hmm": _mean_std(hmm_hmm),
        "transition_matrix_hmm": transitions_hmm.tolist(),
        "transition_matrix_rnn": transitions_rnn.tolist(),
        "transition_squared_difference": float((transitions_hmm - transitions_rnn).pow(2).mean()),
        "volatility_hmm": _mean_std(volatility(sets[0])),
        "volatility_rnn": _mean_std(volatility(rnn)),
        "frequencies_hmm": _mean_std(output_frequencies(sets[0])),
        "frequencies_rnn": _mean_std(output_frequencies(rnn)),
    }
