"""Build world models by core name; the paper's per-task presets and learning rates.

Presets and learning rates are the per-task table of the GateL0RD paper code
(``shared/reference/gatel0rd.md`` Sec. 1.4). The paper compares cores at equal *depth*: GateL0RD
keeps one cell and gives its internal ``g`` and ``r`` networks ``depth`` layers, while the other
cores stack ``depth`` cells (Billiard Ball: depth 3; the other tasks: 1). ``preset(task)`` is
therefore core-independent; ``make_world_model`` resolves ``depth`` per core, and ``hparams``
records the resolved ``num_layers`` (and ``num_layers_internal`` for GateL0RD).

Observation and action sizes are not part of a preset: they come from the dataset (our simulators
need not match the paper's sizes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mbplan.models.cells import (
    BRCCell,
    DoubleCell,
    ElmanCell,
    GateL0RDCell,
    GRUCell,
    LSTMCell,
    NBRCCell,
    NoiseReLUCell,
    RecurrentCell,
    RecurrentStack,
    RigLSTMCell,
    RIMCell,
)
from mbplan.models.validation import require_positive_int
from mbplan.models.world_model import WorldModel

#: The core names ``make_world_model`` accepts.
CORES = ("gatel0rd", "elman", "gru", "lstm", "brc", "nbrc", "riglstm", "rims")
CORES += ("noise_rnn",)  # the HMM-emulation paper's bias-free ReLU RNN (no read-out here)

#: Options of each core's cell beyond input and hidden size, with their defaults.
CELL_OPTIONS: dict[str, dict[str, Any]] = {
    "gatel0rd": {
        "num_layers_internal": None,  # None: the model's depth
        "gate_type": "retanh",
        "stochastic_gates": True,
        "gate_noise_level": 0.1,
        "output_gate": True,
    },
    "elman": {},
    "gru": {},
    "lstm": {},
    "brc": {"candidate_bias": True},
    "nbrc": {"candidate_bias": True},
    # RigLSTM-style core: the document's N, K_a, K, K_x = K_h = K_a; hidden_size is per cell
    "riglstm": {
        "num_cells": 6,
        "active_cells": 5,
        "num_views": 6,
        "view_topk": 5,
        "comm_topk": 5,
        "view_size": 16,
        "key_size": 16,
        "cell_selection": True,
        "input_selection": True,
        "hidden_selection": True,
        "soft_update": True,
    },
    # the official RIMs BlocksCore (train_mnist.py defaults); hidden_size is per block; dropout
    # 0.0 here (official 0.1: with dropout the cell draws noise in training mode)
    "rims": {
        "num_blocks": 6,
        "topk": 4,
        "communication": True,
        "dropout": 0.0,
        "input_key_size": 64,
        "comm_key_size": 16,
        "comm_value_size": 16,
        "comm_heads": 4,
    },
}
CELL_OPTIONS["noise_rnn"] = {}

_TORCH_CELLS: dict[str, type[RecurrentCell]] = {
    "elman": ElmanCell,
    "gru": GRUCell,
    "lstm": LSTMCell,
}
#: cores whose cell takes ``(input_size, hidden_size, **options)``
_OPTION_CELLS: dict[str, type[RecurrentCell]] = {
    "brc": BRCCell,
    "nbrc": NBRCCell,
    "riglstm": RigLSTMCell,
    "rims": RIMCell,
}

#: Per-task architecture (reference table 1.4).
PRESETS: dict[str, dict[str, Any]] = {
    "billiard": {
        "hidden_size": 8,
        "feature_size": 16,
        "depth": 3,
        "f_pre_layers": 3,
        "f_post_layers": 1,
        "f_init_layers": 3,
        "k": 2,
        "reg_lambda": 1e-3,
    },
    "rrc": {
        "hidden_size": 8,
        "feature_size": 8,
        "depth": 1,
        "f_pre_layers": 3,
        "f_post_layers": 1,
        "f_init_layers": 2,
        "k": 1,
        "reg_lambda": 1e-3,
    },
    "shepherd": {
        "hidden_size": 8,
        "feature_size": 16,
        "depth": 1,
        "f_pre_layers": 3,
        "f_post_layers": 1,
        "f_init_layers": 3,
        "k": 2,
        "reg_lambda": 1e-4,
    },
}

#: Adam learning rates, ``task -> core -> regime`` (``"tf"`` teacher forcing, ``"ss"`` scheduled
#: sampling), reference table 1.4. The paper has no bistable cells: ``brc`` and ``nbrc`` use the
#: GRU's rates (an assumption, not a paper value); nor RigLSTM or RIMs: ``riglstm`` and ``rims``
#: use the LSTM's.
LEARNING_RATES: dict[str, dict[str, dict[str, float]]] = {
    "billiard": {
        "gatel0rd": {"tf": 1e-3, "ss": 5e-4},
        "elman": {"tf": 5e-4, "ss": 5e-4},
        "gru": {"tf": 1e-3, "ss": 5e-4},
        "lstm": {"tf": 1e-3, "ss": 5e-4},
        "brc": {"tf": 1e-3, "ss": 5e-4},
        "nbrc": {"tf": 1e-3, "ss": 5e-4},
        "noise_rnn": {"tf": 1e-3, "ss": 5e-4},  # no paper value: the GRU's
        "riglstm": {"tf": 1e-3, "ss": 5e-4},
        "rims": {"tf": 1e-3, "ss": 5e-4},
    },
    "rrc": {core: {"tf": 5e-3, "ss": 5e-3} for core in CORES},
    "shepherd": {core: {"tf": 1e-3, "ss": 1e-3} for core in CORES},
}
#: The RigLSTM document's Adam learning rate (not verified, ``cells.md`` A.2), for tasks without a
#: preset (the RigLSTM benchmarks in ``examples/``).
RIGLSTM_LEARNING_RATE = 1e-4

REGIMES = ("tf", "ss")


def _check_name(argument: str, value: object, valid: tuple[str, ...]) -> str:
    name = value.lower() if isinstance(value, str) else value
    if name not in valid:
        raise ValueError(f"{argument}: expected one of {', '.join(valid)}; got {value!r}")
    return name  # type: ignore[return-value]


def preset(task: str) -> dict[str, Any]:
    """Keyword arguments of ``make_world_model`` for one of the paper's tasks.

    Args:
        task: ``"billiard"``, ``"rrc"`` or ``"shepherd"``.

    Returns:
        A fresh dict with ``hidden_size``, ``feature_size``, ``depth``, ``f_pre_layers``,
        ``f_post_layers``, ``f_init_layers``, ``k`` and ``reg_lambda``.
    """
    return dict(PRESETS[_check_name("task", task, tuple(PRESETS))])


def learning_rate(task: str, core: str, regime: str) -> float:
    """The paper's Adam learning rate for a task, core and training regime.

    Args:
        task: ``"billiard"``, ``"rrc"`` or ``"shepherd"``.
        core: one of :data:`CORES`.
        regime: ``"tf"`` (teacher forcing) or ``"ss"`` (scheduled sampling).

    Returns:
        The learning rate.
    """
    task = _check_name("task", task, tuple(LEARNING_RATES))
    core = _check_name("core", core, CORES)
    regime = _check_name("regime", regime, REGIMES)
    return LEARNING_RATES[task][core][regime]


def _cell_factory(core: str, options: dict[str, Any]) -> Callable[[int, int], RecurrentCell]:
    """``(input_size, hidden_size) -> cell`` for one core with its resolved options."""
    if core == "gatel0rd":
        return lambda input_size, hidden: GateL0RDCell(
            input_size, hidden, output_size=input_size, **options
        )
    if core == "noise_rnn":
        return lambda input_size, hidden: NoiseReLUCell(input_size, hidden)
    if core in _OPTION_CELLS:
        return lambda input_size, hidden: _OPTION_CELLS[core](input_size, hidden, **options)
    return lambda input_size, hidden: _TORCH_CELLS[core](input_size, hidden)


def _resolve_options(core: str, depth: int, cell_options: dict[str, Any]) -> dict[str, Any]:
    """The core's cell options: defaults updated with ``cell_options``, unknown ones rejected."""
    unknown = sorted(set(cell_options) - set(CELL_OPTIONS[core]))
    if unknown:
        valid = ", ".join(CELL_OPTIONS[core]) or "none"
        raise ValueError(
            f"cell_options: core {core!r} has no option(s) {', '.join(unknown)}; valid: {valid}"
        )
    options = {**CELL_OPTIONS[core], **cell_options}
    if core == "gatel0rd" and options["num_layers_internal"] is None:
        options["num_layers_internal"] = depth
    return options


