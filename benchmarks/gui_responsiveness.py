"""How long napari's event loop stalls while the Unmix panel trains and adds its results.

Opens the demo (the synthetic sample cross-section, 64×96×838, with the Unmix,
Band weights and Spectra panels docked), presses Run with K = 4 and measures
the gaps between the ticks of a ``QTimer`` firing every 20 ms, from the click
until the result layers are in and the Spectra panel has redrawn (plus a
second). A gap of 20 ms is an event loop that keeps up; the target is that no
gap exceeds 100 ms. Needs a display with OpenGL (napari's canvas)::

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/gui_responsiveness.py --repeats 3

``--trace MS`` also samples, from a watchdog thread, what the main thread and
the worker were running whenever the loop has not ticked for MS milliseconds
(Python stacks, most frequent first): how the stalls were found.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np


def _wait(app, condition, timeout: float = 600.0) -> None:
    t0 = time.perf_counter()
    while not condition():
        app.processEvents()
        time.sleep(0.002)
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("gave up waiting")


class Probe:
    """A QTimer's ticks, each labelled with the phase of the run it fell in."""

    def __init__(self, unmix, interval_ms: int, trace_ms: float | None) -> None:
        from qtpy.QtCore import QTimer

        self.unmix = unmix
        self.ticks: list[tuple[float, str]] = []
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.trace_ms = trace_ms
        self.samples: collections.Counter[str] = collections.Counter()
        self._main = threading.get_ident()
        self._stop = threading.Event()

    def phase(self) -> str:
        c = self.unmix.controller
        if c.running:
            lp = c.last_progress
            if lp is None or lp.phase not in ("train", "infer"):
                return "preparing"
            return "training" if lp.phase == "train" else "computing maps"
        if c._layer_queue:
            return "adding layers"
        return "results in"

    def _tick(self) -> None:
        self.ticks.append((time.perf_counter(), self.phase()))

    def start(self) -> None:
        self.ticks = [(time.perf_counter(), self.phase())]
        self.timer.start()
        if self.trace_ms:
            threading.Thread(target=self._watch, daemon=True).start()

    def stop(self) -> None:
        self.timer.stop()
        self._stop.set()

    def _watch(self) -> None:
        """Sample the stacks of the main thread (and the others) during a stall."""
        while not self._stop.is_set():
            time.sleep(0.005)
            if not self.ticks or (time.perf_counter() - self.ticks[-1][0]) * 1e3 < self.trace_ms:
                continue
            for ident, frame in sys._current_frames().items():
                if ident == threading.get_ident():
                    continue
                who = "main" if ident == self._main else "worker"
                stack = traceback.extract_stack(frame)[-6:]
                key = f"[{who}] " + " <- ".join(
                    f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack))
                self.samples[key] += 1

    def gaps(self) -> tuple[np.ndarray, list[str]]:
        """Gaps between ticks (s) and the phase in which each gap ended."""
        t = np.array([x[0] for x in self.ticks])
        return np.diff(t), [x[1] for x in self.ticks[1:]]


def run_once(app, unmix, k: int, interval_ms: int, trace_ms: float | None) -> dict:
    unmix.k.value = k
    probe = Probe(unmix, interval_ms, trace_ms)
    probe.start()
    t0 = time.perf_counter()
    unmix.run.clicked()
    _wait(app, lambda: not unmix.busy)
    run_s = time.perf_counter() - t0
    t_end = time.perf_counter()
    _wait(app, lambda: time.perf_counter() - t_end > 1.0)  # the Spectra panel redraws after the layers
    probe.stop()
    gaps, phases = probe.gaps()
    by_phase: dict[str, dict[str, float]] = {}
    for ph in dict.fromkeys(phases):
        g = gaps[[p == ph for p in phases]]
        by_phase[ph] = {"n": int(g.size), "max_ms": float(g.max() * 1e3),
                        "p95_ms": float(np.percentile(g, 95) * 1e3)}
    out = {"run_s": run_s, "status": unmix.status.value, "max_ms": float(gaps.max() * 1e3),
           "p95_ms": float(np.percentile(gaps, 95) * 1e3), "median_ms": float(np.median(gaps) * 1e3),
           "over_100ms": int((gaps > 0.1).sum()), "phases": by_phase}
    if trace_ms:
        out["stall_samples"] = probe.samples.most_common(25)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--interval", type=int, default=20, help="probe timer interval (ms)")
    parser.add_argument("--trace", type=float, default=None, metavar="MS",
                        help="sample the threads' stacks during stalls longer than MS ms")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="call gc.freeze() before the first run (as `ftir-unmix demo` does)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)

    from qtpy.QtWidgets import QApplication

    from ftir_unmix.napari.demo import open_demo

    viewer, panels = open_demo(show=True)
    app = QApplication.instance()
    unmix, weights = panels["Unmix"], panels["Band weights"]
    # As a user would: look at the image while the panels start (the Unmix panel imports
    # the method's code in the background), then press Run.
    _wait(app, lambda: weights.weights is not None)
    t_start = time.perf_counter()
    _wait(app, lambda: "ftir_unmix.methods.cnn" in sys.modules or time.perf_counter() - t_start > 10)
    t_settle = time.perf_counter()
    _wait(app, lambda: time.perf_counter() - t_settle > 2.0)
    if args.gc_freeze:
        import gc

        gc.freeze()
    runs = []
    for i in range(args.repeats):
        r = run_once(app, unmix, args.k, args.interval, args.trace)
        runs.append(r)
        phases = ", ".join(f"{ph} {v['max_ms']:.0f}/{v['p95_ms']:.0f}" for ph, v in r["phases"].items())
        print(f"run {i + 1}: {r['run_s']:.1f} s; gaps max {r['max_ms']:.0f} ms, 95th percentile "
              f"{r['p95_ms']:.0f} ms, median {r['median_ms']:.1f} ms, {r['over_100ms']} over 100 ms")
        print(f"  by phase (max/p95 ms): {phases}")
        for key, n in r.get("stall_samples", []):
            print(f"  {n:4d} {key}")
    worst = max(r["max_ms"] for r in runs)
    p95 = float(np.median([r["p95_ms"] for r in runs]))
    print(f"worst gap over {len(runs)} runs: {worst:.0f} ms; median of the runs' 95th percentiles: "
          f"{p95:.0f} ms (probe interval {args.interval} ms)")
    if args.json:
        Path(args.json).write_text(json.dumps({"k": args.k, "runs": runs}, indent=1))
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
