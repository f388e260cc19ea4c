"""``mbplan demo`` never deletes what it did not write (issue 12, case 6), and shows a solved
episode when there is one."""

from __future__ import annotations

import types

from mbplan.cli import main
from mbplan.demo import MARKER_FILE, prepare_output, shown_episode

TINY = ["--scale", "0.005", "--workers", "1", "--epochs", "1", "--batch-size", "16"]
TINY += ["--episodes", "1", "--max-steps", "4", "--no-progress"]


def test_6_a_foreign_folder_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "mine"
    (out / "run").mkdir(parents=True)
    (out / "run" / "thesis.tex").write_text("precious")
    (out / "notes.txt").write_text("also precious")
    assert main(["demo", "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert "is not empty and is not an earlier 'mbplan demo' output" in err
    assert (out / "run" / "thesis.tex").read_text() == "precious"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "run"]


def test_6_another_dataset_in_an_earlier_demo_folder_is_not_deleted(tmp_path, capsys):
    from mbplan.data import generate, generic_spec

    out = tmp_path / "demo"
    prepare_output(out)  # an earlier demo output ...
    data = out / "data"
    spec = generic_spec("mbplan/RobotRemoteControl-v0", "uniform", episodes=2, steps=3)
    generate(spec, data)  # ... whose data/ now holds another dataset
    (data / "readme.txt").write_text("mine")
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    assert main(["demo", "--out", str(out), *TINY]) == 2
    assert "holds a different dataset" in capsys.readouterr().err
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before
    assert (out / MARKER_FILE).is_file() and not (out / "run").exists()


def test_prepare_output_accepts_new_empty_and_marked_folders(tmp_path):
    for out in (tmp_path / "new", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
        prepare_output(out)
        assert (out / MARKER_FILE).is_file()
        prepare_output(out)  # an earlier demo output is reused


def test_the_gif_shows_the_first_solved_episode():
    def episode(success):
        return types.SimpleNamespace(success=success)

    assert shown_episode([episode(False), episode(True), episode(True)]) == 1
    assert shown_episode([episode(False), episode(False)]) == 0
