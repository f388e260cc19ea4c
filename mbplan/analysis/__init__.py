"""Analysis of recurrent dynamics: functions of a core's one-step map ``F(x, h) -> h``.

Everything here takes a core (any :class:`~mbplan.models.cells.RecurrentCell`, stacks included)
or a world model through the cell interface and never special-cases a cell class; it is batched
over states and runs on the device of the model's parameters. Figures: :mod:`mbplan.analysis.plots`
(imported separately, it pulls in matplotlib).
"""

from mbplan.analysis.fixed_points import (
    FixedPoints,
    deduplicate,
    find_fixed_points,
    minimise_speed,
    speed,
)
from mbplan.analysis.jacobians import (
    STABILITY_LABELS,
    classify_stability,
    critical_complex_pairs,
    eigenvalues,
    jacobians,
    mobius,
)
from mbplan.analysis.kick_neurons import (
    KickCandidates,
    integrating_populations,
    kick_neuron_candidates,
    switch_times,
)
from mbplan.analysis.projections import PCA, fit_pca
from mbplan.analysis.residency import (
    REGIONS,
    classify_regions,
    noisy_trajectory,
    residency_times,
)
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
from mbplan.analysis.world_model import (
    FactorLink,
    filtered_states,
    held_observation_map,
    link_to_factors,
    nearest_neighbour_accuracy,
    world_model_map,
)

__all__ = [
    "PCA",
    "REGIONS",
    "STABILITY_LABELS",
    "FactorLink",
    "FixedPoints",
    "KickCandidates",
    "StateMap",
    "classify_regions",
    "classify_stability",
    "converge",
    "core_map",
    "core_prefix_states",
    "critical_complex_pairs",
    "deduplicate",
    "eigenvalues",
    "filtered_states",
    "find_fixed_points",
    "fit_pca",
    "held_observation_map",
    "integrating_populations",
    "iterate",
    "jacobians",
    "kick_neuron_candidates",
    "layer_maps",
    "layer_slices",
    "link_to_factors",
    "minimise_speed",
    "mobius",
    "nearest_neighbour_accuracy",
    "noisy_trajectory",
    "pairwise_distances",
    "prefix_lengths",
    "residency_times",
    "speed",
    "switch_times",
    "vaa",
    "vaa_of_states",
    "vaa_star",
    "vaa_star_of_states",
    "world_model_map",
    "world_model_prefix_states",
]
