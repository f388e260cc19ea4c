"""Analysis of recurrent dynamics: functions of a core's one-step map ``F(x, h) -> h``.

Everything here takes a core (any :class:`~mbplan.models.cells.RecurrentCell`, stacks included)
or a world model through the cell interface and never special-cases a cell class; it is batched
over states and runs on the device of the model's parameters. Figures: :mod:`mbplan.analysis.plots`
(imported separately, it pulls in matplotlib).
"""

from mbplan.analysis.state_map import StateMap, core_map, iterate, layer_maps

__all__ = ["StateMap", "core_map", "iterate", "layer_maps"]

from mbplan.analysis.fixed_points import (  # noqa: E402
    FixedPoints,
    deduplicate,
    find_fixed_points,
    minimise_speed,
    speed,
)
from mbplan.analysis.jacobians import (  # noqa: E402
    STABILITY_LABELS,
    classify_stability,
    critical_complex_pairs,
    eigenvalues,
    jacobians,
    mobius,
)

__all__ += [
    "FixedPoints",
    "STABILITY_LABELS",
    "classify_stability",
    "critical_complex_pairs",
    "deduplicate",
    "eigenvalues",
    "find_fixed_points",
    "jacobians",
    "minimise_speed",
    "mobius",
    "speed",
]

from mbplan.analysis.kick_neurons import (  # noqa: E402
    KickCandidates,
    integrating_populations,
    kick_neuron_candidates,
    switch_times,
)
from mbplan.analysis.projections import PCA, fit_pca  # noqa: E402
from mbplan.analysis.residency import (  # noqa: E402
    REGIONS,
    classify_regions,
    noisy_trajectory,
    residency_times,
)
from mbplan.analysis.world_model import (  # noqa: E402
    FactorLink,
    filtered_states,
    held_observation_map,
    link_to_factors,
    nearest_neighbour_accuracy,
    world_model_map,
)

__all__ += [
    "FactorLink",
    "KickCandidates",
    "PCA",
    "REGIONS",
    "classify_regions",
    "filtered_states",
    "fit_pca",
    "held_observation_map",
    "integrating_populations",
    "kick_neuron_candidates",
    "link_to_factors",
    "nearest_neighbour_accuracy",
    "noisy_trajectory",
    "residency_times",
    "switch_times",
    "world_model_map",
]
