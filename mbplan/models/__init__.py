"""Recurrent world models: GateL0RD and its baselines behind one interface.

Build one with :func:`make_world_model` (``core`` one of :data:`CORES`) and a task's
:func:`preset`; see :class:`WorldModel` for the interface the trainer, the evaluation and the
planners use.
"""

from mbplan.models.ensemble import WorldModelEnsemble
from mbplan.models.registry import (
    CORES,
    LEARNING_RATES,
    PRESETS,
    learning_rate,
    make_core,
    make_world_model,
    preset,
)
from mbplan.models.world_model import WorldModel, WorldModelOutput

__all__ = [
    "CORES",
    "LEARNING_RATES",
    "PRESETS",
    "WorldModel",
    "WorldModelEnsemble",
    "WorldModelOutput",
    "learning_rate",
    "make_core",
    "make_world_model",
    "preset",
]
