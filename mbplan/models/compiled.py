"""An opt-in ``torch.compile`` path for planning rollouts.

A planning rollout is ``horizon`` dependent model steps of a few small kernels each, bound by
per-operator overhead on the CPU and by launches on a GPU. :class:`CompiledRollout` wraps a
:class:`~mbplan.models.world_model.WorldModel` so that :meth:`rollout` runs the model's one
autoregressive loop through ``torch.compile``: Dynamo unrolls the loop over the horizon into one
graph and Inductor fuses the element-wise work of every step. Everything else (``k``,
``initial_state``, ``step``, attributes) is the wrapped model's, so the wrapper goes wherever a
world model goes in :mod:`planners` (``make_objective``, ``MPCAgent``, ``run_mpc``,
``mbplan plan --compile``).

Cost and cache: the first call compiles (measured on the 2-core CPU with a GateL0RD RRC model,
horizon 30: about 45 s with an empty cache, about 6 s when Inductor's on-disk cache already holds
the graph, ``TORCHINDUCTOR_CACHE_DIR``, by default under ``/tmp``); :attr:`compile_seconds`
records it. The batch size is marked dynamic (``dynamic=True``), so iCEM's shrinking populations
reuse one graph; a new horizon compiles again. Results equal the eager rollout to float rounding
(fused kernels reorder float operations; ``benchmarks/planning.py`` reports the difference).

Elman, GRU and LSTM cores run their explicit formulation (``fused_kernels = False``, see
:mod:`mbplan.models.cells.rnn`; equal to torch's fused kernels to float rounding), because Dynamo
does not trace ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` modules. So that the caller's model keeps its
fused kernels, the wrapper plans with a copy of the model made at construction: later changes to
the model's weights are not seen (wrap it again, or ``load_state_dict`` into ``wrapper.model``).

Limits: inference only (the rollout runs under ``torch.no_grad``; for gradients use the model's
own ``rollout``), evaluation mode only (stochastic gates in training mode draw noise from a
generator, which the compiled path does not take).
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch

from mbplan.models.cells.rnn import TorchRecurrentCell
from mbplan.models.validation import check_finite, check_tensor
from mbplan.models.world_model import WorldModel


class CompiledRollout:
    """A world model whose :meth:`rollout` runs through ``torch.compile``.

    Args:
        model: the world model, in evaluation mode.
        dynamic: compile with a dynamic batch size (one graph for every population size).
        backend: ``torch.compile`` backend (``"inductor"``; ``"aot_eager"`` traces the same graph
            without generating code, which tests use for speed).
        mode: ``torch.compile`` mode (e.g. ``"max-autotune-no-cudagraphs"``), or ``None``.

    Attributes:
        model: the copy of the model that plans (see the module docstring).
        compile_seconds: wall time of the first (compiling) call, ``None`` before it.

    Raises:
        TypeError: if ``model`` is not a :class:`WorldModel`.
    """

    def __init__(
        self,
        model: WorldModel,
        *,
        dynamic: bool = True,
        backend: str = "inductor",
        mode: str | None = None,
    ) -> None:
        if not isinstance(model, WorldModel):
            raise TypeError(f"model: expected a WorldModel, got {type(model).__name__}")
        self.model = copy.deepcopy(model)
        for cell in self.model.modules():
            if isinstance(cell, TorchRecurrentCell):
                cell.fused_kernels = False
        self.compile_seconds: float | None = None
        self._loop = torch.compile(
            self._autoregress, dynamic=dynamic, backend=backend, mode=mode, fullgraph=True
        )

    def _autoregress(
        self, state: torch.Tensor, obs: torch.Tensor, actions: torch.Tensor, return_states: bool
    ) -> tuple[torch.Tensor, ...]:
        out = self.model._autoregress(
            state, obs, actions, None, None, None, return_states, with_gates=False
        )
        if return_states:
            return out.predictions, out.state, out.states
        return out.predictions, out.state

    def __getattr__(self, name: str) -> Any:
        """Everything but ``rollout`` is the wrapped model's (``k``, ``step``, ``obs_dim``, ...)."""
        if name == "model":  # not set yet (during unpickling or a failed __init__)
            raise AttributeError(name)
        return getattr(self.model, name)

    def rollout(
        self,
        state: torch.Tensor,
        obs: torch.Tensor,
        actions: torch.Tensor,
        *,
        check_nan: bool = True,
        return_states: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """The model's planning rollout, compiled; see :meth:`WorldModel.rollout`.

        Args:
            state: ``(batch, state_size)`` the filtered state before ``obs``.
            obs: ``(batch, obs_dim)`` the current real observation.
            actions: ``(batch, horizon, action_dim)``.
            check_nan: check the inputs for NaN/inf first (one host sync).
            return_states: also return the state after every step.

        Returns:
            ``(pred_obs (batch, horizon, obs_dim), state (batch, state_size))``, with
            ``return_states`` also ``states (batch, horizon, state_size)``.

        Raises:
            RuntimeError: if the model is in training mode with stochastic gates.
            ValueError: for inputs of the wrong shape or dtype (or NaN with ``check_nan``).
        """
        model = self.model
        if model.training and model.core.noise_size > 0:
            raise RuntimeError(
                "CompiledRollout: the model is in training mode with stochastic gates; call "
                "model.eval() (the compiled path draws no gate noise)"
            )
        dtype = model._dtype
        obs = check_tensor("obs", obs, (("batch", None), ("obs_dim", model.obs_dim)), dtype)
        dims = (("batch", obs.shape[0]), ("horizon", None), ("action_dim", model.action_dim))
        check_tensor("actions", actions, dims, dtype)
        if actions.shape[1] < 1:
            raise ValueError(f"actions: expected a horizon >= 1, got {tuple(actions.shape)}")
        model._check_state(state, obs.shape[0])
        if check_nan:
            check_finite({"state": state, "obs": obs, "actions": actions})
        start = time.perf_counter() if self.compile_seconds is None else None
        # allow_rnn: Dynamo refuses to touch nn.GRU / nn.LSTM modules unless told; the explicit
        # formulation only reads their parameters, never calls the fused module
        with torch.no_grad(), torch._dynamo.config.patch(allow_rnn=True):
            out = self._loop(state, obs, actions, bool(return_states))
        if start is not None:
            self.compile_seconds = time.perf_counter() - start
        return out
