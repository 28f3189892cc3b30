"""The Figure panel: colour bars, scale bar, pixel size, canvas and plot export."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix.napari import _widgets_common
from ftir_unmix.napari._figure import scale_bar
from ftir_unmix.napari._layers import cube_layer_tuple

PLUGIN = "napari-ftir-unmix"


@pytest.fixture
def figure(viewer, maps):
    viewer.show()  # the canvas is drawn only in a shown window (under Xvfb here)
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Figure")
    return widget


def _read(path):
    import imageio.v3 as iio

    return np.asarray(iio.imread(path))


def test_colour_bars_and_scale_bar(viewer, figure, maps, cube_layer):
    assert not any(m.colorbar.visible for m in maps)
    figure.colorbars.value = True
    assert all(m.colorbar.visible for m in maps)
    assert not cube_layer.colorbar.visible  # only the maps get one
    figure.colorbars.value = False
    assert not any(m.colorbar.visible for m in maps)
    figure.scale_bar.value = True
    assert scale_bar(viewer).visible
    assert str(cube_layer.units[-1]) == "micrometer"  # the scale bar reads µm


@pytest.mark.parametrize("width", [320, 999])
def test_export_figure_has_the_asked_width(viewer, figure, maps, tmp_path, width, monkeypatch):
    figure.colorbars.value = True
    figure.scale_bar.value = True
    figure.export_width.value = width
    figure.canvas_path.value = tmp_path / "figure.png"
    figure.export_canvas.clicked()
    img = _read(tmp_path / "figure.png")
    h, w = maps[0].data.shape
    assert img.shape[1] == width
    assert img.shape[0] == round(width * h / w)
    assert img[..., :3].std() > 0  # something was drawn
    # the same name again: asked first; "No" keeps the file
    before = (tmp_path / "figure.png").read_bytes()
    monkeypatch.setattr(_widgets_common, "ask_yes_no", lambda *a: False)
    figure.export_width.value = 200
    figure.export_canvas.clicked()
    assert (tmp_path / "figure.png").read_bytes() == before
    monkeypatch.setattr(_widgets_common, "ask_yes_no", lambda *a: True)
    figure.export_canvas.clicked()
    assert _read(tmp_path / "figure.png").shape[1] == 200
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_export_figure_asks_for_a_file_name(viewer, figure, tmp_path, monkeypatch, notifications):
    monkeypatch.setattr(_widgets_common, "ask_save_path", lambda *a, **k: str(tmp_path / "fig.jpg"))
    figure.export_width.value = 240
    figure.export_canvas.clicked()
    img = _read(tmp_path / "fig.jpg")
    assert img.shape[1] == 240 and img.shape[2] == 3
    figure.canvas_path.value = tmp_path / "fig.bmp"
    figure.export_canvas.clicked()
    assert any("save the figure as" in m for m in notifications.errors())


def test_export_panel_plots(viewer, figure, tmp_path):
    _dock, spectra = viewer.window.add_plugin_dock_widget(PLUGIN, "Spectra")
    figure.plot.reset_choices()
    assert "Spectra" in figure.plot.choices
    figure.plot.value = "Spectra"
    for suffix, magic in ((".svg", b"<?xml"), (".pdf", b"%PDF"), (".png", b"\x89PNG")):
        figure.plot_path.value = tmp_path / f"spectra{suffix}"
        figure.dpi.value = 100
        figure.export_plot.clicked()
        assert (tmp_path / f"spectra{suffix}").read_bytes().startswith(magic)
    fig = spectra.canvas.figure
    w_in, h_in = fig.get_size_inches()
    img = _read(tmp_path / "spectra.png")
    assert img.shape[:2] == (round(h_in * 100), round(w_in * 100))


def test_pixel_size_is_settable_and_maps_follow(viewer, small_cube, qtbot):
    from ftir_unmix.cube import make_cube

    cube = make_cube(small_cube.data, small_cube.wavenumbers, pixel_size=None, metadata={})
    data, kwargs, _ = cube_layer_tuple(cube, name="no size")
    layer = viewer.add_image(data, **kwargs)
    from conftest import make_result

    from ftir_unmix.napari._layers import abundance_layer_tuples

    maps = [viewer.add_image(d, **k) for d, k, _ in abundance_layer_tuples(
        make_result(layer), source_id=layer.unique_id, scale=tuple(layer.scale[1:]),
        units=tuple(str(u) for u in layer.units[1:]))]
    _dock, figure = viewer.window.add_plugin_dock_widget(PLUGIN, "Figure")
    figure.layer.value = layer
    assert figure.pixel_size.value == 0.0  # unknown
    figure.pixel_size.value = 2.5
    figure.apply_pixel_size.clicked()
    assert tuple(layer.scale[1:]) == pytest.approx((2.5, 2.5))
    assert layer.metadata["pixel_size"] == 2.5
    assert str(layer.units[-1]) == "micrometer"
    for m in maps:
        assert tuple(m.scale) == pytest.approx((2.5, 2.5)) and str(m.units[-1]) == "micrometer"
    # a map pixel still lies on its image pixel
    np.testing.assert_allclose(maps[0].data_to_world((3, 4)), layer.data_to_world((0, 3, 4))[1:])
