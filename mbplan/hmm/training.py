"""Training an :class:`~mbplan.hmm.emulator.HMMEmulator` by matching emission statistics.

The reference's ``train_model`` (``shared/reference/cells.md`` C.4): no per-sequence supervision.
Per epoch, the training sequences of the HMM are taken in order in batches of ``batch_size``; for
each batch the emulator generates as many sequences from fresh noise, and the loss is the debiased
Sinkhorn divergence (blur 0.2) between the two clouds of flattened one-hot sequences
(:func:`~mbplan.hmm.sinkhorn.sinkhorn_divergence`). Adam (lr 1e-3, betas (0.9, 0.9)), gradient
norm clipped to 0.9 (linear chains) or 0.3 (fully connected and cyclic). Validation uses fresh
noise on the validation third; the best-validation model is kept.

The data: ``num_seq`` sequences sampled once from the HMM with ``numpy.random.default_rng(seed)``,
split into thirds (train, validation, test), as the reference. They are a function of the config,
so they are re-drawn identically on resumption and never stored.

Runs are ordinary mbplan run folders (:class:`~mbplan.training.run_directory.RunDirectory`):
``config.json``, ``metrics.jsonl`` (one row per epoch), ``last.pt`` (model, optimiser, generator
state, epoch) and ``best.pt``, written atomically with
:func:`~mbplan.training.checkpoint.save_checkpoint`. ``train_emulator(config)`` on a folder that
already holds this config continues where the last completed epoch left off and gives the same
numbers as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from mbplan.hmm.emulator import HMMEmulator
from mbplan.hmm.models import HMM, hmm_family
from mbplan.hmm.sampler import one_hot, sample
from mbplan.hmm.sinkhorn import sinkhorn_divergence
from mbplan.models.validation import require_positive_int
from mbplan.training.checkpoint import load_checkpoint, save_checkpoint
from mbplan.training.run_directory import RunDirectory

logger = logging.getLogger(__name__)


@dataclass
class HMMTrainConfig:
    """Settings of one emulator training run (reference defaults; ``None`` = the family's).

    Attributes:
        family: one of :data:`~mbplan.hmm.models.HMM_FAMILIES` (two, three, four, five, fully,
            cyclic).
        out: run folder.
        hidden_size: ``H`` (reference grid 50 / 150 / 200).
        input_size: noise dimension (reference grid 1 / 10 / 100 / 200).
        num_seq: HMM sequences, split into thirds (reference 30000).
        seq_len: steps per sequence (``None``: the family's, 30-100).
        batch_size: sequences per update (reference 4096).
        epochs: passes over the training third (``None``: the family's, 500 or 1000).
        lr: Adam learning rate (reference 1e-3).
        beta1: Adam beta 1 (reference 0.9).
        beta2: Adam beta 2 (reference 0.9).
        grad_clip: gradient-norm clip (``None``: the family's, 0.9 or 0.3).
        blur: Sinkhorn blur (reference 0.2).
        tau: Gumbel-softmax temperature (reference 1).
        seed: the one seed: HMM data, initial weights, all noise.
        init_from: a checkpoint (another run's ``best.pt`` or ``last.pt``) whose weights replace
            the seeded initialisation, with a fresh optimiser: a two-phase schedule, e.g. leave
            the plateau at lr 5e-3, then refine at 1e-3 (not in the reference, which trains at
            one learning rate). ``""``: start from the seed's initialisation.
        device: torch device.
        progress: show a tqdm bar.
    """

    family: str = "two"
    out: str = ""
    hidden_size: int = 150
    input_size: int = 100
    num_seq: int = 30000
    seq_len: int | None = None
    batch_size: int = 4096
    epochs: int | None = None
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.9
    grad_clip: float | None = None
    blur: float = 0.2
    tau: float = 1.0
    seed: int = 0
    init_from: str = ""
    device: str = "cpu"
    progress: bool = True


def resolve_hmm_config(config: HMMTrainConfig) -> HMMTrainConfig:
    """Fill the family's defaults and check every field."""
    family = hmm_family(config.family)
    resolved = dataclasses.replace(
        config,
        seq_len=family.seq_len if config.seq_len is None else config.seq_len,
        epochs=family.epochs if config.epochs is None else config.epochs,
        grad_clip=family.grad_clip if config.grad_clip is None else config.grad_clip,
    )
    for name in ("hidden_size", "input_size", "num_seq", "seq_len", "batch_size", "epochs"):
        require_positive_int(name, getattr(resolved, name))
    if resolved.num_seq < 3:
        raise ValueError(f"num_seq: expected at least 3 sequences (thirds), got {resolved.num_seq}")
    for name in ("lr", "blur", "tau", "grad_clip"):
        if not getattr(resolved, name) > 0:
            raise ValueError(f"{name}: expected a value > 0, got {getattr(resolved, name)!r}")
    if not resolved.out:
        raise ValueError("out: expected a run folder")
    return resolved


def hmm_splits(hmm: HMM, config: HMMTrainConfig, device: torch.device) -> dict[str, torch.Tensor]:
    """The run's one-hot HMM data ``(n, seq_len, K)`` per split (train, val, test thirds)."""
    assert config.seq_len is not None
    symbols = sample(hmm, config.num_seq, config.seq_len, np.random.default_rng(config.seed))
    data = one_hot(symbols.symbols, hmm.num_symbols).to(device)
    third = config.num_seq // 3
    return {"train": data[:third], "val": data[third : 2 * third], "test": data[2 * third :]}


def initial_emulator(
    config: HMMTrainConfig,
    num_symbols: int,
    generator: torch.Generator,
    device: torch.device | str,
) -> HMMEmulator:
    """The run's model before its first update: seeded from ``generator``, or ``init_from``'s.

    Raises:
        ValueError: when ``init_from`` is missing or holds another architecture.
    """
    model = HMMEmulator(
        config.input_size, config.hidden_size, num_symbols, config.tau, generator=generator
    )
    if config.init_from:
        path = Path(config.init_from)
        if not path.is_file():
            raise ValueError(f"init_from: no checkpoint at {path}")
        payload = load_checkpoint(path, map_location="cpu")
        if payload.get("model_hparams") != model.hparams:
            raise ValueError(
                f"init_from: {path} holds an emulator with {payload.get('model_hparams')}, "
                f"this run builds {model.hparams}"
            )
        model.load_state_dict(payload["model"])
    return model.to(device)


def _epoch_loss(
    model: HMMEmulator,
    data: torch.Tensor,
    config: HMMTrainConfig,
    generator: torch.Generator,
    optimiser: torch.optim.Optimizer | None,
) -> float:
    """Mean Sinkhorn loss over the batches of ``data``; updates when ``optimiser`` is given."""
    losses = []
    for start in range(0, data.shape[0], config.batch_size):
        target = data[start : start + config.batch_size]
        with torch.set_grad_enabled(optimiser is not None):
            generated = model(target.shape[0], target.shape[1], generator).symbols
            loss = sinkhorn_divergence(generated.flatten(1), target.flatten(1), blur=config.blur)
        if optimiser is not None:
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            assert config.grad_clip is not None
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimiser.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def _payload(
    model: HMMEmulator,
    optimiser: torch.optim.Optimizer | None,
    generator: torch.Generator | None,
    epoch: int,
    config: HMMTrainConfig,
    best: dict[str, Any],
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "model": model.state_dict(),
        "model_hparams": model.hparams,
        "epoch": epoch,
        "config": dataclasses.asdict(config),
        "best": dict(best),
    }
    if optimiser is not None and generator is not None:
        payload["optimizer"] = optimiser.state_dict()
        payload["rng"] = {"generator": generator.get_state()}
    return payload


def load_emulator(path: str | Path, device: str | torch.device = "cpu") -> HMMEmulator:
    """Rebuild the emulator saved in a checkpoint (``best.pt`` or ``last.pt``), in eval mode."""
    payload = load_checkpoint(path, map_location=device)
    model = HMMEmulator(**payload["model_hparams"])
    model.load_state_dict(payload["model"])
    return model.to(device).eval()


def train_emulator(config: HMMTrainConfig) -> dict[str, Any]:
    """Train (or resume) one emulator run; returns the best validation loss, epoch and folder.

    Resumption: when ``config.out`` already holds a run, its saved config must equal this one
    (except ``epochs``, ``progress`` and ``device``, which may change), and training continues
    from ``last.pt``.
    """
    config = resolve_hmm_config(config)
    device = torch.device(config.device)
    run = RunDirectory(config.out)
    hmm = hmm_family(config.family).build()
    data = hmm_splits(hmm, config, device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    model = initial_emulator(config, hmm.num_symbols, generator, device)
    optimiser = torch.optim.Adam(
        model.parameters(), lr=config.lr, betas=(config.beta1, config.beta2)
    )
    epoch, best = 0, {"val_loss": float("inf"), "epoch": 0}
    if run.config_path.exists():
        _check_same_run(run.read_config(), dataclasses.asdict(config), run.path)
        if run.last_checkpoint.exists():
            payload = load_checkpoint(run.last_checkpoint, map_location=device)
            model.load_state_dict(payload["model"])
            optimiser.load_state_dict(payload["optimizer"])
            generator.set_state(payload["rng"]["generator"].cpu())
            epoch, best = int(payload["epoch"]), dict(payload["best"])
            run.keep_metrics_until(epoch)
    else:
        run.create(dataclasses.asdict(config))
    assert config.epochs is not None
    bar = tqdm(total=config.epochs, initial=epoch, disable=not config.progress, unit="epoch")
    while epoch < config.epochs:
        started = time.perf_counter()
        model.train()
        train_loss = _epoch_loss(model, data["train"], config, generator, optimiser)
        model.eval()
        val_loss = _epoch_loss(model, data["val"], config, generator, None)
        epoch += 1
        if val_loss < best["val_loss"]:
            best = {"val_loss": val_loss, "epoch": epoch}
            save_checkpoint(run.best_checkpoint, _payload(model, None, None, epoch, config, best))
        save_checkpoint(
            run.last_checkpoint, _payload(model, optimiser, generator, epoch, config, best)
        )
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "epoch_seconds": time.perf_counter() - started,
        }
        run.append_metrics(row)
        bar.update(1)
        bar.set_postfix(loss=f"{train_loss:.3f}", val=f"{val_loss:.3f}")
    bar.close()
    return {"best_val_loss": best["val_loss"], "best_epoch": best["epoch"], "run": str(run.path)}


_MAY_CHANGE = ("epochs", "progress", "device")


def _check_same_run(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    differing = sorted(
        key for key in current if key not in _MAY_CHANGE and saved.get(key) != current[key]
    )
    if differing:
        raise ValueError(
            f"out: {path} holds a run with different settings ({', '.join(differing)}); "
            "choose another folder"
        )
