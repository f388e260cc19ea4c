"""The command line's error convention: one line for user errors, a traceback only for bugs.

A *user error* (a bad option value, an unknown name, a missing or corrupt file, a dataset that does
not belong to a run, an unavailable device) prints one line::

    mbplan <command>: <what> (<how to fix>)

and exits with status :data:`EXIT_USAGE` (2). Library code keeps raising ``ValueError`` (and
``OSError`` for files) naming the argument; :func:`describe_user_error` maps those, and
:class:`UserError` carries an explicit fix. Anything else is a bug and keeps its traceback.
``--debug`` (anywhere on the command line) or ``MBPLAN_DEBUG=1`` shows the traceback of user errors
too.
"""

from __future__ import annotations

import errno

#: exit status of a user error (as argparse uses for bad usage).
EXIT_USAGE = 2
#: exit status after Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


class UserError(ValueError):
    """A mistake in what the user asked for, with the way to fix it.

    Args:
        what: what is wrong, naming the option or file.
        fix: how to fix it (printed in parentheses); empty for none.
    """

    def __init__(self, what: str, fix: str = "") -> None:
        self.what = what
        self.fix = fix
        super().__init__(f"{what} ({fix})" if fix else what)


def check_device(device: str) -> None:
    """Raise a :class:`UserError` unless torch can use ``device`` on this machine.

    Args:
        device: a torch device string, e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.

    Raises:
        UserError: for a malformed name or a device this machine or torch build does not have.
    """
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise UserError(
            f"device: {device!r} is not a torch device ({err})", "e.g. --device cpu"
        ) from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UserError(
                f"device: {device!r} is not available; torch {torch.__version__} sees no CUDA "
                "device on this machine",
                "use --device cpu, or install a CUDA build of torch on a GPU machine",
            )
        if parsed.index is not None and parsed.index >= count:
            raise UserError(
                f"device: {device!r} is not available; this machine has {count} CUDA device(s)",
                f"use --device cuda:0 ... cuda:{count - 1}",
            )
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device: {device!r} is not available here", "use --device cpu")


def describe_user_error(error: BaseException, command: str) -> str | None:
    """Return the one-line message for a user error, or ``None`` if ``error`` is a bug.

    Args:
        error: the exception a command raised.
        command: the subcommand name, e.g. ``"train"``.

    Returns:
        ``"mbplan <command>: <what> (<how to fix>)"``, or ``None`` for exceptions that are not
        user errors (they keep their traceback).
    """
    prefix = f"mbplan {command}: "
    if isinstance(error, UserError):
        return prefix + str(error)
    if isinstance(error, OSError) and not _is_user_os_error(error):
        return None
    if not isinstance(error, ValueError | OSError):
        return None
    what = _os_error_text(error) if isinstance(error, OSError) else str(error)
    what = " ".join(what.split()) or type(error).__name__
    if what.endswith(")"):  # the message already says how to fix it
        return prefix + what
    return prefix + f"{what} ({_hint(error, command)})"


def _is_user_os_error(error: OSError) -> bool:
    user = (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError)
    return isinstance(error, user + (NotADirectoryError,)) or error.errno in (
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
    )


def _os_error_text(error: OSError) -> str:
    if error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error)


def _hint(error: BaseException, command: str) -> str:
    if isinstance(error, FileNotFoundError):
        return "check the path"
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some disk space, then run the same command again to resume"
    if isinstance(error, PermissionError):
        return "check the folder's permissions"
    return f"see 'mbplan {command} --help'; --debug shows the traceback"
