"""The training configuration: a typed dataclass saved as JSON with every run; per-task presets.

The presets carry the reference's per-task settings (``shared/reference/gatel0rd.md`` Sec. 1.4,
3): batch composition, sequence length, number of epochs, evaluation interval, the
scheduled-sampling floor, Adam's ``eps`` and the gradient-norm clip. Model sizes come from
``mbplan.models.preset(task)`` and the learning rate from
``mbplan.models.learning_rate(task, core, regime)`` unless overridden here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, Literal

#: the training regimes: teacher forcing and scheduled sampling.
REGIMES = ("tf", "ss")


@dataclasses.dataclass
class WarmupConfig:
    """Warmup before training: gradient ascent of VAA* towards a target (``training.warmup``).

    Defaults are the official code's (``shared/reference/cells.md`` Sec. B.3), except ``steps``:
    0 keeps warmup off; the paper's runs use 100.
    """

    steps: int = 0
    """warmup gradient steps before the first update (0: no warmup; paper: 100)"""
    lr: float = 1e-2
    """Adam learning rate of the warmup (a separate optimiser)"""
    batch_size: int = 32
    """sequences (initial states) per VAA* estimate"""
    target: float = 0.95
    """VAA* target of the loss MSE(VAA*_layers, target)"""
    epsilon: float = 1e-4
    """VAA* tolerance"""
    stabilization_increment: int = 10
    """curriculum: convergence steps ~ U{1 .. min(1 + step * increment, max)}"""
    stabilization_max: int = 200
    """curriculum cap on the convergence steps"""
    partial: bool = True
    """double-layer models: warm up only the first half of each layer (the paper's variant)"""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "stabilization_increment", "stabilization_max"):
            value = getattr(self, name)
            minimum = 0 if name in ("steps", "stabilization_increment") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"warmup.{name}: expected an integer >= {minimum}, got {value!r}")
        for name in ("lr", "epsilon"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"warmup.{name}: expected a value > 0, got {value!r}")
        if not 0.0 < self.target <= 1.0:
            raise ValueError(f"warmup.target: expected a value in (0, 1], got {self.target!r}")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; the resolved copy is saved as ``config.json``."""

    task: str = "billiard"
    """task whose model preset and learning rates are used (billiard, rrc, shepherd)"""
    core: str = "gatel0rd"
    """recurrent core, a name accepted by mbplan.models.make_world_model"""
    regime: Literal["tf", "ss"] = "tf"
    """tf = teacher forcing (real inputs always); ss = scheduled sampling"""
    data: str = ""
    """dataset directory (made by 'mbplan generate')"""
    out: str = ""
    """run directory to create (config, metrics, checkpoints, TensorBoard events)"""
    seed: int = 0
    """the one seed: weight init, data order, scheduled-sampling masks, gate noise"""
    epochs: int = 5000
    """number of passes over the training split"""
    batches_per_epoch: int | None = None
    """cap on the batches of one epoch (None: one full pass over the training split)"""
    batch_size: int = 128
    """sequences per batch"""
    balance_subsets: bool = True
    """draw batch_size / n_subsets sequences from every subset in each batch, as the reference"""
    subsets: tuple[str, ...] | None = None
    """dataset subsets to train and validate on (None: all)"""
    train_split: str = "train"
    """split used for the updates"""
    val_split: str = "val"
    """split used for validation (fully autoregressive after the first k steps)"""
    window: str | None = None
    """'recipe': the windows the dataset recipe defines (Billiard Ball); None: whole episodes"""
    lr: float | None = None
    """Adam learning rate (None: the paper's value for task, core and regime)"""
    adam_eps: float = 1e-4
    """Adam epsilon (reference: 1e-4)"""
    grad_clip: float = 0.1
    """gradient-norm clip (reference: 0.1); 0 disables it"""
    ss_slope: float = 0.998
    """scheduled sampling: real-input probability p = max(ss_floor, ss_slope ** epoch)"""
    ss_floor: float = 0.0
    """scheduled sampling: lower bound of p (reference: BB 0, RRC 0.02, Shepherd 0.05)"""
    eval_every: int = 100
    """validate (and log a metrics row, keep the best model) every this many epochs"""
    eval_batch_size: int = 512
    """sequences per validation batch"""
    model: dict[str, Any] = dataclasses.field(default_factory=dict)
    """overrides of mbplan.models.preset(task) passed to make_world_model (e.g. reg_lambda)"""
    device: str = "cpu"
    """torch device for the run"""
    progress: bool = True
    """show a tqdm bar"""
    tensorboard: bool = True
    """write TensorBoard events when tensorboard is installed"""
    warmup: WarmupConfig = dataclasses.field(default_factory=WarmupConfig)
    """VAA* warmup before training (off unless warmup.steps > 0)"""

    def __post_init__(self) -> None:
        if self.regime not in REGIMES:
            raise ValueError(f"regime: expected one of {REGIMES}, got {self.regime!r}")
        positive = ("epochs", "batch_size", "eval_every", "eval_batch_size")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(
                    f"{name}: expected a positive integer, got {getattr(self, name)!r}"
                )
        if self.batches_per_epoch is not None and self.batches_per_epoch < 1:
            raise ValueError(
                f"batches_per_epoch: expected None or >= 1, got {self.batches_per_epoch!r}"
            )
        if not 0.0 < self.ss_slope <= 1.0:
            raise ValueError(f"ss_slope: expected a value in (0, 1], got {self.ss_slope!r}")
        if not 0.0 <= self.ss_floor <= 1.0:
            raise ValueError(f"ss_floor: expected a value in [0, 1], got {self.ss_floor!r}")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip: expected >= 0, got {self.grad_clip!r}")
        if self.lr is not None and self.lr <= 0:
            raise ValueError(f"lr: expected None or > 0, got {self.lr!r}")
        if self.subsets is not None:
            self.subsets = tuple(self.subsets)
        self.model = dict(self.model)
        if isinstance(self.warmup, Mapping):  # from JSON; configs saved before warmup lack it
            self.warmup = _warmup_from_dict(self.warmup)

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as a JSON-serialisable dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build a configuration from ``to_dict`` output, rejecting unknown keys.

        Raises:
            ValueError: if ``values`` names a field that ``TrainConfig`` does not have.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"config: unknown field(s) {unknown}; known fields are {sorted(known)}"
            )
        values = dict(values)
        if values.get("subsets") is not None:
            values["subsets"] = tuple(values["subsets"])
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """Return a copy with ``changes`` applied (validated like a new config)."""
        return dataclasses.replace(self, **changes)


