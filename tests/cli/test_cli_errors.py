"""One error convention for every command: ``mbplan <command>: <what> (<how to fix>)``, exit 2,
no traceback unless ``--debug``; options validated before any work; ``--version``; help lists."""

from __future__ import annotations

import pytest

from mbplan.cli import main


def one_line(capsys, command: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"mbplan {command}: ") and "Traceback" not in captured.err
    assert lines[0].endswith(")")  # says how to fix it
    return lines[0]


def test_train_user_errors_are_one_line(dataset, tmp_path, capsys, train_argv):
    assert main(train_argv(dataset, tmp_path / "r", "--core", "nope")) == 2
    assert "core: expected one of" in one_line(capsys, "train")
    assert main(train_argv(tmp_path / "missing", tmp_path / "r2")) == 2
    assert str(tmp_path / "missing") in one_line(capsys, "train")
    assert not (tmp_path / "r2").exists()  # nothing written for a missing dataset
    run = tmp_path / "run"
    assert main(train_argv(dataset, run, "--epochs", "1")) == 0
    capsys.readouterr()
    assert main(train_argv(dataset, run, "--epochs", "1")) == 2
    assert "already holds a run" in one_line(capsys, "train")
    assert main(train_argv(dataset, tmp_path / "r3", "--device", "cuda:7")) == 2
    line = one_line(capsys, "train")
    assert "device: 'cuda:7' is not available" in line and "checkpoint" not in line


def test_evaluate_user_errors_are_one_line(dataset, tmp_path, capsys, train_argv):
    run = tmp_path / "run"
    assert main(train_argv(dataset, run, "--epochs", "1")) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--horizon", "500"]) == 2
    assert "horizon: expected 1 to 12" in one_line(capsys, "evaluate")
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(run), "--horizon", "0"])
    assert exit_info.value.code == 2
    capsys.readouterr()
    assert main(["evaluate", str(run), "--device", "cuda"]) == 2
    line = one_line(capsys, "evaluate")
    assert "is not available" in line and "checkpoint" not in line
    config = run / "config.json"
    config.write_text(config.read_text()[:40])  # truncated
    assert main(["evaluate", str(run)]) == 2
    assert str(config) in one_line(capsys, "evaluate")
    assert main(["evaluate", str(tmp_path / "nowhere")]) == 2
    one_line(capsys, "evaluate")


def test_debug_shows_the_traceback(dataset, tmp_path, train_argv):
    with pytest.raises(ValueError, match="core: expected one of"):
        main([*train_argv(dataset, tmp_path / "r", "--core", "nope"), "--debug"])


def test_compare_validates_every_option_before_training(dataset, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", "--preset", "tiny", "--data", str(dataset), "--out", str(out)]
    assert main([*argv, "--cores", "gru", "nope", "--regimes", "tf", "--seeds", "0"]) == 2
    assert "core: expected one of" in one_line(capsys, "compare")
    assert not (out / "gru_tf_s0").exists()  # gru was not trained before nope failed
    argv[4] = str(tmp_path / "missing")
    assert main([*argv, "--cores", "gru", "--regimes", "tf", "--seeds", "0"]) == 2
    one_line(capsys, "compare")
    assert not out.exists()


def test_demo_validates_before_generating(tmp_path, capsys):
    out = tmp_path / "demo"
    for bad in (["--episodes", "0"], ["--epochs", "0"], ["--scale", "0"], ["--regime", "xx"]):
        with pytest.raises(SystemExit) as exit_info:  # a usage error, as argparse's
            main(["demo", "--out", str(out), *bad])
        assert exit_info.value.code == 2
        assert f"{bad[0][2:]}: expected" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_generate_ctrl_c_prints_how_to_resume(tmp_path, capsys, monkeypatch, how):
    import os
    import signal

    import mbplan.data

    def interrupted(*args, **kwargs):
        if how == "sigterm":  # a scheduler's SIGTERM takes the same clean path as Ctrl-C
            os.kill(os.getpid(), signal.SIGTERM)
        raise KeyboardInterrupt

    monkeypatch.setattr(mbplan.data, "generate", interrupted)
    argv = ["generate", "--env", "mbplan/BilliardBall-v0", "--policy", "uniform"]
    argv += ["--episodes", "2", "--steps", "3", "--out", str(tmp_path / "d"), "--quiet"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted; run the same command again to resume" in err
    assert "Traceback" not in err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or how == "ctrl-c"


def test_version_and_help_list_the_registry(capsys, monkeypatch):
    import mbplan
    import mbplan.models

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mbplan {mbplan.__version__}"
    # the names come from the registry: a newly registered core shows up
    monkeypatch.setattr(mbplan.models, "CORES", (*mbplan.models.CORES, "newcore"))
    for command in ("train", "compare"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "newcore" in text and "gatel0rd" in text, command
        assert "tiny" in text and "shepherd" in text, command  # presets


def test_data_info_of_a_missing_folder(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path / "none")]) == 2
    one_line(capsys, "data")


def test_plan_with_a_missing_run(tmp_path, capsys):
    assert main(["plan", "--run", str(tmp_path / "none"), "--episodes", "1"]) == 2
    assert "does not exist" in one_line(capsys, "plan")


def test_json_error_of_a_generic_option(tmp_path, capsys):
    argv = ["generate", "--env", "mbplan/BilliardBall-v0", "--policy", "uniform", "--episodes"]
    argv += ["2", "--steps", "3", "--out", str(tmp_path / "d"), "--policy-params", "[1]"]
    assert main(argv) == 2
    assert "--policy-params: expected a JSON object" in one_line(capsys, "generate")
