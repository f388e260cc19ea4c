"""Adam and gradient-norm clipping over stacked parameters, per member (a run group's optimiser).

A run group (:mod:`mbplan.training.group`) keeps K members' parameters stacked as ``(K, *shape)``
tensors. Adam is elementwise, so one Adam over the stacked tensors is K independent Adams as long
as everything per member stays per member: the learning rate, ``eps`` and the step count (bias
correction) are ``(K,)`` values, and the gradient-norm clip is computed over each member's slices
only, never over the group. The update follows ``torch.optim.Adam``'s single-tensor algorithm
(``lerp`` of the first moment, ``addcmul`` of the second, ``denom = sqrt(v) / sqrt(bc2) + eps``,
``p += -lr / bc1 * m / denom``) with the same operation order; state converts exactly to and from
each member's ``torch.optim.Adam`` state dict, so a member's ``last.pt`` is an ordinary solo
checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

#: the clip of ``torch.nn.utils.clip_grad_norm_``: ``coef = max_norm / (norm + 1e-6)``.
_CLIP_EPS = 1e-6


def _per_member(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """``(K, 1, ..., 1)`` float tensor broadcasting over ``like``'s member slices."""
    shape = (len(values),) + (1,) * (like.dim() - 1)
    return torch.tensor(list(values), dtype=like.dtype, device=like.device).view(shape)


def clip_member_grad_norms(params: Sequence[torch.Tensor], max_norms: Sequence[float]) -> None:
    """``clip_grad_norm_`` per member: member ``k``'s gradients over all ``params`` are scaled.

    Args:
        params: stacked ``(K, ...)`` parameters with gradients.
        max_norms: ``(K,)`` clip per member; 0 leaves that member's gradients alone.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), 2, dim=1) for g in grads], dim=1)
    total = torch.linalg.vector_norm(norms, 2, dim=1)  # (K,)
    limit = torch.tensor(list(max_norms), dtype=total.dtype, device=total.device)
    coef = torch.clamp(limit / (total + _CLIP_EPS), max=1.0)
    coef = torch.where(limit > 0, coef, torch.ones_like(coef))
    for grad in grads:
        grad.mul_(coef.view((-1,) + (1,) * (grad.dim() - 1)))


class StackedAdam:
    """Adam over stacked ``(K, ...)`` parameters, mathematically one Adam per member.

    Args:
        params: the stacked parameters (leaf tensors).
        lrs: ``(K,)`` learning rates.
        eps: ``(K,)`` Adam epsilons.
        betas: Adam's betas (shared: the trainer uses torch's defaults).
    """

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        lrs: Sequence[float],
        eps: Sequence[float],
        betas: tuple[float, float] = (0.9, 0.999),
    ) -> None:
        self.params = list(params)
        self.size = len(lrs)
        if len(eps) != self.size or any(p.shape[0] != self.size for p in self.params):
            raise ValueError(
                f"params, lrs, eps: expected {self.size} members each, got shapes "
                f"{[tuple(p.shape) for p in self.params]} and {len(eps)} eps"
            )
        self.lrs = [float(lr) for lr in lrs]
        self.eps = [float(e) for e in eps]
        self.betas = betas
        self.steps = [0] * self.size
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        """One Adam step for every member (their gradients must be set)."""
        beta1, beta2 = self.betas
        self.steps = [step + 1 for step in self.steps]
        step_sizes = [
            -lr / (1 - beta1**step) for lr, step in zip(self.lrs, self.steps, strict=True)
        ]
        bc2_sqrt = [math.sqrt(1 - beta2**step) for step in self.steps]
        for param, exp_avg, exp_avg_sq in zip(
            self.params, self.exp_avg, self.exp_avg_sq, strict=True
        ):
            grad = param.grad
            assert grad is not None
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / _per_member(bc2_sqrt, param)).add_(
                _per_member(self.eps, param)
            )
            param.addcmul_(exp_avg / denom, _per_member(step_sizes, param))

    def zero_grad(self) -> None:
        """Drop the gradients (``set_to_none``)."""
        for param in self.params:
            param.grad = None

    def load_member(self, index: int, state: dict[str, Any]) -> None:
        """Set member ``index``'s moments and step from a ``torch.optim.Adam`` state dict.

        Raises:
            ValueError: for an optimiser state that is not plain Adam with these betas.
        """
        group = state["param_groups"][0]
        if len(state["param_groups"]) != 1 or group.get("amsgrad") or group.get("weight_decay"):
            raise ValueError("optimizer: expected plain Adam (one group, no amsgrad/weight decay)")
        if tuple(group["betas"]) != tuple(self.betas):
            raise ValueError(f"optimizer: expected betas {self.betas}, got {group['betas']}")
        self.lrs[index] = float(group["lr"])
        self.eps[index] = float(group["eps"])
        per_param = state["state"]
        steps = {int(per_param[i]["step"]) for i in per_param}
        if len(steps) > 1:
            raise ValueError(f"optimizer: parameters at different steps {sorted(steps)}")
        self.steps[index] = steps.pop() if steps else 0
        with torch.no_grad():
            for i, (exp_avg, exp_avg_sq) in enumerate(
                zip(self.exp_avg, self.exp_avg_sq, strict=True)
            ):
                if i in per_param:
                    exp_avg[index].copy_(per_param[i]["exp_avg"])
                    exp_avg_sq[index].copy_(per_param[i]["exp_avg_sq"])
                else:
                    exp_avg[index].zero_()
                    exp_avg_sq[index].zero_()

    def member_state(self, index: int, template: dict[str, Any]) -> dict[str, Any]:
        """Member ``index``'s state as a ``torch.optim.Adam`` state dict.

        Args:
            index: the member.
            template: the member's own optimiser's ``state_dict()`` (for its param groups).
        """
        step = self.steps[index]
        per_param: dict[int, dict[str, torch.Tensor]] = {}
        if step > 0:
            for i, (exp_avg, exp_avg_sq) in enumerate(
                zip(self.exp_avg, self.exp_avg_sq, strict=True)
            ):
                per_param[i] = {
                    "step": torch.tensor(float(step)),
                    "exp_avg": exp_avg[index].detach().clone(),
                    "exp_avg_sq": exp_avg_sq[index].detach().clone(),
                }
        return {"state": per_param, "param_groups": template["param_groups"]}
