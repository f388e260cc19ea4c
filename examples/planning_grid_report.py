"""Planning results of a trained grid: MPC success per run, and what explains it.

After ``mbplan compare`` has trained and evaluated a grid of RRC or Shepherd world models (one
run folder per core x regime x seed), this script measures, for every run's best checkpoint:

* learned-model MPC success with iCEM on the task's defaults over ``--episodes`` episodes (reset
  seeds ``--seed ..``, the same for every run), beside the simulator as the model on the same
  episodes (``mbplan.commands.plan.plan_episodes``); success rates leave out the episodes solved
  at reset;
* the N-step MSE on the test and generalisation sets (and Shepherd's sheep-reappearance error on
  the test set), read from the run folder's
  ``evaluation_<split>.json`` (``mbplan compare``, and ``mbplan compare --no-train --split
  generalization_test``);
* RRC only: the control-onset response (at the onset, and after 3 observed steps of control)
  and the false robot motion before it (:mod:`mbplan.evaluation.control_onset`);
* Shepherd only: the lever response: whether the model lets the sheep out when the agent
  reaches the lever, how many steps late, how far from the real sheep, and whether it lets it
  out walking away (:mod:`mbplan.evaluation.lever_response`);
* with ``--vaa``: the VAA of the core (``examples/world_model_vaa.py``'s measurement, 10 sets of
  32 states, ``--vaa-steps`` convergence steps), for the multistability question of issue 14;

and writes ``OUT/planning_grid.json``, ``OUT/planning_grid.md`` (one row per run, then mean ±
std per core) and ``OUT/planning_grid.png`` (success against generalisation error, onset
response and VAA). Runs whose results are already in the JSON are skipped, so an interrupted
report resumes, and ``--runs GLOB`` measures some runs of a grid first (those that have finished
training) and the others later into the same report::

    python examples/planning_grid_report.py runs/rrc_cmp --env mbplan/RobotRemoteControl-v0 \
        --episodes 20 --vaa --out docs/results/rrc_grid
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from mbplan.commands.plan import plan_episodes  # noqa: E402
from mbplan.evaluation.control_onset import control_onset_response  # noqa: E402
from mbplan.evaluation.lever_response import SHEPHERD_ENV, lever_response  # noqa: E402
from mbplan.evaluation.report import load_run_model  # noqa: E402
from mbplan.training.run_directory import trained_runs, write_json_atomic  # noqa: E402
from planners.tasks import summarize_success  # noqa: E402

RRC = "mbplan/RobotRemoteControl-v0"


def _mse(run: Path, split: str, key: str = "mse") -> float | None:
    path = run / f"evaluation_{split}.json"
    if not path.is_file():
        return None
    value = json.loads(path.read_text()).get(key)
    if isinstance(value, dict):  # reappearance: {"mse": ..., "n": ...}
        value = value.get("mse")
    return None if value is None else float(value)


def _success(results) -> dict:
    summary = summarize_success(results)
    return {
        "successes": summary.successes,
        "solved_at_reset": summary.solved_at_reset,
        "rate": summary.rate,
        "per_episode": [bool(r.success) for r in results],
    }


def probe(model: torch.nn.Module, env: str, seed: int) -> dict:
    """The env's scripted probe of what planning needs the model to predict (see the docstring)."""
    if env == RRC:
        onset = control_onset_response(model, episodes=20, seed=seed)
        seen = control_onset_response(model, episodes=20, seed=seed, after=3)
        return {
            "onset_response": onset.mean_response,
            "onset_registered": onset.registered,
            "false_motion": onset.mean_false_motion,
            "response_after_3": seen.mean_response,
        }
    if env == SHEPHERD_ENV:
        release = lever_response(model, episodes=20, seed=seed)
        return {
            "release_registered": release.registered_rate,
            "release_delay": release.mean_timing,
            "sheep_error": release.mean_sheep_error,
            "false_release": release.false_release_rate,
        }
    return {}


PROBE_KEYS = {
    RRC: ("onset_response", "onset_registered", "response_after_3", "false_motion"),
    SHEPHERD_ENV: ("release_registered", "release_delay", "sheep_error", "false_release"),
}


