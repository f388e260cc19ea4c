"""The world model: the GateL0RD paper's Fig. 1d architecture around any recurrent core.

Per time step ``t``, with the input observation ``o_t`` (real, or the model's own previous
prediction) and the action ``a_t``::

    x_t       = (a_t, o_t)                        actions first, as in the paper code
    features  = f_pre(x_t)                        fan-in MLP, tanh after every layer
    y_t, h_t  = core(features, h_{t-1})           a RecurrentStack of cells
    o_{t+1}^  = o_t + output_scale * f_post(y_t)  output_scale = 0.1 (paper code)
    h_0       = f_init(x_0, ..., x_{k-1})         one MLP per core layer; zeros when disabled

State: one packed tensor ``(batch, state_size)`` (see :class:`~mbplan.models.cells.RecurrentStack`),
so planners can expand and index it without knowing the core.

Paths: teacher forcing (every input real) runs ``f_pre``, the core's fused sequence path and
``f_post`` on whole sequences; scheduled sampling, :meth:`WorldModel.step` and
:meth:`WorldModel.rollout` share one autoregressive loop whose only per-step work is the step
itself (action projections of ``f_pre``'s first layer are computed for all steps at once, weights
are prepared once per call, transposed for single ``addmm`` calls, and nothing in the loop
synchronises with the host). :meth:`WorldModel.rollout`, the planning hot path, also skips the
regularised gates (nobody reads them there) and, when autograd is off, runs in
``torch.inference_mode``. f_pre's inner tanh layers and GateL0RD's tanh are evaluated as
sigmoids with folded weights (see :func:`~mbplan.models.affine.tanh_as_sigmoid_layers`): the same
function to float rounding, about four times cheaper on CPU.

Randomness (scheduled sampling, GateL0RD gate noise in training mode) comes only from the
``generator`` argument: per ``forward`` call first the ``(batch, time)`` teacher draw, then the
``(batch, time, noise_size)`` gate noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import nn

from mbplan.models.affine import (
    add_matmul,
    tanh_as_sigmoid_layers,
    transposed_layers,
)
from mbplan.models.cells.base import CellStep, RecurrentStack, stack_steps
from mbplan.models.mlp import linear_layers, make_f_init, make_f_post, make_f_pre
from mbplan.models.validation import (
    check_finite,
    check_generator,
    check_tensor,
    require_positive_int,
)


class WorldModelOutput(NamedTuple):
    """What :meth:`WorldModel.forward` returns.

    Attributes:
        predictions: ``(batch, time, obs_dim)``; ``predictions[:, t]`` predicts ``obs[:, t + 1]``
            from the inputs up to ``t``.
        state: ``(batch, state_size)`` packed core state after the last step.
        gates: ``(batch, time, gate_size)`` Theta of all layers concatenated, or ``None`` for
            cores without gates.
        states: ``(batch, time, state_size)`` packed state after every step when requested.
    """

    predictions: torch.Tensor
    state: torch.Tensor
    gates: torch.Tensor | None
    states: torch.Tensor | None


class _IOWeights(NamedTuple):
    """f_pre and f_post as plain tensors, prepared once per call (weights transposed)."""

    pre_action_t: torch.Tensor  # (action_dim, W1): action rows of f_pre's first layer
    pre_obs_t: torch.Tensor  # (obs_dim, W1): observation rows
    pre_bias: torch.Tensor  # (W1,)
    pre_rest: list[tuple[torch.Tensor, torch.Tensor]]  # deeper f_pre layers (W^T, b)
    # f_pre's tanh layers are in sigmoid form (see tanh_as_sigmoid_layers)
    post: list[tuple[torch.Tensor, torch.Tensor]]  # f_post layers (W^T, b), last one scaled


class WorldModel(nn.Module):
    """Recurrent world model predicting the next observation (build it with ``make_world_model``).

    Args:
        core: the recurrent core; its input size must be ``feature_size``.
        obs_dim: observation size.
        action_dim: action size (0 for action-free worlds such as Billiard Ball).
        feature_size: ``F``, output size of ``f_pre``.
        k: number of first inputs that are always real and feed ``f_init``.
        f_pre_layers: layers of ``f_pre`` (>= 1).
        f_post_layers: layers of ``f_post`` (>= 1).
        f_init_layers: layers of ``f_init``; 0 (or ``k = 0``) starts from a zero state.
        reg_lambda: weight of the L0 term in :meth:`regularization`.
        output_scale: factor on ``f_post``'s output (paper code: 0.1).
        hparams: the keyword arguments that rebuild this model with ``make_world_model``.
    """

    def __init__(
        self,
        core: RecurrentStack,
        obs_dim: int,
        action_dim: int,
        *,
        feature_size: int,
        k: int,
        f_pre_layers: int = 3,
        f_post_layers: int = 1,
        f_init_layers: int = 3,
        reg_lambda: float = 0.0,
        output_scale: float = 0.1,
        hparams: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        require_positive_int("obs_dim", obs_dim)
        require_positive_int("action_dim", action_dim, allow_zero=True)
        require_positive_int("feature_size", feature_size)
        require_positive_int("k", k, allow_zero=True)
        require_positive_int("f_init_layers", f_init_layers, allow_zero=True)
        if core.input_size != feature_size:
            raise ValueError(
                f"core: expected input size feature_size={feature_size}, got {core.input_size}"
            )
        if not reg_lambda >= 0.0:
            raise ValueError(f"reg_lambda: expected a value >= 0, got {reg_lambda!r}")
        self.obs_dim = obs_dim
        self.action_dim = action_dim
        self.k = k
        self.reg_lambda = float(reg_lambda)
        self.output_scale = float(output_scale)
        self.core = core
        self.f_pre = make_f_pre(f_pre_layers, action_dim + obs_dim, feature_size)
        self.f_post = make_f_post(f_post_layers, core.output_size, obs_dim)
        self.f_init: nn.ModuleList | None = None
        if f_init_layers > 0 and k > 0:
            context_size = k * (action_dim + obs_dim)
            self.f_init = nn.ModuleList(
                make_f_init(f_init_layers, context_size, feature_size, size)
                for size in core.layer_state_sizes
            )
        self._hparams = dict(hparams) if hparams is not None else {}

    @property
    def hparams(self) -> dict[str, Any]:
        """Keyword arguments such that ``make_world_model(**hparams)`` rebuilds this model."""
        return dict(self._hparams)

    @property
    def state_size(self) -> int:
        """Size of the packed core state."""
        return self.core.state_size

    @property
    def gate_size(self) -> int:
        """Number of regularised gates per step (0 for cores without gates)."""
        return self.core.gate_size

    @property
    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    # ----------------------------------------------------------------- public API

    def initial_state(self, obs_context: torch.Tensor, act_context: torch.Tensor) -> torch.Tensor:
        """The state before step 0, from the first ``k`` inputs (``f_init``).

        Args:
            obs_context: ``(batch, k, obs_dim)``.
            act_context: ``(batch, k, action_dim)``.

        Returns:
            ``(batch, state_size)``; zeros when the model has no ``f_init``.
        """
        dtype = self._dtype
        obs_dims = (("batch", None), ("k", self.k), ("obs_dim", self.obs_dim))
        obs_context = check_tensor("obs_context", obs_context, obs_dims, dtype)
        batch = obs_context.shape[0]
        act_dims = (("batch", batch), ("k", self.k), ("action_dim", self.action_dim))
        check_tensor("act_context", act_context, act_dims, dtype)
        check_finite({"obs_context": obs_context, "act_context": act_context})
        return self._initial_state(obs_context, act_context)

    def forward(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        teacher_prob: float = 1.0,
        *,
        teacher_mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        return_states: bool = False,
    ) -> WorldModelOutput:
        """Predict ``obs[:, t + 1]`` for every ``t`` (training and filtering).

        The input at step ``t`` is the real ``obs[:, t]`` for the first ``max(k, 1)`` steps, and
        after that the real one with probability ``teacher_prob`` per (sequence, step), else the
        model's own previous prediction (scheduled sampling). ``teacher_mask`` replaces the draw.

        Args:
            obs: ``(batch, time, obs_dim)`` observations ``o_0 .. o_{T-1}``, ``time >= max(k, 1)``.
            actions: ``(batch, time, action_dim)`` actions ``a_0 .. a_{T-1}``.
            teacher_prob: probability of a real input after the first ``k`` steps, in [0, 1].
            teacher_mask: ``(batch, time)`` bool, True = real input; overrides ``teacher_prob``.
            generator: source of the teacher draw and of gate noise in training mode; required
                when either is needed.
            return_states: also return the packed state after every step.

        Returns:
            A :class:`WorldModelOutput`.
        """
        batch, time = self._check_sequence(obs, actions)
        first_real = max(self.k, 1)
        if time < first_real:
            raise ValueError(f"obs: expected at least {first_real} time steps (k), got {time}")
        if not 0.0 <= teacher_prob <= 1.0:
            raise ValueError(
                f"teacher_prob: expected a probability in [0, 1], got {teacher_prob!r}"
            )
        if teacher_mask is not None:
            if not isinstance(teacher_mask, torch.Tensor) or teacher_mask.dtype != torch.bool:
                got = teacher_mask.dtype if isinstance(teacher_mask, torch.Tensor) else teacher_mask
                raise ValueError(f"teacher_mask: expected a bool tensor, got {got}")
            if tuple(teacher_mask.shape) != (batch, time):
                raise ValueError(
                    f"teacher_mask: expected shape (batch={batch}, time={time}), "
                    f"got {tuple(teacher_mask.shape)}"
                )
        check_finite({"obs": obs, "actions": actions})

        mask, noise = self.draw_randomness(
            batch, time, teacher_prob, generator, obs, teacher_mask=teacher_mask
        )
        return self.forward_drawn(obs, actions, mask, noise, return_states=return_states)

    def draw_randomness(
        self,
        batch: int,
        time: int,
        teacher_prob: float,
        generator: torch.Generator | None,
        like: torch.Tensor,
        *,
        teacher_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The random draws of one :meth:`forward` call, in its order: mask, then gate noise.

        Args:
            batch: sequences.
            time: steps.
            teacher_prob: probability of a real input after the first ``k`` steps.
            generator: source of both draws (required when either is needed).
            like: a tensor of the device and dtype to draw on.
            teacher_mask: ``(batch, time)`` bool replacing the teacher draw.

        Returns:
            ``mask (batch, time) bool | None`` (``None``: every input real) and
            ``noise (batch, time, noise_size) | None``.
        """
        mask = self._teacher_mask(batch, time, teacher_prob, teacher_mask, generator, like)
        return mask, self._draw_noise(batch, time, generator, like)

    def forward_drawn(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        mask: torch.Tensor | None,
        noise: torch.Tensor | None,
        *,
        return_states: bool = False,
    ) -> WorldModelOutput:
        """:meth:`forward` given its draws (:meth:`draw_randomness`); no checks, no host sync.

        The deterministic part of :meth:`forward`, on already checked inputs; it is what a run
        group maps over its members (``mbplan.models.stacked``).

        Args:
            obs: ``(batch, time, obs_dim)``.
            actions: ``(batch, time, action_dim)``.
            mask: ``(batch, time)`` bool, True = real input, or ``None`` (every input real).
            noise: ``(batch, time, noise_size)`` standard-normal gate noise, or ``None``.
            return_states: also return the packed state after every step.
        """
        state = self._initial_state(obs[:, : self.k], actions[:, : self.k])
        if mask is None:
            return self._teacher_forced(obs, actions, state, noise, return_states)
        return self._autoregress(state, obs[:, 0], actions, obs, mask, noise, return_states)

    def step(
        self,
        obs: torch.Tensor,
        action: torch.Tensor,
        state: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        check_nan: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One step from a real observation (filtering).

        Args:
            obs: ``(batch, obs_dim)`` the current observation ``o_t``.
            action: ``(batch, action_dim)`` the action ``a_t``.
            state: ``(batch, state_size)`` the state before the step.
            generator: gate noise source, required only in training mode with stochastic gates.
            check_nan: check the inputs for NaN/inf (one host sync); ``False`` skips it.

        Returns:
            ``pred_next_obs (batch, obs_dim)``, ``state (batch, state_size)`` and
            ``gates (batch, gate_size) | None``.
        """
        dtype = self._dtype
        obs = check_tensor("obs", obs, (("batch", None), ("obs_dim", self.obs_dim)), dtype)
        batch = obs.shape[0]
        check_tensor("action", action, (("batch", batch), ("action_dim", self.action_dim)), dtype)
        self._check_state(state, batch)
        if check_nan:
            check_finite({"obs": obs, "action": action, "state": state})
        noise = self._draw_noise(batch, 1, generator, obs)
        out = self._autoregress(state, obs, action.unsqueeze(1), None, None, noise, False)
        gates = None if out.gates is None else out.gates[:, 0]
        return out.predictions[:, 0], out.state, gates

    def rollout(
        self,
        state: torch.Tensor,
        obs: torch.Tensor,
        actions: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        check_nan: bool = True,
        return_states: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """Autoregressive prediction from the real current observation (planning).

        Step 0 reads the real ``obs``, every later step the previous prediction. The loop has no
        host synchronisation; gradients flow unless the caller runs it under ``torch.no_grad()``.

        Args:
            state: ``(batch, state_size)`` the filtered state before ``obs``.
            obs: ``(batch, obs_dim)`` the current real observation.
            actions: ``(batch, horizon, action_dim)``.
            generator: gate noise source, required only in training mode with stochastic gates.
            check_nan: check the inputs for NaN/inf once before the loop (one host sync); pass
                ``False`` to skip even that.
            return_states: also return the packed state after every step (for costs that read
                the latent state, :mod:`planners.trajectory_costs`).

        Returns:
            ``(pred_obs (batch, horizon, obs_dim), state (batch, state_size))``, and with
            ``return_states`` a third element ``states (batch, horizon, state_size)``
            (``states[:, -1]`` is ``state``).
        """
        dtype = self._dtype
        obs = check_tensor("obs", obs, (("batch", None), ("obs_dim", self.obs_dim)), dtype)
        batch = obs.shape[0]
        dims = (("batch", batch), ("horizon", None), ("action_dim", self.action_dim))
        check_tensor("actions", actions, dims, dtype)
        if actions.shape[1] < 1:
            raise ValueError(f"actions: expected a horizon >= 1, got {tuple(actions.shape)}")
        self._check_state(state, batch)
        if check_nan:
            check_finite({"state": state, "obs": obs, "actions": actions})
        noise = self._draw_noise(batch, actions.shape[1], generator, obs)
        keep = bool(return_states)
        if torch.is_grad_enabled():
            out = self._autoregress(state, obs, actions, None, None, noise, keep, with_gates=False)
            if keep:
                return out.predictions, out.state, out.states
            return out.predictions, out.state
        # planning: inference mode skips autograd's per-op bookkeeping; the clones return
        # ordinary tensors that callers may modify in place
        with torch.inference_mode():
            out = self._autoregress(state, obs, actions, None, None, noise, keep, with_gates=False)
        if keep:
            assert out.states is not None
            return out.predictions.clone(), out.state.clone(), out.states.clone()
        return out.predictions.clone(), out.state.clone()

    def regularization(self, gates: torch.Tensor | None) -> torch.Tensor:
        """The L0 term ``reg_lambda * mean(Theta)`` (zero for cores without gates).

        Args:
            gates: ``(batch, time, gate_size)`` Theta from :meth:`forward`, or ``None``.

        Returns:
            A scalar tensor.
        """
        if gates is None or gates.numel() == 0:
            parameter = next(self.parameters())
            return torch.zeros((), device=parameter.device, dtype=parameter.dtype)
        return self.reg_lambda * gates.mean()

    # ----------------------------------------------------------------- internals

    def _check_sequence(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[int, int]:
        dtype = self._dtype
        obs_dims = (("batch", None), ("time", None), ("obs_dim", self.obs_dim))
        obs = check_tensor("obs", obs, obs_dims, dtype)
        batch, time = obs.shape[:2]
        act_dims = (("batch", batch), ("time", time), ("action_dim", self.action_dim))
        check_tensor("actions", actions, act_dims, dtype)
        return batch, time

    def _check_state(self, state: torch.Tensor, batch: int) -> None:
        dims = (("batch", batch), ("state_size", self.state_size))
        check_tensor("state", state, dims, self._dtype)

    def _initial_state(self, obs_context: torch.Tensor, act_context: torch.Tensor) -> torch.Tensor:
        batch = obs_context.shape[0]
        if self.f_init is None:
            return obs_context.new_zeros((batch, self.state_size))
        context = torch.cat([act_context, obs_context], dim=-1).reshape(batch, -1)
        return torch.cat([f_init(context) for f_init in self.f_init], dim=-1)

    def _teacher_mask(
        self,
        batch: int,
        time: int,
        teacher_prob: float,
        teacher_mask: torch.Tensor | None,
        generator: torch.Generator | None,
        like: torch.Tensor,
    ) -> torch.Tensor | None:
        """``(batch, time)`` bool mask of real inputs, or ``None`` when every input is real."""
        first_real = max(self.k, 1)
        if teacher_mask is not None:
            if bool(teacher_mask[:, first_real:].all()):  # one sync per call: pick the fast path
                return None
            mask = teacher_mask.to(like.device).clone()
        elif teacher_prob >= 1.0:
            return None
        elif teacher_prob <= 0.0:
            mask = torch.zeros((batch, time), dtype=torch.bool, device=like.device)
        else:
            check_generator("generator (needed for scheduled sampling)", generator, like.device)
            draw = torch.rand((batch, time), generator=generator, device=like.device)
            mask = draw < teacher_prob
        mask[:, :first_real] = True
        return mask

    def _draw_noise(
        self, batch: int, time: int, generator: torch.Generator | None, like: torch.Tensor
    ) -> torch.Tensor | None:
        """``(batch, time, noise_size)`` standard-normal gate noise, or ``None`` if none is used."""
        size = self.core.noise_size
        if size == 0:
            return None
        check_generator(
            "generator (needed for gate noise in training mode; or call model.eval())",
            generator,
            like.device,
        )
        shape = (batch, time, size)
        return torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)

    def _io_weights(self) -> _IOWeights:
        """f_pre and f_post transposed once.

        f_pre's inner tanh layers run as sigmoids (faster on CPU, same values to rounding; see
        :func:`~mbplan.models.affine.tanh_as_sigmoid_layers`); ``output_scale`` is folded into
        f_post's last layer.
        """
        pre = transposed_layers(linear_layers(self.f_pre))
        pre = tanh_as_sigmoid_layers(pre, tanh_last=True)
        first_t, first_bias = pre[0]
        return _IOWeights(
            pre_action_t=first_t[: self.action_dim],
            pre_obs_t=first_t[self.action_dim :],
            pre_bias=first_bias,
            pre_rest=pre[1:],
            post=transposed_layers(linear_layers(self.f_post), self.output_scale),
        )

    @staticmethod
    def _project_actions(actions: torch.Tensor, io: _IOWeights) -> torch.Tensor:
        """Action part (plus bias) of f_pre's first layer, ``(..., action_dim) -> (..., W1)``."""
        return add_matmul(io.pre_bias, actions, io.pre_action_t)

    @staticmethod
    def _encode(action_part: torch.Tensor, obs: torch.Tensor, io: _IOWeights) -> torch.Tensor:
        """f_pre from the projected actions and the observations, any leading dimensions."""
        z = add_matmul(action_part, obs, io.pre_obs_t)
        for weight_t, bias in io.pre_rest:  # sigmoid form; the last layer a real tanh
            z = add_matmul(bias, torch.sigmoid(z), weight_t)
        return torch.tanh(z)

    @staticmethod
    def _decode(obs_in: torch.Tensor, core_out: torch.Tensor, io: _IOWeights) -> torch.Tensor:
        """``obs_in + output_scale * f_post(core_out)``, any leading dimensions."""
        z = core_out
        for weight_t, bias in io.post[:-1]:
            z = torch.tanh(add_matmul(bias, z, weight_t))
        weight_t, bias = io.post[-1]
        return add_matmul(obs_in + bias, z, weight_t)

    def _teacher_forced(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        state: torch.Tensor,
        noise: torch.Tensor | None,
        return_states: bool,
    ) -> WorldModelOutput:
        """Every input real: f_pre, core and f_post each run once on whole sequences."""
        io = self._io_weights()
        features = self._encode(self._project_actions(actions, io), obs, io)
        sequence = self.core.forward_sequence(features, state, noise, return_states)
        predictions = self._decode(obs, sequence.outputs, io)
        return WorldModelOutput(predictions, sequence.state, sequence.gates, sequence.states)

    def _autoregress(
        self,
        state: torch.Tensor,
        first_obs: torch.Tensor,
        actions: torch.Tensor,
        real_obs: torch.Tensor | None,
        mask: torch.Tensor | None,
        noise: torch.Tensor | None,
        return_states: bool,
        with_gates: bool = True,
    ) -> WorldModelOutput:
        """The one autoregressive loop (scheduled sampling, ``step`` and ``rollout``).

        Step 0 reads ``first_obs``; step ``t > 0`` reads ``real_obs[:, t]`` where ``mask`` is
        True and the previous prediction elsewhere (always the prediction without ``real_obs``).
        ``with_gates=False`` skips Theta (``gates`` is then ``None``).
        """
        io = self._io_weights()
        step_fn = self.core.make_step_fn(with_gates=with_gates)
        # per-step views by unbind: its backward is one stack (slicing [:, t] in the loop would
        # materialise a whole-sequence zero gradient per step)
        time = actions.shape[1]
        action_parts = self._project_actions(actions, io).unbind(1)
        noise_steps = [None] * time if noise is None else noise.unbind(1)
        real_steps = [None] * time if real_obs is None else real_obs.unbind(1)
        mask_steps = [None] * time if mask is None else mask.unsqueeze(-1).unbind(1)
        obs_in = first_obs
        steps: list[CellStep] = []  # output: the predicted next observation
        for t in range(time):
            real, use_real = real_steps[t], mask_steps[t]
            if t > 0:
                previous = steps[-1].output
                obs_in = previous if real is None else torch.where(use_real, real, previous)
            features = self._encode(action_parts[t], obs_in, io)
            result = step_fn(features, state, noise_steps[t])
            state = result.state
            steps.append(result._replace(output=self._decode(obs_in, result.output, io)))
        return WorldModelOutput(*stack_steps(steps, return_states))

    def extra_repr(self) -> str:
        """Sizes and options, for ``repr``."""
        return (
            f"obs_dim={self.obs_dim}, action_dim={self.action_dim}, k={self.k}, "
            f"state_size={self.state_size}, reg_lambda={self.reg_lambda}, "
            f"output_scale={self.output_scale}"
        )
