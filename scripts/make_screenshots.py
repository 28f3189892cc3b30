"""Screenshots of the napari plugin for docs/user-guide.md.

Run under a virtual X server (napari needs OpenGL; Mesa's software renderer works)::

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/make_screenshots.py

It opens the demo (the synthetic cross-section and the three panels), forces
the CO₂ region in the Band weights panel, runs a short unmixing, clicks a
pixel, runs a "Select K…" sweep, and saves PNGs into docs/images/. It also
prints the longest stall of the Qt event loop during the run (a 10 ms timer's
largest gap). Then the study tools: regions, composites, colour bars and scale
bar, a (synthetic) photo registered under the maps, and a saved session.
``--only select-k`` makes the Select K image alone; ``--only study`` runs a
short unmixing and makes the study images alone; ``--only names`` runs a short
unmixing, names the materials against a reference library (the sample's own
spectra, one left out) and makes docs/images/names.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def _wait(app, condition, timeout: float = 600.0) -> None:
    t0 = time.perf_counter()
    while not condition():
        app.processEvents()
        time.sleep(0.01)
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("gave up waiting")


def _settle(app, seconds: float = 0.5) -> None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        app.processEvents()
        time.sleep(0.01)


def _select_k(app, unmix, out: Path, args) -> None:
    """Run "Select K…" over a small range and save the panel (docs/images/unmix-select-k.png)."""
    import torch

    unmix.k_min.value, unmix.k_max.value = args.k_min, args.k_max
    unmix.epochs.value = args.sweep_steps
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: one thread is faster on a busy machine
    t0 = time.perf_counter()
    unmix.select_k.clicked()
    _wait(app, lambda: not unmix.busy)
    torch.set_num_threads(threads)
    _settle(app, 1.0)
    print(f"select K: {unmix.status.value} ({time.perf_counter() - t0:.1f} s wall)")
    print(unmix.sweep.format_table())
    unmix.native.grab().save(str(out / "unmix-select-k.png"))


def _fake_photo(maps: list, path: Path) -> np.ndarray:
    """A 'photo' of the sample: three maps as colours, 4× larger, turned by 6°, on a grey
    background, written to ``path``. Returns the FTIR → photo transform (3×3, (x, y))."""
    import imageio.v3 as iio
    from skimage.transform import AffineTransform, warp

    rgb = np.stack([np.clip(m.data, 0, 1) for m in maps[:3]], axis=-1)
    rgb = 0.25 + 0.6 * rgb[..., [0, 2, 1]]  # muted, not the maps' own colours
    tf = AffineTransform(scale=4.0, rotation=np.deg2rad(6.0), translation=(60.0, 20.0))
    h, w = rgb.shape[:2]
    photo = warp(rgb, tf.inverse, output_shape=(4 * h + 80, 4 * w + 100), cval=0.35)
    photo += np.random.default_rng(0).normal(0, 0.02, photo.shape)
    iio.imwrite(path, (np.clip(photo, 0, 1) * 255).astype(np.uint8))
    return tf.params


def _study(app, viewer, panels: dict, out: Path) -> None:
    """Regions, composites, figure overlays, a registered photo and a session (docs/images/)."""
    import tempfile

    from ftir_unmix.napari import save_session
    from ftir_unmix.napari._layers import RESULT_KEY, is_abundance_layer
    from ftir_unmix.napari._photo import add_photo, start_point_pairs

    plugin = "napari-ftir-unmix"
    spectra, cube = panels["Spectra"], viewer.layers[0]
    maps = sorted((lay for lay in viewer.layers if is_abundance_layer(lay)),
                  key=lambda lay: lay.metadata[RESULT_KEY]["index"])
    # Regions: three rectangles across the stratigraphy.
    spectra.draw_regions.clicked()
    regions = spectra.regions.value
    for box in ([[4, 10], [14, 30]], [[26, 40], [36, 60]], [[46, 20], [58, 44]]):
        regions.add_rectangles([np.array(box, dtype=float)])
    _wait(app, lambda: len(spectra.region_stats) == 3, timeout=30)
    regions.mode = "pan_zoom"
    _settle(app, 1.0)
    spectra.native.grab().save(str(out / "regions.png"))
    viewer.screenshot(str(out / "regions-canvas.png"), canvas_only=True)
    viewer.layers.remove(regions)

    # Composites: a false-colour RGB of three maps, and the dominant material.
    _d, comp = viewer.window.add_plugin_dock_widget(plugin, "Composites", tabify=True)
    comp.red.value, comp.green.value, comp.blue.value = maps[0], maps[2], maps[4 % len(maps)]
    comp.make_rgb.clicked()
    _settle(app, 1.0)
    viewer.screenshot(str(out / "composite-rgb.png"), canvas_only=False)
    viewer.layers[-1].visible = False
    comp.make_dominant.clicked()
    _settle(app, 1.0)
    viewer.screenshot(str(out / "composite-dominant.png"), canvas_only=False)
    for lay in list(viewer.layers)[-2:]:
        lay.visible = False

    # Figure: colour bars and a scale bar on the maps.
    _d, fig = viewer.window.add_plugin_dock_widget(plugin, "Figure", tabify=True)
    fig.colorbars.value = True
    fig.scale_bar.value = True
    _settle(app, 1.0)
    viewer.screenshot(str(out / "figure.png"), canvas_only=False)
    fig.colorbars.value = False

    # Photo: a synthetic photo, four point pairs, registered under the maps.
    tmp = Path(tempfile.mkdtemp())
    tf = _fake_photo(maps, tmp / "photo.png")
    _d, photo_panel = viewer.window.add_plugin_dock_widget(plugin, "Photo", tabify=True)
    photo = add_photo(viewer, tmp / "photo.png", cube)
    photo_panel.photo.value = photo
    photo_pts, ftir_pts = start_point_pairs(viewer, photo, cube)
    ftir_rc = np.array([[5.0, 8.0], [8.0, 88.0], [58.0, 12.0], [55.0, 85.0]])
    xy = np.c_[ftir_rc[:, ::-1], np.ones(len(ftir_rc))] @ tf.T
    photo_pts.add(xy[:, 1::-1])
    ftir_pts.add(ftir_rc)
    photo_panel.register.clicked()
    for lay in maps:
        lay.opacity = 0.6
    cube.visible = False
    viewer.reset_view()
    _settle(app, 1.0)
    viewer.screenshot(str(out / "photo.png"), canvas_only=False)
    for lay in maps:
        lay.opacity = 1.0
    cube.visible = True

    # Session: save the study.
    _d, session = viewer.window.add_plugin_dock_widget(plugin, "Session", tabify=True)
    session.session_path.value = tmp / "section-12.ftirproj"
    saved = save_session(viewer, tmp / "section-12", overwrite=True)
    session.session_path.value = saved
    session.info.value = f"saved {saved.name}"
    _settle(app, 0.5)
    session.native.grab().save(str(out / "session.png"))


def _names(app, viewer, panels: dict, out: Path) -> None:
    """Name the materials against a small reference library (docs/images/names.png)."""
    import tempfile

    from ftir_unmix.identify import best_match
    from ftir_unmix.napari._sample_data import SAMPLE_SEED, SAMPLE_SHAPE
    from ftir_unmix.synthetic import cross_section

    spectra = panels["Spectra"]
    # The library: the sample's true spectra as CSV files, animal glue left out (the user
    # has no reference for it: its endmember is named from the marker bands, or not at all).
    truth = cross_section(*SAMPLE_SHAPE, seed=SAMPLE_SEED)
    folder = Path(tempfile.mkdtemp()) / "references"
    folder.mkdir()
    for i, name in enumerate(truth.names):
        if "glue" not in name:
            np.savetxt(folder / f"{name}.csv", np.column_stack([truth.wavenumbers, truth.endmembers[:, i]]),
                       delimiter=",", header="wavenumber,absorbance", comments="")
    spectra.load_references(folder)
    _wait(app, lambda: spectra.library is not None and not spectra.identifying, timeout=120)
    # show lead white: its endmember departs visibly from the reference (dashed)
    shown = next((i for i, cands in enumerate(spectra.identification)
                  if (c := best_match(cands)) is not None and c.name == "lead white"), 0)
    spectra.endmember_choice.value = shown
    _settle(app, 0.5)
    spectra.name_layers.clicked()
    _settle(app, 1.5)
    print("names: " + "; ".join(spectra.names()))
    print(spectra.doubts_info.value or "no doubts")
    # float the panel, larger than its dock, so the plot is readable in the image
    from qtpy.QtWidgets import QDockWidget

    dock = spectra.native
    while dock is not None and not isinstance(dock, QDockWidget):
        dock = dock.parentWidget()
    if dock is not None:
        dock.setFloating(True)
        dock.resize(760, 1000)
        spectra.canvas.canvas.setMinimumHeight(480)
        _settle(app, 1.5)
    spectra.native.grab().save(str(out / "names.png"))
    if dock is not None:
        dock.setFloating(False)
        _settle(app, 0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "images"))
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--k-min", type=int, default=4, help="Select K sweep: smallest K")
    parser.add_argument("--k-max", type=int, default=8, help="Select K sweep: largest K")
    parser.add_argument("--sweep-steps", type=int, default=200, help="Select K: steps per K")
    parser.add_argument("--only", choices=("select-k", "study", "names"), default=None,
                        help="make only this image")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from ftir_unmix.napari._layers import RESULT_KEY, is_abundance_layer
    from ftir_unmix.napari.demo import open_demo

    viewer, panels = open_demo(show=True)
    app = QApplication.instance()
    viewer.window.resize(1600, 1000)
    unmix, weights, spectra = panels["Unmix"], panels["Band weights"], panels["Spectra"]
    cube = viewer.layers[0]
    if args.only == "select-k":
        _select_k(app, unmix, out, args)
        viewer.close()
        return 0
    if args.only in ("study", "names"):
        unmix.k.value, unmix.epochs.value = args.k, args.steps
        unmix.run.clicked()
        _wait(app, lambda: not unmix.busy)
        (_study if args.only == "study" else _names)(app, viewer, panels, out)
        viewer.close()
        return 0
    viewer.dims.set_current_step(0, int(np.argmin(np.abs(cube.metadata["wavenumbers"] - 1725))))
    _wait(app, lambda: weights.weights is not None)
    spectra.show_pixel(20, 40, layer=cube)
    _settle(app, 1.0)
    viewer.screenshot(str(out / "viewer-open.png"), canvas_only=False)

    weights.co2.clicked()
    _settle(app)
    weights.native.grab().save(str(out / "band-weights.png"))

    unmix.k.value = args.k
    unmix.epochs.value = args.steps
    gaps: list[float] = []
    last = [time.perf_counter()]

    phases: list[str] = []

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
        lp = unmix.last_progress
        phases.append("adding layers" if unmix.controller._layer_queue or not unmix.running
                      else (lp.phase if lp is not None else "starting"))

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    _settle(app, 1.0)
    idle = max(gaps)
    gaps.clear()
    phases.clear()
    last[0] = time.perf_counter()
    unmix.run.clicked()
    t0 = time.perf_counter()
    # training proper (past the warm-start trials, whose progress has no step), with a loss curve
    _wait(app, lambda: unmix.last_progress is not None and unmix.last_progress.phase == "train"
          and unmix.last_progress.step > 120)
    unmix.native.grab().save(str(out / "unmix-running.png"))
    _wait(app, lambda: not unmix.busy)
    run_s = time.perf_counter() - t0
    _settle(app, 1.0)
    timer.stop()
    print(f"run: {unmix.status.value} ({run_s:.1f} s wall)")
    print(f"event loop, 10 ms timer: idle max gap {idle * 1e3:.0f} ms; during the run max gap "
          f"{max(gaps) * 1e3:.0f} ms, 99th percentile {np.percentile(gaps, 99) * 1e3:.0f} ms, "
          f"median {np.median(gaps) * 1e3:.1f} ms")

    worst: dict[str, float] = {}
    for g, ph in zip(gaps, phases, strict=True):
        worst[ph] = max(worst.get(ph, 0.0), g)
    print("max gap by phase (ms): " + ", ".join(f"{k} {v * 1e3:.0f}" for k, v in worst.items()))

    maps = sorted((lay for lay in viewer.layers if is_abundance_layer(lay)),
                  key=lambda lay: lay.metadata[RESULT_KEY]["index"])
    spectra.show_pixel(20, 40, layer=cube)
    spectra.show_pixel(50, 70, layer=cube, pin=True)
    spectra.show_pixel(20, 40, layer=cube)
    viewer.layers.selection.active = maps[2]
    _settle(app, 1.0)
    viewer.screenshot(str(out / "results.png"), canvas_only=False)
    unmix.native.grab().save(str(out / "unmix-done.png"))
    spectra.native.grab().save(str(out / "spectra.png"))

    # One map at a time: hide the others.
    for lay in maps:
        lay.visible = lay is maps[2]
    cube.visible = False
    _settle(app, 1.0)
    viewer.screenshot(str(out / "single-map.png"), canvas_only=True)
    for lay in maps:
        lay.visible = True
    _select_k(app, unmix, out, args)
    _study(app, viewer, panels, out)
    _names(app, viewer, panels, out)
    print(f"wrote {sorted(p.name for p in out.glob('*.png'))} to {out}")
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
