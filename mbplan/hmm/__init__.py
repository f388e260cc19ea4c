"""HMM emulation (Torre et al., NeurIPS 2025): the HMMs, their sampler, training and metrics.

A task domain of its own rather than a ``mbplan.data`` dataset: the HMM sequences are drawn
afresh from exact matrices (no episodes on disk, no env), and the RNN is trained by distribution
matching, not by next-step prediction. The RNN itself is a registered core
(:class:`~mbplan.models.cells.noise_rnn.NoiseReLUCell`); its analysis uses :mod:`mbplan.analysis`
like every other core.
"""

from mbplan.hmm.emulator import EmulatorOutput, HMMEmulator, hard_gumbel_softmax
from mbplan.hmm.models import (
    HMM,
    HMM_FAMILIES,
    NUM_SYMBOLS,
    HMMFamily,
    cyclic,
    fully_connected,
    hmm_family,
    linear_chain,
    linear_emission,
)
from mbplan.hmm.sampler import HMMSamples, one_hot, sample

__all__ = [
    "EmulatorOutput",
    "HMM",
    "HMMEmulator",
    "HMMFamily",
    "HMMSamples",
    "HMM_FAMILIES",
    "NUM_SYMBOLS",
    "cyclic",
    "fully_connected",
    "hard_gumbel_softmax",
    "hmm_family",
    "linear_chain",
    "linear_emission",
    "one_hot",
    "sample",
]
