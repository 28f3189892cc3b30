"""The Spectra panel: endmember spectra linked to maps, pixel spectra, pins, export."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import numpy as np
import pytest
from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

from ftir_unmix.napari._layers import RESULT_KEY, is_abundance_layer
from ftir_unmix.result import scale_to

PLUGIN = "napari-ftir-unmix"


@pytest.fixture
def unmixed(viewer, unmix_panel, wait_idle, qtbot):
    """Spectra panel plus a finished tiny run (K=3)."""
    _dock, spectra = viewer.window.add_plugin_dock_widget(PLUGIN, "Spectra")
    unmix_panel.run.clicked()
    wait_idle(unmix_panel)
    qtbot.waitUntil(lambda: len(spectra.em_lines) == 3, timeout=10_000)
    return spectra, unmix_panel


def _click(layer, world_pos, modifiers=()):
    """A press and release at the same place, through napari's mouse-callback machinery."""
    event = SimpleNamespace(type="mouse_press", position=tuple(world_pos), modifiers=modifiers,
                            button=1, handled=False, is_dragging=False)
    mouse_press_callbacks(layer, event)
    event.type = "mouse_release"
    mouse_release_callbacks(layer, event)


def test_endmember_lines_match_result_and_map_colours(viewer, unmixed):
    spectra, unmix = unmixed
    result = unmix.result
    assert spectra.result is result
    maps = sorted((lay for lay in viewer.layers if is_abundance_layer(lay)),
                  key=lambda lay: lay.metadata[RESULT_KEY]["index"])
    for i, (line, layer) in enumerate(zip(spectra.em_lines, maps, strict=True)):
        np.testing.assert_allclose(line.get_ydata(), result.endmembers[:, i])
        np.testing.assert_allclose(line.get_xdata(), result.wavenumbers)
        np.testing.assert_allclose(np.asarray(line.get_color())[:3],
                                   np.asarray(layer.colormap.colors[-1])[:3], atol=1e-6)
    lo, hi = spectra.ax_em.get_xlim()
    assert lo > hi


def test_selecting_map_highlights_spectrum_and_back(viewer, unmixed):
    spectra, _ = unmixed
    maps = [lay for lay in viewer.layers if is_abundance_layer(lay)]
    target = next(m for m in maps if m.metadata[RESULT_KEY]["index"] == 1)
    viewer.layers.selection.active = target
    assert spectra.selected == 1
    assert spectra.em_lines[1].get_linewidth() > spectra.em_lines[0].get_linewidth()
    # clicking a spectrum (a matplotlib pick event) selects its map
    spectra._on_pick(SimpleNamespace(artist=spectra.em_lines[2]))
    assert spectra.selected == 2
    assert viewer.layers.selection.active.metadata[RESULT_KEY]["index"] == 2
    # the legend entries are pickable too
    legend_line = spectra.ax_em.get_legend().get_lines()[0]
    spectra._on_pick(SimpleNamespace(artist=legend_line))
    assert viewer.layers.selection.active.metadata[RESULT_KEY]["index"] == 0


def test_renaming_a_map_renames_its_spectrum(viewer, unmixed, qtbot):
    spectra, _ = unmixed
    layer = next(lay for lay in viewer.layers
                 if is_abundance_layer(lay) and lay.metadata[RESULT_KEY]["index"] == 0)
    layer.name = "lead white abundance"
    assert spectra.names()[0] == "lead white"

    def legend_updated() -> bool:
        return spectra.ax_em.get_legend().get_texts()[0].get_text() == "lead white"

    qtbot.waitUntil(legend_updated, timeout=5000)