def measure_run(run: Path, env: str, episodes: int, seed: int, vaa_steps: int | None) -> dict:
    """Every measurement of one run (see the module docstring)."""
    config = json.loads((run / "config.json").read_text())
    model, _ = load_run_model(run, which="best", device="cpu")
    model.eval()
    started = time.perf_counter()
    results = plan_episodes(env, model, episodes=episodes, seed=seed)
    row = {
        "run": str(run),
        "core": config["core"],
        "regime": config["regime"],
        "seed": config["seed"],
        "updates": json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["updates"],
        "test_mse": _mse(run, "test"),
        "generalization_mse": _mse(run, "generalization_test"),
        "reappearance": _mse(run, "test", "reappearance"),
        "mpc": _success(results),
        "mpc_seconds": time.perf_counter() - started,
    }
    row.update(probe(model, env, seed))
    if vaa_steps:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from world_model_vaa import measure

        vaa = measure(run, sets=10, states=32, steps=vaa_steps, seed=0)
        row["vaa"] = vaa["vaa_mean"]
        row["vaa_star"] = vaa["vaa_star_per_layer"]
    return row


#: number formats of the Shepherd probe's columns, in ``PROBE_KEYS`` order.
SHEPHERD_FORMATS = (".2f", ".1f", ".3f", ".2f")


def _cell(row: dict, key: str, spec: str) -> str:
    """``row[key]`` formatted, or ``-`` for a value not (yet) measured."""
    value = row.get(key)
    return "-" if value is None else format(value, spec)


def _mean_std(values: list[float | None]) -> str:
    clean = [v for v in values if v is not None and np.isfinite(v)]
    if not clean:
        return "-"
    spread = np.std(clean, ddof=1) if len(clean) > 1 else 0.0
    return f"{np.mean(clean):.3g} ± {spread:.2g}"


