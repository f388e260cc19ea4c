"""What users see: env-declared dimension names, the annotated MPC GIF, per-object plane plots."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from PIL import Image

import sims  # noqa: F401
from mbplan.cli import main
from mbplan.evaluation.episode_drawing import (
    HEADER_HEIGHT,
    observation_names,
    position_pairs,
)


def test_every_env_names_each_observation_dimension():
    for env_id in sorted(i for i in gym.registry if i.startswith("mbplan/")):
        env = gym.make(env_id)
        names = env.unwrapped.observation_names
        assert len(names) == env.observation_space.shape[0], env_id
        assert len(set(names)) == len(names), env_id
    assert observation_names("mbplan/RobotRemoteControl-v0", 4) == [
        "agent x", "agent y", "robot x", "robot y",
    ]  # fmt: skip
    assert position_pairs(observation_names("mbplan/Shepherd-v0", 7)) == [
        ("agent", 0, 1), ("cage", 2, 3), ("sheep", 4, 5),
    ]  # fmt: skip
    assert observation_names(None, 2) == ["obs[0]", "obs[1]"]


def test_plan_gif_has_a_header_a_legend_and_one_frame_per_step(tmp_path, capsys):
    gif = tmp_path / "episode.gif"
    argv = ["plan", "--ground-truth", "--episodes", "1", "--max-steps", "5", "--horizon", "4"]
    argv += ["--population", "8", "--elites", "3", "--gif", str(gif), "--no-progress"]
    argv += ["--json", str(tmp_path / "p.json")]
    assert main(argv) == 0
    assert "GIF of episode 0" in capsys.readouterr().out
    frame = gym.make("mbplan/RobotRemoteControl-v0", render_mode="rgb_array")
    frame.reset(seed=0)
    height, width = np.asarray(frame.render()).shape[:2]
    with Image.open(gif) as image:
        assert image.n_frames == 6  # reset + 5 steps (not solved in 5 steps)
        assert image.size[0] == width and image.size[1] > height + HEADER_HEIGHT  # + legend
        image.seek(3)
        pixels = np.asarray(image.convert("RGB"))
    header = pixels[:HEADER_HEIGHT]
    assert (header < 100).any()  # text in the header (step counter, outcome)
    legend = pixels[HEADER_HEIGHT + height :]
    assert (legend != 255).any(axis=-1).mean() > 0.02  # coloured legend dots and labels


def test_rrc_evaluation_draws_the_robot_plane_with_named_axes(tmp_path, monkeypatch):
    from mbplan.data import generate, generic_spec
    from mbplan.evaluation import plots

    data = tmp_path / "rrc"
    generate(generic_spec("mbplan/RobotRemoteControl-v0", "uniform", episodes=12, steps=10), data)
    run = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--task", "rrc", "--data", str(data), "--out", str(run)]
    assert main([*argv, "--epochs", "1", "--model.hidden-size", "4"]) == 0
    labels = []
    plane = plots.plot_prediction_plane

    def spy(*args, **kwargs):
        labels.append(kwargs.get("dim_names"))
        return plane(*args, **kwargs)

    monkeypatch.setattr(plots, "plot_prediction_plane", spy)
    assert main(["evaluate", str(run), "--plots", str(tmp_path / "p")]) == 0
    names = {p.name for p in (tmp_path / "p").glob("*.png")}
    assert any(n.endswith("_plane.png") for n in names)
    assert any(n.endswith("_plane_robot.png") for n in names)
    assert ("agent x", "agent y") in labels and ("robot x", "robot y") in labels
