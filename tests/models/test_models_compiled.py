"""The compiled planning rollout traces the model's loop in one graph and equals the eager one.

The tests compile with the ``aot_eager`` backend (Dynamo's graph and AOT tracing, no code
generation: seconds, not the minute Inductor takes on two cores); ``benchmarks/planning.py``
measures Inductor's speed and its difference to the eager path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mbplan.cli import main
from mbplan.evaluation.report import load_run_model
from mbplan.models import make_world_model, preset
from mbplan.models.compiled import CompiledRollout
from planners import RRCCost, make_objective

RUN = (
    Path(__file__).resolve().parents[2] / "examples" / "checkpoints" / "rrc_20k" / "gatel0rd_ss_s0"
)


@pytest.fixture(scope="module")
def model():
    loaded, _ = load_run_model(RUN, which="best", device="cpu")
    return loaded.eval()


def _inputs(model, batch, horizon=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    obs = torch.rand(batch, 4, generator=generator) - 0.5
    state = model.initial_state(obs[:, None], torch.zeros(batch, model.k, 2))
    return state, obs, 2 * torch.rand(batch, horizon, 2, generator=generator) - 1


def test_the_compiled_rollout_equals_the_eager_one_for_every_population_size(model):
    compiled = CompiledRollout(model, backend="aot_eager")
    for batch in (40, 32, 25):  # an iCEM schedule: one dynamic-batch graph
        state, obs, actions = _inputs(model, batch)
        expected = model.rollout(state, obs, actions, return_states=True)
        got = compiled.rollout(state, obs, actions, return_states=True)
        for a, b in zip(got, expected, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
        pred, last = compiled.rollout(state, obs, actions)
        torch.testing.assert_close(pred, expected[0], rtol=1e-6, atol=1e-6)
    assert compiled.compile_seconds is not None and compiled.compile_seconds > 0


def test_the_wrapper_plans_like_the_model(model):
    compiled = CompiledRollout(model, backend="aot_eager")
    assert (compiled.k, compiled.obs_dim, compiled.state_size) == (
        model.k,
        model.obs_dim,
        model.state_size,
    )
    state, obs, _ = _inputs(model, 2)
    actions = 2 * torch.rand(2, 8, 12, 2, generator=torch.Generator().manual_seed(1)) - 1
    eager = make_objective(model, state, obs, RRCCost())(actions)
    fast = make_objective(compiled, state, obs, RRCCost())(actions)
    torch.testing.assert_close(fast, eager, rtol=1e-6, atol=1e-6)


def test_bad_inputs_and_modes_are_refused(model):
    compiled = CompiledRollout(model, backend="aot_eager")
    state, obs, actions = _inputs(model, 3)
    with pytest.raises(ValueError, match="actions"):
        compiled.rollout(state, obs, actions[..., :1])
    bad = obs.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="obs"):
        compiled.rollout(state, bad, actions)
    noisy = make_world_model("gatel0rd", 4, 2, **preset("rrc")).train()
    with pytest.raises(RuntimeError, match="eval"):
        CompiledRollout(noisy, backend="aot_eager").rollout(
            torch.zeros(1, noisy.state_size), obs[:1], actions[:1]
        )
    with pytest.raises(TypeError, match="WorldModel"):
        CompiledRollout(object())  # type: ignore[arg-type]


def test_plan_cli_refuses_compiling_the_simulator(capsys):
    assert (
        main(
            [
                "plan",
                "--ground-truth",
                "--env",
                "mbplan/RobotRemoteControl-v0",
                "--compile",
                "--episodes",
                "1",
            ]
        )
        == 2
    )
    assert "--compile" in capsys.readouterr().err


@pytest.mark.parametrize("core", ["gru", "lstm"])
def test_torch_recurrent_cores_compile_through_their_explicit_formulation(core):
    torch.manual_seed(0)
    model = make_world_model(core, 4, 2, **{**preset("rrc"), "hidden_size": 8}).eval()
    compiled = CompiledRollout(model, backend="aot_eager")
    state, obs, actions = _inputs(model, 6)
    expected = model.rollout(state, obs, actions)
    for a, b in zip(compiled.rollout(state, obs, actions), expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # the caller's model keeps torch's fused kernels
    fused = [m.fused_kernels for m in model.modules() if hasattr(m, "fused_kernels")]
    assert fused and all(fused)
