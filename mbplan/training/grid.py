"""A grid over any ``TrainConfig`` field: parse ``FIELD=VALUES`` axes and expand them into runs.

An axis is ``FIELD=ITEM,ITEM,...``, where ``FIELD`` is a ``TrainConfig`` field (``seed``, ``lr``,
``regime``, ...), a warmup field (``warmup.steps``) or a model option (``model.reg_lambda``,
``model.hidden_size``, a cell option such as ``model.gate_noise_level``); dashes and underscores
are the same (``model.reg-lambda``). Each ``ITEM`` is a value, parsed to the field's type
(``None`` for optional fields, ``True``/``False`` for flags, ``a+b`` for a tuple such as
``subsets``), or, for integer fields, a half-open range ``a:b`` as in Python (``0:5`` is
0, 1, 2, 3, 4). The grid is the product of its axes, in the order given (the last varies fastest).

Every mistake is found before anything runs and named (:class:`GridError`): an unknown field
(with the closest names), a value of the wrong type, an empty range, a field or value given
twice, a value ``TrainConfig`` or the model rejects. Each grid point gets its own readable run
folder under the sweep's root, e.g. ``model.reg_lambda=0.0001,seed=3``.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import re
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from mbplan.training.config import TrainConfig, WarmupConfig

#: fields that a grid may not vary: they do not change what is trained, or the sweep sets them.
FIXED_FIELDS = {
    "out": "each grid point gets its own folder under --out",
    "progress": "it does not change what is trained",
    "tensorboard": "it does not change what is trained",
    "device": "it does not change what is trained; set it with --device",
    "model": "vary one model option at a time: model.<option>, e.g. model.reg_lambda",
    "warmup": "vary one warmup option at a time: warmup.<option>, e.g. warmup.steps",
}

#: longest run folder name; longer ones are shortened and get a hash of the full name.
MAX_NAME_LENGTH = 120

_RANGE = re.compile(r"^(-?\d+):(-?\d+)$")
_NONE_TEXTS = ("none", "null")
_BOOL_TEXTS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class GridError(ValueError):
    """A grid axis names an unknown field, an unparsable or rejected value, or repeats itself."""


@dataclasses.dataclass(frozen=True)
class GridAxis:
    """One axis of a grid.

    Attributes:
        field: the dotted field name, e.g. ``"seed"``, ``"model.reg_lambda"``, ``"warmup.steps"``.
        values: the parsed values, in the order given (distinct).
    """

    field: str
    values: tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class GridPoint:
    """One run of a grid.

    Attributes:
        config: the run's configuration (``out`` is its own folder under the sweep root).
        assignment: axis field -> this point's value, in axis order.
        name: the run folder's name under the sweep root.
    """

    config: TrainConfig
    assignment: dict[str, Any]
    name: str


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def model_option_types(cores: Iterable[str]) -> dict[str, Any]:
    """Types of the ``model.<option>`` fields: ``make_world_model``'s and the cores' cell options.

    Args:
        cores: the cores the grid trains (their cell options become valid model options).

    Returns:
        option name -> type (``Any`` where the default does not tell, e.g. a ``None`` default).
    """
    from mbplan.models import make_world_model
    from mbplan.models.registry import CELL_OPTIONS

    hints = typing.get_type_hints(make_world_model)
    types_ = {
        name: hint
        for name, hint in hints.items()
        if name not in ("core", "obs_dim", "action_dim", "return", "cell_options")
    }
    for core in cores:
        for name, default in CELL_OPTIONS.get(core.lower(), {}).items():
            types_.setdefault(name, Any if default is None else type(default))
    return types_


def field_types(base: TrainConfig, cores: Iterable[str] = ()) -> dict[str, Any]:
    """Every field a grid may vary, dotted, with its type.

    Args:
        base: the configuration the grid starts from (its core and model options count).
        cores: further cores the grid trains (a ``core`` axis).
    """
    names: dict[str, Any] = {
        name: hint for name, hint in _hints(TrainConfig).items() if name not in FIXED_FIELDS
    }
    names.update({f"warmup.{name}": hint for name, hint in _hints(WarmupConfig).items()})
    options = model_option_types([base.core, *cores])
    for name, value in base.model.items():
        options.setdefault(name, Any if value is None else type(value))
    names.update({f"model.{name}": hint for name, hint in options.items()})
    return names


def _closest(name: str, known: Iterable[str]) -> str:
    known = list(known)
    matches = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if not matches:  # e.g. 'reg_lambda' for 'model.reg_lambda'
        matches = [k for k in known if k.rsplit(".", 1)[-1] == name.rsplit(".", 1)[-1]]
    return f"did you mean {' or '.join(matches)}?" if matches else "see 'mbplan train --help'"


def canonical_field(text: str) -> str:
    """``model.reg-lambda`` -> ``model.reg_lambda`` (dashes and underscores are the same)."""
    return ".".join(part.strip().replace("-", "_") for part in text.split("."))


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return " or ".join(_type_name(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if typing.get_origin(hint) is tuple:
        return "names joined by +"
    plain = {int: "an integer", float: "a number", bool: "True or False", str: "a text"}
    return plain.get(hint, getattr(hint, "__name__", str(hint)))


def parse_value(text: str, hint: Any) -> Any:
    """Parse one grid value to type ``hint``.

    Args:
        text: the value as given, e.g. ``"1e-4"``, ``"None"``, ``"True"``, ``"a+b"``.
        hint: the field's type (``int``, ``float``, ``bool``, ``str``, ``X | None``, a
            ``Literal``, ``tuple[str, ...]``, or ``Any`` to guess: None, bool, int, float, str).

    Raises:
        ValueError: if ``text`` is not a value of that type, naming the expected type.
    """
    origin = typing.get_origin(hint)
    if hint is Any:
        for guess in (type(None), bool, int, float):
            try:
                return parse_value(text, guess)
            except ValueError:
                pass
        return text
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        for arg in typing.get_args(hint):
            try:
                return parse_value(text, arg)
            except ValueError:
                pass
        raise ValueError(f"expected {_type_name(hint)}, got {text!r}")
    if hint is type(None):
        if text.lower() in _NONE_TEXTS:
            return None
        raise ValueError(f"expected None, got {text!r}")
    if origin is Literal:
        choices = typing.get_args(hint)
        if text in choices:
            return text
        raise ValueError(f"expected one of {', '.join(map(str, choices))}, got {text!r}")
    if hint is bool:
        if text.lower() in _BOOL_TEXTS:
            return _BOOL_TEXTS[text.lower()]
        raise ValueError(f"expected True or False, got {text!r}")
    if hint is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
    if hint is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    if origin is tuple:
        parts = tuple(text.split("+"))
        if not all(parts):
            raise ValueError(f"expected names joined by +, got {text!r}")
        return parts
    if hint is str:
        return text
    raise ValueError(f"cannot vary a field of type {_type_name(hint)}")


def _accepts_int(hint: Any) -> bool:
    if hint is int:
        return True
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return int in typing.get_args(hint)
    return False


def _items(field: str, text: str, hint: Any) -> list[Any]:
    values: list[Any] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise GridError(f"--grid {field}={text}: an empty value (remove the extra comma)")
        if field == "core":  # core names are case-insensitive (GRU is gru)
            item = item.lower()
        match = _RANGE.match(item)
        if match and _accepts_int(hint):
            start, stop = int(match.group(1)), int(match.group(2))
            if start >= stop:
                raise GridError(
                    f"--grid {field}={text}: the range {item} is empty (a:b is half-open, "
                    f"a, a+1, ..., b-1: e.g. {start}:{start + 1})"
                )
            values.extend(range(start, stop))
            continue
        try:
            values.append(parse_value(item, hint))
        except ValueError as err:
            raise GridError(f"--grid {field}={text}: {err}") from None
    seen: dict[tuple[type, Any], Any] = {}
    for value in values:
        key = (type(value), value)
        if key in seen:
            raise GridError(
                f"--grid {field}={text}: the value {value_text(value)} is given more than once "
                "(every grid point must be a distinct run)"
            )
        seen[key] = value
    return values


def apply(config: TrainConfig, assignment: dict[str, Any]) -> TrainConfig:
    """Return ``config`` with the dotted fields of ``assignment`` set (validated as a new config).

    Raises:
        ValueError: from ``TrainConfig`` or ``WarmupConfig`` validation.
    """
    top = {key: value for key, value in assignment.items() if "." not in key}
    model = {k.split(".", 1)[1]: v for k, v in assignment.items() if k.startswith("model.")}
    warmup = {k.split(".", 1)[1]: v for k, v in assignment.items() if k.startswith("warmup.")}
    if model:
        top["model"] = {**config.model, **model}
    if warmup:
        top["warmup"] = dataclasses.replace(config.warmup, **warmup)
    return config.replace(**top)


def parse_grid(specs: Sequence[str], base: TrainConfig) -> list[GridAxis]:
    """Parse ``FIELD=VALUES`` axes against the base configuration.

    Args:
        specs: one axis each, e.g. ``["model.reg_lambda=0,1e-4", "seed=0:5"]``.
        base: the configuration the grid varies (checks each value against it).

    Returns:
        The axes, in the order given.

    Raises:
        GridError: naming the axis and the field or value: no ``=``, unknown field (with the
            closest names), a field given twice, a value that does not parse to the field's type,
            an empty range, a repeated value, a value rejected by ``TrainConfig`` validation.
    """
    if not specs:
        raise GridError("--grid: no axis given (e.g. --grid seed=0:3 model.reg_lambda=0,1e-3)")
    split = []
    for spec in specs:
        field, sep, text = spec.partition("=")
        if not sep or not field.strip():
            raise GridError(f"--grid {spec}: expected FIELD=VALUES, e.g. seed=0:3 or lr=1e-3,1e-4")
        split.append((canonical_field(field), text.strip()))
    cores: list[str] = []
    for field, text in split:  # a core axis makes its cores' cell options valid model options
        if field == "core":
            cores += [item.strip() for item in text.split(",")]
    known = field_types(base, cores)
    axes: list[GridAxis] = []
    for field, text in split:
        if field in FIXED_FIELDS:
            raise GridError(f"--grid {field}: cannot be varied ({FIXED_FIELDS[field]})")
        if field not in known:
            raise GridError(f"--grid {field}: unknown field ({_closest(field, known)})")
        if any(axis.field == field for axis in axes):
            raise GridError(f"--grid {field}: given twice (give all its values in one axis)")
        values = _items(field, text, known[field])
        for value in values:
            try:
                apply(base, {field: value})
            except ValueError as err:
                raise GridError(f"--grid {field}={value_text(value)}: {err}") from None
        axes.append(GridAxis(field, tuple(values)))
    return axes


def value_text(value: Any) -> str:
    """A grid value as text: ``None``, ``True``, ``0.0001``, ``a+b`` (tuples)."""
    if isinstance(value, tuple):
        return "+".join(map(str, value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def point_name(assignment: dict[str, Any]) -> str:
    """The run folder name of a grid point, e.g. ``model.reg_lambda=0.0001,seed=3``.

    Characters other than letters, digits and ``. _ = + , -`` become ``_``; a name longer than
    :data:`MAX_NAME_LENGTH` is cut and ends in a hash of the whole name.
    """
    name = ",".join(f"{field}={value_text(value)}" for field, value in assignment.items())
    name = re.sub(r"[^A-Za-z0-9._=+,-]", "_", name)
    if len(name) > MAX_NAME_LENGTH:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:10]
        name = f"{name[: MAX_NAME_LENGTH - 11]}~{digest}"
    return name


def expand_grid(base: TrainConfig, axes: Sequence[GridAxis], root: str | Path) -> list[GridPoint]:
    """Every combination of the axes' values, each with its own run folder under ``root``.

    Args:
        base: the configuration the grid varies.
        axes: from :func:`parse_grid`.
        root: the sweep folder; point ``p`` trains in ``root / p.name``.

    Raises:
        GridError: if ``TrainConfig`` rejects a combination, or two points would share a folder.
    """
    points: list[GridPoint] = []
    names: dict[str, dict[str, Any]] = {}
    fields = [axis.field for axis in axes]
    for values in itertools.product(*(axis.values for axis in axes)):
        assignment = dict(zip(fields, values, strict=True))
        name = point_name(assignment)
        if name in names:
            raise GridError(
                f"--grid: the points {names[name]} and {assignment} would share the run folder "
                f"{name!r} (give values that differ in letters or digits)"
            )
        names[name] = assignment
        try:
            config = apply(base, assignment).replace(out=str(Path(root) / name))
        except ValueError as err:
            raise GridError(f"--grid: the point {name}: {err}") from None
        points.append(GridPoint(config, assignment, name))
    return points


def check_models(points: Sequence[GridPoint]) -> None:
    """Build every distinct model of the grid on the meta device (no memory, no randomness used).

    Finds bad model options (a size of 0, a cell option the point's core lacks) before training.

    Raises:
        GridError: naming the grid point and the problem.
    """
    import torch

    from mbplan.models import make_world_model
    from mbplan.training.trainer import resolve_config

    checked: set[str] = set()
    for point in points:
        try:
            config = resolve_config(point.config)
            key = repr((config.core, sorted(config.model.items())))
            if key in checked:
                continue
            checked.add(key)
            with torch.random.fork_rng(devices=[]), torch.device("meta"):
                make_world_model(config.core, 1, 1, **config.model)
        except ValueError as err:
            raise GridError(f"--grid: the point {point.name}: {err}") from None
