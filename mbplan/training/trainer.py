"""The trainer: the reference's protocol for world models, with runs on disk and exact resume.

Protocol (``shared/reference/gatel0rd.md`` Sec. 3): the loss is the next-observation MSE plus the
model's ``lambda * mean(Theta)``; Adam with ``eps = 1e-4``; gradient-norm clipping at 0.1; inputs
after the first ``k`` are real with probability ``p = max(floor, slope ** epoch)`` under scheduled
sampling and always under teacher forcing, drawn per (sequence, step) by the model from the
trainer's ``torch.Generator``; validation in eval mode (gate noise off) with ``teacher_prob = 0``,
i.e. fully autoregressive after the first ``k`` steps, as the MSE over all steps (the first ``k``
one-step predictions included, as the reference). The lowest-validation model is kept in
``best.pt``. Where the validation data have Shepherd's ``gate_open`` flag, each validation row
also holds the sheep-reappearance error (``val_reappearance``,
:mod:`mbplan.evaluation.reappearance`), which does not choose the best model.

Reproducibility: weight init, gate noise and anything else the model draws from torch's global
generator run inside ``torch.random.fork_rng`` seeded from ``config.seed``, so the caller's global
state is left untouched; the scheduled-sampling generator is a separate seeded ``torch.Generator``;
the batch order of epoch ``e`` depends on ``(seed, e)`` alone (``batches.epoch_generator``). Both
generator states are stored in every checkpoint. Ctrl-C (SIGINT) or SIGTERM finishes the current
batch, saves ``last.pt`` **mid-epoch** (completed epochs plus batches done) and returns;
``Trainer.resume`` recomputes that epoch's batch order, skips the batches done and continues, so on
the CPU an interrupted-and-resumed run ends with weights identical to an uninterrupted one. A new
run writes ``last.pt`` before its first update, and a folder holding only ``config.json`` (a run
killed before that) resumes from the beginning, so no interruption leaves a run that cannot be
continued. A non-finite loss raises ``NonFiniteLossError`` naming the epoch and batch and what
``last.pt`` holds.

Warmup (``config.warmup.steps > 0``, :mod:`mbplan.training.warmup`): VAA* steps on the model
before the first update, one row per step in ``warmup.jsonl``; its draws come from its own
generators, so the run's other randomness is the same with or without it. ``last.pt`` is saved
when it ends and on Ctrl-C during it (its step count and Adam state included); resuming continues
it bit-exactly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from mbplan.data.tensors import SequenceTensors, load_split
from mbplan.evaluation.prediction import autoregressive_mse
from mbplan.evaluation.reappearance import validation_event_metrics
from mbplan.training.batches import epoch_batches, epoch_generator
from mbplan.training.checkpoint import load_checkpoint, save_checkpoint
from mbplan.training.config import TrainConfig
from mbplan.training.loss import prediction_loss
from mbplan.training.run_directory import RunDirectory
from mbplan.training.schedules import teacher_probability
from mbplan.training.stop_signals import stop_on_signals
from mbplan.training.warmup import world_model_warmup

logger = logging.getLogger(__name__)

#: offset that separates the scheduled-sampling generator's seed from the global one.
_MASK_SEED_OFFSET = 0x5EED


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; ``last.pt`` keeps the last saved position."""


@dataclasses.dataclass
class TrainResult:
    """What a call to ``Trainer.fit`` achieved.

    Attributes:
        run_dir: the run folder.
        epochs_done: completed epochs.
        batches_done: batches done in the unfinished epoch (0 unless interrupted mid-epoch).
        best_epoch: epoch of the best validation, ``None`` before the first validation.
        best_val_mse: the best validation error (``inf`` before the first validation).
        interrupted: whether the run stopped on Ctrl-C or SIGTERM before its last epoch.
        metrics: the rows of ``metrics.jsonl``.
    """

    run_dir: Path
    epochs_done: int
    batches_done: int
    best_epoch: int | None
    best_val_mse: float
    interrupted: bool
    metrics: list[dict[str, Any]]


