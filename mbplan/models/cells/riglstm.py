"""RigLSTM-style modular core: N independent LSTM cells with selection and soft state updating.

**A design proposal, not the paper's specification.** The RigLSTM paper (Wang, Jiang, Zhang, Tang,
Yan, arXiv 2311.02123) names four mechanisms on top of a group of independent LSTM cells: cell
selection, input feature selection, hidden state selection and soft state updating. Its equations
were not available to us (``shared/reference/cells.md`` Sec. A.1-A.2: only the abstract and a
secondary summary, ``shared/seeds/000``; the authors' repository is empty). This cell assembles the
four mechanisms from the verified RIMs mechanisms (``cells.md`` Sec. A.4-A.6). Point by point:

=====================================  ==========================================================
part                                    source
=====================================  ==========================================================
N independent LSTM cells, each with     document (abstract: "a group of independent LSTM cells")
own weights
only K_a cells activated per step,      document (summary: "top Ka ... by similarity scores
chosen by input/hidden similarity       between input features and hidden states")
similarity = scaled dot product of a    inferred: RIMs input attention (A.4 step 1): per-cell
per-cell query of h_{t-1,i} and a key   query ``W^q_i h``, key ``W^k x``, ``/ sqrt(d_k)``, no
of each input slot                      biases
cell score = attention *not* on a       inferred: RIMs rule (A.4 step 2): drop the cells with the
zero "null" slot; top-K_a; mask         largest null-slot attention; mask detached (hard). With
detached                                slots ``s`` and a null score 0 this ranks cells by
                                        ``logsumexp_s S_is`` [derived]
input transformed into K views; each    document (summary: "K different views", "top Kx most
active cell reads its top-K_x views     relevant features based on similarity with its hidden
                                        state")
view = linear map of x; read =          inferred: RIMs read (A.4 step 1) with the
softmax over [null, top-K_x views]      ``Sparse_attention`` "keep top-k, renormalise" (A.6)
each active cell reads the top-K_h      document (summary: "top Kh most relevant states from
hidden states of the cells              other cells for communication")
read = top-K_h softmax attention of     inferred (A.6): per-cell query/key/value of the
h_{t-1,i} over all N cells' h_{t-1}     previous states (all N cells, itself included, as RIMs'
                                        communication attends over all blocks)
the LSTM gates read [input read ;       inferred (A.6 "Grid-LSTM base"): Grid LSTM gates read the
own h_{t-1,i} ; communication read]     concatenated input and hidden states (A.3); standard LSTM
                                        equations (``h = o * tanh(c)``, torch gate order i, f, g,
                                        o) rather than A.3's transcription ``tanh(o * m)``
inactive cells keep h and c             inferred: RIMs masked update (A.4 step 5)
soft update of active cells with        document ("updated by considering the relevance between
attention weights from inputs and the   the inputs and the hidden states from the last and current
states of all cells                     time steps"; summary: "attention weights computed from
                                        input features and states of all cells")
soft update form: lambda_i = softmax    inferred (A.6): a query from the input and all cells'
over {h_{t-1,i}, h~_i} of q . k /       current states, per-cell keys of the old and the new
sqrt(d_k); h = h_old + lambda (h~ -     state; the same lambda moves ``c``
h_old)
defaults N=6, K_a=5, K=6,               document summary, **not verified** (A.2)
K_x=K_h=K_a
no dropout, no multiple heads           simplification (RIMs: dropout 0.1, 4 communication heads)
=====================================  ==========================================================

One step, with ``h, c (B, N, H)`` the previous states and ``x (B, in)``::

    slots    u_s = W^u_s x + b^u_s (s = 1..K views)     or u_1 = x    (input selection off)
    keys     kappa_s = W^kappa_s u_s                      (per-slot key weights)
    scores   S_is = (W^q_i h_i) . kappa_s / sqrt(d_k)
    active   m_i = 1[i in top-K_a of logsumexp_s S_is]    (cell selection; else m = 1)
    read     alpha_i = softmax([0 (null)] + [S_is, s in top-K_x(S_i)]),  r_i = sum_s alpha_is u_s
             (null slot only with cell selection; top-K_x only with input selection)
    comm     z_i = sum_{j in top-K_h(S'_i)} softmax_j(S'_ij) W^v_j h_j,
             S'_ij = (W^q'_i h_i) . (W^k'_j h_j) / sqrt(d_k)          (hidden selection)
    LSTM     (i, f, g, o) = W^x_i r_i + W^h_i h_i + W^z_i z_i + b_i;
             c~ = f c + i g;  h~ = o tanh(c~)
    hard     h^ = h + m (h~ - h)
    soft     q = W^Qx x + W^Qh vec(h^)
             lambda_i = sigmoid(q . (W^K_i h~_i - W^K_i h_i) / sqrt(d_k))
    update   h_t = h + m lambda (h~ - h),  c_t = c + m lambda (c~ - c)   (lambda = 1 without soft)

Each mechanism is switchable, and switching it off removes it: ``cell_selection=False``: every
cell active, no null slot; ``input_selection=False``: no views, cells read ``x`` itself (through
the null-slot read weight when cell selection is on, so that the selection's query and key
weights still get gradients, as in RIMs); ``hidden_selection=False``: no communication;
``soft_update=False``: the hard masked update. With all four off the cell is N independent
``nn.LSTMCell`` s reading ``x``. Inactive cells are computed too and their new state discarded.
Gradients: the top-k sets are hard and carry no gradient (as RIMs' detached mask); gradients
flow through the softmax weights of the selected entries, the LSTM and the soft update.

Sizes: ``hidden_size`` is the size **per cell** ``H`` (the world model's ``hidden_size``), so the
core has ``N * H`` units (per cell rather than in total, so that every ``hidden_size`` works with
every ``N``; compare with other cores at equal units by giving those ``N * H``). State packing
``[h_1 .. h_N, c_1 .. c_N]``, ``(batch, 2 N H)``; the output is all cells' ``h``, ``(batch, N H)``,
as RIMs output the whole ``hx``. No L0 gates (``gates is None``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from mbplan.models.affine import add_matmul
from mbplan.models.cells.modular import ModularCell, group_linear, topk_mask
from mbplan.models.validation import require_positive_int


def _masked_softmax(scores: torch.Tensor, keep: torch.Tensor | None, null: bool) -> torch.Tensor:
    """Softmax over the kept entries of the last dim, optionally beside a null slot of score 0.

    Returns the weights of the real entries ``(..., n)``; with a null slot they sum to less than 1.
    """
    if keep is not None:
        scores = scores.masked_fill(~keep, -math.inf)
    if not null:
        return scores.softmax(-1)
    zero = scores.new_zeros(scores.shape[:-1] + (1,))
    return torch.cat([zero, scores], dim=-1).softmax(-1)[..., 1:]


class RigSelections(NamedTuple):
    """What the mechanisms chose in one step (``None`` where a mechanism is off).

    Attributes:
        active: ``(batch, N)`` bool, the cells updated this step (cell selection).
        view_weights: ``(batch, N, S)`` read weights of the input slots (``S = K`` views, or 1
            for ``x`` itself); zero outside each cell's top-``K_x``; with cell selection they
            sum to less than 1 (the rest is on the null slot).
        comm_weights: ``(batch, N, N)`` weight of cell ``j``'s state in cell ``i``'s read, zero
            outside each row's top-``K_h`` (hidden selection).
        soft_weights: ``(batch, N)`` lambda of the soft update (soft update).
    """

    active: torch.Tensor | None
    view_weights: torch.Tensor | None
    comm_weights: torch.Tensor | None
    soft_weights: torch.Tensor | None


class _RigWeights(NamedTuple):
    """Parameters and their fused forms, prepared once per call."""

    # (N, H, 4H [+ d_k] [+ 2 d_k + H] [+ d_k]): W^h | W^q | W^q' W^k' W^v | W^K, side by side
    recurrent: torch.Tensor
    lstm_bias: torch.Tensor  # (N, 4H)


class RigLSTMCell(ModularCell):
    """RigLSTM-style layer of ``num_cells`` LSTM cells (see the module docstring).

    Args:
        input_size: size of ``x_t``.
        hidden_size: ``H``, the size of **each** cell (the core has ``num_cells * H`` units).
        num_cells: ``N`` (document: 6).
        active_cells: ``K_a``, cells updated per step (document: 5).
        num_views: ``K``, linear views of the input (document: 6).
        view_topk: ``K_x``, views each active cell reads (document: ``K_x = K_a``).
        comm_topk: ``K_h``, cells whose states each cell reads (document: ``K_h = K_a``).
        view_size: size of each input view.
        key_size: ``d_k`` of all queries and keys.
        cell_selection: top-``K_a`` cell selection with RIMs' null input slot (off: all active).
        input_selection: read ``K`` views with top-``K_x`` attention (off: read ``x`` itself).
        hidden_selection: top-``K_h`` communication among cells (off: cells independent).
        soft_update: attention-weighted soft state update (off: hard masked update).

    Raises:
        ValueError: for non-positive sizes or a ``K`` out of range.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        num_cells: int = 6,
        active_cells: int = 5,
        num_views: int = 6,
        view_topk: int = 5,
        comm_topk: int = 5,
        view_size: int = 16,
        key_size: int = 16,
        cell_selection: bool = True,
        input_selection: bool = True,
        hidden_selection: bool = True,
        soft_update: bool = True,
    ) -> None:
        for name, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_cells", num_cells),
            ("active_cells", active_cells),
            ("num_views", num_views),
            ("view_topk", view_topk),
            ("comm_topk", comm_topk),
            ("view_size", view_size),
            ("key_size", key_size),
        ):
            require_positive_int(name, value)
        for name, value, upper, label in (
            ("active_cells", active_cells, num_cells, "num_cells"),
            ("comm_topk", comm_topk, num_cells, "num_cells"),
            ("view_topk", view_topk, num_views, "num_views"),
        ):
            if value > upper:
                raise ValueError(f"{name}: expected at most {label}={upper}, got {value}")
        cells, hidden = num_cells, hidden_size
        super().__init__(input_size, hidden, cells)
        self.num_cells = cells
        self.active_cells = active_cells
        self.num_views = num_views
        self.view_topk = view_topk
        self.comm_topk = comm_topk
        self.view_size = view_size
        self.key_size = key_size
        self.cell_selection = bool(cell_selection)
        self.input_selection = bool(input_selection)
        self.hidden_selection = bool(hidden_selection)
        self.soft_update = bool(soft_update)
        self._scale = 1.0 / math.sqrt(key_size)

        slots, slot_size = (num_views, view_size) if input_selection else (1, input_size)
        self.slot_size = slot_size
        if input_selection:
            self.view_weight = nn.Parameter(torch.empty(input_size, num_views * view_size))
            self.view_bias = nn.Parameter(torch.empty(num_views * view_size))
        # the input keys feed only the selection scores: without either selection nobody reads them
        if self.cell_selection or input_selection:
            self.key_weight = nn.Parameter(torch.empty(slots, slot_size, key_size))
            self.query_weight = nn.Parameter(torch.empty(cells, hidden, key_size))
        self.input_weight = nn.Parameter(torch.empty(cells, slot_size, 4 * hidden))
        self.recurrent_weight = nn.Parameter(torch.empty(cells, hidden, 4 * hidden))
        self.bias = nn.Parameter(torch.empty(cells, 4 * hidden))
        if hidden_selection:
            # per cell: query, key and value of its previous state for communication
            self.comm_weight = nn.Parameter(torch.empty(cells, hidden, 2 * key_size + hidden))
            self.comm_input_weight = nn.Parameter(torch.empty(cells, hidden, 4 * hidden))
        if soft_update:
            self.soft_query_x = nn.Parameter(torch.empty(input_size, key_size))
            self.soft_query_h = nn.Parameter(torch.empty(cells * hidden, key_size))
            self.soft_key = nn.Parameter(torch.empty(cells, hidden, key_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """LSTM weights ``U(-1/sqrt(H), 1/sqrt(H))`` as ``nn.LSTMCell``; the others fan-in uniform.

        Weights of shape ``(..., in, out)`` get ``U(-1/sqrt(in), 1/sqrt(in))``; the view biases the
        same bound as their weights.
        """
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in (self.input_weight, self.recurrent_weight, self.bias):
            nn.init.uniform_(weight, -bound, bound)
        for name, param in self.named_parameters():
            if name in ("input_weight", "recurrent_weight", "bias", "view_bias"):
                continue
            fan_in = param.shape[-2]
            nn.init.uniform_(param, -1.0 / math.sqrt(fan_in), 1.0 / math.sqrt(fan_in))
        if self.input_selection:
            fan_in = self.input_size
            nn.init.uniform_(self.view_bias, -1.0 / math.sqrt(fan_in), 1.0 / math.sqrt(fan_in))

    # ------------------------------------------------------------------ the step in parts

    def _prepare(self) -> _RigWeights:
        parts = [self.recurrent_weight]
        if self.cell_selection or self.input_selection:
            parts.append(self.query_weight)
        if self.hidden_selection:
            parts.append(self.comm_weight)
        if self.soft_update:
            parts.append(self.soft_key)
        recurrent = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        return _RigWeights(recurrent=recurrent, lstm_bias=self.bias)

    def _project(
        self, x: torch.Tensor, noise: torch.Tensor | None, weights: _RigWeights
    ) -> tuple[torch.Tensor | None, ...]:
        """Input slots ``(..., S, slot)``, their keys ``(..., S, d_k)``, the soft query's x part.

        Without selection the slots are not needed, only ``W^x x`` ``(..., N, 4H)``.
        """
        if self.input_selection:
            slots = add_matmul(self.view_bias, x, self.view_weight)
            slots = slots.unflatten(-1, (self.num_views, self.view_size))
        else:
            slots = x.unsqueeze(-2)
        keys = group_linear(slots, self.key_weight) if self._scored else None
        soft_x = x @ self.soft_query_x if self.soft_update else None
        if self.input_selection:
            return slots, keys, soft_x, None
        # one slot, x itself: W^x_i x for every cell now, scaled by the read weight per step
        gates_x = (x @ self.input_weight.transpose(0, 1).flatten(1)).unflatten(
            -1, (self.num_cells, 4 * self.hidden_size)
        )
        return None, keys, soft_x, gates_x

    @property
    def _scored(self) -> bool:
        """Whether input-slot similarity scores are needed (cell or input selection)."""
        return self.cell_selection or self.input_selection

    def _update(
        self,
        projected: tuple[torch.Tensor | None, ...],
        state: torch.Tensor,
        weights: _RigWeights,
    ) -> tuple[torch.Tensor, RigSelections]:
        """One step: the new packed state ``(B, 2 N H)`` and what each mechanism chose."""
        slots, keys, soft_x, gates_x = projected
        hidden, key = self.hidden_size, self.key_size
        h, c = self._unpack(state)  # (B, N, H) each
        fused = group_linear(h, weights.recurrent)  # (B, N, 4H + ...)
        gates = fused[..., : 4 * hidden] + weights.lstm_bias
        offset = 4 * hidden
        active = read = comm_read = soft = None
        if self._scored:
            assert keys is not None
            query = fused[..., offset : offset + key]
            offset += key
            scores = torch.bmm(query, keys.transpose(1, 2)) * self._scale  # (B, N, S)
            if self.cell_selection:
                relevance = torch.logsumexp(scores, dim=-1)  # ranks like 1 - null attention
                active = topk_mask(relevance, self.active_cells)  # (B, N)
            keep = topk_mask(scores, self.view_topk) if self.input_selection else None
            read = _masked_softmax(scores, keep, null=self.cell_selection)  # (B, N, S)
        if self.input_selection:
            assert slots is not None and read is not None
            gates = gates + group_linear(torch.bmm(read, slots), self.input_weight)
        else:
            assert gates_x is not None
            gates = gates + (gates_x if read is None else read * gates_x)
        if self.hidden_selection:
            comm = fused[..., offset : offset + 2 * key + hidden]
            offset += 2 * key + hidden
            comm_q, comm_k, comm_v = comm.split([key, key, hidden], dim=-1)
            comm_scores = torch.bmm(comm_q, comm_k.transpose(1, 2)) * self._scale  # (B, N, N)
            keep = topk_mask(comm_scores, self.comm_topk)
            comm_read = _masked_softmax(comm_scores, keep, null=False)
            gates = gates + group_linear(torch.bmm(comm_read, comm_v), self.comm_input_weight)
        in_gate, forget, candidate, out_gate = gates.chunk(4, dim=-1)
        c_new = torch.sigmoid(forget) * c + torch.sigmoid(in_gate) * torch.tanh(candidate)
        h_new = torch.sigmoid(out_gate) * torch.tanh(c_new)
        step = None if active is None else active.to(h.dtype).unsqueeze(-1)  # (B, N, 1)
        if self.soft_update:
            assert soft_x is not None
            old_keys = fused[..., offset : offset + key]
            hard = h_new if step is None else h + step * (h_new - h)
            query = soft_x + hard.flatten(1) @ self.soft_query_h  # (B, d_k)
            new_keys = group_linear(h_new, self.soft_key)
            logit = torch.bmm(new_keys - old_keys, query.unsqueeze(-1)) * self._scale
            soft = torch.sigmoid(logit)  # (B, N, 1)
            step = soft if step is None else step * soft
        if step is None:
            h_out, c_out = h_new, c_new
        else:
            h_out, c_out = h + step * (h_new - h), c + step * (c_new - c)
        selections = RigSelections(
            active=active,
            view_weights=read,
            comm_weights=comm_read,
            soft_weights=None if soft is None else soft.squeeze(-1),
        )
        return self._pack(h_out, c_out), selections

    def selections(self, x: torch.Tensor, state: torch.Tensor) -> RigSelections:
        """What each mechanism chooses in one step from ``state`` on input ``x``.

        Args:
            x: ``(batch, input_size)``.
            state: ``(batch, state_size)``.

        Returns:
            The :class:`RigSelections` of that step (the same numbers the step uses).
        """
        return self._step_record(x, state)[1]

    def extra_repr(self) -> str:
        """Sizes and options, for ``repr``."""
        return (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"num_cells={self.num_cells}, active_cells={self.active_cells}, "
            f"num_views={self.num_views}, view_topk={self.view_topk}, "
            f"comm_topk={self.comm_topk}, view_size={self.view_size}, key_size={self.key_size}, "
            f"cell_selection={self.cell_selection}, input_selection={self.input_selection}, "
            f"hidden_selection={self.hidden_selection}, soft_update={self.soft_update}"
        )
