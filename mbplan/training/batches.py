"""The seeded order of training batches over a ``SequenceTensors`` split.

Batches are index lookups into the stacked split (:class:`mbplan.data.tensors.SequenceTensors`),
and the batch order depends only on ``(seed, epoch)``. Resuming at batch ``b`` of epoch ``e``
therefore recomputes epoch ``e``'s order and skips its first ``b`` batches; no data-order
generator state has to be stored.
"""

from __future__ import annotations

import numpy as np
import torch


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Return the CPU generator ordering the batches of ``epoch``, derived from (seed, epoch)."""
    state = np.random.SeedSequence([int(seed), int(epoch), 0x0BA7C4]).generate_state(1, np.uint64)
    return torch.Generator().manual_seed(int(state[0]))


def epoch_batches(
    subset: torch.Tensor, batch_size: int, balance_subsets: bool, generator: torch.Generator
) -> list[torch.Tensor]:
    """Split one epoch into batches of sequence indices.

    Without balancing this is a shuffled pass in batches of ``batch_size`` (the last, incomplete
    batch dropped unless it is the only one). With balancing every batch holds
    ``batch_size / n_subsets`` sequences of each subset, as the reference composes its batches
    (e.g. Billiard Ball: 8 from each of 16 subsets); the epoch ends when the smallest subset is used
    up.

    Args:
        subset: ``(n,)`` int64 subset index per sequence (on the CPU).
        batch_size: sequences per batch.
        balance_subsets: whether to compose each batch equally from every subset present.
        generator: CPU generator for the shuffles.

    Returns:
        A list of ``(batch_size,)`` int64 index tensors (a shorter single one for tiny splits).

    Raises:
        ValueError: if ``batch_size`` is not a multiple of the number of subsets when balancing.
    """
    subset = subset.cpu()
    n = int(subset.shape[0])
    if not balance_subsets:
        order = torch.randperm(n, generator=generator)
        if n <= batch_size:
            return [order]
        return list(order[: n - n % batch_size].split(batch_size))
    present = torch.unique(subset)
    if batch_size % len(present) != 0:
        raise ValueError(
            f"batch_size: expected a multiple of the {len(present)} subsets when balancing, "
            f"got {batch_size}"
        )
    per_subset = batch_size // len(present)
    members = [torch.nonzero(subset == index).flatten() for index in present.tolist()]
    shuffled = [group[torch.randperm(len(group), generator=generator)] for group in members]
    n_batches = min(len(group) for group in shuffled) // per_subset
    if n_batches == 0:
        raise ValueError(
            f"batch_size: {per_subset} per subset exceeds the smallest subset "
            f"({min(len(group) for group in shuffled)} sequences)"
        )
    return [
        torch.cat([group[i * per_subset : (i + 1) * per_subset] for group in shuffled])
        for i in range(n_batches)
    ]
