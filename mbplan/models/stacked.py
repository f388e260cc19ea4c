"""K world models of one architecture as one batched model: stacked parameters, mapped forward.

A run group (:mod:`mbplan.training.group`) trains K runs at once. Their parameters are stacked
along a new leading member axis (``(K, *shape)`` per parameter) and the forward pass of
:meth:`WorldModel.forward_drawn <mbplan.models.world_model.WorldModel.forward_drawn>` is mapped
over that axis with ``torch.func.functional_call`` + ``torch.func.vmap``: every op runs once on
the ``(K, ...)`` tensors (a matmul becomes one batched matmul), and member ``k``'s outputs depend
on member ``k``'s parameters and inputs only, so the gradient of the summed member losses with
respect to the stacked parameters is, slice by slice, each member's own gradient.

Two places differ from a solo model's arithmetic, not its mathematics:

* cores over torch's recurrent modules (Elman, GRU, LSTM) run their explicit formulation
  (``fused_kernels = False``, see :mod:`mbplan.models.cells.rnn`): torch's fused kernels have no
  vmap batching rule. The explicit equations are torch's documented recurrence; they agree with
  the fused kernels to float32 rounding;
* member-specific scalars that a solo model keeps as Python floats are applied outside the mapped
  function with per-member tensors: the L0 weight ``reg_lambda`` (the mapped model's is 1, so it
  returns ``mean(Theta)``, then multiplied by ``reg_lambda_k``) and GateL0RD's
  ``gate_noise_level`` (the mapped cell's is 1 and the standard-normal noise is multiplied by
  ``level_k`` first; since the cell's remaining factor, -2 or 1, is exact in floating point, the
  noise term is bit-identical to the solo model's).

Everything else (inputs, masks, noise) comes in stacked from the caller; this module draws no
random numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.func import functional_call, vmap

from mbplan.models.cells.gatel0rd import GateL0RDCell
from mbplan.models.cells.rnn import TorchRecurrentCell
from mbplan.models.world_model import WorldModel

#: ``make_world_model`` keywords that may differ between the members of one stacked model.
MEMBER_HPARAMS = ("reg_lambda", "gate_noise_level")


def architecture_key(hparams: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """What must be equal for two models to stack: ``hparams`` without the member scalars.

    ``gate_noise_level`` is kept as whether it is positive (a zero level draws no noise, which
    changes the shapes).

    Args:
        hparams: ``make_world_model`` keywords (a model's ``hparams`` or a config's ``model``).
    """
    values = {key: value for key, value in hparams.items() if key not in MEMBER_HPARAMS}
    if "gate_noise_level" in hparams:
        values["gate_noise_level > 0"] = float(hparams["gate_noise_level"]) > 0.0
    return tuple(sorted((key, repr(value)) for key, value in values.items()))


class StackedLoss(NamedTuple):
    """Per-member loss terms of one batched step, each ``(K,)``."""

    total: torch.Tensor
    mse: torch.Tensor
    regularization: torch.Tensor


#: ``loss_fn(model, output, targets) -> terms`` with scalar ``terms.mse`` and
#: ``terms.regularization``, e.g. ``mbplan.training.loss.prediction_loss``.
LossFn = Callable[[Any, Any, torch.Tensor], Any]


class _DrawnForward(nn.Module):
    """``forward`` = the wrapped model's ``forward_drawn`` plus the loss, for functional_call."""

    def __init__(self, model: WorldModel) -> None:
        super().__init__()
        self.model = model
        self.loss_fn: LossFn | None = None

    def forward(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        mask: torch.Tensor | None,
        noise: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        output = self.model.forward_drawn(obs[:, :-1], actions, mask, noise)
        assert self.loss_fn is not None
        terms = self.loss_fn(self.model, output, obs[:, 1:])
        return terms.mse, terms.regularization  # regularization: mean(Theta) (reg_lambda 1)


def _noise_scale(model: WorldModel) -> torch.Tensor | None:
    """``(noise_size,)`` gate-noise level per noise column in training mode, or ``None``."""
    cells = list(model.core.cells)
    if model.core.noise_size == 0:
        return None
    scales = []
    for cell in cells:
        if cell.noise_size == 0:
            continue
        if not isinstance(cell, GateL0RDCell):
            raise ValueError(
                f"models: a {type(cell).__name__} draws gate noise, which stacked models support "
                "for GateL0RD cells only; train it alone (group size 1)"
            )
        scales.append(torch.full((cell.noise_size,), cell.gate_noise_level))
    parameter = next(model.parameters())
    return torch.cat(scales).to(device=parameter.device, dtype=parameter.dtype)


class StackedWorldModel:
    """K world models of one architecture, stacked; a batched loss over K batches.

    Args:
        models: the members (equal ``architecture_key`` of their ``hparams``, same device and
            dtype). Their parameters are copied; the models themselves are not changed.

    Attributes:
        params: ``name -> (K, *shape)`` leaf tensors requiring grad, in ``named_parameters``
            order of the members.
        reg_lambda: ``(K,)`` each member's L0 weight.
        noise_scale: ``(K, noise_size)`` each member's gate-noise level per noise column, or
            ``None`` for cores without gate noise.

    Raises:
        ValueError: if the members cannot be stacked (naming the member and the difference).
    """

    def __init__(self, models: Sequence[WorldModel]) -> None:
        if not models:
            raise ValueError("models: expected at least one world model, got none")
        first = models[0]
        key = architecture_key(first.hparams)
        for index, model in enumerate(models[1:], start=1):
            if architecture_key(model.hparams) != key:
                raise ValueError(
                    f"models: member {index} has another architecture than member 0 "
                    f"({dict(architecture_key(model.hparams))} vs {dict(key)}); stack only "
                    "models that differ in reg_lambda and gate_noise_level"
                )
        self.size = len(models)
        self.names = [name for name, _ in first.named_parameters()]
        self.params = {
            name: torch.stack([dict(m.named_parameters())[name].detach() for m in models])
            .clone()
            .requires_grad_(True)
            for name in self.names
        }
        self.buffers = {
            name: torch.stack([dict(m.named_buffers())[name] for m in models]).clone()
            for name, _ in first.named_buffers()
        }
        like = self.params[self.names[0]]
        self.reg_lambda = torch.tensor(
            [m.reg_lambda for m in models], dtype=like.dtype, device=like.device
        )
        scales = [_noise_scale(m) for m in models]
        self.noise_scale = None if scales[0] is None else torch.stack(scales)  # type: ignore[arg-type]
        self._template = _DrawnForward(_mapped_copy(first))

    @property
    def parameters(self) -> list[torch.Tensor]:
        """The stacked parameters in member ``named_parameters`` order."""
        return [self.params[name] for name in self.names]

    def member_state(self, index: int) -> dict[str, torch.Tensor]:
        """Member ``index``'s parameters and buffers, detached copies (a ``state_dict``)."""
        state = {name: value[index].detach().clone() for name, value in self.params.items()}
        state.update({name: value[index].clone() for name, value in self.buffers.items()})
        return state

    def loss(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor,
        mask: torch.Tensor | None,
        noise: torch.Tensor | None,
        loss_fn: LossFn,
    ) -> StackedLoss:
        """The training loss of every member on its own batch.

        Args:
            observations: ``(K, batch, time + 1, obs_dim)``.
            actions: ``(K, batch, time, action_dim)``.
            mask: ``(K, batch, time)`` bool real-input masks, or ``None`` (all inputs real).
            noise: ``(K, batch, time, noise_size)`` standard-normal gate noise (unscaled), or
                ``None``.
            loss_fn: ``loss_fn(model, output: WorldModelOutput, targets) -> terms`` with scalar
                ``terms.mse`` and ``terms.regularization`` (``model.regularization(gates)`` for
                the L0 term), e.g. ``mbplan.training.loss.prediction_loss``; it sees the mapped
                model, whose ``reg_lambda`` is 1.

        Returns:
            ``(K,)`` totals, MSEs and regularisation terms.
        """
        if noise is not None:
            if self.noise_scale is None:
                raise ValueError("noise: this core draws no gate noise, got a noise tensor")
            noise = noise * self.noise_scale[:, None, None, :]
        self._template.loss_fn = loss_fn
        in_dims = (0, 0, 0, 0, None if mask is None else 0, None if noise is None else 0)

        def member(params: Any, buffers: Any, *inputs: Any) -> tuple[torch.Tensor, torch.Tensor]:
            return functional_call(self._template, (params, buffers), inputs)

        params = {f"model.{name}": value for name, value in self.params.items()}
        buffers = {f"model.{name}": value for name, value in self.buffers.items()}
        mse, gate_mean = vmap(member, in_dims=in_dims)(
            params, buffers, observations, actions, mask, noise
        )
        regularization = self.reg_lambda * gate_mean
        return StackedLoss(mse + regularization, mse, regularization)


def _mapped_copy(model: WorldModel) -> WorldModel:
    """A parameter-free copy (on the meta device) set up for mapping: see the module docstring."""
    template = copy.deepcopy(model).to("meta")
    template.train()
    template.reg_lambda = 1.0
    for cell in template.modules():
        if isinstance(cell, TorchRecurrentCell):
            cell.fused_kernels = False
        if isinstance(cell, GateL0RDCell) and cell.gate_noise_level > 0.0:
            cell.gate_noise_level = 1.0
    return template
