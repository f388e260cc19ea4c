"""PCA, residency times, kick-neuron candidates and the world-model maps on hand-built cases."""

import pytest
import torch

from mbplan.analysis import (
    classify_regions,
    core_map,
    find_fixed_points,
    fit_pca,
    held_observation_map,
    integrating_populations,
    jacobians,
    kick_neuron_candidates,
    link_to_factors,
    nearest_neighbour_accuracy,
    residency_times,
    world_model_map,
)
from mbplan.models import make_world_model
from mbplan.models.cells import NoiseReLUCell


def test_pca_recovers_a_known_plane() -> None:
    generator = torch.Generator().manual_seed(0)
    raw = torch.randn(500, 2, generator=generator, dtype=torch.float64)
    # zero-mean, exactly uncorrelated coefficients with variances 9 : 1
    coefficients = torch.linalg.qr(raw - raw.mean(0))[0] * torch.tensor(
        [3.0, 1.0], dtype=torch.float64
    )
    basis = torch.linalg.qr(torch.randn(5, 2, generator=generator, dtype=torch.float64))[0].T
    states = coefficients @ basis + 7.0
    pca = fit_pca(states, components=2)
    torch.testing.assert_close(pca.components.abs(), basis.abs(), atol=1e-10, rtol=0)
    torch.testing.assert_close(
        pca.explained_variance_ratio.sum(), torch.tensor(1.0, dtype=torch.float64)
    )
    torch.testing.assert_close(
        pca.explained_variance_ratio[0], torch.tensor(0.9, dtype=torch.float64)
    )
    torch.testing.assert_close(pca.project(states).abs(), coefficients.abs())
    diverged = states.clone()
    diverged[7, 3] = float("inf")  # a trajectory that blew up: named, not an SVD failure
    with pytest.raises(ValueError, match="states: expected finite values, got 1 NaN/inf"):
        fit_pca(diverged)


def _cell(weight_hh: list[list[float]]) -> NoiseReLUCell:
    cell = NoiseReLUCell(3, 2).double()
    with torch.no_grad():
        cell.weight_ih.zero_()
        cell.weight_hh.copy_(torch.tensor(weight_hh))
    return cell


def test_residency_times_of_a_frozen_and_a_flipping_system() -> None:
    generator = torch.Generator().manual_seed(1)
    start = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    frozen = residency_times(_cell([[1, 0], [0, 1]]), lambda h: h, start, generator, max_steps=12)
    flipping = residency_times(_cell([[0, 1], [1, 0]]), lambda h: h, start, generator)
    assert frozen.tolist() == [12.0] and flipping.tolist() == [1.0]
    labels = classify_regions(
        torch.tensor([1.0, 5.0, 20.0, 20.0]), torch.tensor([0.9, 0.9, 0.9, 0.5])
    )
    assert labels == ["transition", "kick-zone", "cluster", "other"]


def test_kick_candidates_find_the_units_that_fire_before_switches() -> None:
    generator = torch.Generator().manual_seed(2)
    states = torch.rand(200, 6, generator=generator) * 0.1
    labels = torch.zeros(200, dtype=torch.long)
    for start in range(20, 200, 40):
        labels[start : start + 20] = 1
        states[start - 3 : start, 2] += 1.0  # unit 2 kicks 0 -> 1
        states[start + 17 : start + 20, 4] += 1.0  # unit 4 kicks 1 -> 0
    candidates = kick_neuron_candidates(states, labels, window=3, top=2)
    assert candidates.directions == [(0, 1), (1, 0)]
    assert candidates.units[0, 0] == 2 and candidates.units[1, 0] == 4
    assert candidates.switches.tolist() == [5, 4]


def test_integrating_populations_follow_the_reference_rule() -> None:
    weight = torch.zeros(6, 6)
    weight[0, 3], weight[1, 3] = 1.0, -1.0  # unit 3: + onto group [0], - onto group [1]
    weight[0, 4], weight[1, 4] = -2.0, 2.0  # unit 4: the most opposite-signed
    weight[0, 5], weight[1, 5] = 1.0, 1.0  # unit 5: same sign, product +1
    first, second = integrating_populations(weight, [0], [1], count=2)
    assert first.tolist() == [4] and second.tolist() == [3]


def test_world_model_maps_equal_the_models_step_and_have_fd_jacobians() -> None:
    torch.manual_seed(0)
    model = make_world_model("gru", obs_dim=3, action_dim=2, hidden_size=4).double().eval()
    generator = torch.Generator().manual_seed(3)
    state = torch.randn(5, model.state_size, generator=generator, dtype=torch.float64)
    obs = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    action = torch.tensor([0.3, -0.2], dtype=torch.float64)
    prediction, new_state, _ = model.step(obs, action.expand(5, -1), state)
    z = world_model_map(model, action)(torch.cat([state, obs], -1))
    torch.testing.assert_close(z, torch.cat([new_state, prediction], -1))
    held = held_observation_map(model, obs[0], action)(state)
    _, reference, _ = model.step(obs[:1].expand(5, -1), action.expand(5, -1), state)
    torch.testing.assert_close(held, reference)
    closed = world_model_map(model, action)
    point = torch.cat([state, obs], -1)[:2]
    eye = torch.eye(point.shape[1], dtype=torch.float64)
    numeric = torch.stack(
        [(closed(point + 1e-6 * e) - closed(point - 1e-6 * e)) / 2e-6 for e in eye], -1
    )
    torch.testing.assert_close(jacobians(closed, point), numeric, atol=1e-7, rtol=1e-6)
    with pytest.raises(ValueError, match="action"):
        world_model_map(model, torch.zeros(3, dtype=torch.float64))


def test_link_to_factors_tabulates_flags_per_nearest_point() -> None:
    points = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    states = torch.tensor([[0.1, 0.0], [9.0, 1.0], [10.5, 0.0], [-1.0, 0.0]])
    flags = torch.tensor([[0.0], [1.0], [1.0], [1.0]])
    link = link_to_factors(points, states, flags, ["robot_controlled"])
    assert link.assignment.tolist() == [0, 1, 1, 0]
    assert link.counts.tolist() == [2, 2]
    torch.testing.assert_close(link.factor_means, torch.tensor([[0.5], [1.0]], dtype=torch.float64))


def test_noise_rnn_without_input_collapses_to_zero_when_contracting() -> None:
    # ReLU(W h) with spectral radius < 1 has the single fixed point 0 (the paper's "collapse")
    cell = _cell([[0.5, 0.2], [-0.3, 0.4]])
    starts = torch.rand(32, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    found = find_fixed_points(
        core_map(cell, torch.zeros(3, dtype=torch.float64)), starts, steps=500
    )
    assert found.points.shape[0] == 1 and float(found.points.abs().max()) < 1e-6
    assert found.stability == ["stable"]


def test_nearest_neighbour_accuracy_of_separated_and_mixed_labels() -> None:
    points = torch.tensor([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    assert nearest_neighbour_accuracy(points, torch.tensor([0, 0, 0, 1, 1, 1])) == 1.0
    assert nearest_neighbour_accuracy(points, torch.tensor([0, 1, 0, 1, 0, 1])) == 0.0
