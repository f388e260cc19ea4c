"""Generate a dataset: parallel, rejection-sampled, byte-reproducible and resumable.

The subset's episodes are the first ``count`` accepted candidates in candidate order, where
candidate i is simulated from seeds derived from (dataset seed, subset label, i) alone
(:func:`mbplan.data.episodes.episode_seeds`). Workers simulate contiguous blocks of candidates in
any order; this process reassembles them in candidate order and writes fixed-size shards, so the
bytes are the same for any number of workers. After each shard it rewrites the manifest, which
records the shard's checksums and the next candidate index: a rerun of an interrupted generation
keeps the verified shards and continues from there, and the result equals an uninterrupted run.

The acceptance rate of a subset is ``count / attempts``, where ``attempts`` is the index of the
last accepted candidate plus one; it too is independent of workers and resumption.
"""

from __future__ import annotations

import copy
import logging
import math
import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pymunk
from tqdm import tqdm

import mbplan
from mbplan.data.episodes import (
    BlockJob,
    BlockResult,
    EnvLayout,
    EpisodeRunner,
    episode_seeds,
    init_worker,
    run_block_in_worker,
)
from mbplan.data.errors import DatasetError, DatasetExistsError, ManifestError
from mbplan.data.io import (
    ARRAY_NAMES,
    MANIFEST_NAME,
    SCHEMA_VERSION,
    load_shard_array,
    read_manifest,
    remove_temporaries,
    save_shard_array,
    shard_file_name,
    write_manifest,
)
from mbplan.data.spec import DatasetSpec, SubsetSpec

logger = logging.getLogger(__name__)

#: Manifest keys of a subset that hold generation results rather than the plan.
_RESULT_KEYS = ("attempts", "acceptance_rate", "shards")
#: Episodes a block of candidates should yield, and bounds on its number of candidates.
_BLOCK_TARGET, _BLOCK_MIN, _BLOCK_MAX = 16, 4, 2048


@dataclass(frozen=True)
class SubsetReport:
    """What generating one subset took.

    Attributes:
        label: the subset.
        count: accepted episodes.
        attempts: candidates up to and including the last accepted one.
        acceptance_rate: ``count / attempts``.
        steps_simulated: env steps taken in this run (rejected episodes included).
        worker_seconds: wall time workers spent simulating this subset in this run.
        worker_cpu_seconds: CPU time they spent on it (insensitive to other load).
    """

    label: str
    count: int
    attempts: int
    acceptance_rate: float
    steps_simulated: int
    worker_seconds: float
    worker_cpu_seconds: float


@dataclass(frozen=True)
class GenerationReport:
    """The outcome of :func:`generate`.

    Attributes:
        root: the dataset directory.
        subsets: one report per subset.
        workers: worker processes used (1 = in this process).
        wall_seconds: elapsed time.
        generated: False if the dataset was already complete (nothing was done).
    """

    root: Path
    subsets: tuple[SubsetReport, ...]
    workers: int
    wall_seconds: float
    generated: bool

    @property
    def steps_per_worker_second(self) -> float:
        """Env steps per second of one worker, over the whole run (0 if nothing ran)."""
        seconds = sum(s.worker_seconds for s in self.subsets)
        steps = sum(s.steps_simulated for s in self.subsets)
        return steps / seconds if seconds > 0 else 0.0

    @property
    def steps_per_worker_cpu_second(self) -> float:
        """Env steps per CPU second of one worker (what an unshared core would reach)."""
        seconds = sum(s.worker_cpu_seconds for s in self.subsets)
        steps = sum(s.steps_simulated for s in self.subsets)
        return steps / seconds if seconds > 0 else 0.0


