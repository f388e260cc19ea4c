"""MLP builders for the world model (f_pre, f_init, f_post) and GateL0RD's sub-networks.

Widths follow the GateL0RD paper code (``shared/reference/gatel0rd.md`` Sec. 1.3): the fan-in
networks halve their width at every layer and end at the target width, e.g. three layers towards
``F`` have widths ``4F, 2F, F``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from mbplan.models.validation import require_positive_int


def fan_in_widths(num_layers: int, width: int) -> list[int]:
    """Widths ``2**(L-1-l) * width`` for ``l = 0 .. L-1``, e.g. ``(3, 16) -> [64, 32, 16]``.

    Args:
        num_layers: number of layers ``L`` (>= 1).
        width: width of the last layer.

    Returns:
        The output width of every layer.
    """
    require_positive_int("num_layers", num_layers)
    return [2 ** (num_layers - 1 - layer) * width for layer in range(num_layers)]


def mlp(
    sizes: Sequence[int],
    *,
    activate_last: bool,
    activation: type[nn.Module] = nn.Tanh,
    last_activation: type[nn.Module] | None = None,
) -> nn.Sequential:
    """Linear layers ``sizes[0] -> sizes[1] -> ...`` with an activation between them.

    Args:
        sizes: input size followed by the output size of every layer (at least two entries).
        activate_last: put an activation after the last layer as well.
        activation: activation module class between layers.
        last_activation: activation class after the last layer (default: ``activation``).

    Returns:
        An ``nn.Sequential`` of ``Linear`` and activation modules.
    """
    if len(sizes) < 2:
        raise ValueError(f"sizes: expected at least an input and an output size, got {sizes!r}")
    modules: list[nn.Module] = []
    last = len(sizes) - 2
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        modules.append(nn.Linear(fan_in, fan_out))
        if index < last:
            modules.append(activation())
        elif activate_last:
            modules.append((last_activation or activation)())
    return nn.Sequential(*modules)


def linear_layers(network: nn.Sequential) -> list[nn.Linear]:
    """The ``nn.Linear`` modules of ``network`` in order."""
    return [module for module in network if isinstance(module, nn.Linear)]


def make_f_pre(num_layers: int, input_size: int, feature_size: int) -> nn.Sequential:
    """f_pre: fan-in MLP with tanh after every layer, ``input_size -> ... -> feature_size``.

    Args:
        num_layers: number of layers (the paper uses 3: widths ``4F, 2F, F``).
        input_size: size of ``x_t = (a_t, o_t)``.
        feature_size: ``F``, the input size of the recurrent core.

    Returns:
        The network, mapping ``(..., input_size)`` to ``(..., feature_size)``.
    """
    return mlp([input_size, *fan_in_widths(num_layers, feature_size)], activate_last=True)


def make_f_init(
    num_layers: int, input_size: int, feature_size: int, state_size: int
) -> nn.Sequential:
    """f_init: MLP with tanh after every layer from the first ``k`` inputs to one layer's state.

    The hidden widths are those of the fan-in towards ``feature_size``; the last layer outputs
    ``state_size`` instead (paper code: three layers give ``4F, 2F, state_size``).

    Args:
        num_layers: number of layers (>= 1).
        input_size: ``k * (action_dim + obs_dim)``.
        feature_size: ``F``.
        state_size: the state size of one core layer (``2H`` for an LSTM layer).

    Returns:
        The network, mapping ``(batch, input_size)`` to ``(batch, state_size)``.
    """
    widths = fan_in_widths(num_layers, feature_size)
    widths[-1] = state_size
    return mlp([input_size, *widths], activate_last=True)


def make_f_post(num_layers: int, input_size: int, output_size: int) -> nn.Sequential:
    """f_post: readout MLP, tanh between layers and a linear last layer.

    Hidden widths fan in towards ``input_size`` (paper code: three layers give
    ``2 * input_size, input_size, output_size``; one layer is a single ``Linear``).

    Args:
        num_layers: number of layers (>= 1).
        input_size: the core's output size.
        output_size: ``obs_dim``.

    Returns:
        The network, mapping ``(..., input_size)`` to ``(..., output_size)``.
    """
    require_positive_int("num_layers", num_layers)
    hidden = fan_in_widths(num_layers - 1, input_size) if num_layers > 1 else []
    return mlp([input_size, *hidden, output_size], activate_last=False)
