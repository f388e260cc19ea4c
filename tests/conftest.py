"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def single_torch_thread():
    """Run the test with one torch thread (tiny models on a shared 2-core machine).

    With two intra-op threads on a loaded machine, thread synchronisation dominates and one update
    of a tiny model can take 20x longer than single-threaded.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
