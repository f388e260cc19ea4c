"""The ``mbplan`` command line: one entry point, one module per subcommand.

Each subcommand lives in ``mbplan/commands/<name>.py`` and exposes ``HELP: str`` and
``main(argv: list[str]) -> int``. Modules are imported lazily, so ``mbplan envs`` does not pay for
importing torch.

Errors follow one convention (:mod:`mbplan.errors`), applied here around every command: a user
error prints ``mbplan <command>: <what> (<how to fix>)`` and exits 2; Ctrl-C or SIGTERM outside a
command's own handling exits 130 with one line (SIGTERM is treated as Ctrl-C, so that worker
processes are stopped too); a bug keeps its traceback. ``--debug`` anywhere on
the command line (or ``MBPLAN_DEBUG=1``) shows the traceback of user errors too.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
from collections.abc import Iterator

from mbplan.errors import EXIT_INTERRUPTED, EXIT_USAGE, describe_user_error

#: subcommand name -> module path. Each module parses its own arguments.
COMMANDS: dict[str, str] = {
    "envs": "mbplan.commands.envs",
    "generate": "mbplan.commands.generate",
    "data": "mbplan.commands.data",
    "train": "mbplan.commands.train",
    "evaluate": "mbplan.commands.evaluate",
    "compare": "mbplan.commands.compare",
    "sweep": "mbplan.commands.sweep",
    "plan": "mbplan.commands.plan",
    "demo": "mbplan.commands.demo",
    "hmm": "mbplan.commands.hmm",
}

#: the option that turns user errors back into tracebacks.
DEBUG_FLAG = "--debug"
#: what Ctrl-C prints per command when the command did not handle it itself.
INTERRUPTED = {
    "generate": "interrupted; run the same command again to resume",
    "demo": "interrupted; run the same command again to continue (finished steps are reused)",
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
    lines = ["usage: mbplan [--version] [--debug] <command> [options]", "", "commands:"]
    for name, module in _available().items():
        lines.append(f"  {name:<10} {getattr(module, 'HELP', '')}")
    lines.append("")
    lines.append("Run 'mbplan <command> --help' for the options of a command; --debug shows the")
    lines.append("traceback of an error.")
    return "\n".join(lines)


def _version() -> str:
    from mbplan import __version__

    return f"mbplan {__version__}"


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM as Ctrl-C while a command runs, so that it cleans up the same way.

    Without this a scheduler's SIGTERM kills the process at once: worker processes of
    ``generate`` are left running and nothing says how to continue. Commands that save on a
    signal (``train``, ``compare``) install their own handlers for that part of their work.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(name: str, argv: list[str], *, debug: bool = False) -> int:
    """Run subcommand ``name`` under the error convention of :mod:`mbplan.errors`.

    Args:
        name: a key of :data:`COMMANDS`.
        argv: the arguments after the command name.
        debug: re-raise user errors (with their traceback) instead of printing one line.

    Returns:
        The exit status: the command's, 2 for a user error, 130 after an interrupt.
    """
    try:
        module = importlib.import_module(COMMANDS[name])
    except ModuleNotFoundError as err:
        if err.name != COMMANDS[name]:
            raise
        print(f"mbplan: command {name!r} is not available in this version", file=sys.stderr)
        return EXIT_USAGE
    try:
        with _sigterm_as_interrupt():
            return int(module.main(argv) or 0)
    except BrokenPipeError:  # `mbplan envs | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        if debug:
            raise
        text = INTERRUPTED.get(name, "interrupted")
        print(f"\nmbplan {name}: {text}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        message = describe_user_error(err, name)
        if message is None or debug:
            raise
        print(message, file=sys.stderr)
        return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run the ``mbplan`` command line.

    Args:
        argv: arguments without the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        The process exit status.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args or os.environ.get("MBPLAN_DEBUG", "") not in ("", "0")
    args = [arg for arg in args if arg != DEBUG_FLAG]
    if args and args[0] in ("-V", "--version"):
        print(_version())
        return 0
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"mbplan: unknown command {name!r}\n", file=sys.stderr)
        print(_usage(), file=sys.stderr)
        return EXIT_USAGE
    return run_command(name, rest, debug=debug)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
