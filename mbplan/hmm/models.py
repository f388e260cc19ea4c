"""The HMMs the HMM-emulating RNNs are trained on, with the exact matrices of the reference code.

Source: ``shared/reference/cells.md`` C.2 (``EliaTorre/hmmrnn`` ``scripts/hmm.py`` and
``scripts/config.py``). Every HMM has ``M`` latent states, 3 emission symbols and a uniform start
distribution.

Transition matrices:

* linear chain (``target_prob`` method, the paper's chains ``M = 2..5``): ``q = 0.05 ** (1/(M-1))``;
  end states stay with ``1 - q`` and move ``q`` to their one neighbour, interior states stay with
  ``1 - 2q`` and move ``q`` to each neighbour;
* fully connected (``M = 3``): ``0.95`` on the diagonal, ``0.05 / (M - 1) = 0.025`` elsewhere;
* cyclic (``M = 4``): ``0.95`` on the diagonal, ``0.025`` to each ring neighbour ``i +- 1 mod 4``.

Emission matrices (rows = states, columns = symbols 0, 1, 2):

* linear (chains): ``alpha = i / (M - 1)``, row ``[0.99 (1 - alpha), 0.01, 0.99 alpha]``;
* triangular (fully connected): ``0.98`` on the diagonal, ``0.01`` elsewhere;
* cyclic: the reference's custom ``[[0.9, 0.1, 0], [0.1, 0.9, 0], [0, 0.1, 0.9], [0, 0.9, 0.1]]``
  (``HMMCyclic`` sets ``custom_emission_matrix``, which overrides its ``linear`` method).

:data:`HMM_FAMILIES` names the six configurations of the paper (``two`` .. ``five``, ``fully``,
``cyclic``) with the sequence length each is trained on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mbplan.models.validation import require_positive_int

#: Emission symbols of every HMM of the paper.
NUM_SYMBOLS = 3


@dataclass(frozen=True, eq=False)
class HMM:
    """A discrete hidden Markov model.

    Attributes:
        name: a short label.
        transition: ``(M, M)`` row-stochastic, ``transition[i, j] = P(s_{t+1} = j | s_t = i)``.
        emission: ``(M, K)`` row-stochastic, ``emission[i, k] = P(y_t = k | s_t = i)``.
        start: ``(M,)`` distribution of the first state.
    """

    name: str
    transition: np.ndarray
    emission: np.ndarray
    start: np.ndarray

    def __post_init__(self) -> None:
        for label in ("transition", "emission", "start"):
            value = np.asarray(getattr(self, label), dtype=np.float64)
            object.__setattr__(self, label, value)
        if self.start.ndim != 1 or self.start.shape[0] < 1:
            raise ValueError(f"start: expected shape (M,), got {self.start.shape}")
        states = self.start.shape[0]
        _check_stochastic("start", self.start[None], 1, states)
        _check_stochastic("transition", self.transition, states, states)
        _check_stochastic("emission", self.emission, states)

    @property
    def num_states(self) -> int:
        """``M``."""
        return self.transition.shape[0]

    @property
    def num_symbols(self) -> int:
        """``K``."""
        return self.emission.shape[1]


def _check_stochastic(name: str, matrix: np.ndarray, rows: int, cols: int | None = None) -> None:
    if (
        matrix.ndim != 2
        or matrix.shape[0] != rows
        or (cols is not None and matrix.shape[1] != cols)
    ):
        expected = f"({rows}, {cols if cols is not None else 'K'})"
        raise ValueError(f"{name}: expected shape {expected}, got {matrix.shape}")
    if not np.all(np.isfinite(matrix)) or np.any(matrix < 0):
        raise ValueError(f"{name}: expected finite non-negative probabilities")
    if not np.allclose(matrix.sum(axis=1), 1.0, atol=1e-9):
        raise ValueError(f"{name}: expected rows summing to 1, got {matrix.sum(axis=1)}")


def _uniform_start(states: int) -> np.ndarray:
    return np.full(states, 1.0 / states)


def linear_emission(states: int) -> np.ndarray:
    """Rows ``[0.99 (1 - alpha), 0.01, 0.99 alpha]`` with ``alpha = i / (M - 1)``, ``(M, 3)``."""
    require_positive_int("states", states)
    alpha = np.arange(states) / (states - 1) if states > 1 else np.zeros(1)
    return np.stack([0.99 * (1.0 - alpha), np.full(states, 0.01), 0.99 * alpha], axis=1)


def linear_chain(states: int, target_prob: float = 0.05) -> HMM:
    """The linear-chain HMM of the paper (``transition_method='target_prob'``, linear emission).

    Args:
        states: ``M >= 2``.
        target_prob: the reference's ``target_prob``; the move probability is
            ``q = target_prob ** (1 / (M - 1))``.
    """
    require_positive_int("states", states)
    if states < 2:
        raise ValueError(f"states: expected at least 2 states for a chain, got {states}")
    if not 0.0 < target_prob < 1.0:
        raise ValueError(f"target_prob: expected a probability in (0, 1), got {target_prob!r}")
    q = target_prob ** (1.0 / (states - 1))
    if states > 2 and 2 * q > 1.0:
        raise ValueError(f"target_prob: interior move probability 2q = {2 * q:.3f} exceeds 1")
    transition = np.zeros((states, states))
    for i in range(states):
        neighbours = [j for j in (i - 1, i + 1) if 0 <= j < states]
        for j in neighbours:
            transition[i, j] = q
        transition[i, i] = 1.0 - q * len(neighbours)
    return HMM(f"linear{states}", transition, linear_emission(states), _uniform_start(states))


def fully_connected(states: int = 3, stay_prob: float = 0.95) -> HMM:
    """The fully connected HMM (``transition_method='fully'``, triangular emission, ``M = 3``)."""
    if states != 3:
        raise ValueError(
            f"states: the triangular emission of the paper needs 3 states, got {states}"
        )
    if not 0.0 < stay_prob < 1.0:
        raise ValueError(f"stay_prob: expected a probability in (0, 1), got {stay_prob!r}")
    transition = np.full((states, states), (1.0 - stay_prob) / (states - 1))
    np.fill_diagonal(transition, stay_prob)
    emission = np.full((3, 3), 0.01)
    np.fill_diagonal(emission, 0.98)
    return HMM("fully3", transition, emission, _uniform_start(states))


def cyclic() -> HMM:
    """The cyclic HMM of the paper (``HMMCyclic``: 4 states on a ring, its custom emission)."""
    transition = np.array(
        [
            [0.95, 0.025, 0.0, 0.025],
            [0.025, 0.95, 0.025, 0.0],
            [0.0, 0.025, 0.95, 0.025],
            [0.025, 0.0, 0.025, 0.95],
        ]
    )
    emission = np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.0, 0.1, 0.9], [0.0, 0.9, 0.1]])
    return HMM("cyclic4", transition, emission, _uniform_start(4))


@dataclass(frozen=True)
class HMMFamily:
    """One of the paper's configurations: the HMM and the reference's data and training sizes.

    Attributes:
        build: returns the HMM.
        seq_len: sequence length of its dataset (``config.py`` ``DATA.seq_len``).
        grad_clip: gradient-norm clip of its training (0.9 chains, 0.3 fully and cyclic).
        epochs: the reference's epochs (500; fully connected 1000).
    """

    build: Callable[[], HMM]
    seq_len: int
    grad_clip: float
    epochs: int


#: The paper's six configurations (``HMMTwo`` .. ``HMMFive``, ``HMMFully``, ``HMMCyclic``).
HMM_FAMILIES: dict[str, HMMFamily] = {
    "two": HMMFamily(lambda: linear_chain(2), 100, 0.9, 500),
    "three": HMMFamily(lambda: linear_chain(3), 30, 0.9, 500),
    "four": HMMFamily(lambda: linear_chain(4), 30, 0.9, 500),
    "five": HMMFamily(lambda: linear_chain(5), 40, 0.9, 500),
    "fully": HMMFamily(fully_connected, 30, 0.3, 1000),
    "cyclic": HMMFamily(cyclic, 40, 0.3, 500),
}


def hmm_family(name: str) -> HMMFamily:
    """The configuration named ``name`` (one of :data:`HMM_FAMILIES`)."""
    if name not in HMM_FAMILIES:
        raise ValueError(f"family: expected one of {', '.join(HMM_FAMILIES)}; got {name!r}")
    return HMM_FAMILIES[name]
