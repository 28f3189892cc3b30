"""The Composites panel: false-colour RGB of three maps and the dominant-material map."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix.napari import _widgets_common
from ftir_unmix.napari._composites_widget import text_overlay
from ftir_unmix.napari._layers import DERIVED_KEY, RESULT_KEY

PLUGIN = "napari-ftir-unmix"


@pytest.fixture
def composites(viewer, maps):
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Composites")
    return widget


def test_channels_default_to_the_latest_maps(composites, maps):
    assert [composites.red.value, composites.green.value, composites.blue.value] == maps


def test_false_colour_rgb_with_legend(viewer, composites, maps):
    w = composites
    w.red.value, w.green.value, w.blue.value = maps[2], maps[0], maps[1]
    w.make_rgb.clicked()
    layer = viewer.layers["RGB EM3 / EM1 / EM2"]
    assert layer.rgb and layer.data.shape == (*maps[0].data.shape, 3)
    np.testing.assert_allclose(layer.data[..., 0], np.clip(maps[2].data, 0, 1), atol=1e-6)
    np.testing.assert_allclose(layer.data[..., 1], np.clip(maps[0].data, 0, 1), atol=1e-6)
    np.testing.assert_allclose(layer.data[..., 2], np.clip(maps[1].data, 0, 1), atol=1e-6)
    assert tuple(layer.scale) == pytest.approx(tuple(maps[0].scale))
    legend = "red: EM3 · green: EM1 · blue: EM2"
    assert layer.metadata[DERIVED_KEY]["legend"] == legend
    assert "red: EM3" in w.rgb_legend.value and "blue: EM2" in w.rgb_legend.value
    # the legend is on the canvas (exported figures carry it) and follows the layer
    assert text_overlay(viewer).visible and text_overlay(viewer).text == legend
    layer.visible = False
    assert not text_overlay(viewer).visible
    layer.visible = True
    assert text_overlay(viewer).visible
    # stretched: each channel's 99.5th percentile becomes full brightness
    w.stretch.value = True
    w.make_rgb.clicked()
    stretched = [lay for lay in viewer.layers if lay.name == "RGB EM3 / EM1 / EM2"]
    assert len(stretched) == 1  # replaced, not added twice
    top = np.percentile(maps[2].data, 99.5)
    np.testing.assert_allclose(stretched[0].data[..., 0], np.clip(maps[2].data / top, 0, 1), atol=1e-5)
    viewer.layers.remove(stretched[0])
    assert not text_overlay(viewer).visible


def test_rgb_needs_three_maps(composites, notifications):
    composites.blue.value = None
    composites.make_rgb.clicked()
    assert any("three maps" in m for m in notifications.errors())


def test_dominant_material_labels_colours_and_names(viewer, composites, maps):
    w = composites
    w.min_abundance.value = 0.5
    w.make_dominant.clicked()
    layer = viewer.layers["dominant material"]
    stack = np.stack([m.data for m in maps])
    expected = np.argmax(stack, axis=0) + 1
    expected[stack.max(axis=0) < 0.5] = 0
    np.testing.assert_array_equal(layer.data, expected)
    assert (layer.data == 0).any() and (layer.data > 0).any()
    for i, m in enumerate(maps):  # the colours of the maps (and of the endmember plot)
        np.testing.assert_allclose(layer.get_color(i + 1)[:3], m.metadata[RESULT_KEY]["color"][:3], atol=1e-6)
    assert layer.colormap.map(np.array([0]))[0][3] == 0  # "no material" is transparent
    assert list(layer.features["material"]) == ["none", "EM1", "EM2", "EM3"]
    assert "EM1" in w.dominant_legend.value and "%" in w.dominant_legend.value


def test_painted_dominant_map_is_kept_unless_confirmed(viewer, composites, maps, monkeypatch):
    w = composites
    w.make_dominant.clicked()
    layer = viewer.layers["dominant material"]
    # the user paints a correction (what the paint brush does)
    layer.paint((3, 3), 2)
    assert layer.metadata[DERIVED_KEY]["edited"]
    painted = layer.data.copy()
    asked = []
    monkeypatch.setattr(_widgets_common, "ask_yes_no", lambda *a: asked.append(a) or False)
    w.min_abundance.value = 0.9
    w.make_dominant.clicked()
    assert asked and viewer.layers["dominant material"] is layer
    np.testing.assert_array_equal(layer.data, painted)
    monkeypatch.setattr(_widgets_common, "ask_yes_no", lambda *a: True)
    w.make_dominant.clicked()
    new = viewer.layers["dominant material"]
    assert new is not layer and not new.metadata[DERIVED_KEY]["edited"]


def test_dominant_map_serves_as_regions(viewer, composites, maps, qtbot):
    composites.min_abundance.value = 0.0
    composites.make_dominant.clicked()
    layer = viewer.layers["dominant material"]
    _dock, spectra = viewer.window.add_plugin_dock_widget(PLUGIN, "Spectra")
    spectra.regions.value = layer
    qtbot.waitUntil(lambda: len(spectra.region_stats) > 0, timeout=5000)
    names = {st.name for st in spectra.region_stats}
    assert names <= {"EM1", "EM2", "EM3"} and len(names) >= 2
    total = sum(st.n_pixels for st in spectra.region_stats)
    assert total == layer.data.size