@dataclasses.dataclass
class _Position:
    """Where the run stands; everything here goes into the checkpoint."""

    epoch: int = 0
    batch: int = 0
    updates: int = 0
    train_seconds: float = 0.0
    best_epoch: int | None = None
    best_val_mse: float = math.inf
    # sums of the training losses since the last validation
    sum_loss: float = 0.0
    sum_mse: float = 0.0
    sum_regularization: float = 0.0
    sum_batches: int = 0


def resolve_config(config: TrainConfig) -> TrainConfig:
    """Fill in the learning rate and the full model kwargs from ``mbplan.models``.

    Returns:
        A copy whose ``lr`` is set (the paper's value for task, core and regime unless given) and
        whose ``model`` holds ``preset(task)`` updated with the given overrides.
    """
    from mbplan.models import learning_rate, preset

    lr = (
        config.lr
        if config.lr is not None
        else learning_rate(config.task, config.core, config.regime)
    )
    return config.replace(lr=float(lr), model={**preset(config.task), **config.model})


def build_model(config: TrainConfig, obs_dim: int, action_dim: int) -> torch.nn.Module:
    """Build ``make_world_model(config.core, obs_dim, action_dim, **config.model)`` on the device.

    Weight initialisation draws from torch's global generator; call this inside the trainer's
    forked RNG (``Trainer`` does) for a seeded init.
    """
    from mbplan.models import make_world_model

    model = make_world_model(config.core, obs_dim, action_dim, **config.model)
    return model.to(config.device)


