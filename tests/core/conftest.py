"""Shared fixtures of the core tests: small seeded synthetic cubes."""

from __future__ import annotations

import pytest

from ftir_unmix.synthetic import cross_section


@pytest.fixture(scope="session")
def small_section():
    """A 16×20 cross-section, 4 materials, 200 bands, with artefacts."""
    return cross_section(16, 20, n_bands=200, materials=4, seed=3)


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