def _warmup_from_dict(values: Mapping[str, Any]) -> WarmupConfig:
    known = {field.name for field in dataclasses.fields(WarmupConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"config: unknown warmup field(s) {unknown}; known are {sorted(known)}")
    return WarmupConfig(**values)


#: per-task settings of the reference (gatel0rd.md Sec. 1.4): batch = subsets x per-subset size,
#: epochs = 1000 x train_len, evaluation every 100 epochs, scheduled-sampling floors.
PRESETS: dict[str, dict[str, Any]] = {
    "billiard": {
        "task": "billiard",
        "epochs": 5000,
        "batch_size": 128,
        "window": "recipe",
        "ss_floor": 0.0,
        "eval_every": 100,
    },
    "rrc": {
        "task": "rrc",
        "epochs": 10000,
        "batch_size": 128,
        "ss_floor": 0.02,
        "eval_every": 100,
    },
    "shepherd": {
        "task": "shepherd",
        "epochs": 10000,
        "batch_size": 128,
        "ss_floor": 0.05,
        "eval_every": 100,
    },
    # a smoke-test budget: a few small batches, validation every epoch
    "tiny": {
        "task": "billiard",
        "epochs": 3,
        "batch_size": 16,
        "batches_per_epoch": 2,
        "balance_subsets": False,
        "eval_every": 1,
        "eval_batch_size": 64,
        "progress": False,
    },
}


def preset_config(name: str, **overrides: Any) -> TrainConfig:
    """Return the configuration of preset ``name`` with ``overrides`` applied.

    Args:
        name: one of ``PRESETS`` (``billiard``, ``rrc``, ``shepherd``, ``tiny``).
        **overrides: any ``TrainConfig`` field.

    Raises:
        ValueError: for an unknown preset name.
    """
    if name not in PRESETS:
        raise ValueError(f"preset: expected one of {sorted(PRESETS)}, got {name!r}")
    values = {**PRESETS[name], **overrides}
    return TrainConfig.from_dict(values)
