"""A world model as a dynamical system under a constant action, and its link to hidden factors.

Two maps, both through the world model's own planning path (:meth:`WorldModel.rollout`, one
step, no host synchronisation, so they can be differentiated and vectorised):

* closed loop (``world_model_map``): the model fed its own predictions under a held action ``a``,
  ``z = [h, o] -> [h', o + 0.1 f_post(y)]`` with ``h' = core(f_pre(a, o), h)``; its fixed points
  are the states the model believes would persist if the agent kept doing ``a``;
* held observation (``held_observation_map``): ``h -> core(f_pre(a, o), h)`` with ``o`` fixed, a
  :func:`~mbplan.analysis.state_map.core_map` of the core under the features of ``(a, o)``.

:func:`filtered_states` runs the model over real episodes (teacher forcing) and returns the
latent state after every step; :func:`link_to_factors` assigns each filtered state to its nearest
fixed point and tabulates the env's hidden factors (``flags``, e.g. RRC's ``robot_controlled``)
per fixed point: which attractor holds while the robot is controlled, the gate open, the sheep
caught.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from mbplan.analysis.state_map import StateMap
from mbplan.models.world_model import WorldModel


def _action(model: WorldModel, action: torch.Tensor) -> torch.Tensor:
    if not isinstance(action, torch.Tensor) or tuple(action.shape) != (model.action_dim,):
        got = tuple(action.shape) if isinstance(action, torch.Tensor) else type(action).__name__
        raise ValueError(f"action: expected shape (action_dim={model.action_dim},), got {got}")
    return action


def world_model_map(model: WorldModel, action: torch.Tensor) -> StateMap:
    """The closed-loop map on ``z = [state, obs]`` ``(n, state_size + obs_dim)`` under ``action``.

    Args:
        model: a world model (put it in eval mode: training-mode gate noise needs a generator).
        action: ``(action_dim,)`` held at every step.

    Returns:
        ``F(z (n, state_size + obs_dim)) -> (n, state_size + obs_dim)``.
    """
    action = _action(model, action)
    size = model.state_size

    def state_map(z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[-1] != size + model.obs_dim:
            raise ValueError(
                f"z: expected shape (n, state_size + obs_dim = {size + model.obs_dim}), "
                f"got {tuple(z.shape)}"
            )
        state, obs = z[:, :size], z[:, size:]
        actions = action.expand(z.shape[0], 1, -1)
        prediction, new_state = model.rollout(state, obs, actions, check_nan=False)
        return torch.cat([new_state, prediction[:, 0]], dim=-1)

    return state_map


def held_observation_map(model: WorldModel, obs: torch.Tensor, action: torch.Tensor) -> StateMap:
    """The latent map ``h -> h'`` with the input ``(action, obs)`` held; ``obs``: ``(obs_dim,)``."""
    action = _action(model, action)
    if not isinstance(obs, torch.Tensor) or tuple(obs.shape) != (model.obs_dim,):
        raise ValueError(f"obs: expected shape (obs_dim={model.obs_dim},)")

    def state_map(h: torch.Tensor) -> torch.Tensor:
        if h.dim() != 2 or h.shape[-1] != model.state_size:
            raise ValueError(
                f"h: expected shape (n, state_size={model.state_size}), got {tuple(h.shape)}"
            )
        actions = action.expand(h.shape[0], 1, -1)
        return model.rollout(h, obs.expand(h.shape[0], -1), actions, check_nan=False)[1]

    return state_map


def filtered_states(
    model: WorldModel, observations: torch.Tensor, actions: torch.Tensor
) -> torch.Tensor:
    """The latent state after every step of real episodes (teacher forcing, no gradients).

    Args:
        model: the world model, in eval mode.
        observations: ``(batch, T + 1, obs_dim)``.
        actions: ``(batch, T, action_dim)``.

    Returns:
        ``(batch, T, state_size)``: entry ``t`` is the state after reading ``o_t, a_t``.
    """
    with torch.no_grad():
        out = model(observations[:, :-1], actions, return_states=True)
    assert out.states is not None
    return out.states


class FactorLink(NamedTuple):
    """Which fixed point each filtered state is nearest to, and the hidden factors there.

    Attributes:
        assignment: ``(N,)`` index of the nearest fixed point per state.
        distance: ``(N,)`` the distance to it.
        counts: ``(k,)`` states per fixed point.
        factor_means: ``(k, F)`` mean of each hidden factor over the states of each point
            (NaN where a point has no state).
        flag_names: the factors' names.
    """

    assignment: torch.Tensor
    distance: torch.Tensor
    counts: torch.Tensor
    factor_means: torch.Tensor
    flag_names: tuple[str, ...]


def link_to_factors(
    points: torch.Tensor,
    states: torch.Tensor,
    flags: torch.Tensor,
    flag_names: tuple[str, ...] | list[str],
) -> FactorLink:
    """Tabulate the env's hidden factors per nearest fixed point.

    Args:
        points: ``(k, S)`` fixed points (their latent part).
        states: ``(N, S)`` filtered latent states.
        flags: ``(N, F)`` the hidden factors at the same steps (``info`` values as floats).
        flag_names: ``F`` names.

    Returns:
        :class:`FactorLink`.
    """
    if points.dim() != 2 or states.dim() != 2 or points.shape[1] != states.shape[1]:
        raise ValueError(
            f"points, states: expected (k, S) and (N, S), got {tuple(points.shape)} and "
            f"{tuple(states.shape)}"
        )
    if points.shape[0] < 1:
        raise ValueError("points: expected at least one fixed point")
    if flags.dim() != 2 or flags.shape[0] != states.shape[0] or flags.shape[1] != len(flag_names):
        raise ValueError(
            f"flags: expected shape (N={states.shape[0]}, F={len(flag_names)}), "
            f"got {tuple(flags.shape)}"
        )
    distances = torch.cdist(states.double(), points.double())
    distance, assignment = distances.min(dim=1)
    k = points.shape[0]
    counts = torch.bincount(assignment, minlength=k)
    sums = torch.zeros((k, flags.shape[1]), dtype=torch.float64, device=flags.device)
    sums.index_add_(0, assignment, flags.double())
    means = sums / counts.unsqueeze(-1).double()
    return FactorLink(assignment, distance, counts, means, tuple(flag_names))


def nearest_neighbour_accuracy(points: torch.Tensor, labels: torch.Tensor) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy of ``labels (n,)`` from ``points (n, S)``.

    How well a hidden factor can be read from where states went (e.g. the fixed points reached
    from filtered states, labelled by the factor at the start): 1 when the attractors of the two
    factor values never mix, the majority-class rate when the location carries no information.
    """
    if points.dim() != 2 or labels.shape != points.shape[:1] or points.shape[0] < 2:
        raise ValueError(
            f"points, labels: expected (n >= 2, S) and (n,), got {tuple(points.shape)} and "
            f"{tuple(labels.shape)}"
        )
    distances = torch.cdist(points.double(), points.double())
    distances.fill_diagonal_(float("inf"))
    return float((labels[distances.argmin(dim=1)] == labels).double().mean())