def _stack(
    core: str,
    options: dict[str, Any],
    input_size: int,
    hidden_size: int,
    num_layers: int,
    *,
    double: bool = False,
) -> RecurrentStack:
    """``num_layers`` cells of ``core``, the first reading ``input_size`` features.

    With ``double`` every layer is a :class:`DoubleCell` of two cells of ``hidden_size // 2``.
    """
    require_positive_int("num_layers", num_layers)
    factory = _cell_factory(core, options)
    cells: list[RecurrentCell] = []
    for layer in range(num_layers):
        layer_input = input_size if layer == 0 else cells[-1].output_size
        if double:
            cells.append(DoubleCell.of(factory, layer_input, hidden_size))
        else:
            cells.append(factory(layer_input, hidden_size))
    return RecurrentStack(cells)


def make_core(
    core: str, input_size: int, hidden_size: int, *, num_layers: int = 1, **cell_options: Any
) -> RecurrentStack:
    """The named recurrent core alone, for models other than the world model.

    Args:
        core: one of :data:`CORES` (case-insensitive).
        input_size: size of the first layer's input ``x_t``.
        hidden_size: ``H`` of every layer (RigLSTM: of each of its cells; RIMs: of each block).
        num_layers: stacked cells (GateL0RD: its internal depth defaults to 1).
        **cell_options: options of the core's cell, see :data:`CELL_OPTIONS`.

    Returns:
        A :class:`RecurrentStack` with ``input_size``, ``output_size`` and ``state_size``.

    Raises:
        ValueError: for an unknown core, an option the core does not have, or a bad size.
    """
    core = _check_name("core", core, CORES)
    require_positive_int("input_size", input_size)
    require_positive_int("hidden_size", hidden_size)
    options = _resolve_options(core, 1, cell_options)
    return _stack(core, options, input_size, hidden_size, num_layers)


