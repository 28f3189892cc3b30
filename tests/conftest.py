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


def pytest_collection_modifyitems(items):
    """Mark every test that reads the shared sample data (``-m shared_data`` selects them)."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_data)


@pytest.fixture(scope="session")
def shared_data():
    """The shared sample-data folder (see :mod:`ftir_unmix._shared_data`).

    Absent: the test is skipped with the reason and what to set, or fails where
    ``FTIR_UNMIX_REQUIRE_SHARED_DATA=1`` (CI), so no data test is lost silently.
    """
    from ftir_unmix._shared_data import MISSING_REASON, shared_data_dir, shared_data_required

    folder = shared_data_dir()
    if folder is None:
        if shared_data_required():
            pytest.fail(MISSING_REASON + " (FTIR_UNMIX_REQUIRE_SHARED_DATA is set)")
        pytest.skip(MISSING_REASON)
    return folder


@pytest.fixture(scope="session")
def formats(shared_data):
    """The real instrument sample files (``formats/`` of the shared data)."""
    folder = shared_data / "formats"
    if not folder.is_dir():
        pytest.fail(f"the shared data folder {shared_data} has no formats/ (see its README)")
    return folder
