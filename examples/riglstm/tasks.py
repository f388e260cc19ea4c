"""The three generalisation tasks of the RigLSTM benchmarks: data, model around a core, metrics.

* ``copying``: the RIMs copying protocol (``shared/reference/cells.md`` A.4): 10 symbols from
  {1..8}, ``T - 1`` blanks, the marker 9, 10 blanks (length ``T + 20``); the target is blank for
  ``T + 10`` steps, then the 10 symbols; per-step cross-entropy. Trained on one dormant length
  ``T``, tested on longer ones.
* ``digits``: a small analogue of the RIMs / RigLSTM sequential-MNIST resolution shift with the
  8x8 digits scikit-learn ships: images binarised (pixel >= 8 of 16), resized with nearest
  interpolation to ``s x s`` and read as ``s^2`` pixel tokens (0/1); class from the last step.
  As in the RIMs protocol, 20 % of the training images are held out as validation, resized to
  every test resolution, so that a run can report the test accuracy at the evaluation of best
  validation accuracy per resolution.
* ``balls``: bouncing-ball video prediction, grayscale ``24 x 24`` frames of
  ``mbplan/BouncingBalls-v0`` (``observation="frames"``, ball radius 0.1, every 3rd env step),
  a convolutional encoder / decoder around the core, next-frame binary cross-entropy per pixel;
  trained on 4 balls, tested on 4, 5 and 6 balls with closed-loop rollouts after a context.

Every task builds its model as :class:`mbplan.models.sequence_model.SequenceModel` around a core
from :func:`mbplan.models.make_core`; all randomness comes from the ``np.random.Generator`` /
``torch.Generator`` passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mbplan.models import make_core
from mbplan.models.sequence_model import SequenceModel

#: Evaluation sets: label -> tensors of that set.
EvalSets = dict[str, tuple[torch.Tensor, ...]]


@dataclass
class Task:
    """One benchmark task.

    Attributes:
        name: task name.
        feature_size: size of the encoder's output (the core's input).
        make_data: ``(rng) -> (next_batch(rng, batch) -> tensors, test sets, validation sets)``;
            the validation sets have the test sets' labels, or are empty (no validation).
        make_model: ``(core) -> SequenceModel``.
        loss: ``(model, batch tensors, generator) -> (loss, gates | None)``.
        evaluate: ``(model, eval set tensors) -> metrics``; the headline metric first.
    """

    name: str
    feature_size: int
    make_data: Callable[[np.random.Generator], tuple[Callable[..., Any], EvalSets, EvalSets]]
    make_model: Callable[[nn.Module], SequenceModel]
    loss: Callable[..., tuple[torch.Tensor, torch.Tensor | None]]
    evaluate: Callable[[SequenceModel, tuple[torch.Tensor, ...]], dict[str, Any]]


# ---------------------------------------------------------------------------- copying


def copying_batch(
    rng: np.random.Generator, batch: int, dormant: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the RIMs copying task.

    Args:
        rng: source of the symbols.
        batch: sequences.
        dormant: ``T``, the blank phase between the symbols and the marker is ``T - 1`` long.

    Returns:
        ``inputs (batch, T + 20)`` and ``targets (batch, T + 20)``, int64 tokens in 0..9.
    """
    symbols = rng.integers(1, 9, size=(batch, 10))
    length = dormant + 20
    inputs = np.zeros((batch, length), dtype=np.int64)
    inputs[:, :10] = symbols
    inputs[:, dormant + 9] = 9  # after the 10 symbols and T - 1 blanks
    targets = np.zeros((batch, length), dtype=np.int64)
    targets[:, -10:] = symbols
    return torch.from_numpy(inputs), torch.from_numpy(targets)