def make_world_model(
    core: str,
    obs_dim: int,
    action_dim: int,
    *,
    hidden_size: int = 8,
    feature_size: int = 16,
    depth: int = 1,
    num_layers: int | None = None,
    f_pre_layers: int = 3,
    f_post_layers: int = 1,
    f_init_layers: int = 3,
    k: int = 2,
    reg_lambda: float = 1e-3,
    output_scale: float = 0.1,
    double: bool = False,
    **cell_options: Any,
) -> WorldModel:
    """Build a world model around the named recurrent core.

    Args:
        core: one of :data:`CORES` (case-insensitive).
        obs_dim: observation size.
        action_dim: action size (0 for action-free worlds).
        hidden_size: ``H``, latent size of every core layer (RigLSTM: of each of its cells;
            RIMs: of each block).
        feature_size: ``F``, output size of ``f_pre``; GateL0RD layers also output ``F``.
        depth: the paper's depth (see the module docstring): GateL0RD's ``num_layers_internal``,
            the other cores' ``num_layers``, unless those are given explicitly.
        num_layers: stacked core layers (default: 1 for GateL0RD, ``depth`` otherwise).
        f_pre_layers: layers of ``f_pre``.
        f_post_layers: layers of ``f_post``.
        f_init_layers: layers of ``f_init`` (0: zero initial state).
        k: first inputs that are always real and feed ``f_init``.
        reg_lambda: weight of the L0 term (no effect for cores without gates).
        output_scale: factor on ``f_post``'s output.
        double: make every core layer a :class:`~mbplan.models.cells.DoubleCell` of two cells
            of ``hidden_size // 2`` (the warmup paper's double layer; ``hidden_size`` even).
        **cell_options: options of the core's cell, see :data:`CELL_OPTIONS` (GateL0RD:
            ``num_layers_internal``, ``gate_type``, ``stochastic_gates``, ``gate_noise_level``,
            ``output_gate``; BRC/nBRC: ``candidate_bias``; RigLSTM: ``num_cells``,
            ``active_cells``, ... and the four mechanism switches, see its cell; RIMs:
            ``num_blocks``, ``topk``, ``communication``, ``dropout`` and the attention sizes).

    Returns:
        The :class:`WorldModel`, with ``hparams`` set to the resolved arguments.

    Raises:
        ValueError: for an unknown core, an option the core does not have, or a bad size.
    """
    core = _check_name("core", core, CORES)
    require_positive_int("depth", depth)
    require_positive_int("hidden_size", hidden_size)
    require_positive_int("feature_size", feature_size)
    options = _resolve_options(core, depth, cell_options)
    if core == "gatel0rd":
        num_layers = 1 if num_layers is None else num_layers
    else:
        num_layers = depth if num_layers is None else num_layers
    stack = _stack(core, options, feature_size, hidden_size, num_layers, double=double)
    hparams = {
        "core": core,
        "obs_dim": obs_dim,
        "action_dim": action_dim,
        "hidden_size": hidden_size,
        "feature_size": feature_size,
        "num_layers": num_layers,
        "f_pre_layers": f_pre_layers,
        "f_post_layers": f_post_layers,
        "f_init_layers": f_init_layers,
        "k": k,
        "reg_lambda": reg_lambda,
        "output_scale": output_scale,
        "double": bool(double),
        **options,
    }
    return WorldModel(
        stack,
        obs_dim,
        action_dim,
        feature_size=feature_size,
        k=k,
        f_pre_layers=f_pre_layers,
        f_post_layers=f_post_layers,
        f_init_layers=f_init_layers,
        reg_lambda=reg_lambda,
        output_scale=output_scale,
        hparams=hparams,
    )
