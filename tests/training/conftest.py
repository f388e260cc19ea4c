"""Training tests run torch single-threaded.

The models here are tiny: with two intra-op threads on a shared 2-core machine, thread
synchronisation dominates and one update can take 20x longer than single-threaded.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def single_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
