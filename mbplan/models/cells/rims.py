"""RIMs core: one step of the official ``BlocksCore`` of Recurrent Independent Mechanisms.

Goyal, Lamb, Hoffmann, Sodhani, Levine, Bengio, Schoelkopf, "Recurrent Independent Mechanisms"
(ICLR 2021), official code ``anirudh9119/RIMs`` (``event_based/blocks_core.py``, ``attention.py``,
``BlockLSTM.py``, ``sparse_attn.py``, ``sparse_grad_attn.py``), reimplemented from the restatement
in ``shared/reference/cells.md`` Sec. A.4 (no code copied). This is the RIMs layer itself, not
the RIM-style baseline that :class:`~mbplan.models.cells.RigLSTMCell` gives with some of its
mechanisms off (that one reads ``x`` itself, communicates before the LSTM update through top-K_h
attention, and has no 4-head gated-residual communication and no dropout).

One step, with ``h, c (B, N, d)`` the previous states of the ``N`` blocks and ``x (B, in)``::

    read      kappa = x W^k,  v = x W^v                  (the input slot; the null slot's key and
                                                          value are exactly 0, see below)
              s_k = (h_k W^q_k) . kappa / sqrt(d_k)      (null-slot score 0)
              (a_k0, a_k1) = softmax([0, s_k])           (attention on null slot, on input)
              u_k = drop(a_k1 v)                         (B, N, 4d)
    select    m_k = 0 for the N - topk blocks with the largest a_k0, else 1   (detached)
    LSTM      (i, f, g, o)_k = u_k W^ih_k + b^ih_k + h_k W^hh_k + b^hh_k
              c~_k = sigmoid(f) c_k + sigmoid(i) tanh(g),  h~_k = sigmoid(o) tanh(c~_k)
    comm      r = blocked_grad(h~, m)
              per head e: q_ek = r_k W^Q_ek, k_ej = r_j W^K_ej, v_ej = r_j W^V_ej
              z_k = [sum_j softmax_j(q_ek . k_ej / sqrt(d_c)) v_ej]_{e = 1..heads}
              h~_k <- h~_k + sigmoid(W_gate z_k + b_gate) * tanh(drop(W_fc z_k + b_fc))
    update    h_t = m h~ + (1 - m) h,   c_t = m c~ + (1 - m) c

Point by point against ``cells.md`` A.4:

===========================================  ====================================================
part                                          here
===========================================  ====================================================
1. input read: X = [0 ; x_t], one head,       as A.4: per-block query weights ``read_query``
   per-slot key/value, per-block query         ``(N, d, d_k)``, key/value weights of the input
   (GroupLinear, 0.01 N(0, 1), no bias),       slot ``read_key (in, d_k)``, ``read_value (in,
   d_k = 64, d_v = 4d, softmax over the 2      4d)``, init 0.01 N(0, 1), no biases; softmax over
   slots, dropout 0.1, no projection, no       [null, input]; dropout on ``u``; no output
   residual                                    projection, no residual. **Deviation (none in
                                               effect)**: the null slot's key/value weights are
                                               not created: they multiply the zero row, so its
                                               key and value are exactly 0 for any weights and
                                               those weights never get a gradient
   ``Sparse_attention`` (top_k 2 -> 3 >= 2     omitted: it returns its input unchanged at these
   keys)                                       sizes (A.4), as the communication's (N <= N + 1)
   the input ``MultiHeadAttention``'s          not created: with ``residual=False`` the official
   ``gate_fc`` and ``LayerNorm``               code computes the gate and discards it, and never
                                               calls the LayerNorm; neither affects any output
2. cell selection: drop the N - topk blocks   as A.4: ``~topk_mask(a_0, N - topk)`` on the
   with the largest null attention; binary     detached attention (ties broken by
   mask, detached                              ``torch.topk``, as the official ``torch.topk``)
3. block-diagonal ``nn.LSTMCell(4dN, Nd)``,   **structural**: per-block weights ``weight_ih (N,
   biases not masked                           4d, 4d)``, ``weight_hh (N, d, 4d)`` applied by a
                                               grouped matmul, so off-diagonal blocks do not
                                               exist (the official code zeroes them once per
                                               forward pass; same function, and no gradient can
                                               reach them). Both biases ``(N, 4d)`` kept, init as
                                               ``nn.LSTMCell(4dN, Nd)``: ``U(-1/sqrt(Nd),
                                               1/sqrt(Nd))``. Gate order ``i, f, g, o`` within a
                                               block (a permutation of the LSTMCell's rows;
                                               ``tests/models/test_models_rims.py`` checks the
                                               equality with a blockified ``nn.LSTMCell``)
4. communication: blocked_grad(h~, m), 4      as A.4: per-block Q/K/V weights ``(N, d, heads *
   heads, d_k = d_v = 16, per-block            16)`` (0.01 N(0, 1), no bias), softmax over all N
   GroupLinear Q/K/V, softmax over blocks,     blocks, heads concatenated, ``comm_fc`` and
   o = sigmoid(W_gate z) tanh(W_fc z),         ``comm_gate`` shared ``nn.Linear(heads * 16, d)``
   dropout 0.1 on the fc path, h~ += o         with bias (the official ``fc`` / ``gate_fc``),
                                               dropout on the fc output before the tanh.
                                               ``communication=False`` leaves the step out
                                               (the official ``do_block=False``)
   blocked_grad: identity forward, gradient    as A.4 **in training mode** (where the official
   times the mask backward                     code backpropagates); in eval mode the backward is
                                               the exact derivative of the forward, so that
                                               Jacobians (:mod:`mbplan.analysis`), gradient-based
                                               planners and ``gradcheck`` see the derivative of
                                               the map they use
5. masked update                              as A.4 (``torch.where`` on the mask: the same
                                               values, inactive blocks' ``h`` and ``c`` exactly
                                               unchanged, the same gradients)
dropout 0.1 (both places)                     **default 0.0**, option ``dropout`` (the official
                                               value is 0.1). Every random number of a cell comes
                                               from the caller's explicit generator
                                               (:mod:`mbplan.models.cells.base`): with ``dropout >
                                               0`` in training mode the cell asks for ``noise_size
                                               = N 4d (+ N d with communication)`` standard-normal
                                               draws per step and keeps a unit where its draw
                                               exceeds ``Phi^-1(p)`` (probability ``1 - p``),
                                               scaling by ``1 / (1 - p)`` as ``nn.Dropout``; eval
                                               mode draws nothing. The default 0.0 keeps the core
                                               deterministic in training mode (no generator
                                               needed) like the other non-gated cores
defaults: num_blocks 6, topk 4                as ``train_mnist.py``
sizes d_k = 64, d_c = 16, 4 heads             defaults as A.4; options ``input_key_size``,
                                               ``comm_key_size``, ``comm_value_size``,
                                               ``comm_heads`` (for small tests)
``nhid`` = all units, d = nhid / N            **deviation**: ``hidden_size`` is ``d``, the size
                                               per block (the core has ``N d`` units), as for
                                               ``riglstm``, so that every ``hidden_size`` works
                                               with every ``N``; official ``nhid = N *
                                               hidden_size``
one input block, ``num_modules_read_input``   fixed at the official defaults (one input block,
= 2; LSTM blocks (``do_gru=False``)           one null plus one input slot; LSTM, no GRU)
output: ``hx``                                ``h`` of all blocks ``(B, N d)`` (what
                                               ``BlocksCore`` returns and the official model's
                                               last layer reads). **Deviation for stacks**: the
                                               official ``RNNModel`` feeds ``m * h`` to a next
                                               layer (``h`` with ``--use_inactive``); a
                                               :class:`~mbplan.models.cells.RecurrentStack` feeds
                                               ``h``, as the output is read from the state,
                                               which does not hold ``m``
===========================================  ====================================================

Arithmetic (not a deviation): ``W^ih_k (a_k1 v) = a_k1 (W^ih_k v)``, so the sequence path computes
``W^ih_k v`` (with the dropout mask of ``u``, which comes from the noise) for all steps at once
and scales it by ``a_k1`` in the loop; the step path uses the same parts.

Differences of the ``dido1998/Recurrent-Independent-Mechanisms`` ``RIMCell`` (A.5), which this cell
does **not** follow: it appends the null slot second and activates the top-k units by raw score on
the input (the same ranking as the null-attention rule here, since the null key is 0 [derived,
A.5]); its key/value projections have biases, so its null slot reads a learned non-zero value;
inactive units get zero input (here they read the input too, and their update is discarded: the
same state); its unit LSTMs have no biases; its communication multiplies the attention by the
querying unit's mask and adds a per-unit GroupLinear output as a plain residual (no sigmoid gate,
no tanh), with ``comm_value_size`` forced to the hidden size; its two dropouts are swapped; its
``RIM`` draws random initial states.

State packing ``[h_1 .. h_N, c_1 .. c_N]`` ``(batch, 2 N d)`` (the official ``hx``, ``cx``, block
by block, side by side, as an LSTM's ``[h, c]``); the output is all blocks' ``h`` ``(batch, N d)``;
no L0 gates (``gates is None``).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import NamedTuple

import torch
from torch import nn

from mbplan.models.affine import add_matmul
from mbplan.models.cells.modular import ModularCell, group_linear, topk_mask
from mbplan.models.validation import require_positive_int


def blocked_grad(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """RIMs' ``blocked_grad``: ``x`` forward, the gradient multiplied by ``mask`` backward.

    Args:
        x: ``(batch, N, d)``.
        mask: ``(batch, N)`` bool, the blocks whose gradient passes.

    Returns:
        ``x`` (the same values); gradients reach ``x`` only where ``mask`` is true.
    """
    return torch.where(mask.unsqueeze(-1), x, x.detach())


def dropout_scale(noise: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted-dropout factors from standard-normal draws (the caller's generator).

    A unit is kept where its draw exceeds ``Phi^-1(p)``, with probability ``1 - p``.

    Args:
        noise: standard-normal draws, any shape.
        p: drop probability, ``0 < p < 1``.

    Returns:
        ``1 / (1 - p)`` where kept, ``0`` where dropped; shape and dtype of ``noise``.
    """
    keep = noise > NormalDist().inv_cdf(p)
    return keep.to(noise.dtype) / (1.0 - p)