def copying_task(
    train_dormant: int = 10, test_dormant: tuple[int, ...] = (10, 25, 50, 100)
) -> Task:
    """The copying task, trained at ``train_dormant`` and tested at each of ``test_dormant``."""
    feature_size = 16

    def make_data(rng):
        evals = {f"T={t}": copying_batch(rng, 256, t) for t in test_dormant}
        return (lambda r, b: copying_batch(r, b, train_dormant)), evals, {}

    def make_model(core):
        return SequenceModel(core, nn.Embedding(10, feature_size), nn.Linear(core.output_size, 10))

    def loss(model, batch, generator):
        inputs, targets = batch
        logits, gates = model(inputs, generator)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten()), gates

    @torch.no_grad()
    def evaluate(model, data):
        inputs, targets = data
        logits, _ = model(inputs)
        copied = logits[:, -10:].argmax(-1) == targets[:, -10:]
        return {
            "copy_accuracy": float(copied.float().mean()),
            "sequence_accuracy": float(copied.all(-1).float().mean()),
            "copy_cross_entropy": float(
                F.cross_entropy(logits[:, -10:].flatten(0, 1), targets[:, -10:].flatten())
            ),
        }

    return Task("copying", feature_size, make_data, make_model, loss, evaluate)


# ---------------------------------------------------------------------------- digits


def digit_sequences(images: np.ndarray, size: int) -> torch.Tensor:
    """Binarised digits resized (nearest) to ``size x size``, as pixel tokens.

    Args:
        images: ``(n, 8, 8)`` scikit-learn digits, values 0..16.
        size: side after resizing.

    Returns:
        ``(n, size * size)`` int64 tokens 0/1, row by row.
    """
    binary = torch.from_numpy((images >= 8).astype(np.float32)).unsqueeze(1)
    resized = F.interpolate(binary, size=(size, size), mode="nearest")
    return resized.flatten(1).long()


def digits_task(
    train_size: int = 8,
    test_sizes: tuple[int, ...] = (8, 10, 12, 16),
    validation_fraction: float = 0.2,
) -> Task:
    """Sequential 8x8 digits, trained at ``train_size`` and tested at ``test_sizes``.

    Of 1797 images, 500 (seeded) are the test set; of the other 1297, ``validation_fraction``
    (RIMs: 20 %) are held out as validation, at every test resolution.
    """
    from sklearn.datasets import load_digits

    feature_size = 16

    def make_data(rng):
        digits = load_digits()
        order = rng.permutation(len(digits.target))
        pool, test = order[:1297], order[1297:]
        held_out = int(round(validation_fraction * len(pool)))
        train, validation = pool[held_out:], pool[:held_out]
        labels = torch.from_numpy(digits.target).long()
        x_train = digit_sequences(digits.images[train], train_size)
        y_train = labels[train]

        def next_batch(r, b):
            index = torch.from_numpy(r.integers(0, len(train), size=b))
            return x_train[index], y_train[index]

        def sets(index):
            if len(index) == 0:
                return {}
            return {
                f"{s}x{s}": (digit_sequences(digits.images[index], s), labels[index])
                for s in test_sizes
            }

        return next_batch, sets(test), sets(validation)

    def make_model(core):
        return SequenceModel(core, nn.Embedding(2, feature_size), nn.Linear(core.output_size, 10))

    def loss(model, batch, generator):
        inputs, labels = batch
        logits, gates = model(inputs, generator)
        return F.cross_entropy(logits[:, -1], labels), gates

    @torch.no_grad()
    def evaluate(model, data):
        inputs, labels = data
        logits, _ = model(inputs)
        return {"accuracy": float((logits[:, -1].argmax(-1) == labels).float().mean())}

    return Task("digits", feature_size, make_data, make_model, loss, evaluate)


# ---------------------------------------------------------------------------- bouncing balls

FRAME, RADIUS, SKIP, CONTEXT, HORIZON = 24, 0.1, 3, 10, 20


def ball_videos(seed: int, num_balls: int, episodes: int, frames: int) -> torch.Tensor:
    """Grayscale videos ``(episodes, frames, 24, 24)`` of ``num_balls`` balls (every 3rd step)."""
    from sims.bouncing_balls import BouncingBallsEnv

    env = BouncingBallsEnv(num_balls, observation="frames", frame_size=FRAME, ball_radius=RADIUS)
    no_action = np.zeros(0, np.float32)
    videos = np.empty((episodes, frames, FRAME, FRAME), np.float32)
    for episode in range(episodes):
        frame = env.reset(seed=seed if episode == 0 else None)[0]
        for t in range(frames):
            videos[episode, t] = frame
            for _ in range(SKIP):
                frame = env.step(no_action)[0]
    return torch.from_numpy(videos)


