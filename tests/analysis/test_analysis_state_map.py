"""The state map equals the cores' own step and sequence paths, for every core."""

import pytest
import torch

from mbplan.analysis import core_map, iterate, layer_maps
from mbplan.models import CORES, make_world_model


def _core(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = make_world_model(name, obs_dim=3, action_dim=2, hidden_size=5, depth=2)
    return model.core.eval()


@pytest.mark.parametrize("core_name", CORES)
def test_iterating_the_map_equals_the_sequence_path_with_a_held_input(core_name: str) -> None:
    core = _core(core_name)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(core.input_size, generator=generator)
    h0 = torch.randn(4, core.state_size, generator=generator)
    with torch.no_grad():
        reference = core.forward_sequence(x.expand(4, 7, -1), h0, return_states=True)
        trajectory = iterate(core_map(core, x), h0, 7, return_trajectory=True)
    assert trajectory.shape == (4, 8, core.state_size)
    torch.testing.assert_close(trajectory[:, 0], h0)
    torch.testing.assert_close(trajectory[:, 1:], reference.states, rtol=1e-5, atol=1e-6)


def test_one_input_per_state_and_layers() -> None:
    core = _core("lstm")
    assert len(layer_maps(core)) == 2
    x = torch.zeros(3, core.input_size)
    x[1] = 1.0
    h = torch.zeros(3, core.state_size)
    out = core_map(core, x)(h)
    torch.testing.assert_close(out[0], out[2])
    assert not torch.allclose(out[0], out[1])


def test_bad_shapes_are_named() -> None:
    core = _core("gru")
    with pytest.raises(ValueError, match="x: expected shape"):
        core_map(core, torch.zeros(core.input_size + 1))
    with pytest.raises(ValueError, match="h: expected shape"):
        core_map(core, torch.zeros(core.input_size))(torch.zeros(2, core.state_size + 1))
    with pytest.raises(ValueError, match="steps"):
        iterate(core_map(core, torch.zeros(core.input_size)), torch.zeros(1, core.state_size), -1)
