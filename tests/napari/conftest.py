"""Fixtures for the napari plugin tests (run under a virtual X server by pytest-xvfb)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("napari", reason="the napari GUI extra is not installed")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed")

from ftir_unmix.io import write_npz  # noqa: E402
from ftir_unmix.synthetic import cross_section  # noqa: E402

PLUGIN = "napari-ftir-unmix"


@pytest.fixture(autouse=True)
def _no_home_writes(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep napari's and matplotlib's settings and caches out of $HOME."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MPLCONFIGDIR", str(home / "mpl"))


@pytest.fixture(scope="session")
def small_cube():
    """A 16×16 synthetic cross-section with 100 bands (trains in about a second)."""
    return cross_section(16, 16, n_bands=100, seed=0).cube


@pytest.fixture(scope="session")
def medium_cube():
    """A 24×32 synthetic cross-section with 150 bands: runs long enough to cancel or measure."""
    return cross_section(24, 32, n_bands=150, seed=1).cube


@pytest.fixture
def small_npz(tmp_path: Path, small_cube) -> Path:
    """The small cube written as .npz."""
    return write_npz(tmp_path / "small.npz", small_cube)


@pytest.fixture
def viewer(make_napari_viewer):
    """A hidden napari viewer."""
    return make_napari_viewer()


@pytest.fixture
def cube_layer(viewer, small_npz):
    """The small cube opened through the plugin's reader."""
    layers = viewer.open(str(small_npz), plugin=PLUGIN)
    assert len(layers) == 1
    return layers[0]


class Notifications:
    """The napari notifications dispatched since the fixture started."""

    def __init__(self) -> None:
        from napari.utils.notifications import notification_manager

        self._manager = notification_manager
        self._start = len(notification_manager.records)

    def all(self) -> list[Any]:
        return list(self._manager.records[self._start:])

    def messages(self, severity: str | None = None) -> list[str]:
        out = []
        for n in self.all():
            sev = str(getattr(n, "severity", "")).lower()
            if severity is None or severity in sev:
                out.append(str(n.message))
        return out

    def errors(self) -> list[str]:
        return self.messages("error")


@pytest.fixture
def notifications() -> Notifications:
    """Collect napari notifications (errors and infos) shown during a test."""
    return Notifications()


@pytest.fixture
def wait_idle(qtbot: Any):
    """``wait_idle(panel)``: wait until an Unmix panel has finished training and adding layers."""

    def wait(widget: Any, timeout: float = 90.0) -> None:
        qtbot.waitUntil(lambda: not widget.busy, timeout=int(timeout * 1000))

    return wait


@pytest.fixture
def unmix_panel(viewer, cube_layer, qtbot):
    """The Unmix panel, docked, set for a tiny run (K=3, 5 steps) of the small cube."""
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Unmix")
    widget.layer.value = cube_layer
    widget.k.value = 3
    widget.epochs.value = 5
    widget.device.value = "cpu"
    return widget


def rng_image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(np.float32)



def make_result(cube_layer, k: int = 3, seed: int = 0):
    """An UnmixResult on the cube layer's pixels with random (simplex) maps: no training needed."""
    from ftir_unmix.result import UnmixResult

    rng = np.random.default_rng(seed)
    b, h, w = cube_layer.data.shape
    a = rng.gamma(0.6, size=(k, h, w))
    a = (a / a.sum(axis=0, keepdims=True)).astype(np.float32)
    wn = np.asarray(cube_layer.metadata["wavenumbers"], dtype=np.float64)
    return UnmixResult(abundances=a, endmembers=rng.random((b, k)).astype(np.float32),
                       weights=np.ones(b), wavenumbers=wn, parameters={"method": "test", "k": k})


@pytest.fixture
def maps(viewer, cube_layer):
    """Three abundance layers of a made-up result on the small cube (in endmember order)."""
    from ftir_unmix.napari._layers import abundance_layer_tuples

    result = make_result(cube_layer)
    out = []
    for data, kwargs, _kind in abundance_layer_tuples(
            result, source_id=cube_layer.unique_id, source_name=cube_layer.name,
            scale=tuple(cube_layer.scale[1:]), translate=tuple(cube_layer.translate[1:]),
            units=tuple(str(u) for u in cube_layer.units[1:])):
        out.append(viewer.add_image(data, **kwargs))
    return out
