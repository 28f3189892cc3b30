"""The "Unmix" panel: parameters, Run/Cancel, progress, live loss curve, export.

Drive it by control name (scripts and tests do)::

    w = UnmixWidget(viewer)
    w.layer.value = viewer.layers["synthetic cross-section"]
    w.k.value = 4
    w.epochs.value = 200
    w.run.clicked()          # starts training in a worker thread
    w.cancel.clicked()       # stops within a fraction of a second, keeps the best result
    w.output_dir.value = "results/"
    w.export.clicked()       # abundances.tif, endmembers.csv, band_weights.csv, run.json
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Generator
from typing import Any

import numpy as np
from magicgui.widgets import (
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
    SpinBox,
)
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QSizePolicy

from ..config import UnmixConfig
from ..errors import CubeError
from ..export import write_outputs
from ..result import UnmixResult
from ..train import Progress, iter_unmix
from ._layers import (
    RESULT_KEY,
    abundance_layer_tuples,
    cube_from_layer_arrays,
    endmember_name_from_layer,
    forced_ranges_of,
    is_abundance_layer,
)
from ._plot import ThemedCanvas
from ._session import get_session
from ._widgets_common import (
    follow_new_cube,
    bind_weight_controls,
    image_layer_choices,
    make_weight_controls,
    notify_error,
    notify_info,
    show_wavenumber_overlay,
)

__all__ = ["UnmixWidget"]

_DEFAULTS = UnmixConfig()
#: Seconds between panel updates (progress bar, text) and loss-plot redraws during a run.
UI_INTERVAL = 0.25
PLOT_INTERVAL = 1.0


@dataclasses.dataclass(frozen=True)
class _Failure:
    """What the worker returns when the input or the parameters are refused."""

    message: str


def _train(data: Any, wavenumbers: np.ndarray, pixel_size: float | None, metadata: dict[str, Any],
           config: UnmixConfig, stop: threading.Event,
           ) -> Generator[Progress, None, UnmixResult | _Failure]:
    """Worker body: build the cube (validation is slow for big cubes) and train."""
    try:
        cube = cube_from_layer_arrays(data, wavenumbers, pixel_size, metadata)
        result = yield from iter_unmix(cube, config, stop=stop)
    except (ValueError, CubeError) as exc:  # refused input or parameters: a plain message
        return _Failure(str(exc))
    return result


def _fmt_seconds(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "?"
    s = max(0.0, float(s))
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


class UnmixWidget(Container):
    """Dock widget that unmixes an FTIR image layer into abundance maps and spectra.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer (napari passes it when the panel is opened from the menu).

    Notes
    -----
    Controls, by name: ``layer``, ``k``, ``loss``, ``protocol``, ``epochs``,
    ``lr``, ``softmax_scale``, ``seed``, ``device``, ``gamma_rough``,
    ``gamma_flat``, ``tau``, ``sharpness``, ``w_min``, buttons ``run``,
    ``cancel``, ``export`` and the folder ``output_dir``. The band-weight
    parameters are shared with the Band weights panel; wavenumber ranges
    forced there (stored on the image layer) are used by the next run.
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=False)
        self._viewer = napari_viewer
        self._session = get_session(napari_viewer)
        self._worker: Any = None
        self._stop: threading.Event | None = None
        self._alive = True
        self._history: list[tuple[int, float]] = []
        self._run_started = 0.0
        self._last_ui = 0.0
        self._last_plot = 0.0
        self._layer_queue: list[tuple[str, Any]] = []
        self._layer_timer = QTimer()
        self._layer_timer.setSingleShot(True)
        self._layer_timer.setInterval(0)
        self._layer_timer.timeout.connect(self._next_layer_step)
        self._source: Any = None
        self.result: UnmixResult | None = None
        self.last_progress: Progress | None = None

        self.layer = ComboBox(
            name="layer", label="FTIR image", choices=self._layer_choices, nullable=True,
            tooltip="The hyperspectral image to unmix (bands × rows × columns), e.g. a file "
                    "opened with File ▸ Open or the sample cross-section.",
        )
        self.k = SpinBox(
            name="k", label="materials (K)", value=_DEFAULTS.k, min=2, max=64,
            tooltip="How many materials (endmembers) to look for: pigments, binders, varnish, "
                    "degradation products, embedding resin… Try a few values.",
        )
        self.loss = ComboBox(
            name="loss", label="loss", value=_DEFAULTS.loss,
            choices=[("weighted spectral angle (WSAD)", "wsad"), ("spectral angle (SAD)", "sad")],
            tooltip="WSAD down-weights unreliable bands (CO₂, water vapour, spikes) as shown "
                    "in the Band weights panel; SAD treats every band alike.",
        )
        self.protocol = ComboBox(
            name="protocol", label="protocol", value=_DEFAULTS.protocol,
            choices=[("fast (whole image, stops when settled)", "fast"),
                     ("paper (random 5×5 patches)", "paper")],
            tooltip="fast: trains on the whole image and stops when the loss settles (seconds "
                    "to minutes). paper: the published protocol (20 000 patches per epoch; slow "
                    "on a CPU).",
        )
        self.epochs = SpinBox(
            name="epochs", label="max. steps / epochs", value=_DEFAULTS.resolved().epochs, min=1, max=100_000,
            tooltip="fast protocol: the most training steps; paper protocol: epochs (500 in the "
                    "paper).",
        )
        self.lr = FloatSpinBox(
            name="lr", label="learning rate", value=_DEFAULTS.lr, min=1e-5, max=1.0, step=0.0005,
            tooltip="Step size of the optimiser (paper: 0.005; the authors' code: 0.001). "
                    "Lower is slower but steadier.",
        )
        self.softmax_scale = FloatSpinBox(
            name="softmax_scale", label="map sharpness", value=_DEFAULTS.softmax_scale,
            min=0.1, max=50.0, step=0.1,
            tooltip="Higher values push each pixel towards a single material (crisper maps); "
                    "lower values allow more mixing. Paper: 3.5.",
        )
        self.seed = SpinBox(
            name="seed", label="seed", value=_DEFAULTS.seed, min=0, max=2**31 - 1,
            tooltip="Same seed, same data, same device → same result.",
        )
        self.device = ComboBox(
            name="device", label="device", value="auto", choices=["auto", "cpu", "cuda"],
            tooltip="auto uses an NVIDIA GPU when one is present, else the CPU.",
        )
        self._weight_controls = make_weight_controls(self._session.weight_params)
        bind_weight_controls(self._weight_controls, self._session.weight_params)
        for name, control in self._weight_controls.items():
            setattr(self, name, control)
        self.forced_info = Label(name="forced_info", value="")
        self.run = PushButton(name="run", text="Run", tooltip="Start unmixing; you can keep "
                              "working in napari while it trains.")
        self.cancel = PushButton(name="cancel", text="Cancel", enabled=False,
                                 tooltip="Stop now and keep the best result so far.")
        self.progress = ProgressBar(name="progress", value=0, min=0, max=1)
        self.status = Label(name="status", value="Choose an image and press Run.")
        self.output_dir = FileEdit(
            name="output_dir", label="export folder", mode="d", nullable=True,
            tooltip="Folder for abundances.tif, endmembers.csv, band_weights.csv and run.json.",
        )
        self.export = PushButton(name="export", text="Export results",
                                 tooltip="Write the latest result to the export folder.")

        self.extend([
            Container(name="parameters", labels=True, widgets=[
                self.layer, self.k, self.loss, self.protocol, self.epochs, self.lr,
                self.softmax_scale, self.seed, self.device]),
            Label(name="weights_title", value="<b>Band weights</b> (shared with the Band "
                                              "weights panel)"),
            Container(name="weight_parameters", labels=True,
                      widgets=list(self._weight_controls.values())),
            self.forced_info,
            Container(name="buttons", widgets=[self.run, self.cancel], layout="horizontal",
                      labels=False),
            self.progress, self.status,
        ])
        self.loss_canvas = ThemedCanvas(napari_viewer, height=120)
        self._setup_loss_plot()
        self.native.layout().addWidget(self.loss_canvas)
        # Export controls go below the plot.
        self._tail = Container(name="export_box", widgets=[self.output_dir, self.export],
                               labels=True)
        self.native.layout().addWidget(self._tail.native)
        self.output_dir.line_edit.native.setPlaceholderText("folder for the result files")
        # Text that changes during a run must not re-layout the window (a relayout can
        # resize napari's canvas, which is expensive with software OpenGL).
        for label in (self.status, self.forced_info):
            label.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            label.native.setWordWrap(False)
        self.progress.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

        self.run.clicked.connect(self._on_run)
        self.cancel.clicked.connect(self._on_cancel)
        self.export.clicked.connect(self._on_export)
        self.layer.changed.connect(self._update_forced_info)

        layers_events = napari_viewer.layers.events
        for ev in (layers_events.inserted, layers_events.removed, layers_events.moved):
            ev.connect(self._on_layers_changed)
        self.native.destroyed.connect(lambda *_: self._on_destroyed())
        self._session.forced_ranges_changed.connect(self._update_forced_info)
        self.native.destroyed.connect(
            lambda *_: self._session.forced_ranges_changed.disconnect(self._update_forced_info))
        choices = [c for c in self.layer.choices if c is not None]
        if self.layer.value is None and choices:
            self.layer.value = choices[0]
        self._update_forced_info()
        show_wavenumber_overlay(napari_viewer)

    # ------------------------------------------------------------------ layers
    def _layer_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return image_layer_choices(self._viewer)

    def _on_layers_changed(self, event: Any = None) -> None:
        if not self._alive:
            return
        if follow_new_cube(self.layer, event):
            self._update_forced_info()

    def _update_forced_info(self, *_: Any) -> None:
        if not self._alive:
            return
        layer = self.layer.value
        ranges = forced_ranges_of(layer.metadata) if layer is not None else ()
        if ranges:
            txt = ", ".join(f"{lo:.0f}–{hi:.0f}" for lo, hi in ranges)
            self.forced_info.value = f"forced to w_min: {txt} cm⁻¹"
        else:
            self.forced_info.value = ""

    # ------------------------------------------------------------------ config
    def config(self) -> UnmixConfig:
        """The :class:`~ftir_unmix.UnmixConfig` the panel's controls describe.

        Raises
        ------
        ValueError
            A parameter the engine refuses.
        """
        layer = self.layer.value
        forced = forced_ranges_of(layer.metadata) if layer is not None else ()
        return UnmixConfig(
            k=int(self.k.value), loss=self.loss.value, protocol=self.protocol.value,
            epochs=int(self.epochs.value), lr=float(self.lr.value),
            softmax_scale=float(self.softmax_scale.value), seed=int(self.seed.value),
            device=self.device.value, forced_ranges=forced,
            **self._session.weight_params.as_dict(),
        )

    @property
    def running(self) -> bool:
        """True while a training run is in progress."""
        return self._worker is not None

    # ------------------------------------------------------------------ run
    def _on_run(self, *_: Any) -> None:
        if self.busy:
            notify_info("An unmixing run is already in progress; cancel it first.")
            return
        layer = self.layer.value
        if layer is None:
            notify_error("Unmix: choose an FTIR image layer first (File ▸ Open, or "
                         "File ▸ Open Sample ▸ FTIR unmixing).")
            return
        shape = tuple(layer.data.shape)
        if getattr(layer, "rgb", False) or len(shape) != 3:
            notify_error(f"Unmix: layer {layer.name!r} has shape {shape}; an FTIR image needs "
                         "three axes (bands × rows × columns).")
            return
        wn = layer.metadata.get("wavenumbers")
        if wn is None:
            wn = np.arange(1, shape[0] + 1, dtype=np.float64)
            notify_info(f"Unmix: layer {layer.name!r} has no wavenumbers; band numbers are "
                        "used instead.")
        wn = np.asarray(wn, dtype=np.float64).ravel()
        if wn.shape[0] != shape[0]:
            notify_error(f"Unmix: layer {layer.name!r} has {shape[0]} bands but "
                         f"{wn.shape[0]} wavenumbers.")
            return
        try:
            config = self.config()
        except (ValueError, TypeError) as exc:
            notify_error(f"Unmix: {exc}")
            return
        from napari.qt.threading import create_worker

        self._stop = threading.Event()
        self._source = layer
        self._history = []
        self.last_progress = None
        self._run_started = time.perf_counter()
        self._last_ui = self._last_plot = 0.0
        meta = dict(layer.metadata.get("source_metadata") or {})
        worker = create_worker(
            _train, layer.data, wn, layer.metadata.get("pixel_size"), meta, config, self._stop,
            _start_thread=False, _ignore_errors=True,
        )
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.run.enabled = False
        self.cancel.enabled = True
        self.progress.max = max(1, config.epochs)
        self.progress.value = 0
        self.status.value = "preparing…"
        self._clear_loss_plot()
        worker.start()

    def _set_status(self, text: str) -> None:
        self.status.value = text
        self.status.tooltip = text

    def _on_cancel(self, *_: Any) -> None:
        if self._stop is not None:
            self._stop.set()
            if self._alive:
                self.cancel.enabled = False
                self.status.value = "stopping… (the best result so far is kept)"

    def _on_progress(self, event: Progress) -> None:
        if not self._alive:
            return
        self.last_progress = event
        if event.loss is not None and event.phase == "train":
            self._history.append((event.step, float(event.loss)))
        # Repaints are what costs the GUI time: update the panel at most every
        # UI_INTERVAL seconds and the plot every PLOT_INTERVAL seconds.
        now = time.perf_counter()
        if event.phase == "train" and now - self._last_ui < UI_INTERVAL:
            return
        self._last_ui = now
        if event.phase == "train":
            self.progress.max = max(1, event.total)
            self.progress.value = min(event.step, event.total)
            parts = [f"step {event.step}/{event.total}"]
            if event.loss is not None:
                parts.append(f"loss {event.loss:.4f} rad")
                if now - self._last_plot >= PLOT_INTERVAL:
                    self._last_plot = now
                    self._update_loss_plot()
            if event.eta is not None:
                parts.append(f"≤ {_fmt_seconds(event.eta)} left")
            self._set_status(" · ".join(parts))
        elif event.phase == "infer":
            self.status.value = "computing abundance maps…"
        else:
            self.status.value = event.message or "preparing…"

    def _on_returned(self, value: UnmixResult | _Failure) -> None:
        if not self._alive:
            return
        if isinstance(value, _Failure):
            notify_error(f"Unmix: {value.message}")
            self.status.value = f"refused: {value.message}"
            return
        result = value
        self.result = result
        self._add_result_layers(result)
        hist = result.loss_history
        self._history = [(i + 1, float(v)) for i, v in enumerate(hist)]
        self._update_loss_plot()
        total = result.timings.get("total_s", time.perf_counter() - self._run_started)
        steps = result.parameters.get("steps_run", len(hist))
        best = float(np.min(hist)) if len(hist) else float("nan")
        msg = f"{steps} steps in {_fmt_seconds(total)} · best loss {best:.4f} rad"
        if result.cancelled:
            msg = "cancelled — best result so far shown · " + msg
        elif result.parameters.get("stopped_by") == "converged":
            msg = "converged · " + msg
        self.progress.value = self.progress.max
        self._set_status(msg)
        self._session.result = result
        self._session.result_changed.emit(result)

    def _on_errored(self, exc: BaseException) -> None:
        # napari's worker already shows the error (with its traceback) as a notification.
        if self._alive:
            self.status.value = f"failed: {type(exc).__name__}: {exc}"

    def _on_finished(self) -> None:
        self._worker = None
        self._stop = None
        if self._alive:
            self.run.enabled = True
            self.cancel.enabled = False

    def _on_destroyed(self) -> None:
        """The panel (or the whole viewer) is closing: stop training, touch no widget."""
        self._alive = False
        if self._stop is not None:
            self._stop.set()
        if self._worker is not None:
            try:
                self._worker.quit()
            except RuntimeError:
                pass

    # ------------------------------------------------------------------ results
    def _add_result_layers(self, result: UnmixResult) -> None:
        """Replace the previous maps of this image with the new ones, one layer per event-loop turn.

        Adding a layer costs napari a few tens of milliseconds (more with software
        OpenGL); doing it one at a time keeps the viewer responsive.
        """
        viewer, source = self._viewer, self._source
        source_id = getattr(source, "unique_id", None)
        old = [lay for lay in list(viewer.layers)
               if is_abundance_layer(lay) and lay.metadata[RESULT_KEY].get("source_id") == source_id]
        scale = tuple(source.scale[-2:]) if source is not None else (1.0, 1.0)
        translate = tuple(source.translate[-2:]) if source is not None else (0.0, 0.0)
        units = tuple(str(u) for u in source.units[-2:]) if source is not None else None
        name = source.name if source is not None else ""
        tuples = abundance_layer_tuples(result, source_id=source_id, source_name=name,
                                        scale=scale, translate=translate, units=units)
        self._layer_queue = [("remove", lay) for lay in old] + [("add", t) for t in tuples]
        self._layer_timer.start()

    def _next_layer_step(self) -> None:
        if not self._alive or not self._layer_queue:
            return
        action, item = self._layer_queue.pop(0)
        if action == "remove":
            if item in self._viewer.layers:
                self._viewer.layers.remove(item)
        else:
            data, kwargs, _kind = item
            self._viewer.add_image(data, **kwargs)
        if self._layer_queue:
            self._layer_timer.start()

    @property
    def busy(self) -> bool:
        """True while training runs or result layers are still being added."""
        return self.running or bool(self._layer_queue)

    def result_layers(self) -> list[Any]:
        """The abundance layers of the latest run, in endmember order."""
        if self.result is None:
            return []
        layers = [lay for lay in self._viewer.layers
                  if is_abundance_layer(lay) and lay.metadata[RESULT_KEY]["result"] is self.result]
        return sorted(layers, key=lambda lay: lay.metadata[RESULT_KEY]["index"])

    def _on_export(self, *_: Any) -> None:
        result = self.result
        if result is None:
            notify_error("Export: run an unmixing first.")
            return
        out = self.output_dir.value
        if out is None or str(out).strip() in ("", "."):
            notify_error("Export: choose an export folder first.")
            return
        # Names follow the layers (rename a map in the layer list to name the material).
        layers = self.result_layers()
        if len(layers) == result.k:
            names = [endmember_name_from_layer(lay.name) for lay in layers]
            if len(set(names)) == len(names):
                result = dataclasses.replace(result, names=names)
        try:
            paths = write_outputs(result, out)
        except (OSError, ValueError) as exc:
            notify_error(f"Export failed: {exc}")
            return
        notify_info(f"Exported {', '.join(p.name for p in paths.values())} to {out}")
        self.status.value = f"exported to {out}"

    # ------------------------------------------------------------------ loss plot
    def _setup_loss_plot(self) -> None:
        fig = self.loss_canvas.figure
        ax = fig.add_subplot(111)
        ax.set_xlabel("step")
        ax.set_ylabel("loss (rad)")
        c = self.loss_canvas.colors
        (self._loss_line,) = ax.plot([], [], color=c["accent"], lw=1.2, alpha=0.9,
                                     label="loss")
        (self._best_line,) = ax.plot([], [], color=c["text"], lw=1.0, ls="--",
                                     label="best so far")
        self._loss_legend = ax.legend(loc="upper right", fontsize=7)
        self._loss_ax = ax
        self.loss_canvas.restyle()

    def _clear_loss_plot(self) -> None:
        self._loss_line.set_data([], [])
        self._best_line.set_data([], [])
        self.loss_canvas.draw_idle()

    def _update_loss_plot(self) -> None:
        if not self._history:
            return
        x, y = np.asarray(self._history).T
        c = self.loss_canvas.colors
        self._loss_line.set_data(x, y)
        self._loss_line.set_color(c["accent"])
        self._best_line.set_data(x, np.minimum.accumulate(y))
        self._best_line.set_color(c["text"])
        self._loss_ax.relim()
        self._loss_ax.autoscale_view()
        self.loss_canvas.draw_idle()

    def loss_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """The plotted loss curve ``(steps, loss)``."""
        x, y = self._loss_line.get_data()
        return np.asarray(x), np.asarray(y)

