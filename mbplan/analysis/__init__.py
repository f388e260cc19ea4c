"""Analysis of recurrent dynamics: functions of a core's one-step map ``F(x, h) -> h``.

Everything here takes a core (any :class:`~mbplan.models.cells.RecurrentCell`, stacks included)
or a world model through the cell interface and never special-cases a cell class; it is batched
over states and runs on the device of the model's parameters.
"""

from mbplan.analysis.state_map import StateMap, core_map, iterate, layer_maps

__all__ = ["StateMap", "core_map", "iterate", "layer_maps"]
