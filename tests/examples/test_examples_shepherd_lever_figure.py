"""examples/shepherd_lever_figure.py draws the shipped Shepherd models' release rollouts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib.image

ROOT = Path(__file__).resolve().parents[2]


def test_the_figure_has_a_column_per_episode(tmp_path):
    runs = ROOT / "examples" / "checkpoints" / "shepherd_15k"
    out = tmp_path / "lever.png"
    command = [sys.executable, str(ROOT / "examples" / "shepherd_lever_figure.py")]
    command += [str(runs / "gatel0rd_ss_s0"), str(runs / "lstm_ss_s0"), "--seeds", "0", "4"]
    subprocess.run([*command, "--out", str(out)], check=True, capture_output=True)
    height, width, _ = matplotlib.image.imread(out).shape
    # two columns of 4 inches at 110 dpi, two rows in 5.4 inches
    assert (width, height) == (880, 594)
