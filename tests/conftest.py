"""Fixtures shared by every test folder; every test runs torch single-threaded.

The models in the tests are tiny: with two intra-op threads on a shared 2-core machine, thread
synchronisation dominates and one update can take 20x longer than single-threaded.
"""

from __future__ import annotations

import signal

import pytest
import torch

# A job started in the background by a non-interactive shell inherits SIGINT ignored, and Python
# then installs no KeyboardInterrupt handler. The tests of Ctrl-C handling (which raise SIGINT
# and check that the handler is restored) need Python's usual one, whatever started pytest.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run the test with one torch thread (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
