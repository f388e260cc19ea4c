"""A run group: K runs of one core and shape trained as one batched model in one process.

Each member is an ordinary :class:`~mbplan.training.trainer.Trainer` (its own run folder, config,
metrics, TensorBoard, ``best.pt`` / ``last.pt``, weight init under its seed, scheduled-sampling
generator, warmup, validation), so ``mbplan evaluate``, ``plan``, ``compare`` and
``mbplan train --resume RUN_DIR`` work on a member unchanged. Only the update is shared: on every
tick each active member takes its next batch in its own epoch order (``epoch_generator(seed,
epoch)``), draws its mask and gate noise from its own generator exactly as its solo ``forward``
would (:meth:`WorldModel.draw_randomness <mbplan.models.world_model.WorldModel.draw_randomness>`),
and the K losses, gradients, per-member clipping and Adam steps run batched
(:class:`~mbplan.models.stacked.StackedWorldModel`,
:class:`~mbplan.training.group_optim.StackedAdam`). Nothing a member computes or draws depends on
its position in the group or on the group size; a member equals the same run trained alone to
float32 rounding (the batched arithmetic and, for Elman/GRU/LSTM, the explicit formulation of the
recurrence differ in operation order only).

Where a member's weights or Adam state are read (validation, checkpoints) they are copied back from
the stack into the member's own model and ``torch.optim.Adam``; when the set of active members
changes (a member finished or failed) the stack is rebuilt from them. Members may start at
different positions (new and resumed runs mixed) and have different budgets.

A non-finite loss stops that member only: its error is logged with its run folder, appended to its
``metrics.jsonl`` as ``{"epoch", "updates", "error"}``, and its ``last.pt`` keeps the last saved
position (as a solo run's); the other members redo the tick without it, from the same draws.
Ctrl-C or SIGTERM saves every active member's ``last.pt`` mid-epoch and returns; resuming the
group (:meth:`GroupTrainer.resume`) is bit-exact on the CPU.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mbplan.data.tensors import SequenceTensors, load_split
from mbplan.models.stacked import StackedWorldModel
from mbplan.training.config import TrainConfig
from mbplan.training.group_optim import StackedAdam, clip_member_grad_norms
from mbplan.training.loss import prediction_loss
from mbplan.training.run_directory import RunDirectory
from mbplan.training.stop_signals import stop_on_signals
from mbplan.training.trainer import Trainer, TrainResult

logger = logging.getLogger(__name__)


@dataclass
class MemberResult(TrainResult):
    """A member's :class:`TrainResult`, with ``error`` set if a non-finite loss stopped it."""

    error: str | None = None


class _Member:
    """One member's trainer and where it stands in its current epoch."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.error: str | None = None
        self.prob = 1.0
        self.batches: list[torch.Tensor] = []
        self.planned_epoch = -1

    @property
    def name(self) -> str:
        return str(self.trainer.run.path)

    @property
    def finished(self) -> bool:
        return self.trainer.position.epoch >= self.trainer.config.epochs

    def next_batch(self) -> tuple[SequenceTensors, float]:
        """The member's next batch and real-input probability (its epoch planned on entry)."""
        trainer = self.trainer
        if self.planned_epoch != trainer.position.epoch:
            self.prob, self.batches = trainer.epoch_plan()
            self.planned_epoch = trainer.position.epoch
        index = self.batches[trainer.position.batch]
        return trainer.train_data.select(index.to(trainer.device)), self.prob


class _Draws:
    """One tick's stacked inputs and draws; ``subset`` keeps the members of the rest."""

    def __init__(self, members: Sequence[_Member]) -> None:
        observations, actions, masks, noises = [], [], [], []
        for member in members:
            batch, prob = member.next_batch()
            model = member.trainer.model
            model.train()
            obs = batch.observations
            mask, noise = model.draw_randomness(
                obs.shape[0], obs.shape[1] - 1, prob, member.trainer.mask_generator, obs
            )
            observations.append(obs)
            actions.append(batch.actions)
            masks.append(mask)
            noises.append(noise)
        self.observations = torch.stack(observations)
        self.actions = torch.stack(actions)
        self.mask: torch.Tensor | None = None
        if any(mask is not None for mask in masks):  # every member takes the stepwise path
            all_real = torch.ones_like(self.observations[0, :, :-1, 0], dtype=torch.bool)
            self.mask = torch.stack([all_real if m is None else m for m in masks])
        self.noise = None if noises[0] is None else torch.stack(noises)  # type: ignore[arg-type]

    def subset(self, keep: list[int]) -> _Draws:
        chosen = object.__new__(_Draws)
        index = torch.tensor(keep, device=self.observations.device)
        chosen.observations = self.observations[index]
        chosen.actions = self.actions[index]
        chosen.mask = None if self.mask is None else self.mask[index]
        chosen.noise = None if self.noise is None else self.noise[index]
        return chosen