def write_report(report: dict, out: Path) -> None:
    """The Markdown table and the figure of ``report``."""
    rows = report["runs"]
    onset = any("onset_response" in r for r in rows)
    release = any("release_registered" in r for r in rows)
    vaa = any("vaa" in r for r in rows)
    reappear = any(r.get("reappearance") is not None for r in rows)
    head = ["core", "seed", "updates", "test MSE", "generalisation MSE"]
    head += ["reappearance error"] if reappear else []
    head += ["MPC success"]
    head += (
        ["onset response", "registered", "response 3 steps later", "false motion"] if onset else []
    )
    head += (
        ["sheep released at the lever", "steps late", "sheep distance", "false release"]
        if release
        else []
    )
    head += ["VAA"] if vaa else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        mpc = r["mpc"]
        attempted = len(mpc["per_episode"]) - mpc["solved_at_reset"]
        cells = [
            r["core"],
            str(r["seed"]),
            str(r["updates"]),
            f"{r['test_mse']:.3g}" if r["test_mse"] is not None else "-",
            f"{r['generalization_mse']:.3g}" if r["generalization_mse"] is not None else "-",
        ]
        if reappear:
            cells.append(f"{r['reappearance']:.3g}" if r.get("reappearance") is not None else "-")
        cells.append(f"{mpc['rate']:.2f} ({mpc['successes']}/{attempted})")
        if onset:
            cells += [_cell(r, k, ".2f") for k in PROBE_KEYS[RRC][:3]]
            cells.append(_cell(r, "false_motion", ".3f"))
        if release:
            formats = zip(PROBE_KEYS[SHEPHERD_ENV], SHEPHERD_FORMATS, strict=True)
            cells += [_cell(r, key, spec) for key, spec in formats]
        if vaa:
            cells.append(f"{r['vaa']:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Mean ± std over seeds:", ""]
    keys = ["test_mse", "generalization_mse"] + (["reappearance"] if reappear else []) + ["rate"]
    keys += ["onset_response", "response_after_3", "false_motion"] if onset else []
    keys += (
        ["release_registered", "release_delay", "sheep_error", "false_release"] if release else []
    )
    keys += ["vaa"] if vaa else []
    lines.append("| core | runs | " + " | ".join(keys) + " |")
    lines.append("|" + "---|" * (len(keys) + 2))
    for core in sorted({r["core"] for r in rows}):
        chosen = [r for r in rows if r["core"] == core]
        cells = [
            _mean_std([r["mpc"]["rate"] if k == "rate" else r.get(k) for r in chosen]) for k in keys
        ]
        lines.append(f"| {core} | {len(chosen)} | " + " | ".join(cells) + " |")
    truth = report.get("ground_truth")
    if truth:
        attempted = len(truth["per_episode"]) - truth["solved_at_reset"]
        lines += [
            "",
            f"Simulator as the model: {truth['successes']}/{attempted} ({truth['rate']:.2f}).",
        ]
    lines += ["", f"Machine: {report['machine']}; {report['date']}."]
    (out / "planning_grid.md").write_text("\n".join(lines) + "\n")

    if any(r.get("generalization_mse") is not None for r in rows):
        panels = [("generalization_mse", "generalisation N-step MSE")]
    elif reappear:
        panels = [("reappearance", "reappearance error (test)")]
    else:
        panels = [("test_mse", "test N-step MSE")]
    panels += [("onset_response", "control-onset response (1 = simulator)")] if onset else []
    panels += [("sheep_error", "sheep distance after the lever (0 = simulator)")] if release else []
    panels += [("vaa", "VAA")] if vaa else []
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    cores = sorted({r["core"] for r in rows})
    for axis, (key, label) in zip(axes[0], panels, strict=True):
        for index, core in enumerate(cores):
            chosen = [r for r in rows if r["core"] == core and r.get(key) is not None]
            axis.scatter(
                [r[key] for r in chosen],
                [r["mpc"]["rate"] for r in chosen],
                label=core,
                color=f"C{index}",
            )
        axis.set_xlabel(label)
        axis.set_ylabel("learned-model MPC success")
        axis.set_ylim(-0.05, 1.05)
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.suptitle(f"{report['env']}: one point per run (best checkpoint)")
    figure.tight_layout()
    figure.savefig(out / "planning_grid.png", dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("grid", type=Path, help="an mbplan compare --out folder")
    parser.add_argument("--env", default=RRC, help="planning env id")
    parser.add_argument("--episodes", type=int, default=20, help="MPC episodes per run (20)")
    parser.add_argument("--seed", type=int, default=0, help="first episode seed (0)")
    parser.add_argument("--vaa", action="store_true", help="also measure each core's VAA")
    parser.add_argument("--vaa-steps", type=int, default=2000, help="VAA convergence steps")
    parser.add_argument("--out", type=Path, required=True, help="folder for the report")
    parser.add_argument(
        "--runs",
        default="*",
        help="glob of the run folders measured (default: all; e.g. 'elman_*' while others train)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "planning_grid.json"
    report = json.loads(path.read_text()) if path.is_file() else {"runs": []}
    report.update(
        env=args.env,
        episodes=args.episodes,
        seed=args.seed,
        machine=f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}",
        date=time.strftime("%Y-%m-%d"),
    )
    done = {r["run"]: r for r in report["runs"]}
    for _, _, run in trained_runs(args.grid, args.runs):
        if str(run) in done:
            row = done[str(run)]
            if any(key not in row for key in PROBE_KEYS.get(args.env, ())):
                print(f"{run.name}: probe only", flush=True)
                model, _ = load_run_model(run, which="best", device="cpu")
                row.update(probe(model.eval(), args.env, args.seed))
                write_json_atomic(path, report)
            continue
        print(f"{run.name}: measuring", flush=True)
        row = measure_run(
            run, args.env, args.episodes, args.seed, args.vaa_steps if args.vaa else None
        )
        report["runs"].append(row)
        write_json_atomic(path, report)
        print(f"{run.name}: MPC {row['mpc']['rate']:.2f}", flush=True)
    if "ground_truth" not in report:
        truth = plan_episodes(args.env, None, episodes=args.episodes, seed=args.seed)
        report["ground_truth"] = _success(truth)
        write_json_atomic(path, report)
    write_report(report, args.out)
    print((args.out / "planning_grid.md").read_text())


if __name__ == "__main__":
    main()
