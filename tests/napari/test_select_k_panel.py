"""The Unmix panel's "Select K…" sweep, driven as a user would: by control name."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from ftir_unmix import UnmixConfig
from ftir_unmix.napari._layers import is_abundance_layer
from ftir_unmix.select_k import sweep_k

PLUGIN = "napari-ftir-unmix"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _maps(viewer):
    return [lay for lay in viewer.layers if is_abundance_layer(lay)]


def _medium_panel(viewer, medium_cube):
    """A panel on the medium cube set for a slow sweep (paper protocol, one epoch per K)."""
    from ftir_unmix.napari._layers import cube_layer_tuple

    data, kwargs, _ = cube_layer_tuple(medium_cube, name="medium")
    layer = viewer.add_image(data, **kwargs)
    _dock, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Unmix")
    w.layer.value = layer
    w.device.value = "cpu"
    w.protocol.value = "paper"  # 20 000 patches per epoch: seconds per K
    w.epochs.value = 1
    w.k_min.value, w.k_max.value = 2, 6
    return w


def test_select_k_controls_and_theme(viewer, unmix_panel):
    from matplotlib.colors import to_hex

    from ftir_unmix.napari._plot import theme_colors

    w = unmix_panel
    assert (w.k_min.value, w.k_max.value) == (4, 12)
    assert w.select_k.text == "Select K…" and w.select_k.enabled
    assert w.k_min.tooltip and w.k_max.tooltip and w.select_k.tooltip
    assert w.sweep is None and w.sweep_canvas.isHidden()
    # the sweep plot follows the napari theme (figure and curves)
    for theme in ("light", "dark"):
        viewer.theme = theme
        c = theme_colors(viewer)
        fig = w.sweep_canvas.figure
        assert to_hex(fig.get_facecolor()) == c["background"].lower()
        assert to_hex(fig.axes[0].get_lines()[0].get_color()) == c["accent"].lower()


def test_select_k_recommends_plots_and_sets_k(viewer, unmix_panel, small_cube, notifications,
                                              wait_idle):
    w = unmix_panel  # 5 steps per K, CPU
    w.k.value = 9  # outside the sweep: the recommendation must replace it
    w.k_min.value, w.k_max.value = 2, 4
    w.loss.value = "sad"
    w.seed.value = 1
    w.select_k.clicked()
    assert w.running and not w.sweep_canvas.isHidden()
    assert not w.run.enabled and not w.select_k.enabled and w.cancel.enabled
    w.run.clicked()  # Run cannot start while the sweep goes on
    assert any("K sweep is already in progress" in m for m in notifications.messages("info"))
    wait_idle(w)
    assert w.result is None and not _maps(viewer)  # a sweep adds no layers
    sweep = w.sweep
    assert sweep is not None and not sweep.cancelled
    assert sweep.k_values.tolist() == [2, 3, 4]
    # the sweep used the panel's settings
    assert sweep.method == "cnn"
    assert {key: sweep.parameters[key] for key in ("loss", "epochs", "seed", "device")} == {
        "loss": "sad", "epochs": 5, "seed": 1, "device": "cpu"}
    rec = sweep.recommend()
    k = rec.k
    assert w.k.value == k
    assert w.status.value == f"Recommended K = {k}: {rec.why}"
    assert f"Recommended K = {k}" in w.sweep_info.value and not w.sweep_info.native.isHidden()
    # the plot shows every K and marks the recommendation
    plotted, expected = w.sweep_plot(), sweep.plot_data()
    np.testing.assert_array_equal(plotted["k"], [2, 3, 4])
    np.testing.assert_allclose(plotted["recon_deg"], expected["recon_deg"])
    np.testing.assert_array_equal(plotted["n_distinct"], expected["n_distinct"])
    assert np.all(np.isfinite(plotted["recon_deg"]))
    assert plotted["recommended"] == k
    assert w.run.enabled and w.select_k.enabled and not w.cancel.enabled
    assert not notifications.errors()
    # the same sweep without the GUI: the panel passed its settings through unchanged
    # (compared through the configuration each K ran with, not the fits: with 5 steps per K the
    # fit angle on this cube depended on which GUI tests ran before in the same process,
    # measured 31.2° vs 33.5° for K = 2; cause not found, noted on the issue)
    headless = sweep_k(small_cube, range(2, 5), seed=1, loss="sad", epochs=5, device="cpu")
    config_keys = [f.name for f in dataclasses.fields(UnmixConfig)]
    for k_run in (2, 3, 4):
        gui_run, head_run = sweep.results[k_run].parameters, headless.results[k_run].parameters
        assert {c: gui_run[c] for c in config_keys} == {c: head_run[c] for c in config_keys}
    # Run now unmixes with the recommended K, and Select K waits for it
    w.run.clicked()
    assert not w.select_k.enabled
    w.select_k.clicked()
    assert any("unmixing run is already in progress" in m
               for m in notifications.messages("info"))
    wait_idle(w)
    assert w.result is not None and w.result.k == k
    assert w.sweep is sweep


def test_cancel_keeps_the_k_done_and_recommends_nothing(viewer, medium_cube, qtbot, wait_idle):
    w = _medium_panel(viewer, medium_cube)
    w.k.value = 9
    w.select_k.clicked()
    qtbot.waitUntil(lambda: len(w.sweep_plot()["k"]) == 1, timeout=120_000)  # K = 2 done
    t0 = time.perf_counter()
    w.cancel.clicked()
    assert "stopping" in w.status.value and not w.cancel.enabled
    qtbot.waitUntil(lambda: not w.running, timeout=30_000)
    stop_s = time.perf_counter() - t0
    print(f"\ncancel (K sweep, paper protocol) → worker finished in {stop_s * 1000:.0f} ms")
    assert stop_s < 2.0, f"cancel took {stop_s:.2f} s"
    sweep = w.sweep
    assert sweep is not None and sweep.cancelled
    assert sweep.k_values.tolist() == [2]
    assert w.k.value == 9  # unchanged: no recommendation from a partial sweep
    assert "cancelled after K = 2" in w.status.value
    plotted = w.sweep_plot()
    np.testing.assert_array_equal(plotted["k"], [2])
    assert plotted["recommended"] is None
    assert w.run.enabled and w.select_k.enabled and not w.cancel.enabled
    assert not _maps(viewer)


@pytest.mark.parametrize("case", ["k_max below k_min", "more K than bands", "2-D image"])
def test_refusals_give_one_line_and_no_crash(viewer, unmix_panel, cube_layer, notifications,
                                             wait_idle, case):
    w = unmix_panel
    w.k.value = 3
    if case == "k_max below k_min":
        w.k_min.value, w.k_max.value = 5, 3
        expected = "K max (3) is smaller than K min (5)"
    elif case == "more K than bands":
        few = viewer.add_image(cube_layer.data[:10], name="ten bands",
                               metadata={"wavenumbers": cube_layer.metadata["wavenumbers"][:10]})
        w.layer.value = few
        w.k_min.value, w.k_max.value = 12, 13
        expected = "k: must be at most the number of bands (10); got 12"
    else:
        w.layer.value = viewer.add_image(np.zeros((16, 16), np.float32), name="photo")
        expected = "three axes"
    n_layers = len(viewer.layers)
    w.select_k.clicked()
    wait_idle(w)
    errors = notifications.errors()
    assert len(errors) == 1 and errors[0].startswith("Select K: ") and expected in errors[0]
    assert w.status.value.startswith("refused: ") and expected in w.status.value
    assert "\n" not in w.status.value
    assert w.sweep is None and w.k.value == 3
    assert len(viewer.layers) == n_layers  # nothing added, nothing lost
    assert w.run.enabled and w.select_k.enabled and not w.cancel.enabled


def test_closing_viewer_during_sweep_is_safe(make_napari_viewer, medium_cube, qtbot):
    viewer = make_napari_viewer()
    w = _medium_panel(viewer, medium_cube)
    w.select_k.clicked()
    qtbot.waitUntil(lambda: w.last_sweep_progress is not None
                    and w.last_sweep_progress.event is not None
                    and w.last_sweep_progress.event.phase == "train", timeout=60_000)
    stop, worker = w.controller._stop, w.controller._worker
    viewer.close()
    assert stop.is_set()  # the sweep was told to stop
    qtbot.waitUntil(lambda: not worker.is_running, timeout=15_000)
    qtbot.wait(200)  # late signals must not touch deleted widgets (pytest-qt fails on errors)