class Trainer:
    """Train one world model on one dataset with teacher forcing or scheduled sampling.

    Args:
        config: the run's configuration; ``lr`` and ``model`` are resolved with
            ``resolve_config`` if ``model`` is not given.
        train_data: training sequences (default: ``config.train_split`` of ``config.data``).
        val_data: validation sequences (default: ``config.val_split`` of ``config.data``).
        model: a ready world model (default: built from the config under the run's seed).
        resuming: internal (set by :meth:`resume`): the folder already holds this run.

    Raises:
        FileExistsError: if ``config.out`` already holds a run (checked before any work).
        ValueError: for an unavailable ``config.device`` or bad settings.
    """

    def __init__(
        self,
        config: TrainConfig,
        train_data: SequenceTensors | None = None,
        val_data: SequenceTensors | None = None,
        model: torch.nn.Module | None = None,
        *,
        resuming: bool = False,
    ) -> None:
        from mbplan.errors import check_device

        if not config.out:
            raise ValueError("out: expected a run directory, got an empty string")
        if not resuming:
            RunDirectory(config.out).check_new()
        check_device(config.device)
        if model is None:
            config = resolve_config(config)
        elif config.lr is None:
            raise ValueError("lr: expected a learning rate when a ready model is passed, got None")
        self.config = config
        self.device = torch.device(config.device)
        if train_data is None:
            train_data = self._load(config.train_split)
        if val_data is None:
            val_data = self._load(config.val_split)
        self.train_data = train_data.to(self.device)
        self.val_data = val_data.to(self.device)
        self.run = RunDirectory(config.out)
        self._stop_requested = False
        self._rng = _ForkedGlobalRNG(config.seed, self.device)
        with self._rng.active():
            self.model = model if model is not None else self._build_model()
        self.model.to(self.device)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=float(config.lr), eps=config.adam_eps
        )
        self.mask_generator = torch.Generator(device=self.device)
        self.mask_generator.manual_seed(config.seed + _MASK_SEED_OFFSET)
        self.position = _Position()
        self._resumed = resuming
        #: (epoch, batch) that last.pt holds, once written
        self._saved_at: tuple[int, int] | None = None
        self.warmup = None
        if config.warmup.steps > 0:
            self.warmup = world_model_warmup(
                self.model, self.train_data, config.warmup, config.seed
            )

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        train_data: SequenceTensors | None = None,
        val_data: SequenceTensors | None = None,
        model: torch.nn.Module | None = None,
        **overrides: Any,
    ) -> Trainer:
        """Continue the run in ``run_dir`` from its ``last.pt`` (from the start if it has none).

        Args:
            run_dir: a folder written by an earlier ``fit``.
            train_data: as in the constructor (default: reloaded from the saved config's data).
            val_data: as in the constructor.
            model: an untrained model of the saved architecture (default: rebuilt from the
                checkpoint's ``model_hparams``).
            **overrides: config fields to change, e.g. ``epochs`` to extend the run, ``progress``.

        Raises:
            FileNotFoundError: if the folder holds no run.
            ValueError: if an override would change the trajectory of the run (anything but
                ``epochs``, ``progress``, ``tensorboard``, ``device``, ``data``), or ``data``
                names another dataset than the run's (``RunMismatchError``; a dataset that only
                moved is accepted and its new path recorded).
        """
        allowed = {"epochs", "progress", "tensorboard", "device", "data"}
        changed = sorted(set(overrides) - allowed)
        if changed:
            raise ValueError(
                f"overrides: only {sorted(allowed)} may change on resume, got {changed}"
            )
        run = RunDirectory(run_dir)
        saved = TrainConfig.from_dict(run.read_config())
        if overrides.get("data") and train_data is None:
            run.check_dataset(overrides["data"])
        config = saved.replace(out=str(run.path), **overrides)
        if not run.last_checkpoint.is_file():  # killed before its first checkpoint: start over
            logger.info("%s has no %s; starting the run from the beginning", run.path, "last.pt")
            run.keep_metrics_until(0)
            return cls(config, train_data, val_data, model, resuming=True)
        from mbplan.errors import check_device

        check_device(config.device)
        payload = load_checkpoint(run.last_checkpoint, map_location=config.device)
        if model is None:
            from mbplan.models import make_world_model

            with torch.random.fork_rng(devices=[]):  # the weights are overwritten from payload
                model = make_world_model(**payload["model_hparams"])
        trainer = cls(config, train_data=train_data, val_data=val_data, model=model, resuming=True)
        trainer._restore(payload)
        return trainer

    def _load(self, split: str) -> SequenceTensors:
        if not self.config.data:
            raise ValueError("data: expected a dataset directory, got an empty string")
        return load_split(self.config.data, split, self.config.subsets, self.config.window)

    def _build_model(self) -> torch.nn.Module:
        obs_dim = int(self.train_data.observations.shape[-1])
        action_dim = int(self.train_data.actions.shape[-1])
        return build_model(self.config, obs_dim, action_dim)

    def _restore(self, payload: dict[str, Any]) -> None:
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.mask_generator.set_state(payload["rng"]["mask"].cpu())
        self._rng.state = payload["rng"]["global"].cpu()
        fields = {field.name for field in dataclasses.fields(_Position)}
        self.position = _Position(**{key: payload["position"][key] for key in fields})
        self.run.keep_metrics_until(self.position.epoch)
        self._saved_at = (self.position.epoch, self.position.batch)
        if self.warmup is not None:
            self.warmup.load_state_dict(payload["warmup"])
            self.run.keep_warmup_metrics_until(self.warmup.steps_done)

    def _checkpoint(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "model_hparams": dict(self.model.hparams),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.position.epoch,
            "batch": self.position.batch,
            "updates": self.position.updates,
            "rng": {"mask": self.mask_generator.get_state(), "global": self._rng.state},
            "position": dataclasses.asdict(self.position),
            "config": self.config.to_dict(),
            **({"warmup": self.warmup.state_dict()} if self.warmup is not None else {}),
        }

    def request_stop(self) -> None:
        """Ask the loop to save and return after the current batch (what Ctrl-C does)."""
        self._stop_requested = True

    def _save_last(self) -> None:
        save_checkpoint(self.run.last_checkpoint, self._checkpoint())
        self._saved_at = (self.position.epoch, self.position.batch)

    def fit(self) -> TrainResult:
        """Train until ``config.epochs`` epochs are done or a stop is requested.

        Returns:
            The run's outcome; ``interrupted`` is true after Ctrl-C or SIGTERM.

        Raises:
            NonFiniteLossError: on a NaN or infinite loss, naming the epoch and batch.
        """
        config = self.config
        self.open_run()
        bar = tqdm(
            total=config.epochs,
            initial=self.position.epoch,
            desc=f"{config.core}/{config.regime}",
            unit="epoch",
            disable=not config.progress,
            dynamic_ncols=True,
        )
        try:
            with (
                stop_on_signals(self.request_stop, "finishing the batch, then saving last.pt"),
                self._rng.active(),
            ):
                interrupted = self._warm_up() or self._loop(bar)
        finally:
            bar.close()
            self.run.close()
        return self.result(interrupted)

    def open_run(self) -> None:
        """Create the run folder (a new run), save ``last.pt`` once, open TensorBoard."""
        config = self.config
        if not self._resumed:
            self.run.create(config.to_dict())
            if config.data:
                self.run.write_dataset(config.data)
        if self._saved_at is None:  # resumable from the first update on
            self._save_last()
        if config.tensorboard:
            self.run.open_tensorboard(config.to_dict())

    def result(self, interrupted: bool) -> TrainResult:
        """The run's :class:`TrainResult` as it stands."""
        return TrainResult(
            run_dir=self.run.path,
            epochs_done=self.position.epoch,
            batches_done=self.position.batch,
            best_epoch=self.position.best_epoch,
            best_val_mse=self.position.best_val_mse,
            interrupted=interrupted,
            metrics=self.run.read_metrics(),
        )

    def _warm_up(self) -> bool:
        """Run the remaining warmup steps, then save ``last.pt``; True if stopped during them."""
        if self.warmup is None or self.warmup.done:
            return False
        done = self.warmup.run(
            lambda: self._stop_requested, self.run.append_warmup_metrics, self.config.progress
        )
        self._save_last()
        return not done

    def _loop(self, bar: tqdm) -> bool:
        config = self.config
        position = self.position
        while position.epoch < config.epochs:
            started = time.perf_counter()
            prob, batches = self.epoch_plan()
            for index in batches[position.batch :]:
                self._update(self.train_data.select(index.to(self.device)), prob)
                position.batch += 1
                if self._stop_requested:
                    break
            position.train_seconds += time.perf_counter() - started
            if self._stop_requested and position.batch < len(batches):
                self.save_stopped()
                return True
            done = self.end_epoch(prob, bar)
            if self._stop_requested and not done:
                self._save_last()
                return True
        return False

    def epoch_plan(self) -> tuple[float, list[torch.Tensor]]:
        """The current epoch's real-input probability and batches (sequence-index tensors)."""
        config = self.config
        prob = teacher_probability(
            self.position.epoch, config.regime, config.ss_slope, config.ss_floor
        )
        batches = epoch_batches(
            self.train_data.subset,
            config.batch_size,
            config.balance_subsets,
            epoch_generator(config.seed, self.position.epoch),
        )[: config.batches_per_epoch]
        return prob, batches

    def validates_next(self) -> bool:
        """Whether :meth:`end_epoch` will validate (and so read the model and optimiser)."""
        epoch = self.position.epoch + 1
        return epoch % self.config.eval_every == 0 or epoch == self.config.epochs

    def end_epoch(self, prob: float, bar: tqdm | None = None) -> bool:
        """Count the finished epoch, validate when due; returns whether the run is done."""
        position = self.position
        position.epoch += 1
        position.batch = 0
        if bar is not None:
            bar.update(1)
        done = position.epoch == self.config.epochs
        if position.epoch % self.config.eval_every == 0 or done:
            row = self._validate(prob)
            if bar is not None:
                bar.set_postfix(
                    loss=f"{row['train_loss']:.3g}", val=f"{row['val_mse']:.3g}", p=f"{prob:.2f}"
                )
        return done

    def save_stopped(self) -> None:
        """Save ``last.pt`` at the current position after a stop request, and log it."""
        self._save_last()
        logger.info(
            "stopped at epoch %d, batch %d; saved %s",
            self.position.epoch,
            self.position.batch,
            self.run.last_checkpoint,
        )

    def non_finite_message(self, loss: float) -> str:
        """What a non-finite training ``loss`` at the current batch means for the run."""
        epoch, batch = self._saved_at or (0, 0)
        return (
            f"the training loss is {loss} at epoch {self.position.epoch} (0-based), batch "
            f"{self.position.batch}; stopped. {self.run.last_checkpoint} holds the run at "
            f"epoch {epoch}, batch {batch}; resuming repeats the same updates, so start a new "
            "run with other settings (e.g. a lower --lr or --grad-clip)"
        )

    def _update(self, batch: SequenceTensors, teacher_prob: float) -> None:
        self.model.train()
        observations = batch.observations
        output = self.model(
            observations[:, :-1], batch.actions, teacher_prob, generator=self.mask_generator
        )
        terms = prediction_loss(self.model, output, observations[:, 1:])
        loss = float(terms.total.detach())
        if not math.isfinite(loss):
            raise NonFiniteLossError(self.non_finite_message(loss))
        self.optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.record_update(loss, float(terms.mse.detach()), float(terms.regularization.detach()))

    def record_update(self, loss: float, mse: float, regularization: float) -> None:
        """Count one update and add its loss terms to the sums of the next metrics row."""
        position = self.position
        position.updates += 1
        position.sum_loss += loss
        position.sum_mse += mse
        position.sum_regularization += regularization
        position.sum_batches += 1

    def _validate(self, teacher_prob: float) -> dict[str, Any]:
        position = self.position
        val = autoregressive_mse(self.model, self.val_data, batch_size=self.config.eval_batch_size)
        batches = max(position.sum_batches, 1)
        row = {
            "epoch": position.epoch,
            "updates": position.updates,
            "teacher_prob": teacher_prob,
            "lr": float(self.config.lr),
            "train_loss": position.sum_loss / batches,
            "train_mse": position.sum_mse / batches,
            "train_regularization": position.sum_regularization / batches,
            "val_mse": val,
            "epoch_seconds": position.train_seconds / max(position.epoch, 1),
        }
        row.update(
            validation_event_metrics(
                self.model, self.val_data, batch_size=self.config.eval_batch_size
            )
        )
        position.sum_loss = position.sum_mse = position.sum_regularization = 0.0
        position.sum_batches = 0
        if val < position.best_val_mse:
            position.best_val_mse = val
            position.best_epoch = position.epoch
            best = {key: value for key, value in self._checkpoint().items() if key != "optimizer"}
            best.pop("rng")
            best.pop("warmup", None)
            save_checkpoint(self.run.best_checkpoint, best)
        # the row before last.pt: a process killed between the two resumes from the previous
        # checkpoint and drops the row (keep_metrics_until); the other order would lose the row
        self.run.append_metrics(row)
        self._save_last()
        logger.info("epoch %d: %s", position.epoch, row)
        return row


class _ForkedGlobalRNG:
    """Torch's global generator, forked for the run and seeded from the run's seed.

    Inside ``active()`` the global generator (CPU, and the CUDA device in use) holds the run's
    state; outside it the caller's state is back. ``state`` is the run's CPU state, stored in
    checkpoints.
    """

    def __init__(self, seed: int, device: torch.device) -> None:
        self._devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=self._devices):
            torch.manual_seed(seed)
            self.state = torch.get_rng_state()
            self._cuda_state = torch.cuda.get_rng_state(device) if self._devices else None

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        with torch.random.fork_rng(devices=self._devices):
            torch.set_rng_state(self.state)
            if self._cuda_state is not None:
                torch.cuda.set_rng_state(self._cuda_state, self._devices[0])
            try:
                yield
            finally:
                self.state = torch.get_rng_state()
                if self._devices:
                    self._cuda_state = torch.cuda.get_rng_state(self._devices[0])