class _FrameEncoder(nn.Sequential):
    def __init__(self, features: int) -> None:
        super().__init__(
            nn.Unflatten(1, (1, FRAME)),
            nn.Conv2d(1, 8, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 4, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(16 * (FRAME // 4) ** 2, features),
            nn.Tanh(),
        )


class _FrameDecoder(nn.Sequential):
    def __init__(self, inputs: int) -> None:
        super().__init__(
            nn.Linear(inputs, 16 * (FRAME // 4) ** 2),
            nn.ReLU(),
            nn.Unflatten(1, (16, FRAME // 4, FRAME // 4)),
            nn.ConvTranspose2d(16, 8, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 1, 4, 2, 1),
            nn.Flatten(1, 2),  # (n, 24, 24) logits
        )


def balls_task(
    train_balls: int = 4, test_balls: tuple[int, ...] = (4, 5, 6), train_frames: int = 20
) -> Task:
    """Video prediction, trained on ``train_balls`` and tested on each of ``test_balls``."""
    feature_size = 64

    def make_data(rng):
        seed = int(rng.integers(2**31))
        train = ball_videos(seed, train_balls, 400, train_frames)
        evals = {
            f"{n} balls": (ball_videos(seed + n, n, 64, CONTEXT + HORIZON),) for n in test_balls
        }

        def next_batch(r, b):
            return (train[torch.from_numpy(r.integers(0, len(train), size=b))],)

        return next_batch, evals, {}

    def make_model(core):
        return SequenceModel(core, _FrameEncoder(feature_size), _FrameDecoder(core.output_size))

    def loss(model, batch, generator):
        (videos,) = batch
        logits, gates = model(videos[:, :-1], generator)
        return F.binary_cross_entropy_with_logits(logits, videos[:, 1:]), gates

    @torch.no_grad()
    def evaluate(model, data):
        (videos,) = data
        logits = model.generate(videos[:, :CONTEXT], HORIZON - 1, torch.sigmoid)
        predicted = logits[:, CONTEXT - 1 :]  # predictions of frames CONTEXT .. CONTEXT+H-1
        target = videos[:, CONTEXT:]
        per_step = F.binary_cross_entropy_with_logits(predicted, target, reduction="none")
        per_step = per_step.mean(dim=(0, 2, 3))
        # a predictor that knows how much is white but not where: every pixel at the last
        # context frame's mean intensity
        level = videos[:, CONTEXT - 1].mean(dim=(1, 2)).view(-1, 1, 1, 1).expand_as(target)
        flat_bce = F.binary_cross_entropy(level, target)
        return {
            "bce": float(per_step.mean()),
            "bce_per_step": per_step.tolist(),
            "flat_bce": float(flat_bce),
        }

    return Task("balls", feature_size, make_data, make_model, loss, evaluate)


TASKS: dict[str, Callable[[], Task]] = {
    "copying": copying_task,
    "digits": digits_task,
    "balls": balls_task,
}


def build_core(variant: str, feature_size: int, cell_hidden: int) -> nn.Module:
    """The core of a compared variant.

    RigLSTM and RIMs variants get ``cell_hidden`` units per cell (block); the others the same
    number of units in one cell (``6 * cell_hidden``).
    """
    core, options = VARIANTS[variant]
    if core in ("riglstm", "rims"):
        return make_core(core, feature_size, cell_hidden, **options)
    return make_core(core, feature_size, 6 * cell_hidden, **options)


#: The compared variants: name -> (core, cell options). ``rim`` is the RIM-style baseline:
#: RigLSTM without soft updating and without input feature selection (cells read x through
#: RIMs' null-slot attention, top-K_a cell selection, top-K_h communication, hard update).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "lstm": ("lstm", {}),
    "gru": ("gru", {}),
    "gatel0rd": ("gatel0rd", {}),
    "rim": ("riglstm", {"soft_update": False, "input_selection": False}),
    "riglstm": ("riglstm", {}),
    "rims": ("rims", {}),  # the official RIMs BlocksCore: 6 blocks, top 4 (no dropout)
}
