"""Named recipes for the GateL0RD paper's datasets, plus the generic one-subset form.

Counts, lengths, filters and splits follow ``shared/reference/gatel0rd.md`` Sec. 2 (PAPER
``generate_*_data*.py``, ``*_dataloader.py``, ``main_*.py``); ``scale`` multiplies every count and
split size (rounded, at least one episode per subset). Time indices in filters are those of the
stored arrays: ``flags[t]`` belongs to ``observations[t]``, the state after t steps, which is the
reference's row t (its row holds o_t, a_t and the info returned by the step into o_t).

* ``billiard-paper`` (``mbplan/BilliardBall-v0``, no actions): six subsets of 1200 episodes of 150
  steps, ``pocket_drop_X`` for X in 50, 100, 150, where the ball drops in the interval
  (X - 50, X]: ``info["pocket_step"]`` (the index t of the first observation that shows the ball
  in the pocket) lies in [X - 49, X], so the drop happens inside the window of transitions
  starting at X - 50; and ``no_pocket_drop_{1,2,3}`` where it never drops. Loading
  with ``window="recipe"`` cuts 50-step windows at starts 0, 50, 100 (``pocket_drop_50`` only at 0):
  16 window subsets. Random 800/200/200 split per subset, seed 42.
* ``rrc-paper`` (``mbplan/RobotRemoteControl-v0``): 8000 episodes of 50 steps per subset; Control
  (robot controlled at some step) and NoControl (never) for the biased policy's train and test
  files and the generalisation policy's test files. Splits are row ranges as in ``main_RRC.py``:
  train = rows [0, 3200) of the biased train files; val / test = rows [0, 3200) / [3200, 6400) of
  the biased test files; ``generalization_val`` / ``generalization_test`` = the same rows of the
  generalisation test files. Deviation: the reference also writes ``Generalization*DataTrain``
  files that nothing reads; they are not generated. The reference stores 50 rows (o_0..o_49); we
  store the 51st observation too, so the NoControl condition covers every stored step.
* ``shepherd-paper`` (``mbplan/Shepherd-v0``): four subsets of 8000 episodes of 100 steps (101
  observations): ``gateopen_startleft`` (gate closed at t=30, open at t=70), ``gateopen_startright``
  (the same and sheep not caught at t=100), ``sheepcaught_startright`` (caught at t=100),
  ``gateclosed_startleft`` (closed at t=100); start-right subsets use the biased Shepherd policy.
  Random 3200/1600/3200 split per subset, seed 42.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mbplan.data.filters import EventStepIn, FlagAt, FlagEver
from mbplan.data.spec import DatasetSpec, PolicySpec, RandomSplit, RangeSplit, SubsetSpec, Windows

#: The reference's split seed (``dataset_split_rs``).
SPLIT_SEED = 42


def scaled(count: int, scale: float) -> int:
    """Return ``count * scale`` rounded, at least 1."""
    return max(1, round(count * scale))


def random_split(count: int, fractions: Sequence[tuple[str, float]]) -> RandomSplit:
    """Split ``count`` episodes randomly in the given proportions (the last part takes the rest).

    Args:
        count: episodes in the subset.
        fractions: ``((name, fraction), ...)`` summing to 1.
    """
    sizes = [(name, round(count * fraction)) for name, fraction in fractions[:-1]]
    sizes.append((fractions[-1][0], count - sum(size for _, size in sizes)))
    return RandomSplit(tuple(sizes), seed=SPLIT_SEED)


def _check_scale(scale: float) -> None:
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"scale: expected a factor in (0, 1], got {scale}")


def billiard_paper(scale: float = 1.0, seed: int = 0) -> DatasetSpec:
    """Return the Billiard Ball datasets (see the module docstring).

    Args:
        scale: multiplies the 1200 episodes per subset.
        seed: the dataset seed.
    """
    _check_scale(scale)
    count, steps, window = scaled(1200, scale), 150, 50
    split = random_split(count, (("train", 800 / 1200), ("val", 200 / 1200), ("test", 200 / 1200)))
    policy = PolicySpec("uniform")  # the world takes no actions
    subsets = [
        SubsetSpec(
            f"pocket_drop_{high}",
            count,
            policy,
            split,
            filters=(EventStepIn("pocket_step", high - window + 1, high + 1),),
        )
        for high in (50, 100, 150)
    ]
    subsets += [
        SubsetSpec(
            f"no_pocket_drop_{k}", count, policy, split, filters=(FlagEver("pocketed", ever=False),)
        )
        for k in (1, 2, 3)
    ]
    starts = {s.label: (0, 50, 100) for s in subsets}
    starts["pocket_drop_50"] = (0,)
    return DatasetSpec(
        env_id="mbplan/BilliardBall-v0",
        steps=steps,
        seed=seed,
        subsets=tuple(subsets),
        windows=Windows(window, starts),
        recipe="billiard-paper",
        scale=scale,
    )


def rrc_paper(scale: float = 1.0, seed: int = 0) -> DatasetSpec:
    """Return the Robot Remote Control datasets (see the module docstring).

    Args:
        scale: multiplies the 8000 episodes per subset and the 3200-row split ranges.
        seed: the dataset seed.
    """
    _check_scale(scale)
    count, rows = scaled(8000, scale), scaled(3200, scale)
    train = RangeSplit((("train", 0, rows),))
    test = RangeSplit((("val", 0, rows), ("test", rows, 2 * rows)))
    general = RangeSplit((("generalization_val", 0, rows), ("generalization_test", rows, 2 * rows)))
    control = {
        "control": (FlagEver("robot_controlled"),),
        "nocontrol": (FlagEver("robot_controlled", ever=False),),
    }
    files = (
        ("biased", "train", PolicySpec("rrc-biased", {"min_magnitude": 1e-4}), train),
        ("biased", "test", PolicySpec("rrc-biased", {"min_magnitude": 1e-4}), test),
        ("generalization", "test", PolicySpec("rrc-generalization"), general),
    )
    subsets = tuple(
        SubsetSpec(f"{kind}_{name}_{part}", count, policy, split, filters=filters)
        for kind, part, policy, split in files
        for name, filters in control.items()
    )
    return DatasetSpec(
        env_id="mbplan/RobotRemoteControl-v0",
        steps=50,
        seed=seed,
        subsets=subsets,
        recipe="rrc-paper",
        scale=scale,
    )


def shepherd_paper(scale: float = 1.0, seed: int = 0) -> DatasetSpec:
    """Return the Shepherd datasets (see the module docstring).

    Args:
        scale: multiplies the 8000 episodes per subset.
        seed: the dataset seed.
    """
    _check_scale(scale)
    count = scaled(8000, scale)
    split = random_split(count, (("train", 0.4), ("val", 0.2), ("test", 0.4)))
    left = {"start": "left", "generalize": False}
    right = {"start": "right", "generalize": False}
    plain = PolicySpec("shepherd", {"flip_probability": 0.1, "bias_probability": 0.0})
    biased = PolicySpec("shepherd", {"flip_probability": 0.1, "bias_probability": 0.02})
    gate_opens = (FlagAt("gate_open", 30, False), FlagAt("gate_open", 70, True))
    subsets = (
        SubsetSpec("gateopen_startleft", count, plain, split, gate_opens, left),
        SubsetSpec(
            "gateopen_startright",
            count,
            biased,
            split,
            (*gate_opens, FlagAt("sheep_caught", 100, False)),
            right,
        ),
        SubsetSpec(
            "sheepcaught_startright",
            count,
            biased,
            split,
            (FlagAt("sheep_caught", 100, True),),
            right,
        ),
        SubsetSpec(
            "gateclosed_startleft", count, plain, split, (FlagAt("gate_open", 100, False),), left
        ),
    )
    return DatasetSpec(
        env_id="mbplan/Shepherd-v0",
        steps=100,
        seed=seed,
        subsets=subsets,
        recipe="shepherd-paper",
        scale=scale,
    )


#: Recipe name -> builder ``(scale, seed) -> DatasetSpec``.
RECIPES: dict[str, Callable[[float, int], DatasetSpec]] = {
    "billiard-paper": billiard_paper,
    "rrc-paper": rrc_paper,
    "shepherd-paper": shepherd_paper,
}


def make_recipe(name: str, scale: float = 1.0, seed: int = 0) -> DatasetSpec:
    """Return the spec of recipe ``name``.

    Raises:
        ValueError: unknown recipe (the message lists them) or scale out of (0, 1].
    """
    if name not in RECIPES:
        raise ValueError(f"recipe: expected one of {sorted(RECIPES)}, got {name!r}")
    return RECIPES[name](scale, seed)


def generic_spec(
    env_id: str,
    policy: str,
    episodes: int,
    steps: int,
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    policy_params: Mapping[str, Any] | None = None,
) -> DatasetSpec:
    """Return a one-subset dataset of ``episodes`` unfiltered episodes of any env and policy.

    The subset is labelled ``episodes`` and split randomly 80/10/10 (seed 42).

    Args:
        env_id: gymnasium id.
        policy: a policy name (:data:`mbplan.data.policies.POLICIES`).
        episodes: number of episodes.
        steps: transitions per episode.
        seed: the dataset seed.
        env_kwargs: keyword arguments of ``gym.make``.
        policy_params: policy constructor arguments.
    """
    if episodes < 1:
        raise ValueError(f"episodes: expected >= 1, got {episodes}")
    split = random_split(episodes, (("train", 0.8), ("val", 0.1), ("test", 0.1)))
    subset = SubsetSpec("episodes", episodes, PolicySpec(policy, dict(policy_params or {})), split)
    return DatasetSpec(
        env_id=env_id,
        steps=steps,
        seed=seed,
        subsets=(subset,),
        env_kwargs=dict(env_kwargs or {}),
    )
