"""Recurrent cells behind one interface (see :mod:`mbplan.models.cells.base`)."""

from mbplan.models.cells.base import (
    CellSequence,
    CellStep,
    ProjectedCell,
    RecurrentCell,
    RecurrentStack,
    StepFn,
    unroll,
)
from mbplan.models.cells.bistable import BRCCell, NBRCCell
from mbplan.models.cells.double import DoubleCell
from mbplan.models.cells.gatel0rd import GateL0RDCell
from mbplan.models.cells.gates import GATE_TYPES, heaviside_st, retanh
from mbplan.models.cells.noise_rnn import NoiseReLUCell
from mbplan.models.cells.riglstm import RigLSTMCell
from mbplan.models.cells.rims import RIMCell
from mbplan.models.cells.rnn import ElmanCell, GRUCell, LSTMCell, TorchRecurrentCell

__all__ = [
    "BRCCell",
    "CellSequence",
    "CellStep",
    "DoubleCell",
    "ElmanCell",
    "GATE_TYPES",
    "GRUCell",
    "GateL0RDCell",
    "LSTMCell",
    "NBRCCell",
    "NoiseReLUCell",
    "ProjectedCell",
    "RIMCell",
    "RecurrentCell",
    "RecurrentStack",
    "RigLSTMCell",
    "StepFn",
    "TorchRecurrentCell",
    "heaviside_st",
    "retanh",
    "unroll",
]
