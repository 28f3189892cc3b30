"""The Unmix panel's state and logic, without Qt (the view is :mod:`._unmix_widget`).

The controller knows what runs (a training run or a K sweep), turns the
engine's progress events into what the panel shows (status line, progress,
loss curve, sweep points and verdict), queues the result layers so they are
added one per event-loop turn, and exports. It talks to the view through
psygnal signals and starts its work through a ``start_worker`` function the
view passes in (napari's thread worker in the GUI), so it can be driven and
tested without a window.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import numpy as np
from psygnal import Signal

from ..config import UnmixConfig
from ..errors import CubeError
from ..export import write_outputs
from ..io import load_cube
from ..known_spectra import KnownSpectra
from ..result import UnmixResult
from ..run import Progress, iter_unmix
from ..safe_write import folder_state
from ..select_k import KSweep, SweepProgress, iter_sweep_k
from ._layers import (
    FORCED_RANGES_KEY,
    RESULT_KEY,
    abundance_layer_tuples,
    cube_from_layer_arrays,
    cube_layer_tuple,
    endmember_name_from_layer,
    is_abundance_layer,
)
from ._widgets_common import notify_error, notify_info, notify_warning

__all__ = ["Failure", "UnmixController", "checked_layer"]

#: Seconds between status-text updates, and between progress-bar and loss-plot updates, during
#: a run. A progress bar repaints at once (the window with it: 10–20 ms with software OpenGL),
#: a plot costs tens of milliseconds: both are kept to once a second.
UI_INTERVAL = 0.25
PLOT_INTERVAL = 1.0

StartWorker = Callable[..., Any]
"""``start_worker(body, *args, on_yield=…, on_return=…, on_error=…, on_finish=…) -> handle``
with ``handle.quit()``: runs the generator ``body(*args)`` off the event loop."""


@dataclasses.dataclass(frozen=True)
class Failure:
    """What a worker returns when the input or the parameters are refused."""

    message: str


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def fmt_seconds(s: float | None) -> str:
    """``"12 s"`` or ``"3.4 min"``; ``"?"`` when unknown."""
    if s is None or not np.isfinite(s):
        return "?"
    s = max(0.0, float(s))
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def _train(data: Any, wavenumbers: np.ndarray, pixel_size: float | None, metadata: dict[str, Any],
           config: UnmixConfig, known: KnownSpectra | None, stop: threading.Event,
           ) -> Generator[Progress, None, UnmixResult | Failure]:
    """Worker body of Run: build the cube (validation is slow for big cubes) and train."""
    try:
        cube = cube_from_layer_arrays(data, wavenumbers, pixel_size, metadata)
        result = yield from iter_unmix(cube, config, stop=stop, known=known)
    except (ValueError, CubeError) as exc:  # refused input or parameters: a plain message
        return Failure(str(exc))
    return result


def _sweep(data: Any, wavenumbers: np.ndarray, pixel_size: float | None, metadata: dict[str, Any],
           config: UnmixConfig, k_values: list[int], stop: threading.Event,
           ) -> Generator[SweepProgress, None, KSweep | Failure]:
    """Worker body of "Select K…": one unmixing per K with the panel's other settings."""
    try:
        cube = cube_from_layer_arrays(data, wavenumbers, pixel_size, metadata)
        options = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                   if f.name not in ("k", "method", "seed")}
        sweep = yield from iter_sweep_k(cube, k_values, method=config.method, seed=config.seed,
                                        stop=stop, **options)
    except (ValueError, CubeError) as exc:
        return Failure(str(exc))
    return sweep


def checked_layer(layer: Any, what: str) -> tuple[Any, np.ndarray] | str:
    """The layer and its wavenumbers, or the one-line reason it cannot be unmixed."""
    if layer is None:
        return "choose an FTIR image layer first (File ▸ Open, or File ▸ Open Sample ▸ FTIR unmixing)."
    shape = tuple(layer.data.shape)
    if getattr(layer, "rgb", False) or len(shape) != 3:
        return (f"layer {layer.name!r} has shape {shape}; an FTIR image needs three axes "
                "(bands × rows × columns).")
    wn = layer.metadata.get("wavenumbers")
    if wn is None:
        wn = np.arange(1, shape[0] + 1, dtype=np.float64)
        notify_info(f"{what}: layer {layer.name!r} has no wavenumbers; band numbers are used instead.")
    wn = np.asarray(wn, dtype=np.float64).ravel()
    if wn.shape[0] != shape[0]:
        return f"layer {layer.name!r} has {shape[0]} bands but {wn.shape[0]} wavenumbers."
    return layer, wn


