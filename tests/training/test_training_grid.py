"""Grids over TrainConfig fields: parsing to the fields' types, expansion, and every bad input."""

from __future__ import annotations

import pytest

from mbplan.training.config import preset_config
from mbplan.training.grid import (
    GridError,
    check_models,
    expand_grid,
    parse_grid,
    parse_value,
    point_name,
)


@pytest.fixture
def base():
    return preset_config("rrc")


def test_values_are_parsed_to_each_fields_type(base):
    specs = [
        "model.reg-lambda=0,1e-4",  # dashes as on the command line
        "seed=0:3,7",  # a half-open range and a single value
        "regime=tf,ss",
        "batches_per_epoch=None,3",
        "model.double=False,True",
        "warmup.steps=0,5",
        "subsets=a+b,c",
        "core=GRU,lstm",
    ]
    axes = {axis.field: axis.values for axis in parse_grid(specs, base)}
    assert axes == {
        "model.reg_lambda": (0.0, 1e-4),
        "seed": (0, 1, 2, 7),
        "regime": ("tf", "ss"),
        "batches_per_epoch": (None, 3),
        "model.double": (False, True),
        "warmup.steps": (0, 5),
        "subsets": (("a", "b"), ("c",)),
        "core": ("gru", "lstm"),
    }
    assert type(axes["model.reg_lambda"][0]) is float and type(axes["seed"][0]) is int


def test_cell_options_of_the_base_core_are_fields(base):
    (axis,) = parse_grid(["model.gate_noise_level=0,0.1"], base.replace(core="gatel0rd"))
    assert axis.values == (0.0, 0.1)
    with pytest.raises(GridError, match="model.gate_noise_level: unknown field"):
        parse_grid(["model.gate_noise_level=0"], base.replace(core="gru"))


def test_expansion_is_the_product_in_axis_order_with_distinct_folders(base, tmp_path):
    axes = parse_grid(["model.reg_lambda=0,1e-3", "seed=0:3", "warmup.steps=2"], base)
    points = expand_grid(base, axes, tmp_path)
    assert len(points) == 6
    assert [p.assignment for p in points[:2]] == [
        {"model.reg_lambda": 0.0, "seed": 0, "warmup.steps": 2},
        {"model.reg_lambda": 0.0, "seed": 1, "warmup.steps": 2},
    ]
    last = points[-1]
    assert last.name == "model.reg_lambda=0.001,seed=2,warmup.steps=2"
    assert last.config.out == str(tmp_path / last.name)
    assert last.config.model["reg_lambda"] == 1e-3 and last.config.seed == 2
    assert last.config.warmup.steps == 2 and last.config.warmup.lr == base.warmup.lr
    assert last.config.task == "rrc" and last.config.ss_floor == base.ss_floor  # from the preset
    assert len({p.config.out for p in points}) == 6
    assert base.seed == 0 and "reg_lambda" not in base.model  # the base is not mutated


def test_folder_names_are_sanitized_and_bounded():
    assert point_name({"data": "/data/rrc 1", "seed": 3}) == "data=_data_rrc_1,seed=3"
    long = point_name({"data": "x" * 300})
    assert len(long) <= 120 and long != point_name({"data": "x" * 301})


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["reg_lambda=1e-3"], "reg_lambda: unknown field (did you mean model.reg_lambda?)"),
        (["sed=0:2"], "sed: unknown field (did you mean seed?)"),
        (["model.hiden_size=4"], "did you mean model.hidden_size or"),
        (["seed"], "expected FIELD=VALUES"),
        (["seed=a"], "seed=a: expected an integer, got 'a'"),
        (["seed=1.5"], "expected an integer, got '1.5'"),
        (["lr=fast"], "lr=fast: expected a number or None, got 'fast'"),
        (["regime=xx"], "expected one of tf, ss, got 'xx'"),
        (["model.double=maybe"], "expected True or False"),
        (["seed=3:3"], "the range 3:3 is empty"),
        (["seed=5:2"], "the range 5:2 is empty"),
        (["seed=0:2", "seed=4"], "seed: given twice"),
        (["model.reg-lambda=0", "model.reg_lambda=1"], "model.reg_lambda: given twice"),
        (["seed=0:3,2"], "the value 2 is given more than once"),
        (["lr=1e-3,0.001"], "the value 0.001 is given more than once"),
        (["core=gru,GRU"], "the value gru is given more than once"),
        (["seed=1,,2"], "an empty value"),
        (["epochs=10,0"], "--grid epochs=0: epochs: expected a positive integer"),
        (["ss_slope=1.5"], "ss_slope: expected a value in (0, 1]"),
        (["warmup.target=2"], "warmup.target: expected a value in (0, 1]"),
        (["out=a,b"], "out: cannot be varied"),
        (["model=x"], "vary one model option at a time"),
        ([], "no axis given"),
    ],
)
def test_bad_axes_are_named(base, specs, message):
    with pytest.raises(GridError) as err:
        parse_grid(specs, base)
    assert message in str(err.value)


def test_bad_model_options_are_found_before_training(base, tmp_path):
    axes = parse_grid(["model.hidden_size=4,0"], base)
    with pytest.raises(GridError, match="point model.hidden_size=0: hidden_size: expected a pos"):
        check_models(expand_grid(base, axes, tmp_path))
    # a cell option valid for one core of a core axis but not for another
    axes = parse_grid(["core=gatel0rd,gru", "model.gate_noise_level=0"], base)
    with pytest.raises(GridError, match="core=gru,model.gate_noise_level=0.0: .*gate_noise_level"):
        check_models(expand_grid(base, axes, tmp_path))
    with pytest.raises(GridError, match="core=nope: core: expected one of"):
        check_models(expand_grid(base, parse_grid(["core=nope"], base), tmp_path))
    check_models(expand_grid(base, parse_grid(["model.hidden_size=4,6"], base), tmp_path))


def test_two_points_sharing_a_folder_are_refused(base, tmp_path):
    axes = parse_grid(["data=a/b,a_b"], base)
    with pytest.raises(GridError, match="would share the run folder 'data=a_b'"):
        expand_grid(base, axes, tmp_path)


def test_guessed_types_for_options_without_a_typed_default():
    from typing import Any

    assert [parse_value(t, Any) for t in ("None", "true", "3", "0.5", "x")] == [
        None,
        True,
        3,
        0.5,
        "x",
    ]