def test_click_on_cube_shows_observed_model_and_abundances(viewer, unmixed, cube_layer):
    spectra, unmix = unmixed
    row, col = 5, 9
    world = cube_layer.data_to_world((0, row, col))
    _click(cube_layer, world)
    cur = spectra.current
    assert (cur["row"], cur["col"]) == (row, col)
    np.testing.assert_allclose(cur["observed"], cube_layer.data[:, row, col])
    basis = unmix.result.baseline_basis()
    assert basis is not None  # the default run fits a quadratic baseline: shown with the model
    expected = scale_to(cur["observed"], unmix.result.reconstruct(row, col).astype(np.float64), basis)
    np.testing.assert_allclose(cur["reconstructed"], expected, rtol=1e-5)
    np.testing.assert_allclose(cur["abundances"], unmix.result.abundances[:, row, col])
    assert len(spectra.pixel_lines) == 2  # observed + model
    assert "row 5, column 9" in spectra.pixel_info.value
    bars = spectra.ax_ab.patches
    assert len(bars) == 3


def test_click_on_map_pins_and_compares(viewer, unmixed, cube_layer):
    spectra, _ = unmixed
    amap = next(lay for lay in viewer.layers if is_abundance_layer(lay))
    _click(amap, amap.data_to_world((2, 3)))
    assert (spectra.current["row"], spectra.current["col"]) == (2, 3)
    assert spectra.current["observed"] is not None  # found the source cube
    spectra.pin.clicked()
    _click(amap, amap.data_to_world((10, 12)), modifiers=("Shift",))  # shift-click pins
    assert [(p["row"], p["col"]) for p in spectra.pinned] == [(2, 3), (10, 12)]
    assert len(spectra.pixel_lines) == 6  # current + 2 pins, observed + model each
    # a drag (press, move, release) pans the view and picks nothing
    event = SimpleNamespace(type="mouse_press", position=tuple(amap.data_to_world((1, 1))),
                            modifiers=(), button=1, handled=False, is_dragging=False)
    gen = spectra._on_mouse(amap, event)
    next(gen)
    event.type = "mouse_move"
    next(gen)
    event.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(gen)
    assert (spectra.current["row"], spectra.current["col"]) == (10, 12)
    # clicking outside the image does nothing
    assert spectra.show_pixel(999, 999) is False
    spectra.clear_pins.clicked()
    assert spectra.pinned == []


def test_cube_click_without_result_shows_spectrum(viewer, cube_layer):
    _dock, spectra = viewer.window.add_plugin_dock_widget(PLUGIN, "Spectra")
    _click(cube_layer, cube_layer.data_to_world((0, 1, 2)))
    np.testing.assert_allclose(spectra.current["observed"], cube_layer.data[:, 1, 2])
    assert spectra.current["reconstructed"] is None
    assert len(spectra.pixel_lines) == 1


def test_export_csv_and_figures(viewer, unmixed, cube_layer, tmp_path, notifications):
    spectra, unmix = unmixed
    spectra.export.clicked()
    assert any("choose a file" in m for m in notifications.errors())
    _click(cube_layer, cube_layer.data_to_world((0, 4, 4)))
    out = tmp_path / "spectra.csv"
    spectra.export_path.value = out
    spectra.export.clicked()
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["wavenumber", "endmember EM1", "endmember EM2", "endmember EM3",
                       "pixel (4, 4) observed", "pixel (4, 4) model"]
    table = np.array(rows[1:], dtype=float)
    np.testing.assert_allclose(table[:, 1:4], unmix.result.endmembers, rtol=1e-6)
    for suffix in (".png", ".svg"):
        fig = tmp_path / f"spectra{suffix}"
        spectra.export_path.value = fig
        spectra.export.clicked()
        assert fig.is_file() and fig.stat().st_size > 1000
    assert (tmp_path / "spectra.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "spectra.svg").read_bytes()[:2000]


def test_plots_follow_the_napari_theme(viewer, unmixed):
    from matplotlib.colors import to_hex

    from ftir_unmix.napari._plot import theme_colors

    spectra, unmix = unmixed
    for theme in ("light", "dark"):
        viewer.theme = theme
        colors = theme_colors(viewer)
        for canvas in (spectra.canvas, unmix.loss_canvas):
            assert to_hex(canvas.figure.get_facecolor()) == colors["background"]
            ax = canvas.figure.axes[0]
            assert to_hex(ax.get_facecolor()) == colors["background"]
            assert to_hex(ax.xaxis.label.get_color()) == colors["text"]