def dataset_plan(spec: DatasetSpec, layout: EnvLayout, shard_size: int) -> dict[str, Any]:
    """Return the manifest without generation results: what identifies the dataset's bytes.

    Args:
        spec: the dataset spec.
        layout: the env's shapes and flag names.
        shard_size: episodes per shard.
    """
    body = spec.to_dict()
    steps = spec.steps
    return {
        "schema_version": SCHEMA_VERSION,
        "mbplan_version": mbplan.__version__,
        "versions": {
            "numpy": np.__version__,
            "gymnasium": gymnasium.__version__,
            "pymunk": pymunk.version,
        },
        **body,
        "obs_dim": layout.obs_dim,
        "action_dim": layout.action_dim,
        "flag_names": list(layout.flag_names),
        "arrays": {
            "observations": {"dtype": "float32", "shape": [steps + 1, layout.obs_dim]},
            "actions": {"dtype": "float32", "shape": [steps, layout.action_dim]},
            "flags": {"dtype": "float32", "shape": [steps + 1, len(layout.flag_names)]},
        },
        "shard_size": shard_size,
    }


def strip_results(manifest: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``manifest`` without generation results (the plan part)."""
    plan = copy.deepcopy(manifest)
    plan.pop("complete", None)
    for subset in plan.get("subsets", []):
        for key in _RESULT_KEYS:
            subset.pop(key, None)
    return plan


def _fresh_manifest(plan: dict[str, Any]) -> dict[str, Any]:
    manifest = copy.deepcopy(plan)
    for subset in manifest["subsets"]:
        subset.update({"attempts": None, "acceptance_rate": None, "shards": []})
    manifest["complete"] = False
    return manifest


def _listed_files(manifest: dict[str, Any]) -> Iterable[Path]:
    for subset in manifest.get("subsets", []):
        for shard in subset.get("shards", []):
            for record in shard["files"].values():
                yield Path(record["path"])


def _remove_dataset(root: Path, manifest: dict[str, Any] | None) -> None:
    """Delete a dataset's manifest, listed shards and temporaries; other files stay."""
    if manifest is not None:
        for relative in _listed_files(manifest):
            (root / relative).unlink(missing_ok=True)
        for subset in manifest.get("subsets", []):
            folder = root / subset["label"]
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    remove_temporaries(root)
    (root / MANIFEST_NAME).unlink(missing_ok=True)


def _keep_verified_shards(root: Path, manifest: dict[str, Any]) -> None:
    """Drop, per subset, the first shard that fails verification and all after it."""
    arrays = manifest["arrays"]
    for subset in manifest["subsets"]:
        kept = []
        for shard in subset["shards"]:
            try:
                for name in ARRAY_NAMES:
                    load_shard_array(
                        root,
                        shard["files"][name],
                        dtype=arrays[name]["dtype"],
                        shape=(shard["episodes"], *arrays[name]["shape"]),
                    )
            except DatasetError as err:
                logger.warning(
                    "regenerating from shard %d of %s: %s", shard["index"], subset["label"], err
                )
                break
            kept.append(shard)
        if len(kept) < len(subset["shards"]):
            subset["shards"] = kept
            subset["attempts"] = subset["acceptance_rate"] = None
            manifest["complete"] = False


def open_dataset_directory(root: Path, plan: dict[str, Any], overwrite: bool) -> dict[str, Any]:
    """Prepare ``root`` for generating ``plan`` and return the manifest to continue from.

    A directory holding the same plan is resumed (verified shards kept); an empty or missing one
    gets a fresh manifest; anything else is refused unless ``overwrite``, which deletes the old
    dataset's manifest and shards (and no other files).

    Raises:
        DatasetExistsError: ``root`` holds a different dataset or other files.
    """
    root.mkdir(parents=True, exist_ok=True)
    existing: dict[str, Any] | None = None
    if (root / MANIFEST_NAME).exists():
        try:
            existing = read_manifest(root)
        except ManifestError as err:
            if not overwrite:
                raise DatasetExistsError(
                    root,
                    f"holds an unreadable manifest ({err.problem}); pass overwrite "
                    "(--overwrite) to replace it",
                ) from None
        if existing is not None and strip_results(existing) == plan:
            remove_temporaries(root)
            _keep_verified_shards(root, existing)
            return existing
        if existing is not None and not overwrite:
            raise DatasetExistsError(
                root,
                f"holds a different dataset ({_first_difference(existing, plan)}); pass "
                "overwrite (--overwrite) to replace it, or choose another directory",
            )
        _remove_dataset(root, existing)
    elif any(root.iterdir()) and not overwrite:
        raise DatasetExistsError(
            root, "is not empty and holds no dataset; pass overwrite (--overwrite) to write there"
        )
    manifest = _fresh_manifest(plan)
    write_manifest(root, manifest)
    return manifest


def _first_difference(manifest: dict[str, Any], plan: dict[str, Any]) -> str:
    old = strip_results(manifest)
    for key in sorted(set(old) | set(plan)):
        if old.get(key) != plan.get(key):
            return f"{key!r} is {old.get(key)!r:.80}, requested {plan.get(key)!r:.80}"
    return "no difference"


def _run_inline(runner: EpisodeRunner, job: BlockJob) -> Future:
    """Run ``job`` in this process and return it as a finished future (``workers=1``)."""
    future: Future = Future()
    try:
        future.set_result(runner.run_block(job))
    except Exception as err:  # handed to the caller through the future, as a pool would
        future.set_exception(err)
    return future


@dataclass
class _SubsetState:
    """Book-keeping of one subset while it is generated."""

    spec: SubsetSpec
    record: dict[str, Any]
    attempt_limit: int
    cursor: int = 0  # next candidate to dispatch
    in_order: int = 0  # next candidate expected in order
    pending: dict[int, BlockResult] = field(default_factory=dict)
    buffer: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    written: int = 0  # episodes in written shards
    in_flight: int = 0  # candidates dispatched, not returned
    tried: int = 0  # candidates returned in this run
    accepted: int = 0  # accepted among them
    steps: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def done(self) -> bool:
        return self.record["attempts"] is not None

    def rate_estimate(self) -> float:
        return (self.accepted + 1) / (self.tried + 2)

    def known_accepted(self) -> int:
        return self.written + len(self.buffer) + sum(len(r.indices) for r in self.pending.values())

    def wants_more(self) -> bool:
        if self.done:
            return False
        return self.known_accepted() + self.rate_estimate() * self.in_flight < self.spec.count

    def next_job(self, seed: int, steps: int) -> BlockJob:
        remaining = self.spec.count - self.known_accepted()
        size = math.ceil(min(_BLOCK_TARGET, max(remaining, 1)) / self.rate_estimate())
        size = min(max(size, _BLOCK_MIN), _BLOCK_MAX)
        job = BlockJob(self.spec, seed, steps, self.cursor, self.cursor + size)
        self.cursor += size
        self.in_flight += size
        return job


class _Generation:
    """One run of :func:`generate` over an opened dataset directory."""

    def __init__(
        self, root: Path, spec: DatasetSpec, manifest: dict[str, Any], progress: bool
    ) -> None:
        self.root, self.spec, self.manifest = root, spec, manifest
        self.shard_size = int(manifest["shard_size"])
        self.states: list[_SubsetState] = []
        for subset, record in zip(spec.subsets, manifest["subsets"], strict=True):
            state = _SubsetState(subset, record, attempt_limit=1000 * subset.count + 1000)
            if record["shards"]:
                state.cursor = state.in_order = record["shards"][-1]["next_candidate"]
                state.written = sum(s["episodes"] for s in record["shards"])
            self.states.append(state)
        total = sum(s.spec.count for s in self.states)
        self.bar = tqdm(
            total=total,
            initial=sum(s.written for s in self.states),
            unit="ep",
            desc="generate",
            disable=not progress,
            dynamic_ncols=True,
        )
        for state in self.states:
            if state.written == state.spec.count and not state.done:
                self._finish(state)

    def run(self, submit: Callable[[BlockJob], Future], max_in_flight: int) -> None:
        """Dispatch blocks through ``submit`` until every subset is complete."""
        in_flight: dict[Future, _SubsetState] = {}
        try:
            while any(not s.done for s in self.states):
                while len(in_flight) < max_in_flight:
                    state = next((s for s in self.states if s.wants_more()), None)
                    if state is None:
                        break
                    in_flight[submit(state.next_job(self.spec.seed, self.spec.steps))] = state
                if not in_flight:  # cannot happen: an unfinished subset always wants more
                    raise RuntimeError("generation stalled with no block in flight")
                finished, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                for future in finished:
                    state = in_flight.pop(future)
                    self._receive(state, future.result())
        finally:
            for future in in_flight:
                future.cancel()
            self.bar.close()

    def _receive(self, state: _SubsetState, result: BlockResult) -> None:
        state.in_flight -= result.stop - result.start
        state.tried += result.stop - result.start
        state.accepted += len(result.indices)
        state.steps += result.steps_simulated
        state.seconds += result.seconds
        state.cpu_seconds += result.cpu_seconds
        if state.done:
            return
        state.pending[result.start] = result
        before = state.written + len(state.buffer)
        while state.in_order in state.pending and not state.done:
            block = state.pending.pop(state.in_order)
            state.in_order = block.stop
            for k, index in enumerate(block.indices):
                if state.written + len(state.buffer) == state.spec.count:
                    break
                state.buffer.append(
                    (index, block.observations[k], block.actions[k], block.flags[k])
                )
            while len(state.buffer) >= self.shard_size or (
                state.buffer and state.written + len(state.buffer) == state.spec.count
            ):
                self._write_shard(state)
            if state.written == state.spec.count:
                self._finish(state)
        self.bar.update(state.written + len(state.buffer) - before)
        self.bar.set_postfix(subset=state.spec.label, accept=f"{state.rate_estimate():.1%}")
        if not state.done and state.in_order > state.attempt_limit:
            raise RuntimeError(
                f"subset {state.spec.label!r}: only {state.written + len(state.buffer)} of "
                f"{state.spec.count} episodes accepted in {state.in_order} attempts; its filters "
                f"{[f.describe() for f in state.spec.filters]} may be unsatisfiable"
            )

    def _write_shard(self, state: _SubsetState) -> None:
        episodes = state.buffer[: self.shard_size]
        del state.buffer[: self.shard_size]
        index = len(state.record["shards"])
        files = {}
        for k, name in enumerate(ARRAY_NAMES, start=1):
            array = np.stack([episode[k] for episode in episodes])
            relative = shard_file_name(state.spec.label, name, index)
            files[name] = save_shard_array(self.root, relative, array)
        state.record["shards"].append(
            {
                "index": index,
                "episodes": len(episodes),
                "first_candidate": episodes[0][0],
                "next_candidate": episodes[-1][0] + 1,
                "files": files,
            }
        )
        state.written += len(episodes)
        write_manifest(self.root, self.manifest)
        logger.debug("wrote shard %d of %s", index, state.spec.label)

    def _finish(self, state: _SubsetState) -> None:
        attempts = int(state.record["shards"][-1]["next_candidate"])
        state.record["attempts"] = attempts
        state.record["acceptance_rate"] = state.spec.count / attempts
        state.pending.clear()
        if all(s.done for s in self.states):
            self.manifest["complete"] = True
        write_manifest(self.root, self.manifest)
        logger.info(
            "subset %s: %d episodes, acceptance rate %.4f (%d attempts)",
            state.spec.label,
            state.spec.count,
            state.record["acceptance_rate"],
            attempts,
        )

    def report(self, workers: int, wall_seconds: float, generated: bool) -> GenerationReport:
        return GenerationReport(
            root=self.root,
            subsets=tuple(
                SubsetReport(
                    label=s.spec.label,
                    count=s.spec.count,
                    attempts=int(s.record["attempts"]),
                    acceptance_rate=float(s.record["acceptance_rate"]),
                    steps_simulated=s.steps,
                    worker_seconds=s.seconds,
                    worker_cpu_seconds=s.cpu_seconds,
                )
                for s in self.states
            ),
            workers=workers,
            wall_seconds=wall_seconds,
            generated=generated,
        )


def probe_env(spec: DatasetSpec) -> EnvLayout:
    """Build the env once, read its layout and check every subset's reset options and filters.

    Raises:
        ValueError: unknown env id, policy or parameters, or a filter reading an ``info`` key
            the env does not report.
    """
    runner = EpisodeRunner(spec.env_id, spec.env_kwargs, spec.steps)
    for subset in spec.subsets:
        runner.policy(subset)  # raises on unknown names or bad parameters
        env_seed, _ = episode_seeds(spec.seed, subset.label, 0)
        _, info = runner.env.reset(seed=env_seed, options=dict(subset.reset_options) or None)
        needed = set(runner.layout.flag_names)
        for condition in subset.filters:
            needed.update(condition.info_keys)
        missing = sorted(needed - set(info))
        if missing:
            raise ValueError(
                f"subset {subset.label!r}: env {spec.env_id!r} reports no info keys {missing}; "
                f"it has {sorted(info)}"
            )
    runner.env.close()
    return runner.layout


def generate(
    spec: DatasetSpec,
    out: str | Path,
    *,
    workers: int = 1,
    overwrite: bool = False,
    shard_size: int = 500,
    progress: bool = False,
) -> GenerationReport:
    """Generate (or resume, or confirm) the dataset ``spec`` in the directory ``out``.

    Args:
        spec: what to generate (see :mod:`mbplan.data.recipes`).
        out: the dataset directory; created if missing.
        workers: processes simulating episodes; 1 runs everything in this process. The output
            bytes do not depend on it.
        overwrite: replace a different dataset found in ``out``.
        shard_size: episodes per shard file (part of the dataset's identity).
        progress: show a tqdm bar (episodes done, acceptance rate, ETA).

    Returns:
        Acceptance rates and throughput; ``generated`` is False if ``out`` already held the
        complete dataset.

    Raises:
        ValueError: bad arguments, unknown env, policy or filter key.
        DatasetExistsError: ``out`` holds something else and ``overwrite`` is False.
        RuntimeError: a worker failed or died, or a subset's filters reject (almost) everything;
            finished shards are kept and a rerun resumes.
    """
    if workers < 1:
        raise ValueError(f"workers: expected >= 1, got {workers}")
    if shard_size < 1:
        raise ValueError(f"shard_size: expected >= 1, got {shard_size}")
    began = time.perf_counter()
    root = Path(out)
    layout = probe_env(spec)
    manifest = open_dataset_directory(root, dataset_plan(spec, layout, shard_size), overwrite)
    generation = _Generation(root, spec, manifest, progress)
    if manifest["complete"]:
        logger.info("%s already holds the complete dataset; nothing to do", root)
        generation.bar.close()
        return generation.report(workers, time.perf_counter() - began, generated=False)
    if workers == 1:
        runner = EpisodeRunner(spec.env_id, spec.env_kwargs, spec.steps)
        generation.run(partial(_run_inline, runner), max_in_flight=1)
        runner.env.close()
        return generation.report(workers, time.perf_counter() - began, generated=True)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=(spec.env_id, dict(spec.env_kwargs), spec.steps),
    )
    try:
        generation.run(partial(pool.submit, run_block_in_worker), max_in_flight=2 * workers)
    except BrokenProcessPool as err:
        raise RuntimeError(
            f"a worker process died ({err}); finished shards in {root} are kept, rerun to resume"
        ) from err
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return generation.report(workers, time.perf_counter() - began, generated=True)
