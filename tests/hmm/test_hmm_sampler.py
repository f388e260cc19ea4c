"""The sampler's empirical frequencies equal the exact matrices of the paper's HMMs.

Statistical test with fixed seeds: every empirical start, transition and emission frequency must
lie within 5 binomial standard errors (plus 1e-9) of the exact probability. With about 300
frequencies checked per run, a correct sampler fails such a bound with probability < 1e-4.
"""

import numpy as np
import pytest
import torch

from mbplan.hmm import HMM_FAMILIES, cyclic, fully_connected, hmm_family, linear_chain, sample


def _within(counts: np.ndarray, expected: np.ndarray) -> None:
    totals = counts.sum(axis=-1, keepdims=True)
    empirical = counts / totals
    stderr = np.sqrt(expected * (1 - expected) / totals)
    assert np.all(np.abs(empirical - expected) <= 5 * stderr + 1e-9), (empirical, expected)


@pytest.mark.parametrize("family", list(HMM_FAMILIES))
@pytest.mark.parametrize("kind", ["torch", "numpy"])
def test_empirical_frequencies_match_the_exact_matrices(family: str, kind: str) -> None:
    hmm = hmm_family(family).build()
    generator = torch.Generator().manual_seed(11) if kind == "torch" else np.random.default_rng(11)
    states, symbols = (t.numpy() for t in sample(hmm, 4000, 25, generator))
    m, k = hmm.num_states, hmm.num_symbols
    _within(np.bincount(states[:, 0], minlength=m)[None], hmm.start[None])
    transitions = np.zeros((m, m))
    np.add.at(transitions, (states[:, :-1].ravel(), states[:, 1:].ravel()), 1)
    _within(transitions, hmm.transition)
    emissions = np.zeros((m, k))
    np.add.at(emissions, (states.ravel(), symbols.ravel()), 1)
    _within(emissions, hmm.emission)
    # impossible events never happen
    assert np.all(transitions[hmm.transition == 0] == 0)
    assert np.all(emissions[hmm.emission == 0] == 0)


def test_exact_matrices_of_the_reference() -> None:
    q3 = 0.05**0.5
    np.testing.assert_allclose(
        linear_chain(3).transition,
        [[1 - q3, q3, 0], [q3, 1 - 2 * q3, q3], [0, q3, 1 - q3]],
    )
    np.testing.assert_allclose(linear_chain(2).transition, [[0.95, 0.05], [0.05, 0.95]])
    np.testing.assert_allclose(linear_chain(5).transition[2, 2], 1 - 2 * 0.05**0.25)
    np.testing.assert_allclose(
        linear_chain(4).emission,
        [[0.99, 0.01, 0], [0.66, 0.01, 0.33], [0.33, 0.01, 0.66], [0, 0.01, 0.99]],
    )
    np.testing.assert_allclose(np.diag(fully_connected().transition), 0.95)
    np.testing.assert_allclose(fully_connected().transition[0, 1], 0.025)
    np.testing.assert_allclose(np.diag(fully_connected().emission), 0.98)
    np.testing.assert_allclose(cyclic().transition[0], [0.95, 0.025, 0, 0.025])
    np.testing.assert_allclose(cyclic().emission[3], [0, 0.9, 0.1])
    assert [HMM_FAMILIES[name].seq_len for name in HMM_FAMILIES] == [100, 30, 30, 40, 30, 40]


def test_same_seed_same_sequences_and_bad_input() -> None:
    hmm = linear_chain(3)
    a = sample(hmm, 7, 9, torch.Generator().manual_seed(3))
    b = sample(hmm, 7, 9, torch.Generator().manual_seed(3))
    assert torch.equal(a.symbols, b.symbols) and torch.equal(a.states, b.states)
    with pytest.raises(ValueError, match="generator"):
        sample(hmm, 2, 2, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_seq"):
        sample(hmm, 0, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="family"):
        hmm_family("six")
    with pytest.raises(ValueError, match="transition: expected rows summing to 1"):
        type(hmm)("bad", np.eye(2) * 0.5, np.eye(2), np.full(2, 0.5))
