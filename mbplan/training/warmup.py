"""Warmup: gradient steps that push every layer's VAA* towards a target before training.

The procedure of Lambrechts et al. 2023 (``shared/reference/cells.md`` Sec. B.3, official
``Model.warmup`` / ``warmup_step``), for any core and for world models:

* a separate Adam (lr ``1e-2``) on all parameters of the network;
* per step ``s`` (0-based): ``stabilization ~ U{1 .. min(1 + s * increment, max)}`` (the
  curriculum on the convergence steps, increment 10, max 200); a minibatch of ``batch_size`` (32)
  real input sequences (targets unused); the initial states at the end of random-length prefixes
  (:mod:`mbplan.analysis.state_sampling`, with gradient); VAA* per layer
  (:func:`mbplan.analysis.vaa_star`, ``epsilon = 1e-4``, a fresh held input per layer); the loss
  ``MSE(VAA*_layers, target = 0.95)``; one Adam step;
* ``double`` models with ``partial=True``: VAA* of each :class:`~mbplan.models.cells.DoubleCell`
  layer is measured on its first half only (the paper's partial warmup).

Minibatches: the sequences are shuffled once per warmup epoch (a pass over the data) and cut into
full batches, as the official loop does (it keeps a last, smaller batch; we drop it unless it is
the only one). The shuffle of warmup epoch ``e`` and every draw of step ``s`` (stabilisation,
prefix lengths, held inputs) come from generators derived from ``(seed, e)`` and ``(seed, s)``
alone, so the state of a warmup is its step count, the weights and the Adam state: an interrupted
warmup resumes **bit-exactly** on the same device from those three (see :meth:`Warmup.state_dict`).

Gate noise is off throughout (state sampling and convergence run the deterministic map).

A property of VAA* worth knowing (not a bug of either implementation): when every final state of
a set lies within ``epsilon`` of all others (VAA* = 1/n, one attractor), every ``C_ij`` is exactly
1 and the gradient is zero, so a warmup step at a long stabilisation can do nothing; progress comes
from the curriculum's short stabilisations, where the states have not yet collapsed. Small layers
(a few units) can stay on this plateau for the whole warmup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from mbplan.analysis.state_map import layer_slices
from mbplan.analysis.state_sampling import core_prefix_states, world_model_prefix_states
from mbplan.analysis.vaa import vaa_star
from mbplan.data.tensors import SequenceTensors
from mbplan.models.cells.base import RecurrentCell
from mbplan.models.cells.double import DoubleCell
from mbplan.training.batches import epoch_batches, epoch_generator
from mbplan.training.config import WarmupConfig

#: ``states(index (b,) int64, generator) -> (b, state_size)`` initial states, with gradient.
StateSource = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

#: separates the warmup's seeds from the trainer's.
_WARMUP_SEED_OFFSET = 0x3A7A


class WarmupDivergedError(RuntimeError):
    """VAA* or the warmup loss became NaN or infinite."""


def warmup_layers(core: RecurrentCell, partial: bool) -> list[tuple[RecurrentCell, slice]]:
    """The ``(cell, state slice)`` whose VAA* the warmup maximises, one per layer.

    Args:
        core: any cell or stack.
        partial: replace every :class:`DoubleCell` layer by its first half.
    """
    layers = []
    for cell, piece in layer_slices(core):
        if partial and isinstance(cell, DoubleCell):
            first = cell.first_state
            cell, piece = cell.first, slice(piece.start + first.start, piece.start + first.stop)
        layers.append((cell, piece))
    return layers


def stabilization_steps(step: int, increment: int, maximum: int, generator: torch.Generator) -> int:
    """The curriculum's convergence steps at warmup step ``step`` (0-based): ``U{1 .. m}``.

    ``m = min(1 + step * increment, maximum)``.
    """
    bound = min(1 + step * increment, maximum)
    return int(torch.randint(1, bound + 1, (), generator=generator))


def _step_generator(seed: int, step: int) -> torch.Generator:
    state = np.random.SeedSequence([int(seed), int(step), _WARMUP_SEED_OFFSET]).generate_state(
        1, np.uint64
    )
    return torch.Generator().manual_seed(int(state[0]))


class Warmup:
    """A resumable warmup of one core.

    Args:
        core: the core whose layers are warmed up (a world model's ``model.core``).
        states: the initial-state source over the training sequences (see :data:`StateSource`).
        num_sequences: number of training sequences ``states`` indexes.
        parameters: the parameters the warmup's Adam updates (official: the whole network).
        config: steps, learning rate, batch size, target, tolerance, curriculum, partial.
        seed: the seed of every draw (see the module docstring).
        device: device of the minibatch indices given to ``states``.
    """

    def __init__(
        self,
        core: RecurrentCell,
        states: StateSource,
        num_sequences: int,
        parameters: Iterable[torch.nn.Parameter],
        config: WarmupConfig,
        seed: int,
        device: str | torch.device = "cpu",
    ) -> None:
        if num_sequences < 1:
            raise ValueError(f"num_sequences: expected at least 1, got {num_sequences}")
        self.core = core
        self.states = states
        self.num_sequences = int(num_sequences)
        self.config = config
        self.seed = int(seed)
        self.device = torch.device(device)
        self.layers = warmup_layers(core, config.partial)
        self.optimizer = torch.optim.Adam(list(parameters), lr=config.lr)
        self.steps_done = 0
        self._epoch: tuple[int, list[torch.Tensor]] | None = None

    @property
    def done(self) -> bool:
        """Whether all ``config.steps`` steps are done."""
        return self.steps_done >= self.config.steps

    def _batch(self, step: int) -> torch.Tensor:
        subset = torch.zeros(self.num_sequences, dtype=torch.int64)
        per_epoch = max(self.num_sequences // self.config.batch_size, 1)
        epoch = step // per_epoch
        if self._epoch is None or self._epoch[0] != epoch:
            generator = epoch_generator(self.seed + _WARMUP_SEED_OFFSET, epoch)
            self._epoch = (epoch, epoch_batches(subset, self.config.batch_size, False, generator))
        return self._epoch[1][step % per_epoch].to(self.device)

    def step(self) -> dict[str, Any]:
        """One warmup step; returns its metrics row.

        Returns:
            ``{"warmup_step": steps done, "stabilization", "warmup_loss", "vaa_star" (mean over
            layers), "vaa_star_layer_<l>" ...}`` (VAA* before this step's update).

        Raises:
            WarmupDivergedError: if VAA* or the loss is not finite.
        """
        config = self.config
        generator = _step_generator(self.seed, self.steps_done)
        steps = stabilization_steps(
            self.steps_done, config.stabilization_increment, config.stabilization_max, generator
        )
        initial = self.states(self._batch(self.steps_done), generator)
        values = vaa_star(
            self.core,
            initial,
            steps,
            generator=generator,
            epsilon=config.epsilon,
            layers=self.layers,
        )
        loss = F.mse_loss(values, torch.full_like(values, config.target))
        if not bool(torch.isfinite(loss)):
            raise WarmupDivergedError(
                f"warmup step {self.steps_done}: VAA* {values.tolist()} gives the loss {loss}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.steps_done += 1
        layer_values = [float(value) for value in values.detach()]
        row: dict[str, Any] = {
            "warmup_step": self.steps_done,
            "stabilization": steps,
            "warmup_loss": float(loss.detach()),
            "vaa_star": float(np.mean(layer_values)),
        }
        row.update({f"vaa_star_layer_{i}": value for i, value in enumerate(layer_values)})
        return row

    def run(
        self,
        should_stop: Callable[[], bool] | None = None,
        on_row: Callable[[dict[str, Any]], None] | None = None,
        progress: bool = True,
    ) -> bool:
        """Run the remaining steps.

        Args:
            should_stop: polled after every step; ``True`` stops early (Ctrl-C in the trainer).
            on_row: called with every step's metrics row.
            progress: show a tqdm bar.

        Returns:
            Whether the warmup is done (``False`` after an early stop).
        """
        bar = tqdm(
            total=self.config.steps,
            initial=self.steps_done,
            desc="warmup",
            unit="step",
            disable=not progress,
            dynamic_ncols=True,
        )
        try:
            while not self.done:
                row = self.step()
                bar.update(1)
                bar.set_postfix(vaa_star=f"{row['vaa_star']:.3f}", steps=row["stabilization"])
                if on_row is not None:
                    on_row(row)
                if should_stop is not None and should_stop() and not self.done:
                    return False
        finally:
            bar.close()
        return True

    def state_dict(self) -> dict[str, Any]:
        """``{"steps_done": int, "optimizer": Adam state}`` (weights are saved by the caller)."""
        return {"steps_done": self.steps_done, "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (after the weights have been restored)."""
        self.steps_done = int(state["steps_done"])
        self.optimizer.load_state_dict(state["optimizer"])


def core_warmup(
    core: RecurrentCell,
    inputs: torch.Tensor,
    config: WarmupConfig,
    seed: int,
    parameters: Iterable[torch.nn.Parameter] | None = None,
) -> Warmup:
    """A warmup of a bare core on its input sequences (the benchmarks' networks).

    Args:
        core: any cell or stack.
        inputs: ``(n, T, input_size)`` training input sequences.
        config: the warmup settings.
        seed: the warmup's seed.
        parameters: what the warmup updates (default: the core's parameters; pass the whole
            network's, as the official code does, when the core feeds a readout).
    """

    def states(index: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return core_prefix_states(core, inputs[index], generator=generator)

    params = core.parameters() if parameters is None else parameters
    return Warmup(core, states, inputs.shape[0], params, config, seed, inputs.device)


def world_model_warmup(
    model: torch.nn.Module, data: SequenceTensors, config: WarmupConfig, seed: int
) -> Warmup:
    """A warmup of a world model's core on real ``(observation, action)`` sequences.

    The initial states are the core's states after random-length prefixes of the training
    sequences' real inputs (``observations[:, :-1]``, ``actions``; see
    :func:`~mbplan.analysis.world_model_prefix_states`); Adam updates all the model's
    parameters (gradients reach ``f_pre`` and ``f_init`` through the sampled states).
    """
    observations, actions = data.observations[:, :-1], data.actions

    def states(index: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return world_model_prefix_states(
            model, observations[index], actions[index], generator=generator
        )

    device = observations.device
    return Warmup(model.core, states, len(data), model.parameters(), config, seed, device)
