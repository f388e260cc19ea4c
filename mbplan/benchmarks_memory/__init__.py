"""Long-term-memory benchmarks of the warmup paper (Lambrechts et al. 2023).

Supervised information restitution (``copy_first_input``, ``denoising``) and the T-maze with a
DRQN agent, for any mbplan cell, with or without warmup (``shared/reference/cells.md`` Sec. B.2,
B.3). ``examples/warmup_benchmarks.py`` runs the grid and writes ``docs/results/warmup.md``.
"""

from mbplan.benchmarks_memory.drqn import DRQNConfig, train_drqn
from mbplan.benchmarks_memory.network import CELLS, SequenceNetwork, make_network
from mbplan.benchmarks_memory.supervised import SupervisedConfig, train_supervised
from mbplan.benchmarks_memory.tasks import MemoryTask, copy_first_input, denoising
from mbplan.benchmarks_memory.tmaze import TMaze

__all__ = [
    "CELLS",
    "DRQNConfig",
    "MemoryTask",
    "SequenceNetwork",
    "SupervisedConfig",
    "TMaze",
    "copy_first_input",
    "denoising",
    "make_network",
    "train_drqn",
    "train_supervised",
]
