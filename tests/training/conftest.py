"""Training tests run torch single-threaded (see ``single_torch_thread`` in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(single_torch_thread):
    yield