class RIMTrace(NamedTuple):
    """The intermediate quantities of one step (see the module docstring).

    Attributes:
        input_attention: ``(batch, N, 2)`` softmax over ``[null slot, input]`` of each block.
        active: ``(batch, N)`` bool, the blocks updated this step (the mask ``m``).
        read: ``(batch, N, 4d)`` the input read ``u`` (after dropout).
        lstm_h: ``(batch, N, d)`` the LSTM's ``h~`` before communication.
        lstm_c: ``(batch, N, d)`` the LSTM's ``c~``.
        communication: ``(batch, N, d)`` the residual ``o`` added to ``h~``, or ``None``.
    """

    input_attention: torch.Tensor
    active: torch.Tensor
    read: torch.Tensor
    lstm_h: torch.Tensor
    lstm_c: torch.Tensor
    communication: torch.Tensor | None


class _RIMWeights(NamedTuple):
    """Parameters and their fused forms, prepared once per call."""

    read_kv: torch.Tensor  # (in, d_k + 4d): input-slot key | value
    value_ih: torch.Tensor  # (4d, N 4d): W^ih of every block side by side (for no dropout)
    recurrent: torch.Tensor  # (N, d, 4d + d_k): W^hh | read query
    bias: torch.Tensor  # (N, 4d): b^ih + b^hh
    comm_qkv: torch.Tensor | None  # (N, d, heads (2 d_c + d_v)): Q | K | V
    comm_out_t: torch.Tensor | None  # (heads d_v, 2d): W_fc^T | W_gate^T
    comm_out_bias: torch.Tensor | None  # (2d,)


