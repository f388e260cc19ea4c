"""``mbplan envs`` lists every registered mbplan/* env."""

from __future__ import annotations

import json

from mbplan.commands import envs


def test_envs_lists_ids_spaces_steps_and_flags(capsys):
    assert envs.main([]) == 0
    out = capsys.readouterr().out
    for env_id in ("BilliardBall-v0", "RobotRemoteControl-v0", "Shepherd-v0", "BouncingBalls-v0"):
        assert f"mbplan/{env_id}" in out
    assert "gate_open, cage_carried, sheep_caught" in out and "robot_controlled" in out
    assert "Box(-1.0, 1.0, (4,), float32)" in out  # RRC observation


def test_envs_json_matches_the_registry(capsys):
    assert envs.main(["--json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["mbplan/Shepherd-v0"]["obs_dim"] == 7
    assert rows["mbplan/Shepherd-v0"]["action_dim"] == 3
    assert rows["mbplan/BilliardBall-v0"]["action_dim"] == 0
    assert rows["mbplan/BilliardBall-v0"]["max_episode_steps"] == 150
    assert rows["mbplan/BilliardBall-v0"]["flag_names"] == ["pocketed"]
    assert rows["mbplan/BouncingBalls-v0"]["flag_names"] == []
