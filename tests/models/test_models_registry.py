"""Registry: core names, presets of the paper's per-task table, learning rates, hparams."""

from __future__ import annotations

import pytest
import torch

from mbplan.models import CORES, learning_rate, make_world_model, preset


def _widths(network) -> list[int]:
    return [m.out_features for m in network if isinstance(m, torch.nn.Linear)]


def test_unknown_core_lists_the_valid_names():
    with pytest.raises(ValueError, match="core") as error:
        make_world_model("transformer", 2, 0)
    for name in CORES:
        assert name in str(error.value)
    assert "transformer" in str(error.value)


def test_core_names_are_case_insensitive():
    assert make_world_model("GateL0RD", 2, 0).hparams["core"] == "gatel0rd"


def test_options_of_another_core_are_rejected_by_name():
    with pytest.raises(ValueError, match="gate_type"):
        make_world_model("gru", 2, 0, gate_type="step")
    with pytest.raises(ValueError, match="candidate_bias"):
        make_world_model("gatel0rd", 2, 0, candidate_bias=False)


def test_billiard_preset_matches_the_reference_table():
    assert preset("billiard") == {
        "hidden_size": 8,
        "feature_size": 16,
        "depth": 3,
        "f_pre_layers": 3,
        "f_post_layers": 1,
        "f_init_layers": 3,
        "k": 2,
        "reg_lambda": 1e-3,
    }
    gatel0rd = make_world_model("gatel0rd", 2, 0, **preset("billiard"))
    assert gatel0rd.hparams["num_layers"] == 1 and gatel0rd.hparams["num_layers_internal"] == 3
    cell = gatel0rd.core.cells[0]
    assert _widths(cell.g) == [32, 16, 8] and _widths(cell.r) == [32, 16, 8]
    assert isinstance(cell.g[-1], torch.nn.Linear)  # linear output
    assert isinstance(cell.r[-1], torch.nn.Tanh)
    assert _widths(cell.p) == [16] and _widths(cell.o) == [16]  # cells output F
    assert _widths(gatel0rd.f_pre) == [64, 32, 16]
    assert _widths(gatel0rd.f_post) == [2] and gatel0rd.f_post[0].in_features == 16
    assert _widths(gatel0rd.f_init[0]) == [64, 32, 8] and gatel0rd.f_init[0][0].in_features == 4
    for core in ("elman", "gru", "lstm", "brc", "nbrc"):
        baseline = make_world_model(core, 2, 0, **preset("billiard"))
        assert baseline.hparams["num_layers"] == 3 and len(baseline.core.cells) == 3
        assert baseline.f_post[0].in_features == 8  # baselines read out H


@pytest.mark.parametrize(
    ("task", "feature_size", "f_init_layers", "k", "reg_lambda"),
    [("rrc", 8, 2, 1, 1e-3), ("shepherd", 16, 3, 2, 1e-4)],
)
def test_control_task_presets(task, feature_size, f_init_layers, k, reg_lambda):
    settings = preset(task)
    assert settings["hidden_size"] == 8 and settings["depth"] == 1
    assert settings["feature_size"] == feature_size
    assert (settings["f_pre_layers"], settings["f_post_layers"]) == (3, 1)
    assert settings["f_init_layers"] == f_init_layers and settings["k"] == k
    assert settings["reg_lambda"] == reg_lambda
    model = make_world_model("gatel0rd", 4, 2, **settings)
    assert model.hparams["num_layers_internal"] == 1 and model.k == k


def test_preset_returns_a_fresh_dict_and_rejects_unknown_tasks():
    first = preset("rrc")
    first["hidden_size"] = 99
    assert preset("rrc")["hidden_size"] == 8
    with pytest.raises(ValueError, match="task"):
        preset("fetch")


def test_learning_rates_of_the_reference_table():
    assert learning_rate("billiard", "gatel0rd", "tf") == 1e-3
    assert learning_rate("billiard", "gatel0rd", "ss") == 5e-4
    assert learning_rate("billiard", "elman", "tf") == 5e-4
    assert learning_rate("billiard", "gru", "tf") == 1e-3
    assert learning_rate("billiard", "lstm", "ss") == 5e-4
    for core in CORES:
        assert learning_rate("rrc", core, "ss") == 5e-3
        assert learning_rate("shepherd", core, "tf") == 1e-3
    with pytest.raises(ValueError, match="regime"):
        learning_rate("rrc", "gru", "rl")


@pytest.mark.parametrize("core", CORES)
def test_hparams_rebuild_the_same_architecture(core):
    model = make_world_model(core, 4, 2, **preset("shepherd"))
    rebuilt = make_world_model(**model.hparams)
    shapes = {name: p.shape for name, p in model.named_parameters()}
    assert shapes == {name: p.shape for name, p in rebuilt.named_parameters()}
    assert rebuilt.hparams == model.hparams
    assert all(isinstance(v, int | float | str | bool) for v in model.hparams.values())


def test_gatel0rd_ablation_options_reach_the_cell():
    model = make_world_model(
        "gatel0rd", 2, 0, gate_type="sigmoid", stochastic_gates=False, output_gate=False
    )
    cell = model.core.cells[0]
    assert (cell.gate_type, cell.stochastic_gates, cell.o) == ("sigmoid", False, None)
    assert model.hparams["gate_noise_level"] == 0.1
