"""Reproduce the HMM-emulation findings and analyse RRC world models with mbplan.analysis.

Reads emulator runs written by ``mbplan hmm train`` (``RUNS/hmm_<family>``) and world-model runs
written by ``mbplan train`` (``RUNS/rrc_<core>``), and writes figures and one JSON of numbers into
``--out`` (``docs/results`` for the results page ``docs/results/hmm.md``):

1. emission statistics per HMM family (C.5): Sinkhorn-matched distance HMM-RNN against HMM-HMM
   (and against the untrained network), transition matrices, volatility, frequencies;
2. the mechanism of one emulator (``--analyse``, default ``two``): fixed points without input,
   collapse of autonomous trajectories, noise-sustained orbits (PCA, winding around the fixed
   point, input scales), residency times and regions, Jacobian eigenvalues along the orbit,
   kick-neuron candidates and the connectivity of the integrating populations (C.6);
3. world models (``--world-models``): fixed points of the closed loop under a zero action from
   filtered states of real test episodes, their stability, and the link to ``robot_controlled``.

Usage::

    python examples/hmm_emulation.py --runs /work/runs/hmm --data /work/runs/hmm/rrc_data
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from mbplan.analysis import (  # noqa: E402
    classify_regions,
    core_map,
    critical_complex_pairs,
    eigenvalues,
    filtered_states,
    find_fixed_points,
    fit_pca,
    integrating_populations,
    iterate,
    jacobians,
    kick_neuron_candidates,
    link_to_factors,
    nearest_neighbour_accuracy,
    noisy_trajectory,
    residency_times,
    world_model_map,
)
from mbplan.analysis.plots import (  # noqa: E402
    plot_connectivity,
    plot_eigenvalues,
    plot_factor_link,
    plot_state_space,
)
from mbplan.hmm import HMMEmulator, hmm_family, one_hot, sample  # noqa: E402
from mbplan.hmm.metrics import emission_report  # noqa: E402
from mbplan.hmm.sinkhorn import sinkhorn_divergence  # noqa: E402
from mbplan.hmm.training import load_emulator  # noqa: E402
from mbplan.training.checkpoint import load_checkpoint, model_from_checkpoint  # noqa: E402
from mbplan.training.run_directory import RunDirectory, write_json_atomic  # noqa: E402


def emission_section(args: argparse.Namespace, out: Path) -> dict:
    results = {}
    for family in args.families:
        run = RunDirectory(Path(args.runs) / f"hmm_{family}")
        if not run.best_checkpoint.exists():
            print(f"skip {family}: no run")
            continue
        config = run.read_config()
        hmm = hmm_family(family).build()
        emulator = load_emulator(run.best_checkpoint)
        untrained = HMMEmulator(
            config["input_size"],
            config["hidden_size"],
            generator=torch.Generator().manual_seed(config["seed"]),
        ).eval()
        settings = {"num_seq": args.num_seq, "seq_len": args.seq_len}
        trained = emission_report(
            hmm, emulator, **settings, generator=torch.Generator().manual_seed(1)
        )
        before = emission_report(
            hmm, untrained, **settings, generator=torch.Generator().manual_seed(1)
        )
        # the same statistics at the length the emulator was trained on
        at_training_length = emission_report(
            hmm,
            emulator,
            num_seq=args.num_seq,
            seq_len=config["seq_len"],
            generator=torch.Generator().manual_seed(1),
        )
        trained["at_training_length"] = {
            key: at_training_length[key]
            for key in (
                "seq_len",
                "distance_hmm_rnn",
                "distance_hmm_hmm",
                "transition_squared_difference",
                "volatility_hmm",
                "volatility_rnn",
                "frequencies_hmm",
                "frequencies_rnn",
            )
        }
        metrics = run.read_metrics()
        phases = training_phases(run)
        # the training loss's floor: Sinkhorn divergence between two HMM batches of the run's size
        baseline_generator = torch.Generator().manual_seed(5)
        pairs = [
            sinkhorn_divergence(
                *(
                    one_hot(
                        sample(
                            hmm, config["batch_size"], config["seq_len"], baseline_generator
                        ).symbols,
                        hmm.num_symbols,
                    ).flatten(1)
                    for _ in range(2)
                ),
                blur=config["blur"],
            )
            for _ in range(3)
        ]
        trained["sinkhorn_hmm_hmm_same_batch"] = float(torch.stack(pairs).mean())
        trained["untrained_distance_hmm_rnn"] = before["distance_hmm_rnn"]
        trained["untrained_transition_squared_difference"] = before["transition_squared_difference"]
        trained["epochs"] = len(metrics)
        trained["best_val_loss"] = min(row["val_loss"] for row in metrics)
        # the validation curve of every phase on this family, each cut where the next one
        # took its weights (best.pt: the best epoch; last.pt: the last)
        trained["val_loss_curve"] = [
            loss for phase in phases if phase["family"] == family for loss in phase["curve"]
        ]
        trained["train_seconds"] = sum(phase["seconds"] for phase in phases)
        trained["phases"] = [{k: v for k, v in p.items() if k != "curve"} for p in phases]
        trained["config"] = config
        results[family] = trained
        print(
            f"{family}: loss {trained['best_val_loss']:.2f} (HMM-HMM "
            f"{trained['sinkhorn_hmm_hmm_same_batch']:.2f}), HMM-RNN "
            f"{trained['distance_hmm_rnn']['mean']:.3f}, HMM-HMM "
            f"{trained['distance_hmm_hmm']['mean']:.3f}, untrained "
            f"{before['distance_hmm_rnn']['mean']:.3f}"
        )
    return results


def training_phases(run: RunDirectory) -> list[dict]:
    """The run and the runs it started from (``init_from``), first phase first.

    Each phase: its folder, family, learning rate, epochs run, the epoch whose weights the next
    phase took (``carried_epoch``; the last phase: all), seconds, and its validation curve up to
    that epoch.
    """
    phases, carried = [], None
    while True:
        config, metrics = run.read_config(), run.read_metrics()
        if carried is None:
            carried = len(metrics)
        phases.insert(
            0,
            {
                "run": str(run.path),
                "family": config["family"],
                "lr": config["lr"],
                "epochs": len(metrics),
                "carried_epoch": carried,
                "seconds": sum(row["epoch_seconds"] for row in metrics),
                "curve": [row["val_loss"] for row in metrics[:carried]],
            },
        )
        source = config.get("init_from") or ""
        if not source:
            return phases
        source = Path(source)
        run = RunDirectory(source.parent)
        if source.name == "best.pt":
            carried = int(load_checkpoint(source)["best"]["epoch"])
        else:
            carried = None


def plot_emission(results: dict, out: Path, num_seq: int, seq_len: int) -> None:
    """Matched distances per family and the validation curves (all families in ``results``)."""
    order = ["two", "three", "four", "five", "fully", "cyclic"]
    names = [name for name in order if name in results]
    if not names:
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.8), gridspec_kw={"wspace": 0.3})
    x = torch.arange(len(names)).float()
    for offset, key, label in (
        (-0.27, "untrained_distance_hmm_rnn", "HMM-RNN untrained"),
        (0.0, "distance_hmm_rnn", "HMM-RNN trained"),
        (0.27, "distance_hmm_hmm", "HMM-HMM baseline"),
    ):
        means = [results[n][key]["mean"] for n in names]
        stds = [results[n][key]["std"] for n in names]
        left.bar(x + offset, means, 0.27, yerr=stds, label=label, capsize=2)
    left.set_xticks(x, names)
    left.set_ylabel("matched Euclidean distance")
    left.legend(fontsize=8, loc="lower left")
    left.set_title(f"{num_seq} sequences of length {seq_len}", fontsize=10)
    for name in names:
        curve = results[name]["val_loss_curve"]
        right.plot(
            curve, label=f"{name} (HMM-HMM {results[name]['sinkhorn_hmm_hmm_same_batch']:.1f})"
        )
    right.set_xlabel("epoch")
    right.set_ylabel("validation Sinkhorn divergence")
    right.set_yscale("log")
    right.legend(fontsize=7)
    fig.savefig(out / "hmm_emission_distances.png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def winding(projected: torch.Tensor, centre: torch.Tensor) -> float:
    """Net turns of a PC1-PC2 trajectory ``(T, 2)`` around ``centre``."""
    angles = torch.atan2(projected[:, 1] - centre[1], projected[:, 0] - centre[0])
    steps = torch.diff(angles)
    steps = (steps + math.pi) % (2 * math.pi) - math.pi
    return float(steps.sum() / (2 * math.pi))


def mechanism_section(args: argparse.Namespace, out: Path) -> dict:
    run = RunDirectory(Path(args.runs) / f"hmm_{args.analyse}")
    emulator = load_emulator(run.best_checkpoint).double()
    cell = emulator.cell
    generator = torch.Generator().manual_seed(2)
    size, inputs = cell.hidden_size, cell.input_size
    readout = lambda h: h @ cell.weight_out.T  # noqa: E731
    with torch.no_grad():
        start = noisy_trajectory(cell, torch.zeros(1, size, dtype=torch.float64), 20, generator)
        states = noisy_trajectory(cell, start[:, -1], args.steps, generator)[0]  # (T, H)
        logits = readout(states)
    norms = states.norm(dim=-1)
    if not torch.isfinite(norms).all():
        # an expanding emulator: the state norm grows without bound under noise (the argmax of
        # a bias-free ReLU network's read-out depends only on the state's direction)
        first_bad = int((~torch.isfinite(norms)).nonzero()[0, 0])
        print(f"{args.analyse}: the noisy run diverges (non-finite at step {first_bad})")
        return {
            "steps": args.steps,
            "diverged_at_step": first_bad,
            "state_norm_at_step": {
                str(t): float(norms[t]) for t in (0, 9, 29, 99, 299) if t < first_bad
            },
        }
    labels = logits.argmax(-1)
    results: dict = {
        "steps": args.steps,
        "label_fractions": torch.bincount(labels, minlength=3).div(args.steps).tolist(),
    }

    # 1. autonomous dynamics: fixed points of h -> ReLU(W_hh h) from states of the noisy run
    autonomous = core_map(cell, torch.zeros(inputs, dtype=torch.float64))
    picks = torch.randint(0, args.steps, (1024,), generator=generator)
    started = time.perf_counter()
    found = find_fixed_points(autonomous, states[picks], steps=300, q_threshold=1e-10)
    results["fixed_points_seconds"] = time.perf_counter() - started
    results["fixed_points"] = {
        "starts": 1024,
        "converged": int((found.assignment >= 0).sum()),
        "distinct": int(found.points.shape[0]),
        "stability": found.stability,
        "counts": found.counts.tolist(),
        "norms": found.points.norm(dim=-1).tolist(),
        "max_modulus": found.eigenvalues.abs().max(-1).values.tolist(),
        "active_units": (found.points > 1e-9).sum(-1).tolist(),
    }
    with torch.no_grad():
        collapsed = iterate(autonomous, states[picks[:100]], 500)
    results["collapse_500_steps"] = {
        "max_distance_to_mean": float((collapsed - collapsed.mean(0)).norm(dim=-1).max()),
        "mean_state_norm": float(collapsed.norm(dim=-1).mean()),
        "distance_to_fixed_point": float((collapsed.mean(0) - found.points[0]).norm())
        if found.points.shape[0]
        else None,
    }

    # 2. PCA, orbits, input scales
    pca = fit_pca(states, 3)
    projected = pca.project(states)
    fixed_projected = pca.project(found.points)
    results["pca_explained_variance_ratio"] = pca.explained_variance_ratio.tolist()
    with torch.no_grad():
        decays = iterate(autonomous, states[picks[:12]], 60, return_trajectory=True)
    plot_state_space(
        out / f"hmm_{args.analyse}_orbit_pca.png",
        projected[: min(args.steps, 1500)],
        labels[: min(args.steps, 1500)].double(),
        points=fixed_projected,
        stability=found.stability,
        title=f"{args.analyse}: noise-driven run (colour: emitted argmax), fixed point (no input)",
        color_label="argmax logit (symbol)",
    )
    plot_state_space(
        out / f"hmm_{args.analyse}_collapse_pca.png",
        pca.project(decays),
        torch.arange(61).double().expand(12, -1),
        points=fixed_projected,
        stability=found.stability,
        lines=True,
        title=f"{args.analyse}: without input, 12 states from the noisy run collapse",
        color_label="step without input",
    )
    centre = fixed_projected[0, :2] if found.points.shape[0] else projected[:, :2].mean(0)
    results["winding_turns"] = winding(projected[:, :2], centre)
    scales = {}
    clouds, colours = [], []
    for std in (0.1, 1.0, 2.0):
        with torch.no_grad():
            run_states = noisy_trajectory(cell, states[-1:], 1500, generator, input_std=std)[0]
        scale_labels = readout(run_states).argmax(-1)
        proj = pca.project(run_states)
        scales[str(std)] = {
            "label_fractions": torch.bincount(scale_labels, minlength=3).div(1500).tolist(),
            "switches": int((scale_labels[1:] != scale_labels[:-1]).sum()),
            "mean_distance_to_fixed_point": float(
                (run_states - found.points[0]).norm(dim=-1).mean()
            )
            if found.points.shape[0]
            else None,
            "winding_turns": winding(proj[:, :2], centre),
        }
        clouds.append(proj)
        colours.append(torch.full((1500,), std, dtype=torch.float64))
    results["input_scales"] = scales
    plot_state_space(
        out / f"hmm_{args.analyse}_input_scales_pca.png",
        torch.cat(clouds),
        torch.cat(colours),
        points=fixed_projected,
        stability=found.stability,
        title=f"{args.analyse}: runs at input std 0.1, 1, 2",
        color_label="input std",
    )

    # 3. residency times and regions
    sample_states = states[: args.residency_states]
    rt = residency_times(cell, readout, sample_states, generator, repeats=20, max_steps=50)
    max_prob = torch.softmax(readout(sample_states), -1).max(-1).values
    regions = classify_regions(rt, max_prob)
    results["residency"] = {
        "states": args.residency_states,
        "mean": float(rt.mean()),
        "region_fractions": {r: regions.count(r) / len(regions) for r in dict.fromkeys(regions)},
    }
    plot_state_space(
        out / f"hmm_{args.analyse}_residency_pca.png",
        projected[: args.residency_states],
        rt,
        points=fixed_projected,
        stability=found.stability,
        title=f"{args.analyse}: residency time (steps until the argmax changes, 20 repeats)",
        color_label="residency time",
    )

    # 4. Jacobians (zero input) along the orbit, by region
    with torch.no_grad():
        eig = eigenvalues(jacobians(autonomous, sample_states))
    unstable = (eig.abs() > 1).sum(-1).double()
    critical = critical_complex_pairs(eig).double()
    by_region = {}
    for region in dict.fromkeys(regions):
        mask = torch.tensor([r == region for r in regions])
        by_region[region] = {
            "states": int(mask.sum()),
            "unstable_eigenvalues": float(unstable[mask].mean()),
            "critical_complex_pairs": float(critical[mask].mean()),
            "max_modulus": float(eig[mask].abs().max(-1).values.mean()),
        }
    results["jacobians_by_region"] = by_region
    plot_eigenvalues(
        out / f"hmm_{args.analyse}_eigenvalues_by_region.png",
        eig,
        groups=regions,
        title=f"{args.analyse}: eigenvalues of J = D(h) W_hh along the noisy run",
    )

    # 5. kick neurons and integrating populations
    candidates = kick_neuron_candidates(states, labels, window=3, top=3)
    results["kick_candidates"] = {
        "directions": candidates.directions,
        "units": candidates.units.tolist(),
        "z_scores": candidates.scores.tolist(),
        "switches": candidates.switches.tolist(),
    }
    if len(candidates.directions) >= 2:
        order = candidates.switches.argsort(descending=True)[:2].tolist()
        group1, group2 = (candidates.units[i].tolist() for i in order)
        weight = cell.weight_hh.detach()
        pop1, pop2 = integrating_populations(weight, group1, group2, count=70)
        blocks = {
            "kick A": group1,
            "kick B": group2,
            "pop 1": pop1.tolist(),
            "pop 2": pop2.tolist(),
        }
        means = {
            f"{src}->{dst}": float(weight[blocks[dst]][:, blocks[src]].mean())
            for src in blocks
            for dst in blocks
        }
        # control: the same rule and groups on the untrained network of the same seed
        untrained = (
            HMMEmulator(
                cell.input_size,
                size,
                generator=torch.Generator().manual_seed(run.read_config()["seed"]),
            )
            .cell.weight_hh.detach()
            .double()
        )
        c1, c2 = integrating_populations(untrained, group1, group2, count=70)
        control = {"kick A": group1, "kick B": group2, "pop 1": c1.tolist(), "pop 2": c2.tolist()}
        results["connectivity_untrained_control"] = {
            f"{src}->{dst}": float(untrained[control[dst]][:, control[src]].mean())
            for src in control
            for dst in control
        }
        results["connectivity"] = {
            "groups": {k: v for k, v in blocks.items()},
            "directions": [candidates.directions[i] for i in order],
            "block_mean_weights": means,
            "overall_mean_weight": float(weight.mean()),
        }
        plot_connectivity(
            out / f"hmm_{args.analyse}_kick_connectivity.png",
            weight,
            blocks,
            title=f"{args.analyse}: W_hh, kick candidates and integrating populations",
        )
    return results


def world_model_section(args: argparse.Namespace, out: Path) -> dict:
    from mbplan.data import SequenceDataset

    dataset = SequenceDataset(args.data, split="test")
    items = [dataset[i] for i in range(len(dataset))]
    observations = torch.stack([item["observations"] for item in items])
    actions = torch.stack([item["actions"] for item in items])
    flags = torch.stack([item["flags"] for item in items])
    results = {}
    generator = torch.Generator().manual_seed(3)
    for name in args.world_models:
        path = Path(args.runs) / name / "best.pt"
        if not path.exists():
            print(f"skip {name}: no run")
            continue
        payload = load_checkpoint(path)
        model = model_from_checkpoint(payload).double()
        states = filtered_states(model, observations.double(), actions.double())  # (B, T, S)
        after = flags[:, 1:].double()  # factor after the step that produced the state
        flat_states = states.reshape(-1, states.shape[-1])
        flat_obs = observations[:, 1:].double().reshape(-1, observations.shape[-1])
        flat_flags = after.reshape(-1, after.shape[-1])
        picks = torch.randperm(flat_states.shape[0], generator=generator)[: args.world_starts]
        starts = torch.cat([flat_states[picks], flat_obs[picks]], -1)
        state_map = world_model_map(model, torch.zeros(model.action_dim, dtype=torch.float64))
        started = time.perf_counter()
        found = find_fixed_points(
            state_map, starts, steps=400, q_threshold=1e-10, dedupe_tol=args.dedupe_tol
        )
        seconds = time.perf_counter() - started
        size = model.state_size
        start_flags = flat_flags[picks, 0]
        basin = {}
        for flag_value in (0.0, 1.0):
            chosen = (start_flags == flag_value) & (found.assignment >= 0)
            reached = found.assignment[chosen]
            basin[str(int(flag_value))] = {
                "starts": int((start_flags == flag_value).sum()),
                "converged": int(chosen.sum()),
                "distinct_points_reached": int(reached.unique().numel()),
            }
        labels_by_point = torch.full((found.points.shape[0],), float("nan"), dtype=torch.float64)
        for index in range(found.points.shape[0]):
            chosen = found.assignment == index
            labels_by_point[index] = start_flags[chosen].mean()
        pure = labels_by_point[~labels_by_point.isnan()]
        stability_counts = {s: found.stability.count(s) for s in dict.fromkeys(found.stability)}
        top = found.counts.argsort(descending=True)[:12]
        link = link_to_factors(
            found.points[top, :size], flat_states, flat_flags, dataset.flag_names
        )
        converged = found.assignment >= 0
        reached = found.final_states[converged, :size]
        reached_flags = start_flags[converged]
        decodability = {
            "fixed_points_reached": nearest_neighbour_accuracy(reached, reached_flags),
            "filtered_start_states": nearest_neighbour_accuracy(flat_states[picks], start_flags),
            "majority_rate": float(max(reached_flags.mean(), 1 - reached_flags.mean())),
        }
        pca = fit_pca(flat_states, 2)
        plot_state_space(
            out / f"hmm_world_{name}_attractors.png",
            pca.project(reached),
            reached_flags,
            title=f"{name}: fixed points reached under a = 0 from {int(converged.sum())} "
            "filtered states",
            color_label="robot_controlled at the start",
        )
        shown = torch.randperm(flat_states.shape[0], generator=generator)[:3000]
        plot_state_space(
            out / f"hmm_world_{name}_fixed_points.png",
            pca.project(flat_states[shown]),
            flat_flags[shown, 0],
            points=pca.project(found.points[top, :size]),
            stability=[found.stability[i] for i in top.tolist()],
            title=f"{name}: filtered latents (test), 12 most visited fixed points (a = 0)",
            color_label="robot_controlled",
        )
        plot_factor_link(
            out / f"hmm_world_{name}_factor_link.png",
            link.counts,
            link.factor_means,
            link.flag_names,
            title=f"{name}: filtered states per nearest fixed point (12 most attracting)",
        )
        modulus = found.eigenvalues.abs().detach()
        results[name] = {
            "core": payload["model_hparams"]["core"],
            "epoch": int(payload["epoch"]),
            "state_size": size,
            "starts": args.world_starts,
            "seconds": seconds,
            "converged": int((found.assignment >= 0).sum()),
            "distinct": int(found.points.shape[0]),
            "stability_counts": stability_counts,
            "eigenvalues_near_one_per_point": float(
                ((modulus - 1).abs() < 1e-3).sum(-1).double().mean()
            ),
            "max_modulus_median": float(modulus.max(-1).values.median()) if len(modulus) else None,
            "basins_by_start_flag": basin,
            "flag_1nn_accuracy": decodability,
            "points_with_mixed_start_flags": int(((pure > 0) & (pure < 1)).sum()),
            "points_pure_controlled": int((pure == 1).sum()),
            "points_pure_uncontrolled": int((pure == 0).sum()),
            "top12_counts": link.counts.tolist(),
            "top12_robot_controlled_mean": link.factor_means[:, 0].tolist(),
            "top12_nearest_mean_distance": float(link.distance.mean()),
        }
        print(name, json.dumps(results[name])[:400])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="/work/runs/hmm")
    parser.add_argument("--data", default="/work/runs/hmm/rrc_data")
    parser.add_argument("--out", default="docs/results")
    parser.add_argument(
        "--families", nargs="*", default=["two", "three", "four", "five", "fully", "cyclic"]
    )
    parser.add_argument("--analyse", default="two")
    parser.add_argument("--world-models", nargs="*", default=["rrc_gatel0rd", "rrc_gru"])
    parser.add_argument("--num-seq", type=int, default=1000)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--steps", type=int, default=3000, help="noisy run length")
    parser.add_argument("--residency-states", type=int, default=300)
    parser.add_argument("--world-starts", type=int, default=1024)
    parser.add_argument("--dedupe-tol", type=float, default=1e-2)
    parser.add_argument("--sections", nargs="+", default=["emission", "mechanism", "world"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "hmm_results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    started = time.perf_counter()
    if "emission" in args.sections:
        results.setdefault("emission", {}).update(emission_section(args, out))
        plot_emission(results["emission"], out, args.num_seq, args.seq_len)
    if "mechanism" in args.sections:
        results.setdefault("mechanism", {})[args.analyse] = mechanism_section(args, out)
    if "world" in args.sections:
        results["world_models"] = world_model_section(args, out)
    results[f"seconds_{'_'.join(args.sections)}"] = time.perf_counter() - started
    write_json_atomic(results_path, results)
    print(f"wrote {results_path}")


if __name__ == "__main__":
    main()
