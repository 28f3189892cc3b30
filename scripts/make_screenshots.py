"""Screenshots of the napari plugin for docs/user-guide.md.

Run under a virtual X server (napari needs OpenGL; Mesa's software renderer works)::

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/make_screenshots.py

It opens the demo (the synthetic cross-section and the three panels), forces
the CO₂ region in the Band weights panel, runs a short unmixing, clicks a
pixel, runs a "Select K…" sweep, and saves PNGs into docs/images/. It also
prints the longest stall of the Qt event loop during the run (a 10 ms timer's
largest gap). ``--only select-k`` makes the Select K image alone.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "images"))
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--k-min", type=int, default=4, help="Select K sweep: smallest K")
    parser.add_argument("--k-max", type=int, default=8, help="Select K sweep: largest K")
    parser.add_argument("--sweep-steps", type=int, default=200, help="Select K: steps per K")
    parser.add_argument("--only", choices=("select-k",), default=None,
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
    _wait(app, lambda: unmix.last_progress is not None and unmix.last_progress.step > 30)
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
    print(f"wrote {sorted(p.name for p in out.glob('*.png'))} to {out}")
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
