"""RigLSTM-style cell: each mechanism on hand-set weights, the LSTM reduction, gradients, paths."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch.func import functional_call

from mbplan.cli import main
from mbplan.models import make_world_model
from mbplan.models.cells import RigLSTMCell
from mbplan.models.cells.riglstm import topk_mask

ALL_OFF = {
    "cell_selection": False,
    "input_selection": False,
    "hidden_selection": False,
    "soft_update": False,
}


def _zero_(cell: RigLSTMCell) -> RigLSTMCell:
    with torch.no_grad():
        for param in cell.parameters():
            param.zero_()
    return cell


def _split(cell: RigLSTMCell, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h, c = state.unflatten(-1, (2, cell.num_cells, cell.hidden_size)).unbind(-3)
    return h, c


def _lstm_cells_with_the_weights_of(cell: RigLSTMCell) -> list[torch.nn.LSTMCell]:
    lstms = []
    for i in range(cell.num_cells):
        lstm = torch.nn.LSTMCell(cell.input_size, cell.hidden_size)
        with torch.no_grad():
            lstm.weight_ih.copy_(cell.input_weight[i].t())
            lstm.weight_hh.copy_(cell.recurrent_weight[i].t())
            lstm.bias_ih.copy_(cell.bias[i])
            lstm.bias_hh.zero_()
        lstms.append(lstm)
    return lstms


def test_default_sizes_follow_the_document_and_hidden_size_is_per_cell():
    model = make_world_model("riglstm", 4, 2, hidden_size=8, feature_size=8)
    cell = model.core.cells[0]
    assert (cell.num_cells, cell.active_cells, cell.num_views) == (6, 5, 6)
    assert cell.view_topk == cell.comm_topk == cell.active_cells
    assert cell.output_size == 6 * 8 and cell.state_size == 2 * 6 * 8
    assert model.f_post[0].in_features == 48  # the readout sees every cell's h


def test_topk_mask_keeps_exactly_the_k_largest():
    scores = torch.tensor([[0.3, -1.0, 2.0, 0.5], [4.0, 3.0, -2.0, 1.0]])
    expected = torch.tensor([[False, False, True, True], [True, True, False, False]])
    assert torch.equal(topk_mask(scores, 2), expected)
    assert topk_mask(scores, 4).all()


def test_cell_selection_activates_the_top_ka_cells_and_keeps_the_others():
    # input read straight from x (one slot), key = identity, query of cell i = q_i * h_i[0] e_0:
    # with h_i[0] = 1 and x = e_0, cell i's score is q_i / sqrt(2) and the top two are 2 and 3
    torch.manual_seed(0)
    cell = RigLSTMCell(
        2,
        2,
        num_cells=4,
        active_cells=2,
        comm_topk=2,
        key_size=2,
        input_selection=False,
        hidden_selection=False,
        soft_update=False,
    )
    q = torch.tensor([0.3, -1.0, 2.0, 0.5])
    with torch.no_grad():
        cell.key_weight.copy_(torch.eye(2).unsqueeze(0))
        cell.query_weight.zero_()
        cell.query_weight[:, 0, 0] = q
    x = torch.tensor([[1.0, 0.0]])
    h0 = torch.tensor([[1.0, 0.2], [1.0, -0.3], [1.0, 0.4], [1.0, 0.1]])
    c0 = torch.tensor([[0.5, -0.5], [0.1, 0.2], [-0.4, 0.3], [0.7, 0.0]])
    state = torch.cat([h0.flatten(), c0.flatten()]).unsqueeze(0)
    selections = cell.selections(x, state)
    assert torch.equal(selections.active, torch.tensor([[False, False, True, True]]))
    h, c = _split(cell, cell.step(x, state).state)
    # inactive cells: h and c bit for bit; active ones: an LSTM step on the null-slot read of x
    assert torch.equal(h[0, :2], h0[:2]) and torch.equal(c[0, :2], c0[:2])
    lstms = _lstm_cells_with_the_weights_of(cell)
    for i in (2, 3):
        alpha = 1.0 / (1.0 + math.exp(-float(q[i]) / math.sqrt(2)))  # softmax over [null, x]
        h_ref, c_ref = lstms[i](alpha * x, (h0[i : i + 1], c0[i : i + 1]))
        torch.testing.assert_close(h[0, i], h_ref[0], atol=1e-6, rtol=0)
        torch.testing.assert_close(c[0, i], c_ref[0], atol=1e-6, rtol=0)


@pytest.mark.parametrize("soft_update", [False, True])
def test_exactly_ka_cells_change_per_step_with_default_sizes(soft_update):
    torch.manual_seed(1)
    cell = RigLSTMCell(5, 3, soft_update=soft_update)  # N = 6, K_a = 5, all mechanisms
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(16, 7, 5, generator=generator)
    state = torch.randn(16, cell.state_size, generator=generator)
    step_fn = cell.make_step_fn()
    for t in range(7):
        active = cell.selections(x[:, t], state).active
        new_state = step_fn(x[:, t], state, None).state
        (h0, c0), (h1, c1) = _split(cell, state), _split(cell, new_state)
        changed = ((h1 != h0).any(-1)) | ((c1 != c0).any(-1))
        assert torch.equal(changed, active)
        assert (active.sum(-1) == 5).all()
        state = new_state


def test_input_feature_selection_reads_the_top_kx_views_by_similarity():
    # views are constants u_s = e_s (zero view weights, bias e_s), keys identity, so cell i's
    # score of view s is query_i[s] / 2; the read is the softmax over [null, its top-2 views]
    torch.manual_seed(0)
    cell = RigLSTMCell(
        3, 4, num_cells=2, active_cells=2, num_views=4, view_topk=2, comm_topk=2,
        view_size=4, key_size=4, hidden_selection=False, soft_update=False,
    )  # fmt: skip
    raw = torch.tensor([[0.1, 0.9, -0.5, 0.4], [2.0, -1.0, 1.5, 0.0]])
    with torch.no_grad():
        _zero_(cell)
        cell.view_bias.copy_(torch.eye(4).flatten())
        cell.key_weight.copy_(torch.eye(4).expand(4, 4, 4))
        cell.query_weight[:, 0, :] = raw  # query_i = h_i[0] * raw[i]
    x = torch.randn(1, 3)
    state = torch.zeros(1, cell.state_size)
    state[0, 0] = state[0, 4] = 1.0  # h_0[0] = h_1[0] = 1
    weights = cell.selections(x, state).view_weights[0]
    for i, top in enumerate(([1, 3], [0, 2])):
        expected = torch.zeros(4)
        logits = torch.cat([torch.zeros(1), raw[i, top] / 2.0])  # null slot first
        expected[top] = logits.softmax(0)[1:]
        torch.testing.assert_close(weights[i], expected)


def test_hidden_state_selection_reads_the_top_kh_cells_by_similarity():
    # communication query of cell i = h_i[0] e_0, key of cell j = kappa_j e_0 (through h_j[0]),
    # value of cell j = its h: the top-2 cells by kappa_j are read, with softmax weights
    torch.manual_seed(0)
    cell = RigLSTMCell(
        2, 2, num_cells=4, active_cells=4, comm_topk=2, key_size=2,
        cell_selection=False, input_selection=False, soft_update=False,
    )  # fmt: skip
    kappa = torch.tensor([0.5, -2.0, 1.5, 1.0])
    h0 = torch.tensor([[1.0, 0.3], [1.0, -0.7], [1.0, 0.2], [1.0, 0.9]])
    with torch.no_grad():
        cell.comm_weight.zero_()
        cell.comm_weight[:, 0, 0] = 1.0  # query
        cell.comm_weight[:, 0, 2] = kappa  # key
    state = torch.cat([h0.flatten(), torch.zeros(8)]).unsqueeze(0)
    weights = cell.selections(torch.zeros(1, 2), state).comm_weights[0]
    # every cell's query is e_0, so every row ranks cells 2 and 3 first
    scores = kappa / math.sqrt(2)
    expected = torch.zeros(4)
    expected[[2, 3]] = scores[[2, 3]].softmax(0)
    torch.testing.assert_close(weights, expected.expand(4, 4))


def test_without_selection_and_soft_update_it_is_independent_lstm_cells():
    torch.manual_seed(3)
    cell = RigLSTMCell(4, 3, **ALL_OFF)  # N = 6 cells; cell selection off = K_a = N
    lstms = _lstm_cells_with_the_weights_of(cell)
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(5, 8, 4, generator=generator)
    state = torch.randn(5, cell.state_size, generator=generator)
    sequence = cell.forward_sequence(x, state, return_states=True)
    h, c = _split(cell, state)
    hs = [h[:, i] for i in range(6)]
    cs = [c[:, i] for i in range(6)]
    for t in range(8):
        for i, lstm in enumerate(lstms):
            hs[i], cs[i] = lstm(x[:, t], (hs[i], cs[i]))
        got_h, got_c = _split(cell, sequence.states[:, t])
        torch.testing.assert_close(got_h, torch.stack(hs, 1), atol=1e-6, rtol=0)
        torch.testing.assert_close(got_c, torch.stack(cs, 1), atol=1e-6, rtol=0)
    torch.testing.assert_close(sequence.outputs[:, -1], torch.stack(hs, 1).flatten(1))


def test_soft_update_weights_are_the_attention_between_old_and_new_state():
    # with all other mechanisms off, lambda_i = sigmoid(q . (W^K h~_i - W^K h_i) / sqrt(d_k))
    torch.manual_seed(5)
    cell = RigLSTMCell(3, 2, **{**ALL_OFF, "soft_update": True}, key_size=4)
    x = torch.randn(2, 3)
    state = torch.randn(2, cell.state_size)
    plain = RigLSTMCell(3, 2, **ALL_OFF)
    plain.load_state_dict(cell.state_dict(), strict=False)
    h0, c0 = _split(cell, state)
    h_new, c_new = _split(cell, plain.step(x, state).state)
    query = x @ cell.soft_query_x + h_new.flatten(1) @ cell.soft_query_h
    keys_new = torch.einsum("bnh,nhk->bnk", h_new, cell.soft_key)
    keys_old = torch.einsum("bnh,nhk->bnk", h0, cell.soft_key)
    lam = torch.sigmoid(torch.einsum("bnk,bk->bn", keys_new - keys_old, query) / 2.0)
    torch.testing.assert_close(cell.selections(x, state).soft_weights, lam)
    h, c = _split(cell, cell.step(x, state).state)
    torch.testing.assert_close(h, h0 + lam.unsqueeze(-1) * (h_new - h0))
    torch.testing.assert_close(c, c0 + lam.unsqueeze(-1) * (c_new - c0))


def test_gradcheck_float64_through_every_mechanism_at_the_document_sizes():
    torch.manual_seed(6)
    cell = RigLSTMCell(3, 2, view_size=3, key_size=3).double()  # N=6, K_a=5, K=6, K_x=K_h=5
    names = [name for name, _ in cell.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in cell.parameters())
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    state = torch.randn(2, cell.state_size, generator=generator, dtype=torch.float64)
    state.requires_grad_()

    def run(x, state, *values):
        sequence = functional_call(cell, dict(zip(names, values, strict=True)), (x, state))
        return sequence.outputs, sequence.state

    # fast mode (random projections of the Jacobian) at these sizes; the full Jacobian check at
    # smaller sizes is test_models_cores.py's test_gradcheck_of_every_cell_in_float64[riglstm]
    inputs = (x, state, *params)
    assert torch.autograd.gradcheck(run, inputs, eps=1e-6, atol=1e-5, fast_mode=True)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("active_cells", 7, "active_cells"), ("view_topk", 7, "view_topk"), ("num_cells", 0, "")],
)
def test_bad_sizes_are_named(option, value, message):
    with pytest.raises(ValueError, match=message or option):
        RigLSTMCell(3, 2, **{option: value})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from mbplan.data import generate, generic_spec

    root = tmp_path_factory.mktemp("data") / "bb"
    generate(generic_spec("mbplan/BilliardBall-v0", "uniform", episodes=12, steps=10), root)
    return root


@pytest.mark.parametrize("regime", ["tf", "ss"])
def test_mbplan_train_runs_riglstm_with_its_options(dataset, tmp_path, regime):
    run = tmp_path / regime
    argv = ["train", "--preset", "tiny", "--core", "riglstm", "--regime", regime]
    argv += ["--data", str(dataset), "--out", str(run), "--epochs", "2"]
    argv += ["--model.hidden-size", "3", "--model.feature-size", "4", "--model.depth", "1"]
    argv += ["--model.active-cells", "3", "--model.soft-update", "False"]
    assert main(argv) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["active_cells"] == 3 and config["model"]["soft_update"] is False
    assert config["lr"] == (1e-3 if regime == "tf" else 5e-4)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]
    assert all(math.isfinite(row["val_mse"]) for row in rows)
