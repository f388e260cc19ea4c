"""Smoke test: every analysis figure is written as a non-empty PNG (content is checked by eye)."""

import torch

from mbplan.analysis.plots import (
    plot_connectivity,
    plot_eigenvalues,
    plot_factor_link,
    plot_state_space,
)


def test_every_plot_writes_a_png(tmp_path) -> None:
    generator = torch.Generator().manual_seed(0)
    paths = [
        plot_state_space(
            tmp_path / "a.png",
            torch.randn(2, 10, 2, generator=generator),
            torch.arange(20).reshape(2, 10),
            points=torch.zeros(2, 2),
            stability=["stable", "saddle"],
            lines=True,
        ),
        plot_eigenvalues(
            tmp_path / "b.png", torch.randn(3, 4, dtype=torch.complex64), groups=["x", "y", "x"]
        ),
        plot_connectivity(
            tmp_path / "c.png", torch.randn(6, 6), {"kick": [0, 1], "pop": [2, 3, 4]}
        ),
        plot_factor_link(tmp_path / "d.png", torch.tensor([3, 1]), torch.rand(2, 1), ["flag"]),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
