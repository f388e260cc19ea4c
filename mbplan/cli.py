"""The ``mbplan`` command line: one entry point, one module per subcommand.

Each subcommand lives in ``mbplan/commands/<name>.py`` and exposes ``HELP: str`` and
``main(argv: list[str]) -> int``. Modules are imported lazily, so ``mbplan envs`` does not pay for
importing torch.
"""

from __future__ import annotations

import importlib
import sys

#: subcommand name -> module path. Each module parses its own arguments.
COMMANDS: dict[str, str] = {
    "envs": "mbplan.commands.envs",
    "generate": "mbplan.commands.generate",
    "data": "mbplan.commands.data",
    "train": "mbplan.commands.train",
    "evaluate": "mbplan.commands.evaluate",
    "compare": "mbplan.commands.compare",
    "plan": "mbplan.commands.plan",
    "demo": "mbplan.commands.demo",
    "hmm": "mbplan.commands.hmm",
}


def _available() -> dict[str, object]:
    found = {}
    for name, path in COMMANDS.items():
        try:
            found[name] = importlib.import_module(path)
        except ModuleNotFoundError as err:
            if err.name != path:  # a real import error inside the module: surface it
                raise
    return found


def _usage() -> str:
    lines = ["usage: mbplan <command> [options]", "", "commands:"]
    for name, module in _available().items():
        lines.append(f"  {name:<10} {getattr(module, 'HELP', '')}")
    lines.append("")
    lines.append("Run 'mbplan <command> --help' for the options of a command.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the ``mbplan`` command line.

    Args:
        argv: arguments without the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        The process exit status.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"mbplan: unknown command {name!r}\n", file=sys.stderr)
        print(_usage(), file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[name])
    except ModuleNotFoundError as err:
        if err.name != COMMANDS[name]:
            raise
        print(f"mbplan: command {name!r} is not available in this version", file=sys.stderr)
        return 2
    return int(module.main(rest) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
