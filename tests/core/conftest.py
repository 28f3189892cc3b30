"""Shared fixtures of the core tests: small seeded synthetic cubes."""

from __future__ import annotations

import pytest

from ftir_unmix.synthetic import cross_section


@pytest.fixture(scope="session")
def small_section():
    """A 16×20 cross-section, 4 materials, 200 bands, with artefacts."""
    return cross_section(16, 20, n_bands=200, materials=4, seed=3)
