"""Replay the command line's bad and weak cases of issue 12 and classify each answer.

Every case runs ``python -m mbplan ...`` (or a few lines of Python for library cases) in a fresh
temporary folder against the code in ``--code`` (default: this checkout), as a new user would,
and classifies the answer:

- ``ok``: the right behaviour (a user error is one line ``mbplan <command>: ...`` with exit 2, or
  argparse's usage error; a signal saves and says how to continue; nothing is deleted; ...);
- ``weak``: the outcome is right but the answer is poor (a traceback for a user error, an error
  only after minutes of work, a message that is not the convention);
- ``bad``: a silent wrong result, data deleted, or a dead end.

The cases are every case named in issue 12 plus their obvious neighbours (the issue's full
338-case audit is not available). Usage::

    python benchmarks/cli_audit.py                      # this checkout
    python benchmarks/cli_audit.py --code /path/to/old  # another version of the code
    python benchmarks/cli_audit.py --only compare_resume_other_options --json out.json

It needs about 5 minutes on 2 shared CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
SMALL = ["--model.hidden-size", "4", "--model.feature-size", "8", "--model.depth", "1"]


class Context:
    """A temporary folder, the code under test and a tiny Billiard dataset made with it."""

    def __init__(self, code: Path, root: Path) -> None:
        self.code = code
        self.root = root
        self.env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
        self.env.pop("MBPLAN_SMOKE", None)
        self.data = root / "bb"
        self.other = root / "bb_other"
        for path, seed in ((self.data, "0"), (self.other, "1")):
            self.mbplan(
                "generate", "--env", "mbplan/BilliardBall-v0", "--policy", "uniform",
                "--episodes", "20", "--steps", "12", "--seed", seed, "--out", str(path), "--quiet",
            )  # fmt: skip

    def folder(self, name: str) -> Path:
        """A new folder under the temporary root."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def mbplan(self, *args: str, cwd: Path | None = None, timeout: float = 300) -> dict:
        """Run ``python -m mbplan ARGS``; return rc, out, err and wall seconds."""
        return self.run([sys.executable, "-m", "mbplan", *args], cwd=cwd, timeout=timeout)

    def python(self, code: str, timeout: float = 300) -> dict:
        """Run a few lines of Python against the code under test."""
        return self.run([sys.executable, "-c", textwrap.dedent(code)], timeout=timeout)

    def run(self, argv: list[str], cwd: Path | None = None, timeout: float = 300) -> dict:
        """Run ``argv`` with the code under test on ``PYTHONPATH``."""
        start = time.perf_counter()
        proc = subprocess.run(
            argv,
            cwd=cwd or self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return {
            "rc": proc.returncode,
            "out": proc.stdout,
            "err": proc.stderr,
            "wall": time.perf_counter() - start,
        }

    def start(self, *args: str) -> subprocess.Popen:
        """Start ``python -m mbplan ARGS`` in the background (to signal it)."""
        return subprocess.Popen(
            [sys.executable, "-m", "mbplan", *args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def train_args(ctx: Context, out: Path, *extra: str) -> list[str]:
    base = ["train", "--preset", "tiny", "--data", str(ctx.data), "--out", str(out)]
    return [*base, *SMALL, *extra]


def compare_args(ctx: Context, out: Path, *extra: str) -> list[str]:
    base = ["compare", "--preset", "tiny", "--data", str(ctx.data), "--out", str(out)]
    return [*base, "--regimes", "tf", "--horizon", "4", *SMALL, *extra]


def user_error(result: dict, command: str) -> tuple[str, str]:
    """Classify the answer to a user error: one convention line (ok), else weak."""
    err = result["err"]
    lines = [line for line in err.strip().splitlines() if line.strip()]
    if "Traceback" in err:
        return "weak", f"traceback ({len(err.splitlines())} lines)"
    if result["rc"] == 2 and "usage:" in err and "error:" in err:
        return "ok", "argparse usage error"
    if result["rc"] == 2 and "Error parsing" in err:
        return "ok", "usage error (tyro)"
    if result["rc"] == 2 and lines and lines[-1].startswith(f"mbplan {command}: "):
        return "ok", lines[-1][:160]
    if result["rc"] == 0:
        return "bad", "exit 0 for a user error"
    return "weak", f"exit {result['rc']}: {(lines[-1] if lines else '')[:160]}"


# ----------------------------------------------------------------------------- the bad cases


def compare_resume_other_options(ctx: Context) -> tuple[str, str]:
    out = ctx.folder("cmp1") / "cmp"
    argv = compare_args(ctx, out, "--cores", "gru", "--seeds", "0", "--epochs", "2")
    ctx.mbplan(*argv)
    result = ctx.mbplan(*argv, "--epochs", "4", "--lr", "0.05", "--model.hidden-size", "32")
    saved = json.loads((out / "gru_tf_s0" / "config.json").read_text())
    if result["rc"] == 0 and saved["lr"] != 0.05:
        return "bad", "printed a table for options it did not use (old lr, old hidden size)"
    return user_error(result, "compare")


def compare_duplicate_seeds(ctx: Context) -> tuple[str, str]:
    out = ctx.folder("cmp2") / "cmp"
    argv = compare_args(ctx, out, "--cores", "gru", "gru", "--seeds", "0", "0", "--epochs", "1")
    result = ctx.mbplan(*argv)
    if result["rc"] == 0:
        return "bad", "one run reported as several seeds"
    return user_error(result, "compare")


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        if path.exists():
            return True
        time.sleep(0.2)
    return path.exists()


def compare_one_ctrl_c(ctx: Context) -> tuple[str, str]:
    out = ctx.folder("cmp3") / "cmp"
    argv = compare_args(ctx, out, "--cores", "gru", "elman", "--seeds", "0", "--epochs", "3000")
    proc = ctx.start(*argv)
    if not _wait_for(out / "gru_tf_s0" / "metrics.jsonl", proc):
        proc.kill()
        return "bad", "the first run never validated"
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        started = (out / "elman_tf_s0").exists()
        proc.kill()
        proc.wait()
        if started:
            return "bad", "one Ctrl-C saved the run and started the next one"
        return "bad", "still running 60 s after Ctrl-C"
    if (out / "elman_tf_s0").exists():
        return "bad", "the next run started after Ctrl-C"
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode == 130 and "continue with" in err:
        return "ok", "saved, stopped, said how to continue"
    return "weak", f"exit {proc.returncode}, no 'continue with'"


def train_sigterm(ctx: Context) -> tuple[str, str]:
    run = ctx.folder("term") / "run"
    proc = ctx.start(*train_args(ctx, run, "--epochs", "3000"))
    if not _wait_for(run / "config.json", proc):
        proc.kill()
        return "bad", "never started"
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    resumed = ctx.mbplan("train", "--resume", str(run), "--epochs", "1")
    if proc.returncode == -signal.SIGTERM and resumed["rc"] != 0:
        return "bad", "killed by SIGTERM without saving; --resume fails"
    if proc.returncode == -signal.SIGTERM:
        return "bad", "killed by SIGTERM: not handled, nothing saved at the signal"
    if resumed["rc"] == 0:
        return "ok", f"exit {proc.returncode}; resumed"
    return "bad", "SIGTERM left a run that does not resume"


def train_killed_before_first_checkpoint(ctx: Context) -> tuple[str, str]:
    run = ctx.folder("kill") / "run"
    proc = ctx.start(*train_args(ctx, run, "--epochs", "3000"))
    _wait_for(run / "config.json", proc)
    proc.kill()
    proc.wait()
    (run / "last.pt").unlink(missing_ok=True)  # as if killed before it was written
    again = ctx.mbplan(*train_args(ctx, run, "--epochs", "2"))
    resumed = ctx.mbplan("train", "--resume", str(run), "--epochs", "2")
    if resumed["rc"] != 0:
        return "bad", "dead end: --resume fails and the original command refuses the folder"
    if "no checkpoint" not in again["err"]:
        return "weak", "resumable, but the original command's message does not say so"
    return "ok", "resumed from the beginning; the message says how"


def train_nan_first_epoch(ctx: Context) -> tuple[str, str]:
    run = ctx.folder("nan") / "run"
    # lr = inf: the first update makes the weights non-finite, the second loss is NaN (epoch 0)
    argv = train_args(ctx, run, "--lr", "inf", "--batch-size", "4", "--epochs", "3")
    result = ctx.mbplan(*argv)
    if result["rc"] == 0:
        return "weak", "no NaN reached (case not triggered)"
    named = re.search(r"(\S+last\.pt)", result["err"])
    if named is None or not Path(named.group(1)).is_file():
        return "bad", "the NaN message points to a checkpoint that does not exist"
    return "ok", "the message names the last.pt that exists"


def train_resume_other_data(ctx: Context) -> tuple[str, str]:
    run = ctx.folder("data5") / "run"
    ctx.mbplan(*train_args(ctx, run, "--epochs", "1"))
    result = ctx.mbplan("train", "--resume", str(run), "--epochs", "2", "--data", str(ctx.other))
    saved = json.loads((run / "config.json").read_text())
    if result["rc"] == 0 and saved["data"] == str(ctx.data):
        return "bad", "trained on another dataset; config.json keeps the old path"
    return user_error(result, "train")


def demo_deletes_foreign_files(ctx: Context) -> tuple[str, str]:
    out = ctx.folder("demo6") / "out"
    (out / "run").mkdir(parents=True)
    (out / "run" / "thesis.tex").write_text("precious")
    result = ctx.mbplan(
        "demo", "--out", str(out), "--scale", "0.005", "--workers", "1", "--epochs", "1",
        "--batch-size", "16", "--episodes", "1", "--max-steps", "4", "--no-progress",
    )  # fmt: skip
    if not (out / "run" / "thesis.tex").exists():
        return "bad", "deleted a file it did not write"
    return user_error(result, "demo") if result["rc"] else ("ok", "wrote beside it")


def run_files_mode(ctx: Context) -> tuple[str, str]:
    run = ctx.folder("mode") / "run"
    old = os.umask(0o022)
    try:
        ctx.mbplan(*train_args(ctx, run, "--epochs", "1"))
    finally:
        os.umask(old)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in run.iterdir() if p.is_file()}
    if any(mode != "0o644" for mode in modes.values()):
        return "bad", f"umask 022 but {modes}"
    return "ok", "0644 under umask 022"


def plan_max_steps_zero(ctx: Context) -> tuple[str, str]:
    result = ctx.mbplan("plan", "--ground-truth", "--episodes", "1", "--max-steps", "0",
                        "--population", "8", "--horizon", "5")  # fmt: skip
    if result["rc"] == 0:
        return "bad", "--max-steps 0 silently meant the env's default"
    return user_error(result, "plan")


def warmup_action_outside_box(ctx: Context) -> tuple[str, str]:
    result = ctx.python(
        """
        import gymnasium as gym, numpy as np, torch, sims
        from mbplan.models import make_world_model, preset
        from planners import ICEM
        from planners.costs import RRCCost
        from planners.mpc import run_mpc
        model = make_world_model("gatel0rd", obs_dim=4, action_dim=2, **preset("rrc")).eval()
        planner = ICEM([-1., -1.], [1., 1.], 5, population=8, elites=3, iterations=1,
                       generator=torch.Generator().manual_seed(0))
        try:
            run_mpc([gym.make("mbplan/RobotRemoteControl-v0")], model, planner, RRCCost(),
                    max_steps=4, warmup_action=np.array([2.0, 0.0], np.float32))
        except ValueError as err:
            print("refused:", err)
        """
    )
    if "refused" in result["out"]:
        return "ok", "refused"
    return "bad", "executed clipped by the env, fed unclipped to the model"


# ----------------------------------------------------------------------------- the weak cases


def _user_error_case(command: str, make_args: Callable[[Context], list[str]]):
    def case(ctx: Context) -> tuple[str, str]:
        return user_error(ctx.mbplan(*make_args(ctx)), command)

    return case


def _trained(ctx: Context, name: str) -> Path:
    run = ctx.folder(name) / "run"
    ctx.mbplan(*train_args(ctx, run, "--epochs", "1"))
    return run


def evaluate_truncated_config(ctx: Context) -> tuple[str, str]:
    run = _trained(ctx, "trunc")
    config = run / "config.json"
    config.write_text(config.read_text()[:40])
    result = ctx.mbplan("evaluate", str(run))
    verdict = user_error(result, "evaluate")
    if verdict[0] == "ok" and str(config) not in result["err"]:
        return "weak", "one line, but it does not name config.json"
    return verdict


def evaluate_device_cuda(ctx: Context) -> tuple[str, str]:
    result = ctx.mbplan("evaluate", str(_trained(ctx, "cuda")), "--device", "cuda")
    verdict = user_error(result, "evaluate")
    if "checkpoint" in result["err"].lower() and "cuda" in result["err"].lower():
        if "not available" not in result["err"]:
            return "weak", "blames the checkpoint for a missing GPU"
    return verdict


def evaluate_horizon_too_long(ctx: Context) -> tuple[str, str]:
    return user_error(ctx.mbplan("evaluate", str(_trained(ctx, "hor")), "--horizon", "500"),
                      "evaluate")  # fmt: skip


def train_existing_folder(ctx: Context) -> tuple[str, str]:
    run = _trained(ctx, "exist")
    return user_error(ctx.mbplan(*train_args(ctx, run, "--epochs", "1")), "train")


def demo_episodes_zero(ctx: Context) -> tuple[str, str]:
    out = ctx.folder("demo0") / "out"
    result = ctx.mbplan("demo", "--out", str(out), "--episodes", "0", "--scale", "0.005",
                        "--workers", "1", "--epochs", "1", "--batch-size", "16",
                        "--no-progress")  # fmt: skip
    if (out / "run").exists() or (out / "data").exists():
        return "weak", f"failed only after generating and training ({result['wall']:.0f} s)"
    return user_error(result, "demo")


def generate_ctrl_c(ctx: Context) -> tuple[str, str]:
    out = ctx.folder("gen") / "data"
    proc = ctx.start("generate", "rrc-paper", "--scale", "0.3", "--out", str(out), "--workers",
                     "2", "--quiet")  # fmt: skip
    _wait_for(out / "manifest.json", proc)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)  # the parent only: a terminal would signal the workers too
    try:
        _, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        return "weak", "did not stop within 90 s"
    if "Traceback" in err:
        return "weak", f"traceback ({len(err.splitlines())} lines)"
    if "run the same command again to resume" in err:
        return "ok", "one line, says how to resume"
    return "weak", f"exit {proc.returncode}: {err.strip()[-120:]}"


def planner_minus_inf(ctx: Context) -> tuple[str, str]:
    result = ctx.python(
        """
        import math, torch
        from planners import ICEM
        planner = ICEM([-1.], [1.], 3, population=6, elites=2, iterations=1,
                       generator=torch.Generator().manual_seed(0))
        planner.reset(1)
        def cost(actions):
            costs = actions.sum(dim=(2, 3)).clone()
            costs[0, 2] = -math.inf
            return costs
        try:
            planner.plan(cost)
            print("planned")
        except ValueError as err:
            print("raised:", err)
        """
    )
    return ("ok", "-inf is a valid best") if "planned" in result["out"] else ("weak", "raised")


def mpc_one_env_nan(ctx: Context) -> tuple[str, str]:
    result = ctx.python(
        """
        import gymnasium as gym, numpy as np, torch, sims
        from mbplan.models import make_world_model, preset
        from planners import ICEM
        from planners.costs import RRCCost
        from planners.mpc import run_mpc
        class NaNEnv:
            def __init__(self, env): self.env, self.n, self.unwrapped = env, 0, env.unwrapped
            def reset(self, **kw): self.n = 0; return self.env.reset(**kw)
            def step(self, a):
                self.n += 1
                obs, r, te, tr, info = self.env.step(a)
                return (obs * np.nan if self.n >= 3 else obs), r, te, tr, info
            def render(self): return self.env.render()
        model = make_world_model("gatel0rd", obs_dim=4, action_dim=2, **preset("rrc")).eval()
        planner = ICEM([-1., -1.], [1., 1.], 5, population=8, elites=3, iterations=1,
                       generator=torch.Generator().manual_seed(0))
        envs = [gym.make("mbplan/RobotRemoteControl-v0"),
                NaNEnv(gym.make("mbplan/RobotRemoteControl-v0"))]
        try:
            results = run_mpc(envs, model, planner, RRCCost(), max_steps=8, seeds=[0, 1])
            print("kept", len(results), getattr(results[1], "error", None))
        except Exception as err:
            print("raised:", type(err).__name__, err)
        """
    )
    out = result["out"]
    if out.startswith("kept 2") and "env 1" in out:
        return "ok", "healthy episode kept; the message names the env and step"
    return "weak", out.strip()[:160] or result["err"].strip()[-160:]


def version(ctx: Context) -> tuple[str, str]:
    result = ctx.mbplan("--version")
    return ("ok", result["out"].strip()) if result["rc"] == 0 else ("weak", "no --version")


def help_lists_cores(command: str):
    def case(ctx: Context) -> tuple[str, str]:
        result = ctx.mbplan(command, "--help")
        text = result["out"]
        cores = ("gatel0rd", "elman", "gru", "lstm", "brc", "nbrc")
        presets = ("billiard", "rrc", "shepherd", "tiny")
        if all(c in text for c in cores) and all(p in text for p in presets):
            return "ok", "lists cores and presets"
        return "weak", "does not list the core names and presets"

    return case


CASES: dict[str, Callable[[Context], tuple[str, str]]] = {
    # issue 12, "bad today" 1-8
    "compare_resume_other_options": compare_resume_other_options,
    "compare_duplicate_seeds": compare_duplicate_seeds,
    "compare_one_ctrl_c": compare_one_ctrl_c,
    "train_sigterm": train_sigterm,
    "train_killed_before_first_checkpoint": train_killed_before_first_checkpoint,
    "train_nan_first_epoch": train_nan_first_epoch,
    "train_resume_other_data": train_resume_other_data,
    "demo_deletes_foreign_files": demo_deletes_foreign_files,
    "run_files_mode": run_files_mode,
    "plan_max_steps_zero": plan_max_steps_zero,
    "warmup_action_outside_box": warmup_action_outside_box,
    # "weak today", and their neighbours
    "train_unknown_core": _user_error_case(
        "train", lambda c: train_args(c, c.folder("uc") / "r", "--core", "nope")
    ),
    "train_missing_dataset": _user_error_case(
        "train",
        lambda c: [
            "train",
            "--preset",
            "tiny",
            "--data",
            str(c.root / "none"),
            "--out",
            str(c.folder("md") / "r"),
        ],
    ),  # fmt: skip
    "train_existing_folder": train_existing_folder,
    "train_device_cuda": _user_error_case(
        "train", lambda c: train_args(c, c.folder("tc") / "r", "--device", "cuda")
    ),
    "train_resume_missing_folder": _user_error_case(
        "train", lambda c: ["train", "--resume", str(c.root / "none")]
    ),
    "evaluate_horizon_too_long": evaluate_horizon_too_long,
    "evaluate_horizon_zero": _user_error_case(
        "evaluate", lambda c: ["evaluate", str(c.root / "none"), "--horizon", "0"]
    ),
    "evaluate_truncated_config": evaluate_truncated_config,
    "evaluate_device_cuda": evaluate_device_cuda,
    "evaluate_missing_run": _user_error_case(
        "evaluate", lambda c: ["evaluate", str(c.root / "none")]
    ),
    "compare_unknown_core": _user_error_case(
        "compare",
        lambda c: compare_args(
            c, c.folder("cu") / "cmp", "--cores", "gru", "nope", "--seeds", "0", "--epochs", "1"
        ),
    ),  # fmt: skip
    "compare_missing_dataset": _user_error_case(
        "compare",
        lambda c: [
            "compare",
            "--preset",
            "tiny",
            "--data",
            str(c.root / "none"),
            "--out",
            str(c.folder("cm") / "cmp"),
            "--cores",
            "gru",
            "--seeds",
            "0",
        ],
    ),  # fmt: skip
    "compare_no_runs": _user_error_case(
        "compare", lambda c: ["compare", "--out", str(c.folder("cn")), "--no-train"]
    ),
    "demo_episodes_zero": demo_episodes_zero,
    "generate_ctrl_c": generate_ctrl_c,
    "generate_unknown_recipe": _user_error_case(
        "generate", lambda c: ["generate", "chess-paper", "--out", str(c.root / "x")]
    ),
    "data_info_missing": _user_error_case("data", lambda c: ["data", "info", str(c.root / "n")]),
    "plan_missing_run": _user_error_case(
        "plan", lambda c: ["plan", "--run", str(c.root / "none"), "--episodes", "1"]
    ),
    "plan_device_cuda": _user_error_case(
        "plan", lambda c: ["plan", "--ground-truth", "--episodes", "1", "--device", "cuda"]
    ),
    "plan_env_without_task": _user_error_case(
        "plan", lambda c: ["plan", "--ground-truth", "--env", "mbplan/BilliardBall-v0"]
    ),
    "planner_minus_inf": planner_minus_inf,
    "mpc_one_env_nan": mpc_one_env_nan,
    "version": version,
    "train_help_lists_cores": help_lists_cores("train"),
    "compare_help_lists_cores": help_lists_cores("compare"),
}


def main() -> int:
    """Run the cases; print one line per case and the counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--code", default=str(HERE), help="folder of the code under test")
    parser.add_argument("--only", nargs="+", choices=sorted(CASES), help="run only these cases")
    parser.add_argument("--json", help="write the verdicts as JSON here")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # children get default SIGINT
    verdicts = {}
    with tempfile.TemporaryDirectory(prefix="cli_audit_") as folder:
        ctx = Context(Path(args.code).resolve(), Path(folder))
        for name in args.only or CASES:
            start = time.perf_counter()
            try:
                verdict, why = CASES[name](ctx)
            except Exception as err:  # the audit itself must go on
                verdict, why = "bad", f"audit step failed: {type(err).__name__}: {err}"
            verdicts[name] = {"verdict": verdict, "why": why}
            print(f"{verdict:<5} {name:<40} {why}  ({time.perf_counter() - start:.0f} s)")
            sys.stdout.flush()
    counts = {kind: sum(v["verdict"] == kind for v in verdicts.values()) for kind in
              ("ok", "weak", "bad")}  # fmt: skip
    print(f"\n{len(verdicts)} cases: {counts['ok']} ok, {counts['weak']} weak, {counts['bad']} bad")
    if args.json:
        Path(args.json).write_text(json.dumps({"code": args.code, "counts": counts,
                                               "cases": verdicts}, indent=2) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
