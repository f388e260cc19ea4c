"""Runs saved before a config field existed (e.g. ``warmup``) still resume and compare equal."""

from mbplan.training.config import TrainConfig
from mbplan.training.run_directory import config_differences


def test_a_field_missing_from_an_old_run_counts_as_its_default() -> None:
    requested = TrainConfig(data="data/x", out="runs/x").to_dict()
    saved = dict(requested)
    del saved["warmup"]  # a config.json written before warmup existed
    assert config_differences(saved, requested) == []
    warm = TrainConfig(data="data/x", out="runs/x", warmup={"steps": 100}).to_dict()
    assert config_differences(saved, warm) == [
        f"warmup: run has {requested['warmup']!r}, requested {warm['warmup']!r}"
    ]
