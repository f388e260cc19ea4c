"""RIMs core: selection, block-diagonal LSTM, blocked_grad, communication, dropout, paths, CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch.autograd.functional import jacobian
from torch.func import functional_call

from mbplan.cli import main
from mbplan.models import make_world_model
from mbplan.models.cells import RIMCell, unroll
from mbplan.models.cells.rims import blocked_grad, dropout_scale

# small attention sizes (the defaults are d_k = 64, 4 heads of 16): every mechanism still on
SMALL = {"input_key_size": 3, "comm_key_size": 2, "comm_value_size": 3, "comm_heads": 2}


def _cell(input_size=3, hidden=2, seed=0, dtype=torch.float32, **options) -> RIMCell:
    torch.manual_seed(seed)
    return RIMCell(input_size, hidden, **{**SMALL, **options}).to(dtype)


def _inputs(cell: RIMCell, batch=4, seed=1, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, cell.input_size, generator=generator, dtype=dtype)
    state = torch.randn(batch, cell.state_size, generator=generator, dtype=dtype)
    return x, state


def _split(cell: RIMCell, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h, c = state.unflatten(-1, (2, cell.num_blocks, cell.hidden_size)).unbind(-3)
    return h, c


def _state_jacobian(cell: RIMCell, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """``J[k, :, j, :]`` = d (h, c)_k after / d (h, c)_j before, one step, batch 1.

    Returns:
        ``(N, 2d, N, 2d)``, each block's ``h`` then ``c``.
    """
    full = jacobian(lambda s: cell.step(x, s).state, state)[0, :, 0]  # (S, S)
    n, d = cell.num_blocks, cell.hidden_size
    # packed index (part, block, unit) -> (block, part, unit)
    return full.reshape(2, n, d, 2, n, d).permute(1, 0, 2, 4, 3, 5).reshape(n, 2 * d, n, 2 * d)


def _block_jacobian(cell: RIMCell, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """``(N, N)``: the largest |d (h, c)_k after / d (h, c)_j before| of one step."""
    return _state_jacobian(cell, x, state).abs().amax(dim=(1, 3))


def test_defaults_are_the_official_ones_and_hidden_size_is_per_block():
    model = make_world_model("rims", 4, 2, hidden_size=8, feature_size=8)
    cell = model.core.cells[0]
    assert (cell.num_blocks, cell.topk, cell.communication) == (6, 4, True)
    assert (cell.input_key_size, cell.comm_key_size, cell.comm_value_size) == (64, 16, 16)
    assert cell.comm_heads == 4 and cell.dropout == 0.0 and cell.noise_size == 0
    assert cell.output_size == 6 * 8 and cell.state_size == 2 * 6 * 8
    assert model.f_post[0].in_features == 48  # the readout sees every block's h
    # d_v of the input read is 4d, the per-block LSTM input; structural block-diagonal weights
    assert cell.read_value.shape == (8, 32) and cell.read_query.shape == (6, 8, 64)
    assert cell.weight_ih.shape == (6, 32, 32) and cell.weight_hh.shape == (6, 8, 32)
    assert cell.comm_query.shape == (6, 8, 64) and cell.comm_fc.in_features == 64
    # GroupLinear init 0.01 N(0, 1); LSTM init of nn.LSTMCell(4 N d, N d): U(+-1/sqrt(48))
    grouped = torch.cat([p.detach().flatten() for p in (cell.read_query, cell.comm_value)])
    assert 0.009 < float(grouped.std()) < 0.011 and abs(float(grouped.mean())) < 1e-3
    bound = 1 / math.sqrt(48)
    for lstm in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh):
        largest = float(lstm.detach().abs().max())
        assert 0.9 * bound < largest <= bound


def test_hand_set_selection_keeps_the_topk_blocks_of_lowest_null_attention():
    # key = identity on x = e_0 and query_k = q_k h_k[0] e_0: block k's input score is
    # q_k / sqrt(d_k), its null attention 1 / (1 + exp(q_k / sqrt(d_k))) (the null key is 0)
    cell = _cell(input_size=2, hidden=2, num_blocks=5, topk=3, input_key_size=2)
    q = torch.tensor([0.3, -1.0, 2.0, 0.5, -0.2])
    with torch.no_grad():
        cell.read_key.copy_(torch.eye(2))
        cell.read_query.zero_()
        cell.read_query[:, 0, 0] = q
    x = torch.tensor([[1.0, 0.0]])
    h0 = torch.tensor([[1.0, 0.2], [1.0, -0.3], [1.0, 0.4], [1.0, 0.1], [1.0, -0.6]])
    c0 = torch.tensor([[0.5, -0.5], [0.1, 0.2], [-0.4, 0.3], [0.7, 0.0], [0.2, 0.9]])
    state = torch.cat([h0.flatten(), c0.flatten()]).unsqueeze(0)
    trace = cell.trace(x, state)
    null = 1.0 / (1.0 + torch.exp(q / math.sqrt(2)))
    torch.testing.assert_close(trace.input_attention[0, :, 0], null)
    torch.testing.assert_close(trace.input_attention[0, :, 1], 1 - null)
    # the two largest null attentions are blocks 1 and 4: the others are active
    assert torch.equal(trace.active, torch.tensor([[True, False, True, True, False]]))
    h, c = _split(cell, cell.step(x, state).state)
    for k in (1, 4):  # inactive: bit for bit, communication on
        assert torch.equal(h[0, k], h0[k]) and torch.equal(c[0, k], c0[k])
    for k in (0, 2, 3):
        assert not torch.equal(h[0, k], h0[k]) and not torch.equal(c[0, k], c0[k])


def test_exactly_topk_blocks_change_per_step_the_lowest_null_attention_ones():
    cell = _cell(input_size=5, hidden=3, seed=2, num_blocks=6, topk=4)  # official N and k
    with torch.no_grad():  # larger queries than the 0.01 init, so null attentions spread out
        cell.read_query.mul_(100.0)
        cell.read_key.mul_(100.0)
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(16, 6, 5, generator=generator)
    state = torch.randn(16, cell.state_size, generator=generator)
    step_fn = cell.make_step_fn()
    for t in range(6):
        trace = cell.trace(x[:, t], state)
        new_state = step_fn(x[:, t], state, None).state
        (h0, c0), (h1, c1) = _split(cell, state), _split(cell, new_state)
        changed = (h1 != h0).any(-1) | (c1 != c0).any(-1)
        assert torch.equal(changed, trace.active) and (trace.active.sum(-1) == 4).all()
        unchanged = ~trace.active  # inactive blocks: h and c bit for bit
        assert torch.equal(h1[unchanged], h0[unchanged])
        assert torch.equal(c1[unchanged], c0[unchanged])
        lowest = trace.input_attention[..., 0].argsort(dim=-1)[:, :4]
        expected = torch.zeros_like(trace.active).scatter(-1, lowest, True)
        assert torch.equal(trace.active, expected)
        state = new_state


def test_the_block_lstm_is_a_block_diagonal_lstm_cell_on_the_read():
    cell = _cell(input_size=3, hidden=2, seed=4, num_blocks=3, topk=2)
    n, d = cell.num_blocks, cell.hidden_size
    lstm = torch.nn.LSTMCell(4 * d * n, d * n)  # the official nn.LSTMCell(4 d N, N d)
    with torch.no_grad():
        for weight in (lstm.weight_ih, lstm.weight_hh):
            weight.zero_()
        for k in range(n):
            for gate in range(4):  # torch's row blocks i, f, g, o of d N units each
                rows = slice(gate * n * d + k * d, gate * n * d + (k + 1) * d)
                cols = slice(gate * d, (gate + 1) * d)
                lstm.weight_ih[rows, 4 * d * k : 4 * d * (k + 1)] = cell.weight_ih[k][:, cols].t()
                lstm.weight_hh[rows, d * k : d * (k + 1)] = cell.weight_hh[k][:, cols].t()
                lstm.bias_ih[rows] = cell.bias_ih[k, cols]
                lstm.bias_hh[rows] = cell.bias_hh[k, cols]
    x, state = _inputs(cell, batch=5)
    h0, c0 = _split(cell, state)
    trace = cell.trace(x, state)
    # the read is the input-slot attention times the value (the null slot's value is 0)
    value = x @ cell.read_value
    torch.testing.assert_close(trace.read, trace.input_attention[..., 1:] * value.unsqueeze(1))
    h_ref, c_ref = lstm(trace.read.flatten(1), (h0.flatten(1), c0.flatten(1)))
    torch.testing.assert_close(trace.lstm_h.flatten(1), h_ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(trace.lstm_c.flatten(1), c_ref, atol=1e-6, rtol=0)


def test_without_communication_block_k_does_not_depend_on_block_j():
    x, state = _inputs(_cell(num_blocks=4, topk=4), batch=1, dtype=torch.float64)
    independent = _cell(num_blocks=4, topk=4, communication=False, dtype=torch.float64)
    coupling = _block_jacobian(independent, x, state)
    off_diagonal = ~torch.eye(4, dtype=torch.bool)
    assert torch.equal(coupling[off_diagonal], torch.zeros(12, dtype=torch.float64))
    assert (coupling.diagonal() > 1e-3).all()
    # the same weights with communication: blocks now read each other
    communicating = _cell(num_blocks=4, topk=4, dtype=torch.float64)
    communicating.load_state_dict(independent.state_dict(), strict=False)
    with torch.no_grad():  # communication weights large enough to matter
        for p in (communicating.comm_query, communicating.comm_key, communicating.comm_value):
            p.mul_(100.0)
    assert (_block_jacobian(communicating, x, state)[off_diagonal] > 1e-6).all()


def test_blocked_grad_is_the_identity_forward_and_masks_the_gradient():
    x = torch.randn(2, 3, 4, requires_grad=True)
    mask = torch.tensor([[True, False, True], [False, False, True]])
    y = blocked_grad(x, mask)
    assert torch.equal(y, x)
    weight = torch.randn(2, 3, 4)
    (grad,) = torch.autograd.grad((y * weight).sum(), x)
    assert torch.equal(grad, weight * mask.unsqueeze(-1))


def test_no_gradient_reaches_inactive_blocks_through_the_communication_in_training():
    cell = _cell(input_size=3, hidden=2, seed=5, num_blocks=4, topk=2, dtype=torch.float64)
    with torch.no_grad():
        for p in (cell.read_query, cell.comm_query, cell.comm_key, cell.comm_value):
            p.mul_(100.0)
    x, state = _inputs(cell, batch=1, dtype=torch.float64)
    active = cell.trace(x, state).active[0]
    inactive = (~active).nonzero().flatten().tolist()
    assert len(inactive) == 2
    cell.train()  # blocked_grad acts where the official code backpropagates
    jac = _state_jacobian(cell, x, state)
    for k in inactive:  # an inactive block's old state reaches only itself (h = h_old, c = c_old)
        expected = torch.zeros(4, 4, 4, dtype=torch.float64)
        expected[k] = torch.eye(4, dtype=torch.float64)
        assert torch.equal(jac[:, :, k], expected)
    # and its LSTM weights get no gradient from the step, though its h~ is read by the others
    params = dict(cell.named_parameters())
    loss = (cell.step(x, state).output * torch.randn(1, cell.output_size).double()).sum()
    grads = dict(zip(params, torch.autograd.grad(loss, list(params.values())), strict=True))
    for k in inactive:
        assert torch.equal(grads["weight_ih"][k], torch.zeros_like(grads["weight_ih"][k]))
        assert torch.equal(grads["weight_hh"][k], torch.zeros_like(grads["weight_hh"][k]))
    assert all(grads["weight_hh"][k].abs().sum() > 0 for k in active.nonzero().flatten().tolist())
    # eval mode: the exact derivative, in which the active blocks' communication reads them
    cell.eval()
    exact = _block_jacobian(cell, x, state)
    assert all(exact[active, k].min() > 1e-6 for k in inactive)


def test_communication_residual_equals_the_formula():
    cell = _cell(input_size=3, hidden=2, seed=6, num_blocks=3, topk=2)
    with torch.no_grad():
        for p in (cell.comm_query, cell.comm_key, cell.comm_value):
            p.normal_()
    x = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]])
    state = torch.linspace(-1.0, 1.0, 2 * cell.state_size).reshape(2, cell.state_size)
    trace = cell.trace(x, state)
    heads, dk, dv = cell.comm_heads, cell.comm_key_size, cell.comm_value_size
    expected = torch.zeros(2, 3, 2)
    for b in range(2):
        h = trace.lstm_h[b]  # (N, d): the blocks' h~ before communication
        for k in range(3):
            z = []
            for e in range(heads):
                q = h[k] @ cell.comm_query[k][:, e * dk : (e + 1) * dk]
                keys = [h[j] @ cell.comm_key[j][:, e * dk : (e + 1) * dk] for j in range(3)]
                values = [h[j] @ cell.comm_value[j][:, e * dv : (e + 1) * dv] for j in range(3)]
                weights = torch.stack([q @ key / math.sqrt(dk) for key in keys]).softmax(0)
                z.append(sum(w * v for w, v in zip(weights, values, strict=True)))
            z = torch.cat(z)
            fc = cell.comm_fc.weight @ z + cell.comm_fc.bias
            gate = cell.comm_gate.weight @ z + cell.comm_gate.bias
            expected[b, k] = torch.sigmoid(gate) * torch.tanh(fc)
    torch.testing.assert_close(trace.communication, expected)
    h, c = _split(cell, cell.step(x, state).state)
    h0, c0 = _split(cell, state)
    mask = trace.active.unsqueeze(-1)
    torch.testing.assert_close(h, torch.where(mask, trace.lstm_h + expected, h0))
    torch.testing.assert_close(c, torch.where(mask, trace.lstm_c, c0))


@pytest.mark.parametrize(
    ("mode", "topk", "communication"),
    [("eval", 2, True), ("train", 3, True), ("train", 2, False)],
)
def test_gradcheck_float64_through_three_steps(mode, topk, communication):
    # eval: the exact derivative; training: blocked_grad is the identity's gradient when every
    # block is active, and the detached mask alone is differentiable almost everywhere
    cell = _cell(seed=7, num_blocks=3, topk=topk, communication=communication, dtype=torch.float64)
    cell.train(mode == "train")
    with torch.no_grad():
        cell.read_query.mul_(30.0)  # selections far from ties
    names = [name for name, _ in cell.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in cell.parameters())
    generator = torch.Generator().manual_seed(8)
    x = torch.randn(2, 3, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    state = 0.5 * torch.randn(2, cell.state_size, generator=generator, dtype=torch.float64)

    def run(x, state, *values):
        sequence = functional_call(cell, dict(zip(names, values, strict=True)), (x, state))
        return sequence.outputs, sequence.state

    assert torch.autograd.gradcheck(run, (x, state.requires_grad_(), *params), eps=1e-6, atol=1e-5)


def test_dropout_keeps_units_with_probability_one_minus_p():
    noise = torch.randn(400_000, generator=torch.Generator().manual_seed(11))
    scale = dropout_scale(noise, 0.1)
    assert scale.unique().tolist() == [0.0, pytest.approx(1 / 0.9)]
    assert abs(float((scale > 0).float().mean()) - 0.9) < 0.003


def test_dropout_draws_from_the_callers_noise_in_training_mode_only():
    cell = _cell(input_size=3, hidden=2, seed=12, num_blocks=3, topk=2, dropout=0.25)
    n, d = cell.num_blocks, cell.hidden_size
    assert cell.training  # training mode: masks of u and of the communication's fc
    assert cell.noise_size == n * 4 * d + n * d
    x, state = _inputs(cell, batch=3)
    generator = torch.Generator().manual_seed(13)
    noise = torch.randn(3, 5, cell.noise_size, generator=generator)
    # the read u is the undropped read times the mask of the first N 4d draws
    trace, plain = cell.trace(x, state, noise[:, 0]), cell.trace(x, state)
    drop = dropout_scale(noise[:, 0, : n * 4 * d], 0.25).unflatten(-1, (n, 4 * d))
    torch.testing.assert_close(trace.read, plain.read * drop)
    assert not torch.equal(trace.communication, plain.communication)
    # step path == sequence path with the same draws; the draws decide the result
    xs = torch.randn(3, 5, 3, generator=generator)
    sequence = cell.forward_sequence(xs, state, noise, return_states=True)
    looped = unroll(cell.make_step_fn(), xs, state, noise, return_states=True)
    torch.testing.assert_close(sequence.states, looped.states, atol=1e-6, rtol=0)
    other = cell.forward_sequence(xs, state, torch.randn(noise.shape, generator=generator))
    assert not torch.allclose(other.state, sequence.state)
    cell.eval()  # no draws, and draws given are not used
    assert cell.noise_size == 0
    assert torch.equal(cell.trace(x, state, noise[:, 0]).read, cell.trace(x, state).read)
    torch.testing.assert_close(cell.trace(x, state).read, plain.read)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("topk", 7, "topk"), ("num_blocks", 0, "num_blocks"), ("dropout", 1.0, "dropout")],
)
def test_bad_options_are_named(option, value, message):
    with pytest.raises(ValueError, match=message):
        RIMCell(3, 2, **{option: value})


@pytest.mark.parametrize("regime", ["tf", "ss"])
def test_mbplan_train_runs_rims_with_dropout(dataset, tmp_path, train_argv, regime):
    run = tmp_path / regime
    argv = train_argv(dataset, run, "--core", "rims", "--regime", regime, "--epochs", "2")
    argv += ["--model.num-blocks", "3", "--model.topk", "2", "--model.dropout", "0.1"]
    assert main(argv) == 0
    config = json.loads((run / "config.json").read_text())
    assert (config["model"]["num_blocks"], config["model"]["topk"]) == (3, 2)
    assert config["model"]["dropout"] == 0.1
    assert config["lr"] == (1e-3 if regime == "tf" else 5e-4)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]
    assert all(math.isfinite(row["val_mse"]) for row in rows)
