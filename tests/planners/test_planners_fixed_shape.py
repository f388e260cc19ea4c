"""Fixed-shape planning: same plans as the eager path, non-finite costs flagged, no host sync."""

from __future__ import annotations

import math

import pytest
import torch

from mbplan.models import make_world_model
from mbplan.models.registry import preset
from planners.cem import CEM
from planners.costs import RRCCost
from planners.icem import ICEM
from planners.mpc import make_objective
from planners.mppi import MPPI

LOW, HIGH = torch.tensor([-1.0, -1.0]), torch.tensor([1.0, 1.0])
PLANNERS = {
    "icem": lambda **kw: ICEM(LOW, HIGH, 8, population=16, elites=4, **kw),
    "icem-no-kept": lambda **kw: ICEM(
        LOW, HIGH, 8, population=16, elites=4, keep_previous_elites=False, **kw
    ),
    "cem": lambda **kw: CEM(LOW, HIGH, 8, population=16, elites=4, **kw),
    "mppi": lambda **kw: MPPI(LOW, HIGH, 8, population=16, iterations=2, **kw),
}


def rrc_model(seed: int = 0) -> torch.nn.Module:
    """A real (untrained) RRC world model with the paper's preset, small hidden size."""
    torch.manual_seed(seed)  # parameter init only
    options = preset("rrc")
    options["hidden_size"] = 8
    return make_world_model("gatel0rd", 4, 2, **options).eval()


def mpc_steps(planner, model, steps: int, **rollout_kwargs) -> list[torch.Tensor]:
    """Plans of a few MPC steps for 3 problems from fixed states and observations."""
    gen = torch.Generator().manual_seed(1)
    state = torch.randn(3, model.state_size, generator=gen)
    obs = torch.rand(3, 4, generator=gen) * 2 - 1
    planner.reset(3)
    plans = []
    for _ in range(steps):
        cost_fn = make_objective(model, state, obs, RRCCost(), rollout_kwargs=rollout_kwargs)
        plans.append(planner.plan(cost_fn))
        planner.shift()
    return plans


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_fixed_shape_equals_eager_on_a_real_model(name: str) -> None:
    model = rrc_model()
    eager = PLANNERS[name](generator=torch.Generator().manual_seed(0))
    fixed = PLANNERS[name](generator=torch.Generator().manual_seed(0), fixed_shape=True)
    expected = mpc_steps(eager, model, 3)
    got = mpc_steps(fixed, model, 3, check_nan=False)  # checks off: same actions
    for a, b in zip(expected, got, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    assert not fixed.nonfinite_problems().any()
    fixed.check_finite()


def test_fixed_shape_keeps_its_buffers_between_steps() -> None:
    planner = PLANNERS["icem"](generator=torch.Generator().manual_seed(0), fixed_shape=True)
    planner.reset(2)
    mean_storage = planner._require_reset()[0].data_ptr()
    candidates = [c.data_ptr() for c in planner._buffers.candidates]
    sizes = []
    for _ in range(3):
        seen = []
        planner.plan(lambda a, seen=seen: (seen.append(a.shape[1]), a.square().sum((-1, -2)))[1])
        sizes.append(seen)
        planner.shift()
    assert planner._require_reset()[0].data_ptr() == mean_storage
    assert [c.data_ptr() for c in planner._buffers.candidates] == candidates
    # the same population sizes at every MPC step (shifted-elite slots included at step 0)
    assert sizes[0] == sizes[1] == sizes[2]


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_nonfinite_candidate_ranks_last_and_is_flagged(name: str) -> None:
    planner = PLANNERS[name](generator=torch.Generator().manual_seed(0), fixed_shape=True)
    planner.reset(2)

    def cost_fn(actions: torch.Tensor) -> torch.Tensor:
        costs = actions.square().sum((-1, -2))
        costs[0, 0] = math.nan
        costs[1] = math.nan  # problem 1: nothing finite at all
        return costs

    plan = planner.plan(cost_fn)  # no raise inside the step
    assert torch.isfinite(plan).all()
    assert planner.nonfinite_problems().tolist() == [False, True]
    with pytest.raises(ValueError, match=r"problem\(s\) \[1\]"):
        planner.check_finite()
    planner.reset(2)
    assert not planner.nonfinite_problems().any()


def test_nan_candidate_is_never_the_plan() -> None:
    planner = PLANNERS["icem"](generator=torch.Generator().manual_seed(0), fixed_shape=True)
    planner.reset(1)
    calls = []

    def cost_fn(actions: torch.Tensor) -> torch.Tensor:
        costs = actions.square().sum((-1, -2))
        # the first candidate of every call is NaN although its actions are the best
        actions_cost = costs.clone()
        actions_cost[:, 0] = math.nan
        calls.append(actions[:, 0].clone())
        return actions_cost

    plan = planner.plan(cost_fn)
    assert not any(torch.equal(plan, c) for c in calls)
    assert not planner.nonfinite_problems().any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA only: sync debug mode needs a GPU")
def test_mpc_step_has_no_host_sync_on_cuda() -> None:
    device = torch.device("cuda")
    model = rrc_model().to(device)
    planner = ICEM(
        LOW.to(device),
        HIGH.to(device),
        8,
        population=16,
        elites=4,
        generator=torch.Generator(device=device).manual_seed(0),
        fixed_shape=True,
    )
    planner.reset(3)
    state = torch.zeros(3, model.state_size, device=device)
    obs = torch.zeros(3, 4, device=device)
    action = torch.zeros(3, 2, device=device)
    cost_fn = make_objective(model, state, obs, RRCCost(), rollout_kwargs={"check_nan": False})
    planner.plan(cost_fn)  # warm-up: lazy initialisation may sync once
    planner.shift()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with torch.no_grad():
            planner.plan(cost_fn)
            model.step(obs, action, state, check_nan=False)
        planner.shift()
    finally:
        torch.cuda.set_sync_debug_mode("default")
