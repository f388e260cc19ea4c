"""Fixtures of the command-line tests: a tiny real Billiard dataset (one torch thread: the root
conftest)."""

from __future__ import annotations

import pytest

#: model options that make every run tiny.
SMALL = ["--model.hidden-size", "4", "--model.feature-size", "8", "--model.depth", "1"]


def _billiard(root, episodes: int, seed: int = 0):
    from mbplan.data import generate, generic_spec

    spec = generic_spec("mbplan/BilliardBall-v0", "uniform", episodes=episodes, steps=12, seed=seed)
    generate(spec, root)
    return root


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """20 uniform-policy Billiard episodes of 12 steps."""
    return _billiard(tmp_path_factory.mktemp("data") / "bb", 20)


@pytest.fixture(scope="session")
def other_dataset(tmp_path_factory):
    """Another dataset of the same shapes (another seed)."""
    return _billiard(tmp_path_factory.mktemp("data") / "bb_other", 20, seed=1)


@pytest.fixture
def train_argv():
    """``train_argv(data, out, *extra)``: ``mbplan train`` on the tiny preset, tiny model."""

    def make(data, out, *extra: str) -> list[str]:
        return ["train", "--preset", "tiny", "--data", str(data), "--out", str(out), *SMALL, *extra]

    return make