class GroupTrainer:
    """Train several runs of one core and shape as one batched model (see the module docstring).

    Args:
        trainers: one :class:`Trainer` per member, new or resumed, on one device, with models
            that stack (:func:`mbplan.models.stacked.architecture_key`) and batches of one shape.
            Build them with :meth:`from_configs` or :meth:`resume`.

    Raises:
        ValueError: if the members cannot share a group (naming the member and the mismatch).
    """

    def __init__(self, trainers: Sequence[Trainer]) -> None:
        if not trainers:
            raise ValueError("trainers: expected at least one member, got none")
        self.members = [_Member(trainer) for trainer in trainers]
        first = trainers[0]
        for trainer in trainers[1:]:
            _check_compatible(first, trainer)
        self._stop_requested = False

    @classmethod
    def from_configs(cls, configs: Sequence[TrainConfig]) -> GroupTrainer:
        """New runs, one per configuration (each ``config.out`` must not hold a run yet)."""
        cache: dict[tuple[Any, ...], SequenceTensors] = {}
        return cls([member_trainer(config, resume=False, cache=cache) for config in configs])

    @classmethod
    def resume(cls, run_dirs: Sequence[str | Path], **overrides: Any) -> GroupTrainer:
        """Continue the runs in ``run_dirs`` (as :meth:`Trainer.resume`, same ``overrides``)."""
        cache: dict[tuple[Any, ...], SequenceTensors] = {}
        configs = [
            TrainConfig.from_dict(RunDirectory(run_dir).read_config()).replace(out=str(run_dir))
            for run_dir in run_dirs
        ]
        return cls([member_trainer(c, resume=True, cache=cache, **overrides) for c in configs])

    def request_stop(self) -> None:
        """Ask every member to save and return after the current tick (what Ctrl-C does)."""
        self._stop_requested = True
        for member in self.members:
            member.trainer.request_stop()

    def fit(self) -> list[MemberResult]:
        """Train every member to its epochs, or until a stop is requested.

        Returns:
            One :class:`MemberResult` per member, in the order given; ``interrupted`` is true
            for members saved after Ctrl-C or SIGTERM, ``error`` set for failed members.
        """
        for member in self.members:
            member.trainer.open_run()
        try:
            with stop_on_signals(self.request_stop, "finishing the tick, then saving every member"):
                interrupted = self._warm_up() or self._loop()
        finally:
            for member in self.members:
                member.trainer.run.close()
        return [
            MemberResult(
                **vars(member.trainer.result(interrupted and member.error is None)),
                error=member.error,
            )
            for member in self.members
        ]

    def _warm_up(self) -> bool:
        for index, member in enumerate(self.members):
            with member.trainer._rng.active():
                if member.trainer._warm_up():  # stopped: the rest are saved unwarmed
                    for other in self.members[index + 1 :]:
                        other.trainer._save_last()
                    return True
        return False

    def _loop(self) -> bool:
        active = [m for m in self.members if not m.finished]
        group: _Stacked | None = None
        while active:
            if group is None:
                group = _stack(active)
            started = time.perf_counter()
            active, group = self._tick(active, group)
            elapsed = time.perf_counter() - started
            ended = False
            for index, member in enumerate(active):
                trainer = member.trainer
                trainer.position.train_seconds += elapsed
                trainer.position.batch += 1
                if trainer.position.batch < len(member.batches):
                    continue
                if trainer.validates_next():
                    _sync(group, index, trainer)
                ended |= trainer.end_epoch(member.prob)
            if self._stop_requested:
                self._save_all(active, group)
                return True
            if ended:  # a member is done: the others go on in a new stack
                active, group = [m for m in active if not m.finished], None
        return False

    def _tick(self, active: list[_Member], group: _Stacked) -> tuple[list[_Member], _Stacked]:
        """One batched update of ``active``; returns the members updated and their stack.

        A member with a non-finite loss is stopped and the tick redone without it, from the
        same draws.
        """
        draws = _Draws(active)
        stack, optimizer = group
        while True:
            terms = stack.loss(
                draws.observations, draws.actions, draws.mask, draws.noise, prediction_loss
            )
            totals = terms.total.detach().tolist()
            failed = [i for i, loss in enumerate(totals) if not math.isfinite(loss)]
            if not failed:
                break
            keep = [i for i in range(len(active)) if i not in failed]
            for i in failed:
                self._fail(active[i], totals[i])
            for i in keep:
                _sync(group, i, active[i].trainer)
            active = [active[i] for i in keep]
            if not active:
                return active, group
            draws = draws.subset(keep)
            group = _stack(active)
            stack, optimizer = group
        optimizer.zero_grad()
        terms.total.sum().backward()
        clip_member_grad_norms(stack.parameters, [m.trainer.config.grad_clip for m in active])
        optimizer.step()
        optimizer.zero_grad()
        mses = terms.mse.detach().tolist()
        regs = terms.regularization.detach().tolist()
        for member, loss, mse, reg in zip(active, totals, mses, regs, strict=True):
            member.trainer.record_update(loss, mse, reg)
        return active, group

    def _fail(self, member: _Member, loss: float) -> None:
        trainer = member.trainer
        member.error = trainer.non_finite_message(loss)
        logger.error("%s: %s", member.name, member.error)
        trainer.run.append_metrics(
            {
                "epoch": trainer.position.epoch,
                "updates": trainer.position.updates,
                "error": member.error,
            }
        )

    def _save_all(self, active: list[_Member], group: _Stacked) -> None:
        for index, member in enumerate(active):
            _sync(group, index, member.trainer)
            if member.finished:
                continue
            member.trainer.save_stopped()