class RIMCell(ModularCell):
    """The RIMs layer of the official code (``BlocksCore``; see the module docstring).

    Args:
        input_size: size of ``x_t``.
        hidden_size: ``d``, the size of **each** block (the core has ``num_blocks * d`` units).
        num_blocks: ``N`` (official default 6).
        topk: blocks updated per step (official default 4).
        communication: the attention among blocks after the LSTM (official ``step_att``).
        dropout: drop probability of the input read and of the communication's fc path
            (official 0.1; default 0.0, see the module docstring).
        input_key_size: ``d_k`` of the input read (official 64).
        comm_key_size: ``d_k`` of the communication per head (official 16).
        comm_value_size: ``d_v`` of the communication per head (official 16).
        comm_heads: communication heads (official 4).

    Raises:
        ValueError: for non-positive sizes, ``topk`` outside ``1..num_blocks`` or a dropout
            outside ``[0, 1)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        num_blocks: int = 6,
        topk: int = 4,
        communication: bool = True,
        dropout: float = 0.0,
        input_key_size: int = 64,
        comm_key_size: int = 16,
        comm_value_size: int = 16,
        comm_heads: int = 4,
    ) -> None:
        for name, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_blocks", num_blocks),
            ("topk", topk),
            ("input_key_size", input_key_size),
            ("comm_key_size", comm_key_size),
            ("comm_value_size", comm_value_size),
            ("comm_heads", comm_heads),
        ):
            require_positive_int(name, value)
        if topk > num_blocks:
            raise ValueError(f"topk: expected at most num_blocks={num_blocks}, got {topk}")
        probability = isinstance(dropout, int | float) and not isinstance(dropout, bool)
        if not (probability and 0.0 <= dropout < 1.0):
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        blocks, d = num_blocks, hidden_size
        super().__init__(input_size, d, blocks)
        self.num_blocks = blocks
        self.topk = topk
        self.communication = bool(communication)
        self.dropout = float(dropout)
        self.input_key_size = input_key_size
        self.comm_key_size = comm_key_size
        self.comm_value_size = comm_value_size
        self.comm_heads = comm_heads
        self.read_size = 4 * d  # d_v of the input read = the LSTM input per block
        self._read_scale = 1.0 / math.sqrt(input_key_size)
        self._comm_scale = 1.0 / math.sqrt(comm_key_size)

        self.read_query = nn.Parameter(torch.empty(blocks, d, input_key_size))
        self.read_key = nn.Parameter(torch.empty(input_size, input_key_size))
        self.read_value = nn.Parameter(torch.empty(input_size, self.read_size))
        self.weight_ih = nn.Parameter(torch.empty(blocks, self.read_size, 4 * d))
        self.weight_hh = nn.Parameter(torch.empty(blocks, d, 4 * d))
        self.bias_ih = nn.Parameter(torch.empty(blocks, 4 * d))
        self.bias_hh = nn.Parameter(torch.empty(blocks, 4 * d))
        if self.communication:
            heads = comm_heads
            self.comm_query = nn.Parameter(torch.empty(blocks, d, heads * comm_key_size))
            self.comm_key = nn.Parameter(torch.empty(blocks, d, heads * comm_key_size))
            self.comm_value = nn.Parameter(torch.empty(blocks, d, heads * comm_value_size))
            self.comm_fc = nn.Linear(heads * comm_value_size, d)
            self.comm_gate = nn.Linear(heads * comm_value_size, d)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The official initialisation.

        GroupLinear weights (queries, keys, values) ``0.01 N(0, 1)``; the LSTM weights and both
        biases ``U(-1/sqrt(N d), 1/sqrt(N d))`` (``nn.LSTMCell(4 N d, N d)``); ``comm_fc`` and
        ``comm_gate`` ``nn.Linear``'s default.
        """
        grouped = [self.read_query, self.read_key, self.read_value]
        if self.communication:
            grouped += [self.comm_query, self.comm_key, self.comm_value]
            self.comm_fc.reset_parameters()
            self.comm_gate.reset_parameters()
        for weight in grouped:
            nn.init.normal_(weight, mean=0.0, std=0.01)
        bound = 1.0 / math.sqrt(self.num_blocks * self.hidden_size)
        for weight in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            nn.init.uniform_(weight, -bound, bound)

    @property
    def noise_size(self) -> int:
        """Standard-normal draws per step: the dropout masks, in training mode with dropout."""
        if not (self.training and self.dropout > 0.0):
            return 0
        comm = self.num_blocks * self.hidden_size if self.communication else 0
        return self.num_blocks * self.read_size + comm

    # ------------------------------------------------------------------ the step in parts

    def _prepare(self) -> _RIMWeights:
        comm_qkv = comm_out_t = comm_out_bias = None
        if self.communication:
            comm_qkv = torch.cat([self.comm_query, self.comm_key, self.comm_value], dim=-1)
            comm_out_t = torch.cat([self.comm_fc.weight, self.comm_gate.weight], dim=0).t()
            comm_out_bias = torch.cat([self.comm_fc.bias, self.comm_gate.bias])
        return _RIMWeights(
            read_kv=torch.cat([self.read_key, self.read_value], dim=-1),
            value_ih=self.weight_ih.transpose(0, 1).flatten(1),
            recurrent=torch.cat([self.weight_hh, self.read_query], dim=-1),
            bias=self.bias_ih + self.bias_hh,
            comm_qkv=comm_qkv,
            comm_out_t=comm_out_t,
            comm_out_bias=comm_out_bias,
        )

    def _project(
        self, x: torch.Tensor, noise: torch.Tensor | None, weights: _RIMWeights
    ) -> tuple[torch.Tensor | None, ...]:
        """Input key, value, ``W^ih_k`` of the (dropped) value and the dropout factors.

        Shapes: key ``(..., d_k)``, value ``(..., 4d)``, ``W^ih_k v`` ``(..., N, 4d)``, dropout
        factors of ``u`` ``(..., N, 4d)`` and of the communication ``(..., N, d)`` (``None``
        without dropout: eval mode, ``dropout == 0`` or no noise given).
        """
        blocks, read = self.num_blocks, self.read_size
        key, value = (x @ weights.read_kv).split([self.input_key_size, read], dim=-1)
        read_drop = comm_drop = None
        if noise is not None and self.noise_size > 0:
            scale = dropout_scale(noise, self.dropout)
            read_drop = scale[..., : blocks * read].unflatten(-1, (blocks, read))
            if self.communication:
                comm_drop = scale[..., blocks * read :].unflatten(-1, (blocks, self.hidden_size))
        if read_drop is not None:
            value_gates = group_linear(value.unsqueeze(-2) * read_drop, self.weight_ih)
        else:  # no dropout mask on u: one matmul for every block
            value_gates = (value @ weights.value_ih).unflatten(-1, (blocks, 4 * self.hidden_size))
        return key, value, value_gates, read_drop, comm_drop

    def _update(
        self,
        projected: tuple[torch.Tensor | None, ...],
        state: torch.Tensor,
        weights: _RIMWeights,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor | None, ...]]:
        """One step: the new packed state ``(B, 2 N d)`` and the step's intermediate tensors."""
        key, _, value_gates, _, comm_drop = projected
        assert key is not None and value_gates is not None
        blocks, d = self.num_blocks, self.hidden_size
        h, c = self._unpack(state)  # (B, N, d) each
        fused = group_linear(h, weights.recurrent)  # (B, N, 4d + d_k)
        recurrent_gates, query = fused.split([4 * d, self.input_key_size], dim=-1)
        score = torch.bmm(query, key.unsqueeze(-1)) * self._read_scale  # (B, N, 1)
        attention = torch.cat([torch.zeros_like(score), score], dim=-1).softmax(-1)  # (B, N, 2)
        active = ~topk_mask(attention[..., 0].detach(), blocks - self.topk)  # (B, N)
        gates = attention[..., 1:] * value_gates + recurrent_gates + weights.bias
        in_gate, forget, candidate, out_gate = gates.chunk(4, dim=-1)
        c_new = torch.sigmoid(forget) * c + torch.sigmoid(in_gate) * torch.tanh(candidate)
        h_lstm = torch.sigmoid(out_gate) * torch.tanh(c_new)
        h_new, comm = h_lstm, None
        if self.communication:
            read_by = blocked_grad(h_lstm, active) if self.training else h_lstm
            comm = self._communicate(read_by, comm_drop, weights)
            h_new = h_lstm + comm
        mask = active.unsqueeze(-1)
        h_out, c_out = torch.where(mask, h_new, h), torch.where(mask, c_new, c)
        return self._pack(h_out, c_out), (attention, active, h_lstm, c_new, comm)

    def _communicate(
        self, h: torch.Tensor, drop: torch.Tensor | None, weights: _RIMWeights
    ) -> torch.Tensor:
        """The gated residual ``o (B, N, d)`` of the attention among the blocks' ``h (B, N, d)``."""
        assert weights.comm_qkv is not None and weights.comm_out_t is not None
        heads, key, value = self.comm_heads, self.comm_key_size, self.comm_value_size
        qkv = group_linear(h, weights.comm_qkv)
        q, k, v = (
            part.unflatten(-1, (heads, -1)).transpose(1, 2)  # (B, heads, N, size)
            for part in qkv.split([heads * key, heads * key, heads * value], dim=-1)
        )
        attention = (q @ k.transpose(-1, -2) * self._comm_scale).softmax(-1)  # over blocks
        z = (attention @ v).transpose(1, 2).flatten(-2)  # (B, N, heads d_v), heads concatenated
        fc, gate = add_matmul(weights.comm_out_bias, z, weights.comm_out_t).chunk(2, dim=-1)
        if drop is not None:
            fc = fc * drop
        return torch.sigmoid(gate) * torch.tanh(fc)

    def trace(
        self, x: torch.Tensor, state: torch.Tensor, noise: torch.Tensor | None = None
    ) -> RIMTrace:
        """The intermediate quantities of one step from ``state`` on input ``x``.

        Args:
            x: ``(batch, input_size)``.
            state: ``(batch, state_size)``.
            noise: ``(batch, noise_size)`` dropout draws, when ``noise_size > 0``.

        Returns:
            The :class:`RIMTrace` of that step (the same numbers the step uses).
        """
        projected, (attention, active, h_lstm, c_lstm, comm) = self._step_record(x, state, noise)
        value, read_drop = projected[1], projected[3]
        assert value is not None
        read = attention[..., 1:] * value.unsqueeze(-2)
        return RIMTrace(
            input_attention=attention,
            active=active,
            read=read if read_drop is None else read * read_drop,
            lstm_h=h_lstm,
            lstm_c=c_lstm,
            communication=comm,
        )

    def extra_repr(self) -> str:
        """Sizes and options, for ``repr``."""
        return (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"num_blocks={self.num_blocks}, topk={self.topk}, "
            f"communication={self.communication}, dropout={self.dropout}, "
            f"input_key_size={self.input_key_size}, comm_key_size={self.comm_key_size}, "
            f"comm_value_size={self.comm_value_size}, comm_heads={self.comm_heads}"
        )
