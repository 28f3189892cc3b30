"""Fixtures shared by the core and the napari tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op torch thread for a module of small models: on a busy 2-core machine the
    default thread pool spends most of its time waiting (measured: ~60 s instead of ~3 s for a
    K sweep)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