def _replace_map(layer: Any, data: np.ndarray, kwargs: dict[str, Any]) -> None:
    """Make an abundance layer show another map: what ``add_image(data, **kwargs)`` would show.

    The metadata go first, so that whoever listens to the data or name events
    already sees the new result.
    """
    layer.metadata = kwargs["metadata"]
    layer.data = data
    for name in ("colormap", "contrast_limits", "blending", "scale", "translate", "units"):
        if name in kwargs:
            setattr(layer, name, kwargs[name])
    layer.opacity = 1.0
    layer.visible = True
    layer.name = kwargs["name"]


class UnmixController:
    """State of one Unmix panel: the run or sweep in progress, its history, the latest results.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    start_worker : callable
        See :data:`StartWorker`.

    Attributes
    ----------
    result : UnmixResult or None
        The latest run's result.
    sweep : KSweep or None
        The latest completed (or cancelled) K sweep.
    last_progress, last_sweep_progress : the latest events.
    history : list of (step, loss)
        The loss curve of the current or latest run.
    sweep_points : list of (K, fit angle, distinct maps)
    sweep_recommended : int or None
    """

    #: The status line (text).
    status = Signal(str)
    #: Progress (value, maximum).
    progress = Signal(int, int)
    #: The loss curve changed enough to redraw.
    curve_changed = Signal()
    #: The sweep points or the recommended K changed.
    sweep_changed = Signal()
    #: The sweep's verdict: (html text, tooltip); an empty text hides it.
    verdict = Signal(str, str)
    #: A run or sweep started (True) or ended (False); True also while stopping.
    busy_changed = Signal(bool)
    #: The K box should show this K (a completed sweep's recommendation).
    k_recommended = Signal(int)
    #: Result layers are queued: the view calls :meth:`next_layer_step` once per event-loop turn.
    layers_queued = Signal()
    #: A cube layer was read again (the view refreshes what it shows about it).
    cube_replaced = Signal(object)

    def __init__(self, viewer: Any, start_worker: StartWorker) -> None:
        self._viewer = viewer
        self._start_worker = start_worker
        self._worker: Any = None
        self._stop: threading.Event | None = None
        self._task = ""  # "run" or "sweep" while a worker is active
        self._source: Any = None
        self._started = 0.0
        self._last_ui = 0.0
        self._last_plot = 0.0
        self._layer_queue: list[tuple[str, Any]] = []
        self.alive = True
        self.result: UnmixResult | None = None
        self.sweep: KSweep | None = None
        self.last_progress: Progress | None = None
        self.last_sweep_progress: SweepProgress | None = None
        self.history: list[tuple[int, float]] = []
        self.sweep_points: list[tuple[int, float, int]] = []
        self.sweep_recommended: int | None = None

    # ------------------------------------------------------------------ state
    @property
    def running(self) -> bool:
        """True while a training run or a K sweep is in progress."""
        return self._worker is not None

    @property
    def busy(self) -> bool:
        """True while training runs or result layers are still being added."""
        return self.running or bool(self._layer_queue)

    @property
    def task(self) -> str:
        """``"run"``, ``"sweep"`` or ``""``."""
        return self._task

    def refuse_if_busy(self) -> bool:
        """Tell the user (and return True) when a run or a sweep is still going on."""
        if not self.busy:
            return False
        doing = "A K sweep" if self._task == "sweep" else "An unmixing run"
        notify_info(f"{doing} is already in progress; cancel it first.")
        return True

    def refuse(self, what: str, message: str) -> None:
        """A one-line notification and status for input or parameters refused."""
        message = _one_line(message)
        notify_error(f"{what}: {message}")
        if self.alive:
            self.status.emit(f"refused: {message}")

    # ------------------------------------------------------------------ starting work
    def _start(self, task: str, maximum: int, body: Any, layer: Any, wn: np.ndarray, *args: Any) -> None:
        self._stop = threading.Event()
        self._source = layer
        self._task = task
        self._started = time.perf_counter()
        self._last_ui = self._last_plot = 0.0
        meta = dict(layer.metadata.get("source_metadata") or {})
        sweep = task == "sweep"
        self._worker = self._start_worker(
            body, layer.data, wn, layer.metadata.get("pixel_size"), meta, *args, self._stop,
            on_yield=self._on_sweep_progress if sweep else self._on_progress,
            on_return=self._on_sweep_returned if sweep else self._on_returned,
            on_error=self._on_errored, on_finish=self._on_finished)
        self.busy_changed.emit(True)
        self.progress.emit(0, maximum)
        self.status.emit("preparing…")

    def run(self, layer: Any, wn: np.ndarray, config: UnmixConfig, known: KnownSpectra | None = None) -> None:
        """Train on ``layer`` in a worker (``known``: spectra of materials known to be in the
        sample); results arrive as layers."""
        self.history = []
        self.last_progress = None
        self.curve_changed.emit()
        self._start("run", max(1, config.resolved().epochs), _train, layer, wn, config, known)

    def select_k(self, layer: Any, wn: np.ndarray, config: UnmixConfig, k_values: list[int]) -> None:
        """One unmixing per K in a worker; the recommended K arrives through :attr:`k_recommended`."""
        self.sweep = None
        self.last_sweep_progress = None
        self.sweep_points, self.sweep_recommended = [], None
        self.verdict.emit("", "")
        self.sweep_changed.emit()
        self._start("sweep", 1000, _sweep, layer, wn, config, k_values)

    def cancel(self) -> None:
        """Stop the run (the best result so far is kept) or the sweep (the K done so far are kept)."""
        if self._stop is None:
            return
        self._stop.set()
        self.status.emit("stopping… (the K values done so far are kept)" if self._task == "sweep"
                         else "stopping… (the best result so far is kept)")

    def close(self) -> None:
        """The panel (or the whole viewer) is closing: stop the work, emit nothing more."""
        self.alive = False
        if self._stop is not None:
            self._stop.set()
        if self._worker is not None:
            try:
                self._worker.quit()
            except RuntimeError:
                pass

    # ------------------------------------------------------------------ worker events (run)
    def _on_progress(self, event: Progress) -> None:
        if not self.alive:
            return
        self.last_progress = event
        if event.loss is not None and event.phase == "train":
            self.history.append((event.step, float(event.loss)))
        # Repaints are what costs the GUI time: update the panel at most every
        # UI_INTERVAL seconds and the plot every PLOT_INTERVAL seconds.
        now = time.perf_counter()
        if event.phase == "train" and now - self._last_ui < UI_INTERVAL:
            return
        self._last_ui = now
        if event.phase == "train":
            parts = [f"step {event.step}/{event.total}"]
            if event.loss is not None:
                parts.append(f"loss {event.loss:.4f} rad")
            if now - self._last_plot >= PLOT_INTERVAL:
                self._last_plot = now
                self.progress.emit(min(event.step, event.total), max(1, event.total))
                if event.loss is not None:
                    self.curve_changed.emit()
            if event.eta is not None:
                parts.append(f"≤ {fmt_seconds(event.eta)} left")
            self.status.emit(" · ".join(parts))
        elif event.phase == "infer":
            self.status.emit("computing abundance maps…")
        else:
            self.status.emit(event.message or "preparing…")

    def _on_returned(self, value: UnmixResult | Failure) -> None:
        if not self.alive:
            return
        if isinstance(value, Failure):
            self.refuse("Unmix", value.message)
            return
        result = self.result = value
        self._queue_result_layers(result)
        hist = result.loss_history
        self.history = [(i + 1, float(v)) for i, v in enumerate(hist)]
        self.curve_changed.emit()
        total = result.timings.get("total_s", time.perf_counter() - self._started)
        steps = result.parameters.get("steps_run", len(hist))
        best = float(np.min(hist)) if len(hist) else float("nan")
        msg = f"{steps} steps in {fmt_seconds(total)} · best loss {best:.4f} rad"
        if result.cancelled:
            msg = "cancelled — best result so far shown · " + msg
        elif result.parameters.get("stopped_by") == "converged":
            msg = "converged · " + msg
        warnings = result.parameters.get("warnings", [])
        for warning in warnings:
            notify_warning(f"Unmix: {warning}")
        if warnings:
            msg += " · ⚠ " + "; ".join(warnings)
        self.progress.emit(1, 1)
        self.status.emit(msg)

    def _on_errored(self, exc: BaseException) -> None:
        # napari's worker already shows the error (with its traceback) as a notification.
        if self.alive:
            self.status.emit(f"failed: {type(exc).__name__}: {exc}")

    def _on_finished(self) -> None:
        self._worker = None
        self._stop = None
        self._task = ""
        if self.alive:
            self.busy_changed.emit(False)

    # ------------------------------------------------------------------ worker events (sweep)
    def _on_sweep_progress(self, event: SweepProgress) -> None:
        if not self.alive:
            return
        self.last_sweep_progress = event
        head = f"Select K: K = {event.k} ({event.index + 1} of {event.total})"
        if event.done is not None:
            d = event.done
            self.sweep_points.append((d.k, float(d.recon_deg), int(d.n_distinct)))
            self.sweep_changed.emit()
            self.progress.emit(round(1000 * event.fraction), 1000)
            self.status.emit(f"{head} done: weighted angle {d.recon_deg:.2f}°, "
                             f"{d.n_distinct} distinct used maps")
            return
        now = time.perf_counter()
        if now - self._last_ui < UI_INTERVAL:
            return
        self._last_ui = now
        self.progress.emit(round(1000 * event.fraction), 1000)
        parts = [head]
        ev = event.event
        if ev is not None and ev.phase == "train":
            parts.append(f"step {ev.step}/{ev.total}")
        elif ev is not None and ev.phase == "infer":
            parts.append("computing maps")
        parts.append(f"{fmt_seconds(event.elapsed)} so far")
        self.status.emit(" · ".join(parts))

    def _on_sweep_returned(self, value: KSweep | Failure) -> None:
        if not self.alive:
            return
        if isinstance(value, Failure):
            self.refuse("Select K", value.message)
            return
        sweep = self.sweep = value
        elapsed = fmt_seconds(time.perf_counter() - self._started)
        if not sweep.diagnostics:
            self.sweep_points, self.sweep_recommended = [], None
            self.sweep_changed.emit()
            self.status.emit("Select K cancelled before the first K finished; K unchanged.")
            return
        data = sweep.plot_data()
        self.sweep_points = [(int(k), float(r), int(n)) for k, r, n in
                             zip(data["k"], data["recon_deg"], data["n_distinct"], strict=True)]
        done = ", ".join(str(k) for k in sweep.k_values)
        if sweep.cancelled:
            self.sweep_recommended = None
            self.sweep_changed.emit()
            self.status.emit(f"Select K cancelled after K = {done} ({elapsed}); no K "
                             "recommended, K unchanged.")
            self.verdict.emit("Cancelled: a sweep recommends a K only when it is complete.",
                              sweep.format_table())
            return
        rec = sweep.recommend()
        self.sweep_recommended = int(rec.k)
        self.sweep_changed.emit()
        self.progress.emit(1000, 1000)
        self.status.emit(f"Recommended K = {rec.k}: {rec.why}")
        self.verdict.emit(f"<b>Recommended K = {rec.k}</b> (K set to {rec.k}; sweep of K = {done} "
                          f"in {elapsed}): {rec.why}", sweep.format_table())
        self.k_recommended.emit(int(rec.k))

    # ------------------------------------------------------------------ result layers
    def _queue_result_layers(self, result: UnmixResult) -> None:
        """Replace the previous maps of this image with the new ones, one layer per event-loop turn.

        Adding a layer costs napari a few tens of milliseconds (more with software
        OpenGL); doing it one at a time keeps the viewer responsive. The previous
        maps are reused for the new ones (data, name, colours and record replaced)
        rather than removed: napari runs a full garbage collection for every layer
        removed (0.1–0.4 s in a session with torch loaded). Only maps beyond the new
        K are removed, together, in one batch.
        """
        viewer, source = self._viewer, self._source
        source_id = getattr(source, "unique_id", None)
        old = [lay for lay in list(viewer.layers)
               if is_abundance_layer(lay) and lay.metadata[RESULT_KEY].get("source_id") == source_id]
        old.sort(key=lambda lay: lay.metadata[RESULT_KEY]["index"])
        scale = tuple(source.scale[-2:]) if source is not None else (1.0, 1.0)
        translate = tuple(source.translate[-2:]) if source is not None else (0.0, 0.0)
        units = tuple(str(u) for u in source.units[-2:]) if source is not None else None
        name = source.name if source is not None else ""
        tuples = abundance_layer_tuples(result, source_id=source_id, source_name=name,
                                        scale=scale, translate=translate, units=units)
        n = min(len(old), len(tuples))
        queue: list[tuple[str, Any]] = [("update", (lay, t)) for lay, t in zip(old[:n], tuples[:n])]
        queue += [("add", t) for t in tuples[n:]]
        if old[n:]:
            queue.append(("remove", old[n:]))
        self._layer_queue = queue
        self.layers_queued.emit()

    def next_layer_step(self) -> bool:
        """Update, add or remove one queued layer (or one batch of removals); True while more remain."""
        if not self.alive or not self._layer_queue:
            return False
        action, item = self._layer_queue.pop(0)
        layers = self._viewer.layers
        if action == "remove":
            gone = [lay for lay in item if lay in layers]
            batch = getattr(layers, "batched_update", contextlib.nullcontext)
            with batch():  # one scene-graph update (and one garbage collection) for all
                for lay in gone:
                    layers.remove(lay)
        elif action == "update":
            layer, (data, kwargs, _kind) = item
            if layer in layers:
                _replace_map(layer, data, kwargs)
            else:  # removed by the user meanwhile
                self._viewer.add_image(data, **kwargs)
        else:
            data, kwargs, _kind = item
            self._viewer.add_image(data, **kwargs)
        return bool(self._layer_queue)

    def result_layers(self) -> list[Any]:
        """The abundance layers of the latest run, in endmember order."""
        if self.result is None:
            return []
        layers = [lay for lay in self._viewer.layers
                  if is_abundance_layer(lay) and lay.metadata[RESULT_KEY]["result"] is self.result]
        return sorted(layers, key=lambda lay: lay.metadata[RESULT_KEY]["index"])

    # ------------------------------------------------------------------ export
    def export(self, out: Any, ask: Callable[[str], bool]) -> None:
        """Write the latest result to ``out``; ``ask(question)`` decides whether to replace an
        earlier result there (a folder with other files is refused outright)."""
        result = self.result
        if result is None:
            notify_error("Export: run an unmixing first.")
            return
        if out is None or str(out).strip() in ("", "."):
            notify_error("Export: choose an export folder first.")
            return
        # Names follow the layers (rename a map in the layer list to name the material).
        layers = self.result_layers()
        if len(layers) == result.k:
            names = [endmember_name_from_layer(lay.name) for lay in layers]
            if len(set(names)) == len(names):
                result = dataclasses.replace(result, names=names)
        overwrite = folder_state(out) == "result"
        if overwrite and not ask(f"{out} holds an earlier result. Replace it with this one?"):
            self.status.emit("export cancelled: the earlier result was kept")
            return
        try:
            paths = write_outputs(result, out, overwrite=overwrite)
        except (OSError, ValueError) as exc:
            notify_error(f"Export failed: {exc}")
            return
        notify_info(f"Exported {', '.join(p.name for p in paths.values())} to {out}")
        self.status.emit(f"exported to {out}")

    # ------------------------------------------------------------------ units
    def reopen(self, layer: Any, units: str) -> None:
        """Read ``layer``'s file again with ``units`` in a worker and replace the layer's data."""
        source = dict(layer.metadata.get("source_metadata") or {}) if layer is not None else {}
        path = source.get("path")
        if layer is None or not path:
            notify_error("Reopen: the chosen layer was not read from a file.")
            return
        if self.refuse_if_busy():
            return
        self.status.emit(f"reading {Path(path).name} again as {units}…")

        def body() -> Generator[None, None, Any]:
            return load_cube(path, format=source.get("format"), units=units)
            yield  # a generator, like every worker body here

        self._start_worker(body, on_yield=None, on_return=lambda cube: self._replace_cube(layer, cube),
                           on_error=lambda exc: notify_error(f"Reopen: {_one_line(exc)}"), on_finish=None)

    def _replace_cube(self, layer: Any, cube: Any) -> None:
        if not self.alive or layer not in self._viewer.layers:
            return
        data, kwargs, _ = cube_layer_tuple(cube, name=layer.name)
        if tuple(data.shape) != tuple(layer.data.shape):
            notify_error(f"Reopen: the file now reads as {data.shape}, not {layer.data.shape}; "
                         "open it as a new layer instead.")
            return
        keep = {k: v for k, v in layer.metadata.items() if k not in kwargs["metadata"]}
        layer.metadata = {**kwargs["metadata"], **keep,
                          FORCED_RANGES_KEY: layer.metadata.get(FORCED_RANGES_KEY, [])}
        layer.data = data
        layer.contrast_limits = kwargs["contrast_limits"]
        self.status.emit(f"{layer.name}: {cube.units}")
        notify_info(f"{layer.name} read again: values are {cube.units}.")
        self.cube_replaced.emit(layer)
