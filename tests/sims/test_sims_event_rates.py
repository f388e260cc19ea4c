"""Smoke test: ``benchmarks/env_event_rates.py`` runs and prints every section.

It is also the reproducer of a crash in pymunk's clean-up of discarded spaces, which happened when
the env kept Chipmunk pointers beyond the life of their pymunk objects.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_event_rates_script_runs():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "env_event_rates.py"), "--episodes", "4"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for heading in ("BilliardBall-v0", "RobotRemoteControl-v0", "Shepherd-v0", "start right"):
        assert heading in done.stdout
