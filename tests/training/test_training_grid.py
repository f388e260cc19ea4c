"""Grids over TrainConfig fields: parsing, expansion, folder names, errors before training."""

from __future__ import annotations

import pytest

from mbplan.training.config import TrainConfig, preset_config
from mbplan.training.grid import (
    GridAxis,
    GridError,
    check_models,
    expand_grid,
    parse_grid,
    parse_value,
    point_name,
)


@pytest.fixture
def base() -> TrainConfig:
    return preset_config("tiny", data="data/bb")


def test_axes_parse_to_the_field_types(base):
    axes = parse_grid(
        ["model.reg-lambda=0,1e-4", "seed=0:3", "lr=None,1e-3", "regime=tf,ss", "warmup.steps=0,5"],
        base,
    )
    assert axes == [
        GridAxis("model.reg_lambda", (0.0, 1e-4)),
        GridAxis("seed", (0, 1, 2)),
        GridAxis("lr", (None, 1e-3)),
        GridAxis("regime", ("tf", "ss")),
        GridAxis("warmup.steps", (0, 5)),
    ]
    assert all(type(v) is float for v in axes[0].values)
    assert all(type(v) is int for v in axes[1].values)


def test_values_of_each_type():
    assert parse_value("True", bool) is True and parse_value("no", bool) is False
    assert parse_value("a+b", tuple[str, ...]) == ("a", "b")
    assert parse_value("none", int | None) is None and parse_value("7", int | None) == 7
    with pytest.raises(ValueError, match="expected an integer, got '1.5'"):
        parse_value("1.5", int)


def test_ranges_and_lists_mix(base):
    (axis,) = parse_grid(["seed=0:2,7,10:12"], base)
    assert axis.values == (0, 1, 7, 10, 11)


def test_expansion_is_the_product_with_own_folders(base, tmp_path):
    axes = parse_grid(["model.reg_lambda=0,1e-3", "seed=0:2"], base)
    points = expand_grid(base, axes, tmp_path)
    assert [(p.config.model["reg_lambda"], p.config.seed) for p in points] == [
        (0.0, 0),
        (0.0, 1),
        (1e-3, 0),
        (1e-3, 1),
    ]
    assert [p.name for p in points] == [
        "model.reg_lambda=0.0,seed=0",
        "model.reg_lambda=0.0,seed=1",
        "model.reg_lambda=0.001,seed=0",
        "model.reg_lambda=0.001,seed=1",
    ]
    assert {p.config.out for p in points} == {str(tmp_path / p.name) for p in points}
    # fields not on an axis keep the base's values
    assert all(p.config.batch_size == base.batch_size for p in points)
    assert all(p.config.task == base.task for p in points)


def test_nested_warmup_field_replaces_only_that_field(base, tmp_path):
    (point,) = expand_grid(base, parse_grid(["warmup.lr=0.5"], base), tmp_path)
    assert point.config.warmup.lr == 0.5
    assert point.config.warmup.steps == base.warmup.steps


def test_model_axis_keeps_other_model_options(tmp_path):
    base = preset_config("tiny", data="d", model={"hidden_size": 8})
    (point,) = expand_grid(base, parse_grid(["model.reg_lambda=0.1"], base), tmp_path)
    assert point.config.model == {"hidden_size": 8, "reg_lambda": 0.1}


def test_long_names_are_cut_and_stay_distinct():
    long_a = {"subsets": tuple("abcdefghij" * 8), "seed": 0}
    long_b = {"subsets": tuple("abcdefghij" * 8), "seed": 1}
    assert len(point_name(long_a)) <= 120
    assert point_name(long_a) != point_name(long_b)


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["sed=0:3"], r"--grid sed: unknown field \(did you mean seed\?\)"),
        (["reg_lambda=0,1"], r"did you mean model\.reg_lambda\?"),
        (["model.hiden_size=4"], r"hiden_size: unknown field \(did you mean model\.hidden_size"),
        (["warmup.step=3"], r"did you mean warmup\.steps"),
        (["lr=fast"], r"--grid lr=fast: 'fast': expected float or None"),
        (["seed=1.5"], r"--grid seed=1.5: '1.5': expected an integer"),
        (["seed=3:3"], r"the range 3:3 is empty"),
        (["seed=5:2"], r"the range 5:2 is empty"),
        (["seed=0,1", "seed=2"], r"--grid seed: given twice"),
        (["seed=0:3,2"], r"the value 2 is given more than once"),
        (["seed=0,,1"], r"an empty value"),
        (["ss_slope=0.5,2"], r"--grid ss_slope=2.0: ss_slope: expected a value in \(0, 1\]"),
        (["warmup.target=2"], r"warmup\.target: expected a value in \(0, 1\]"),
        (["regime=tf,xx"], r"'xx': expected one of tf, ss"),
        (["out=a,b"], r"--grid out: cannot be varied"),
        (["model=1"], r"--grid model: cannot be varied .*model\.<option>"),
        (["seed"], r"expected FIELD=VALUES"),
        ([], r"no axis given"),
    ],
)
def test_bad_grids_name_the_field_and_value(base, specs, message):
    with pytest.raises(GridError, match=message):
        parse_grid(specs, base)


def test_bad_model_option_is_found_before_training(base, tmp_path):
    points = expand_grid(base, parse_grid(["model.hidden_size=4,0"], base), tmp_path)
    with pytest.raises(GridError, match=r"model\.hidden_size=0: hidden_size"):
        check_models(points)


def test_good_models_pass_the_check(base, tmp_path):
    axes = parse_grid(["core=gatel0rd,gru", "model.hidden_size=4"], base)
    check_models(expand_grid(base, axes, tmp_path))


def test_folder_collisions_are_refused(base, tmp_path):
    axes = [GridAxis("data", ("a/b", "a_b"))]
    with pytest.raises(GridError, match="would share the run folder"):
        expand_grid(base, axes, tmp_path)
