"""End-to-end test of ``mbplan demo`` on a tiny budget: every output exists and is consistent."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from mbplan.cli import main
from mbplan.demo import DemoConfig, run_demo


def test_demo_writes_gif_plots_and_a_consistent_summary(tmp_path):
    out = tmp_path / "demo"
    lines: list[str] = []
    config = DemoConfig(
        out=str(out),
        scale=0.005,
        workers=1,
        epochs=2,
        batch_size=16,
        eval_every=1,
        episodes=2,
        max_steps=8,
        progress=False,
    )
    summary = run_demo(config, say=lines.append)

    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["mpc"] == summary["mpc"]
    assert summary["training"]["epochs"] == 2
    assert summary["training"]["updates"] >= 2
    assert np.isfinite(summary["prediction"]["test_mse"])
    assert summary["prediction"]["horizon"] == 50
    mpc = summary["mpc"]
    assert mpc["episodes"] == 2
    assert mpc["successes"] == sum(e["success"] for e in mpc["per_episode"])
    assert 0.0 <= mpc["ground_truth_success_rate"] <= 1.0

    gif = Image.open(out / "episode.gif")
    # one frame after the reset and one per env step (at most max_steps), world + latent panel
    assert 2 <= gif.n_frames <= config.max_steps + 1
    assert gif.size[0] > gif.size[1]
    plots = {p.name for p in (out / "plots").glob("*.png")}
    assert {"learning_curve.png", "step_errors.png"} <= plots
    assert any(name.endswith("_latents.png") for name in plots)
    solved = [i for i, e in enumerate(mpc["per_episode"]) if e["success"]]
    assert mpc["gif_episode"] == (solved[0] if solved else 0)
    shown = f"episode {mpc['gif_episode']}, seed {mpc['per_episode'][mpc['gif_episode']]['seed']}"
    assert any(str(out / "episode.gif") in line and shown in line for line in lines)


def test_demo_command_rejects_unknown_options(capsys):
    try:
        main(["demo", "--no-such-option"])
    except SystemExit as exit_:
        assert exit_.code != 0
    else:  # pragma: no cover
        raise AssertionError("an unknown option must fail")
