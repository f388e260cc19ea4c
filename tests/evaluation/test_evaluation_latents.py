"""Hidden-factor onsets on the latent-state figure (the paper's Fig. 4d, 7b): where a flag switches
on, in the steps the figure draws, on hand-built flags and on sequences of the real Shepherd env."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

from mbplan.evaluation import plots, report
from mbplan.evaluation.latents import flag_onsets, latent_trajectories
from mbplan.models.registry import make_world_model


def test_flag_onsets_on_hand_built_flags():
    flags = torch.zeros(6, 4)  # T = 5 transitions, observations 0..5
    flags[:, 0] = 1.0  # on from the start: no onset
    flags[3:, 1] = 1.0  # first on in observation 3: the update predicting it is step 3
    flags[5, 2] = 1.0  # first on in the last observation: step T = 5
    names = ("always", "middle", "last", "never")
    assert flag_onsets(flags, names) == [("middle", 3), ("last", 5)]
    flags[1:, 3] = 2.0  # any nonzero value counts; observation 1 is step 1
    assert flag_onsets(flags, names) == [("middle", 3), ("last", 5), ("never", 1)]


def test_flag_onsets_rejects_flags_that_do_not_match_their_names():
    with pytest.raises(ValueError, match=r"flags: expected \(T \+ 1, 2\)"):
        flag_onsets(torch.zeros(6, 3), ("a", "b"))
    with pytest.raises(ValueError, match="flags: expected"):
        flag_onsets(torch.zeros(2, 6, 1), ("a",))


def test_the_latent_figure_marks_the_gate_opening_of_real_shepherd_episodes(
    shepherd_sequences, monkeypatch
):
    episodes = shepherd_sequences(40)
    opens = episodes.flags[:, :, 0].any(dim=1)
    closed = torch.nonzero(~opens).flatten()[:1]
    data = episodes.select(torch.cat([torch.nonzero(opens).flatten(), closed]))
    opened = [int(torch.nonzero(data.flags[i, :, 0]).flatten()[0]) for i in range(len(data) - 1)]
    assert len(opened) >= 4 and max(opened) > 50  # early and late openings among 40 episodes
    model = make_world_model("gatel0rd", data.observations.shape[-1], data.actions.shape[-1])
    assert latent_trajectories(model.eval(), data).relative.shape[1] == 100  # steps 1..T drawn
    drawn = {}

    def keep_the_event_lines(fig, path):
        lines = fig.axes[0].lines
        drawn[str(path)] = [
            (line.get_label(), float(line.get_xdata()[0]))
            for line in lines
            if line.get_label().endswith(" on")
        ]
        plt.close(fig)
        return path

    monkeypatch.setattr(plots, "_save", keep_the_event_lines)
    report.plot_examples(model, data, "out", per_subset=len(data))
    events = [drawn[f"out/seq{i:05d}_0_latents.png"] for i in range(len(data))]
    assert events == [[("gate_open on", j)] for j in opened] + [[]]  # none where it stays shut
