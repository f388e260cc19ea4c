"""Ctrl-C and SIGTERM as a request to stop cleanly: save, then return.

Cluster schedulers send SIGTERM some time before they kill a job, and users press Ctrl-C; both
become one call of ``request_stop`` while :func:`stop_on_signals` is active. A *second* Ctrl-C
after a first one interrupts at once (``KeyboardInterrupt``), for a user who does not want to
wait; other repeated signals are ignored (a scheduler may send one to every process of the job, and
a sweep forwards its own to its workers). Outside the main thread, where Python cannot install
handlers, it does nothing.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from typing import Any

logger = logging.getLogger(__name__)

#: the signals treated as a request to stop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(request_stop: Callable[[], None], what: str = "stopping") -> Iterator[None]:
    """Turn the first SIGINT or SIGTERM into ``request_stop()`` inside the block.

    Args:
        request_stop: called once, from the signal handler, on the first stop signal.
        what: what happens next, for the log line (e.g. "saving a checkpoint").
    """
    previous: dict[int, Any] = {}
    first: int | None = None

    def handler(signum: int, frame: Any) -> None:
        nonlocal first
        if first is not None:
            if signum == first == signal.SIGINT:
                raise KeyboardInterrupt
            return
        first = signum
        logger.warning("%s received: %s", signal.Signals(signum).name, what)
        request_stop()

    try:
        for number in STOP_SIGNALS:
            previous[number] = signal.signal(number, handler)
    except ValueError:  # not the main thread: leave the signals alone
        for number, old in previous.items():
            signal.signal(number, signal.SIG_DFL if old is None else old)
        yield
        return
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, signal.SIG_DFL if old is None else old)