#: a group's batched model and its optimiser
_Stacked = tuple[StackedWorldModel, StackedAdam]


def _stack(members: Sequence[_Member]) -> _Stacked:
    """The batched model and optimiser of ``members``, from their models and Adam states."""
    stack = StackedWorldModel([m.trainer.model for m in members])
    configs = [m.trainer.config for m in members]
    optimizer = StackedAdam(
        stack.parameters,
        [float(c.lr) for c in configs],
        [c.adam_eps for c in configs],  # type: ignore[arg-type]
    )
    for index, member in enumerate(members):
        optimizer.load_member(index, member.trainer.optimizer.state_dict())
    return stack, optimizer


def _sync(group: _Stacked, index: int, trainer: Trainer) -> None:
    """Copy member ``index``'s weights and Adam state from the stack into its trainer."""
    stack, optimizer = group
    trainer.model.load_state_dict(stack.member_state(index))
    template = trainer.optimizer.state_dict()
    trainer.optimizer.load_state_dict(optimizer.member_state(index, template))


def member_trainer(
    config: TrainConfig, *, resume: bool, cache: dict[Any, Any], **overrides: Any
) -> Trainer:
    """A member's :class:`Trainer`: new, or resumed from ``config.out`` (with ``overrides``).

    Members reading the same split share one loaded copy through ``cache`` (a dict kept by the
    caller for one group).
    """
    data_config = config.replace(data=overrides.get("data") or config.data)
    train = _shared_split(data_config, config.train_split, cache)
    val = _shared_split(data_config, config.val_split, cache)
    if resume:
        return Trainer.resume(config.out, train_data=train, val_data=val, **overrides)
    return Trainer(config, train_data=train, val_data=val)


def _shared_split(
    config: TrainConfig, split: str, cache: dict[tuple[Any, ...], SequenceTensors]
) -> SequenceTensors:
    """Load a split once for all members reading it."""
    if not config.data:
        raise ValueError(f"data: {config.out} names no dataset directory")
    key = (config.data, split, config.subsets, config.window)
    if key not in cache:
        cache[key] = load_split(config.data, split, config.subsets, config.window)
    return cache[key]


def _check_compatible(first: Trainer, other: Trainer) -> None:
    """Raise unless ``other`` can share a group with ``first``."""
    mismatches = []
    if first.device != other.device:
        mismatches.append(f"device {other.device} vs {first.device}")
    if first.config.batch_size != other.config.batch_size:
        mismatches.append(f"batch_size {other.config.batch_size} vs {first.config.batch_size}")
    a, b = first.train_data, other.train_data
    if (
        a.observations.shape[1:] != b.observations.shape[1:]
        or a.actions.shape[1:] != b.actions.shape[1:]
    ):
        mismatches.append(
            f"sequence shape {tuple(b.observations.shape[1:])} vs {tuple(a.observations.shape[1:])}"
        )
    if mismatches:
        raise ValueError(
            f"members: {other.run.path} cannot share a group with {first.run.path}: "
            f"{'; '.join(mismatches)} (use plan_groups to split them)"
        )
