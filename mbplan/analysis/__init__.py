"""Analysis of recurrent dynamics: functions of a core's one-step map ``F(x, h) -> h``.

Everything here takes a core (any :class:`~mbplan.models.cells.RecurrentCell`, stacks included)
or a world model through the cell interface and never special-cases a cell class; it is batched
over states and runs on the device of the model's parameters.
"""

from mbplan.analysis.state_map import StateMap, core_map, iterate, layer_maps, layer_slices
from mbplan.analysis.state_sampling import (
    core_prefix_states,
    prefix_lengths,
    world_model_prefix_states,
)
from mbplan.analysis.vaa import (
    converge,
    pairwise_distances,
    vaa,
    vaa_of_states,
    vaa_star,
    vaa_star_of_states,
)

__all__ = [
    "StateMap",
    "converge",
    "core_map",
    "core_prefix_states",
    "iterate",
    "layer_maps",
    "layer_slices",
    "pairwise_distances",
    "prefix_lengths",
    "vaa",
    "vaa_of_states",
    "vaa_star",
    "vaa_star_of_states",
    "world_model_prefix_states",
]
