"""Regions in the Spectra panel: drawn shapes and painted labels, their means, colours and CSV."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from ftir_unmix.napari import _widgets_common
from ftir_unmix.napari._layers import RESULT_KEY, is_abundance_layer
from ftir_unmix.napari._regions import region_color

PLUGIN = "napari-ftir-unmix"


@pytest.fixture
def spectra(viewer, cube_layer):
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Spectra")
    return widget


def _pixels(cube_layer, rows, cols):
    data = np.asarray(cube_layer.data, dtype=np.float64)
    return data[:, rows, cols].reshape(data.shape[0], -1)


def test_drawn_rectangle_shows_numpy_mean_sd_and_count(viewer, cube_layer, spectra, qtbot):
    spectra.draw_regions.clicked()
    layer = spectra.regions.value
    assert layer is not None and layer.name == "regions"
    assert tuple(layer.scale) == pytest.approx(tuple(cube_layer.scale[1:]))  # on the image's µm
    assert viewer.layers.selection.active is layer and layer.mode == "add_rectangle"
    # what drawing a rectangle does: pixel centres rows 3..7, columns 4..9 lie inside
    layer.add_rectangles([[[2.6, 3.6], [7.4, 9.4]]])
    qtbot.waitUntil(lambda: len(spectra.region_stats) == 1, timeout=5000)
    px = _pixels(cube_layer, slice(3, 8), slice(4, 10))
    st = spectra.region_stats[0]
    assert st.name == "R1" and st.n_pixels == 30
    np.testing.assert_allclose(spectra.region_lines[0].get_ydata(), px.mean(axis=1), rtol=1e-10)
    np.testing.assert_allclose(st.sd, px.std(axis=1), rtol=1e-10)
    np.testing.assert_allclose(spectra.region_lines[0].get_xdata(), cube_layer.metadata["wavenumbers"])
    assert "(n = 30)" in spectra.region_lines[0].get_label()
    assert "R1 30 px" in spectra.regions_info.value
    # the ±1 s.d. band is drawn around the mean
    bands = [c for c in spectra.ax_rg.collections]
    assert len(bands) == 1
    # same colour on the canvas and on the plot; the next region gets the next colour
    np.testing.assert_allclose(np.asarray(layer.edge_color[0])[:3], region_color(0)[:3], atol=1e-6)
    np.testing.assert_allclose(spectra.region_lines[0].get_color()[:3], region_color(0)[:3], atol=1e-6)
    layer.add_polygons([np.array([[10.0, 1.0], [14.0, 1.0], [14.0, 5.0]])])
    qtbot.waitUntil(lambda: len(spectra.region_stats) == 2, timeout=5000)
    assert [s.name for s in spectra.region_stats] == ["R1", "R2"]
    np.testing.assert_allclose(spectra.region_lines[1].get_color()[:3], region_color(1)[:3], atol=1e-6)
    np.testing.assert_allclose(np.asarray(layer.edge_color[1])[:3], region_color(1)[:3], atol=1e-6)
    # removing a region updates the plot
    layer.selected_data = {0}
    layer.remove_selected()
    qtbot.waitUntil(lambda: len(spectra.region_stats) == 1, timeout=5000)
    assert spectra.region_stats[0].name == "R2"


def test_region_abundances_follow_the_result(viewer, cube_layer, spectra, unmix_panel, wait_idle, qtbot):
    unmix_panel.run.clicked()
    wait_idle(unmix_panel)
    qtbot.waitUntil(lambda: spectra.result is unmix_panel.result, timeout=10_000)
    spectra.draw_regions.clicked()
    layer = spectra.regions.value
    # an ellipse given by its centre and radii (pixels of the regions layer = pixels of the image)
    layer.add_ellipses([[[7.5, 7.5], [3.5, 3.5]]])
    qtbot.waitUntil(lambda: len(spectra.region_stats) == 1, timeout=5000)
    st = spectra.region_stats[0]
    yy, xx = np.mgrid[0:16, 0:16]
    inside = ((yy - 7.5) / 3.5) ** 2 + ((xx - 7.5) / 3.5) ** 2 <= 1.0 + 1e-9
    assert abs(st.n_pixels - int(inside.sum())) <= 4  # the ellipse outline is a 96-gon
    maps = sorted((lay for lay in viewer.layers if is_abundance_layer(lay)),
                  key=lambda lay: lay.metadata[RESULT_KEY]["index"])
    from ftir_unmix.napari._regions import regions_of

    mask = regions_of(layer, cube_layer)[0].mask
    expected = np.array([m.data[mask].mean() for m in maps])
    np.testing.assert_allclose(st.abundances, expected, rtol=1e-6)
    assert st.abundances.sum() == pytest.approx(1.0, abs=1e-4)
    # one stacked bar per region, one segment per material
    assert len(spectra.ax_rga.patches) == unmix_panel.result.k


def test_painted_labels_are_regions(viewer, cube_layer, spectra, qtbot):
    spectra.paint_regions.clicked()
    layer = spectra.regions.value
    assert layer.name == "painted regions" and layer.mode == "paint"
    assert layer.data.shape == cube_layer.data.shape[1:]
    layer.data_setitem((np.array([1, 1, 2]), np.array([2, 3, 2])), 1)
    layer.data_setitem((np.array([10, 11]), np.array([12, 12])), 2)
    qtbot.waitUntil(lambda: len(spectra.region_stats) == 2, timeout=5000)
    st1, st2 = spectra.region_stats
    assert (st1.name, st1.n_pixels, st2.name, st2.n_pixels) == ("L1", 3, "L2", 2)
    px = _pixels(cube_layer, np.array([1, 1, 2]), np.array([2, 3, 2]))
    np.testing.assert_allclose(st1.mean, px.mean(axis=1), rtol=1e-10)
    # the plot uses the colour the label has on the canvas
    np.testing.assert_allclose(spectra.region_lines[1].get_color()[:3], layer.get_color(2)[:3], atol=1e-6)


def test_regions_csv_export_is_complete_and_asks_before_replacing(viewer, cube_layer, spectra, qtbot,
                                                                  tmp_path, monkeypatch, notifications):
    spectra.export_regions.clicked()
    assert any("choose a .csv" in m for m in notifications.errors())
    spectra.regions_path.value = tmp_path / "regions.csv"
    spectra.export_regions.clicked()
    assert any("no regions" in m for m in notifications.errors())
    spectra.draw_regions.clicked()
    layer = spectra.regions.value
    layer.add_rectangles([[[0.6, 0.6], [3.4, 5.4]], [[8.6, 8.6], [12.4, 12.4]]])
    qtbot.waitUntil(lambda: len(spectra.region_stats) == 2, timeout=5000)
    spectra.export_regions.clicked()
    rows = list(csv.reader((tmp_path / "regions.csv").open()))
    assert rows[0] == ["region", "color", "pixels"]
    assert [r[0] for r in rows[1:]] == ["R1", "R2"] and [int(r[2]) for r in rows[1:]] == [15, 16]
    spec = list(csv.reader((tmp_path / "regions_spectra.csv").open()))
    assert spec[0] == ["wavenumber", "R1 mean", "R1 sd", "R2 mean", "R2 sd"]
    wn = np.array([float(r[0]) for r in spec[1:]])
    assert np.all(np.diff(wn) > 0)
    px = _pixels(cube_layer, slice(1, 4), slice(1, 6))
    np.testing.assert_allclose([float(r[1]) for r in spec[1:]], px.mean(axis=1), rtol=1e-6)
    # a second export asks first; "No" leaves the files as they were
    before = (tmp_path / "regions.csv").read_bytes()
    asked = []
    monkeypatch.setattr(_widgets_common, "ask_yes_no", lambda *a: asked.append(a) or False)
    layer.add_rectangles([[[5.6, 5.6], [6.4, 6.4]]])
    qtbot.waitUntil(lambda: len(spectra.region_stats) == 3, timeout=5000)
    spectra.export_regions.clicked()
    assert asked and (tmp_path / "regions.csv").read_bytes() == before
    monkeypatch.setattr(_widgets_common, "ask_yes_no", lambda *a: True)
    spectra.export_regions.clicked()
    assert len(list(csv.reader((tmp_path / "regions.csv").open()))) == 4
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]  # written atomically
