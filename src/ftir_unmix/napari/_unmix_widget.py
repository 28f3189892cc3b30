"""The "Unmix" panel: parameters, Run/Cancel, progress, live loss curve, export.

Drive it by control name (scripts and tests do)::

    w = UnmixWidget(viewer)
    w.layer.value = viewer.layers["synthetic cross-section"]
    w.k.value = 4
    w.epochs.value = 200
    w.run.clicked()          # starts training in a worker thread
    w.cancel.clicked()       # stops within a fraction of a second, keeps the best result
    w.k_min.value, w.k_max.value = 3, 8
    w.select_k.clicked()     # one unmixing per K (same settings as Run), recommends a K
    w.sweep.recommend()      # .k, .rule, .reasons; w.k is set to .k when the sweep completes
    w.output_dir.value = "results/"
    w.export.clicked()       # abundances.tif, endmembers.csv, band_weights.csv, run.json
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Generator
from pathlib import Path
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
from matplotlib.ticker import MaxNLocator
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QSizePolicy

from ..config import DEVICES, UnmixConfig
from ..errors import CubeError
from ..export import write_outputs
from ..io import Y_UNITS, load_cube
from ..result import UnmixResult
from ..run import Progress, iter_unmix
from ..safe_write import folder_state
from ..select_k import KSweep, SweepProgress, iter_sweep_k
from . import _widgets_common as _common
from ._layers import (
    FORCED_RANGES_KEY,
    RESULT_KEY,
    abundance_layer_tuples,
    cube_from_layer_arrays,
    cube_layer_tuple,
    endmember_name_from_layer,
    forced_ranges_of,
    is_abundance_layer,
)
from ._plot import ThemedCanvas, _disconnect, theme_colors
from ._session import get_session
from ._widgets_common import (
    bind_weight_controls,
    follow_new_cube,
    image_layer_choices,
    make_weight_controls,
    notify_error,
    notify_info,
    notify_warning,
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


def _sweep(data: Any, wavenumbers: np.ndarray, pixel_size: float | None, metadata: dict[str, Any],
           config: UnmixConfig, k_values: list[int], stop: threading.Event,
           ) -> Generator[SweepProgress, None, KSweep | _Failure]:
    """Worker body of "Select K…": one unmixing per K with the panel's other settings."""
    try:
        cube = cube_from_layer_arrays(data, wavenumbers, pixel_size, metadata)
        options = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                   if f.name not in ("k", "method", "seed")}
        sweep = yield from iter_sweep_k(cube, k_values, method=config.method, seed=config.seed,
                                        stop=stop, **options)
    except (ValueError, CubeError) as exc:
        return _Failure(str(exc))
    return sweep


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


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
    ``gamma_flat``, ``tau``, ``sharpness``, ``w_min``, ``k_min``, ``k_max``,
    buttons ``run``, ``select_k``, ``cancel``, ``export`` and the folder
    ``output_dir``. The band-weight parameters are shared with the Band
    weights panel; wavenumber ranges forced there (stored on the image layer)
    are used by the next run.

    ``select_k`` unmixes once per K from ``k_min`` to ``k_max`` with the
    other settings of the panel (:func:`ftir_unmix.select_k.iter_sweep_k`),
    plots the sweep, keeps it as :attr:`sweep` and sets ``k`` to the
    recommended K. Run and Select K never run at the same time; ``cancel``
    stops either.
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
        self._task = ""  # "run" or "sweep" while a worker is active
        self._sweep_points: list[tuple[int, float, int]] = []
        self._sweep_rec: int | None = None
        self.result: UnmixResult | None = None
        self.last_progress: Progress | None = None
        #: The latest completed (or cancelled) K sweep of "Select K…".
        self.sweep: KSweep | None = None
        self.last_sweep_progress: SweepProgress | None = None

        self.layer = ComboBox(
            name="layer", label="FTIR image", choices=self._layer_choices, nullable=True,
            tooltip="The hyperspectral image to unmix (bands × rows × columns), e.g. a file "
                    "opened with File ▸ Open or the sample cross-section.",
        )
        self.units_info = Label(name="units_info", value="")
        self.units = ComboBox(
            name="units", label="values are", value="auto", choices=list(Y_UNITS),
            tooltip="What the image's values are. Unmixing needs absorbance: transmittance and "
                    "reflectance (fraction or percent) are converted on reading. auto: as the "
                    "file says, else recognised by the value range. Choose and press Reopen to "
                    "read the file again if the detection was wrong.",
        )
        self.reopen = PushButton(name="reopen", text="Reopen",
                                 tooltip="Read the image's file again with the units chosen here.")
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
        self.baseline = ComboBox(
            name="baseline", label="baseline", value=_DEFAULTS.baseline,
            choices=[("quadratic (ATR)", "quadratic"), ("linear", "linear"), ("offset", "offset"),
                     ("none", "none")],
            tooltip="A smooth baseline per pixel (contact, scattering, drift) fitted along with "
                    "the materials, so it does not end up in their spectra. Keep quadratic for "
                    "ATR-FTIR; choose none for data already baseline-corrected.",
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
            name="device", label="device", value=_DEFAULTS.device, choices=list(DEVICES),
            tooltip="auto uses an NVIDIA GPU (cuda) or Apple's GPU (mps) when present, else the CPU.",
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
        self.k_min = SpinBox(
            name="k_min", label="Select K from", value=4, min=2, max=64,
            tooltip="Smallest K of the sweep run by Select K….",
        )
        self.k_max = SpinBox(
            name="k_max", label="to", value=12, min=2, max=64,
            tooltip="Largest K of the sweep run by Select K….",
        )
        self.select_k = PushButton(
            name="select_k", text="Select K…",
            tooltip="Unmix once for every K in the range, with the settings above (a few "
                    "hundred steps per K are usually enough), look for duplicated and unused "
                    "maps and for the gain in fit, recommend a K and set it. Takes about "
                    "(number of K) × one run.",
        )
        self.progress = ProgressBar(name="progress", value=0, min=0, max=1)
        self.status = Label(name="status", value="Choose an image and press Run.")
        self.output_dir = FileEdit(
            name="output_dir", label="export folder", mode="d", nullable=True,
            tooltip="Folder for abundances.tif, endmembers.csv, band_weights.csv and run.json.",
        )
        self.export = PushButton(name="export", text="Export results",
                                 tooltip="Write the latest result to the export folder.")

        self.extend([
            Container(name="source", labels=True, widgets=[self.layer]),
            self.units_info,
            Container(name="units_row", widgets=[self.units, self.reopen], layout="horizontal",
                      labels=True),
            Container(name="parameters", labels=True, widgets=[
                self.k, self.loss, self.protocol, self.baseline, self.epochs, self.lr,
                self.softmax_scale, self.seed, self.device]),
            Label(name="weights_title", value="<b>Band weights</b> (shared with the Band "
                                              "weights panel)"),
            Container(name="weight_parameters", labels=True,
                      widgets=list(self._weight_controls.values())),
            self.forced_info,
            Container(name="buttons", widgets=[self.run, self.cancel], layout="horizontal",
                      labels=False),
            Container(name="k_sweep", widgets=[self.k_min, self.k_max, self.select_k],
                      layout="horizontal", labels=True),
            self.progress, self.status,
        ])
        self.loss_canvas = ThemedCanvas(napari_viewer, height=120)
        self._setup_loss_plot()
        self.native.layout().addWidget(self.loss_canvas)
        # The K sweep's plot and verdict: hidden until the first Select K….
        self.sweep_canvas = ThemedCanvas(napari_viewer, height=170)
        self._setup_sweep_plot()
        self.sweep_canvas.setVisible(False)
        self.sweep_canvas.setToolTip(
            "Select K: top, the mean weighted spectral angle between each pixel and its "
            "reconstruction (lower fits better); bottom, the number of distinct, used maps "
            "(solid) against K itself (dotted). Dashed line and star: the recommended K.")
        self.native.layout().addWidget(self.sweep_canvas)
        self.sweep_info = Label(name="sweep_info", value="")
        self.sweep_info.native.setWordWrap(True)
        # Full width, and never shorter than the wrapped text.
        self.sweep_info.native.setSizePolicy(QSizePolicy.Policy.Expanding,
                                             QSizePolicy.Policy.Minimum)
        self.sweep_info.visible = False
        self.native.layout().addWidget(self.sweep_info.native)
        # Export controls go below the plot.
        self._tail = Container(name="export_box", widgets=[self.output_dir, self.export],
                               labels=True)
        self.native.layout().addWidget(self._tail.native)
        self.output_dir.line_edit.native.setPlaceholderText("folder for the result files")
        # Text that changes during a run must not re-layout the window (a relayout can
        # resize napari's canvas, which is expensive with software OpenGL).
        for label in (self.status, self.forced_info, self.units_info):
            label.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            label.native.setWordWrap(False)
        self.progress.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

        self.run.clicked.connect(self._on_run)
        self.select_k.clicked.connect(self._on_select_k)
        self.cancel.clicked.connect(self._on_cancel)
        self.export.clicked.connect(self._on_export)
        self.layer.changed.connect(self._update_forced_info)
        self.layer.changed.connect(self._update_units_info)
        self.reopen.clicked.connect(self._on_reopen)

        layers_events = napari_viewer.layers.events
        for ev in (layers_events.inserted, layers_events.removed, layers_events.moved):
            ev.connect(self._on_layers_changed)
        self.native.destroyed.connect(lambda *_: self._on_destroyed())
        self._session.forced_ranges_changed.connect(self._update_forced_info)
        self.native.destroyed.connect(
            lambda *_: self._session.forced_ranges_changed.disconnect(self._update_forced_info))
        napari_viewer.events.theme.connect(self._on_theme)
        self.native.destroyed.connect(lambda *_: _disconnect(napari_viewer.events.theme,
                                                             self._on_theme))
        choices = [c for c in self.layer.choices if c is not None]
        if self.layer.value is None and choices:
            self.layer.value = choices[0]
        self._update_forced_info()
        self._update_units_info()
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

    # ------------------------------------------------------------------ units
    def _source_of(self, layer: Any) -> dict[str, Any]:
        return dict(layer.metadata.get("source_metadata") or {}) if layer is not None else {}

    def _update_units_info(self, *_: Any) -> None:
        if not self._alive:
            return
        source = self._source_of(self.layer.value)
        if not source:
            self.units_info.value = ""
            return
        units, origin = source.get("units", "unknown (taken as absorbance)"), source.get("units_source", "")
        converted = [r for r in source.get("repairs", []) if "absorbance" in r and "convert" in r]
        text = f"values: {units}" + (f" ({origin})" if origin else "")
        self.units_info.value = text
        self.units_info.tooltip = "\n".join([text, *converted])

    def _on_reopen(self, *_: Any) -> None:
        """Read the chosen layer's file again with the chosen units, in a worker thread."""
        from napari.qt.threading import create_worker

        layer = self.layer.value
        path = self._source_of(layer).get("path")
        if layer is None or not path:
            notify_error("Reopen: the chosen layer was not read from a file.")
            return
        if self._refuse_if_busy():
            return
        fmt, units = self._source_of(layer).get("format"), self.units.value
        worker = create_worker(load_cube, path, format=fmt, units=units, _start_thread=False,
                               _ignore_errors=True)
        worker.returned.connect(lambda cube: self._replace_cube(layer, cube))
        worker.errored.connect(lambda exc: notify_error(f"Reopen: {_one_line(exc)}"))
        self.status.value = f"reading {Path(path).name} again as {units}…"
        worker.start()

    def _replace_cube(self, layer: Any, cube: Any) -> None:
        if not self._alive or layer not in self._viewer.layers:
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
        self._update_units_info()
        self.status.value = f"{layer.name}: {cube.units}"
        notify_info(f"{layer.name} read again: values are {cube.units}.")

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
            baseline=self.baseline.value, epochs=int(self.epochs.value), lr=float(self.lr.value),
            softmax_scale=float(self.softmax_scale.value), seed=int(self.seed.value),
            device=self.device.value, forced_ranges=forced,
            **self._session.weight_params.as_dict(),
        )

    @property
    def running(self) -> bool:
        """True while a training run or a K sweep is in progress."""
        return self._worker is not None

    # ------------------------------------------------------------------ run
    def _refuse_if_busy(self) -> bool:
        """Tell the user (and return True) when a run or a sweep is still going on."""
        if not self.busy:
            return False
        doing = "A K sweep" if self._task == "sweep" else "An unmixing run"
        notify_info(f"{doing} is already in progress; cancel it first.")
        return True

    def _checked_input(self, what: str) -> tuple[Any, np.ndarray, UnmixConfig] | None:
        """The layer, its wavenumbers and the config, or None after telling the user why not."""
        if self._refuse_if_busy():
            return None
        layer = self.layer.value
        if layer is None:
            return self._refuse(what, "choose an FTIR image layer first (File ▸ Open, or "
                                      "File ▸ Open Sample ▸ FTIR unmixing).")
        shape = tuple(layer.data.shape)
        if getattr(layer, "rgb", False) or len(shape) != 3:
            return self._refuse(what, f"layer {layer.name!r} has shape {shape}; an FTIR image "
                                      "needs three axes (bands × rows × columns).")
        wn = layer.metadata.get("wavenumbers")
        if wn is None:
            wn = np.arange(1, shape[0] + 1, dtype=np.float64)
            notify_info(f"{what}: layer {layer.name!r} has no wavenumbers; band numbers are "
                        "used instead.")
        wn = np.asarray(wn, dtype=np.float64).ravel()
        if wn.shape[0] != shape[0]:
            return self._refuse(what, f"layer {layer.name!r} has {shape[0]} bands but "
                                      f"{wn.shape[0]} wavenumbers.")
        try:
            config = self.config()
        except (ValueError, TypeError) as exc:
            return self._refuse(what, str(exc))
        return layer, wn, config

    def _refuse(self, what: str, message: str) -> None:
        """A one-line notification and status for input or parameters refused."""
        message = _one_line(message)
        notify_error(f"{what}: {message}")
        if self._alive:
            self._set_status(f"refused: {message}")

    def _start(self, task: str, body: Any, layer: Any, wn: np.ndarray, *args: Any) -> None:
        """Run ``body`` in a napari thread worker (Run and Select K share it)."""
        from napari.qt.threading import create_worker

        self._stop = threading.Event()
        self._source = layer
        self._task = task
        self._run_started = time.perf_counter()
        self._last_ui = self._last_plot = 0.0
        meta = dict(layer.metadata.get("source_metadata") or {})
        worker = create_worker(
            body, layer.data, wn, layer.metadata.get("pixel_size"), meta, *args, self._stop,
            _start_thread=False, _ignore_errors=True,
        )
        if task == "sweep":
            worker.yielded.connect(self._on_sweep_progress)
            worker.returned.connect(self._on_sweep_returned)
        else:
            worker.yielded.connect(self._on_progress)
            worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.run.enabled = False
        self.select_k.enabled = False
        self.cancel.enabled = True
        self.progress.value = 0
        self.status.value = "preparing…"
        worker.start()

    def _on_run(self, *_: Any) -> None:
        checked = self._checked_input("Unmix")
        if checked is None:
            return
        layer, wn, config = checked
        self._history = []
        self.last_progress = None
        self.progress.max = max(1, config.epochs)
        self._clear_loss_plot()
        self._start("run", _train, layer, wn, config)

    def _set_status(self, text: str) -> None:
        self.status.value = text
        self.status.tooltip = text

    def _on_cancel(self, *_: Any) -> None:
        if self._stop is not None:
            self._stop.set()
            if self._alive:
                self.cancel.enabled = False
                self.status.value = ("stopping… (the K values done so far are kept)"
                                     if self._task == "sweep" else
                                     "stopping… (the best result so far is kept)")

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
        for warning in result.parameters.get("warnings", []):
            notify_warning(f"Unmix: {warning}")
        if result.parameters.get("warnings"):
            msg += " · ⚠ " + "; ".join(result.parameters["warnings"])
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
        self._task = ""
        if self._alive:
            self.run.enabled = True
            self.select_k.enabled = True
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
        overwrite = folder_state(out) == "result"
        if overwrite and not _common.ask_yes_no(
                self.native, "Replace the earlier result?",
                f"{out} holds an earlier result. Replace it with this one?"):
            self.status.value = "export cancelled: the earlier result was kept"
            return
        try:
            paths = write_outputs(result, out, overwrite=overwrite)
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

    # ------------------------------------------------------------------ select K
    def _on_select_k(self, *_: Any) -> None:
        k_min, k_max = int(self.k_min.value), int(self.k_max.value)
        if self._refuse_if_busy():
            return
        if k_max < k_min:
            self._refuse("Select K", f"K max ({k_max}) is smaller than K min ({k_min}).")
            return
        checked = self._checked_input("Select K")
        if checked is None:
            return
        layer, wn, config = checked
        k_values = list(range(k_min, k_max + 1))
        self.sweep = None
        self.last_sweep_progress = None
        self._sweep_points = []
        self._sweep_rec = None
        self.progress.max = 1000
        self.sweep_info.value = ""
        self.sweep_info.visible = False
        self.sweep_canvas.setVisible(True)
        self._draw_sweep()
        self._start("sweep", _sweep, layer, wn, config, k_values)

    def _on_sweep_progress(self, event: SweepProgress) -> None:
        if not self._alive:
            return
        self.last_sweep_progress = event
        head = f"Select K: K = {event.k} ({event.index + 1} of {event.total})"
        if event.done is not None:
            d = event.done
            self._sweep_points.append((d.k, float(d.recon_deg), int(d.n_distinct)))
            self._draw_sweep()
            self.progress.value = round(1000 * event.fraction)
            self._set_status(f"{head} done: weighted angle {d.recon_deg:.2f}°, "
                             f"{d.n_distinct} distinct used maps")
            return
        now = time.perf_counter()
        if now - self._last_ui < UI_INTERVAL:
            return
        self._last_ui = now
        self.progress.value = round(1000 * event.fraction)
        parts = [head]
        ev = event.event
        if ev is not None and ev.phase == "train":
            parts.append(f"step {ev.step}/{ev.total}")
        elif ev is not None and ev.phase == "infer":
            parts.append("computing maps")
        parts.append(f"{_fmt_seconds(event.elapsed)} so far")
        self.status.value = " · ".join(parts)

    def _on_sweep_returned(self, value: KSweep | _Failure) -> None:
        if not self._alive:
            return
        if isinstance(value, _Failure):
            self._refuse("Select K", value.message)
            return
        sweep = value
        self.sweep = sweep
        elapsed = _fmt_seconds(time.perf_counter() - self._run_started)
        if not sweep.diagnostics:
            self._sweep_points, self._sweep_rec = [], None
            self._draw_sweep()
            self._set_status("Select K cancelled before the first K finished; K unchanged.")
            return
        data = sweep.plot_data()
        self._sweep_points = [(int(k), float(r), int(n)) for k, r, n in
                              zip(data["k"], data["recon_deg"], data["n_distinct"], strict=True)]
        done = ", ".join(str(k) for k in sweep.k_values)
        if sweep.cancelled:
            self._sweep_rec = None
            self._draw_sweep()
            self._set_status(f"Select K cancelled after K = {done} ({elapsed}); no K "
                             "recommended, K unchanged.")
            self.sweep_info.value = "Cancelled: a sweep recommends a K only when it is complete."
            self.sweep_info.tooltip = sweep.format_table()
            self.sweep_info.visible = True
            return
        rec = sweep.recommend()
        k, why = rec.k, rec.why
        self.progress.value = self.progress.max
        self._sweep_rec = int(k)
        self._draw_sweep()
        self._set_status(f"Recommended K = {k}: {why}")
        self.sweep_info.value = (f"<b>Recommended K = {k}</b> (K set to {k}; sweep of "
                                 f"K = {done} in {elapsed}): {why}")
        self.sweep_info.tooltip = sweep.format_table()
        self.sweep_info.visible = True
        self.k.value = int(k)

    # ------------------------------------------------------------------ sweep plot
    def _setup_sweep_plot(self) -> None:
        fig = self.sweep_canvas.figure
        ax_fit, ax_count = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
        ax_fit.set_ylabel("fit angle (°)")
        ax_count.set_ylabel("distinct\nmaps")
        ax_count.set_xlabel("K")
        for ax in (ax_fit, ax_count):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_count.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        (self._recon_line,) = ax_fit.plot([], [], marker="o", ms=3, lw=1.2)
        (self._rec_marker,) = ax_fit.plot([], [], marker="*", ms=12, ls="none", zorder=3)
        (self._distinct_line,) = ax_count.plot([], [], marker="o", ms=3, lw=1.2)
        (self._k_ref_line,) = ax_count.plot([], [], ls=":", lw=1.0)
        self._rec_vlines = [ax.axvline(0.0, ls="--", lw=0.9, visible=False)
                            for ax in (ax_fit, ax_count)]
        self._sweep_axes = (ax_fit, ax_count)
        self._draw_sweep()

    def _draw_sweep(self) -> None:
        """Draw the sweep's points (and the recommended K) in the theme's colours."""
        c = self.sweep_canvas.colors
        ax_fit, ax_count = self._sweep_axes
        pts = np.asarray(self._sweep_points, dtype=float).reshape(-1, 3)
        k, recon, distinct = pts.T
        self._recon_line.set_data(k, recon)
        self._distinct_line.set_data(k, distinct)
        self._k_ref_line.set_data(k, k)
        self._recon_line.set_color(c["accent"])
        self._distinct_line.set_color(c["accent"])
        self._k_ref_line.set_color(c["text"])
        rec = self._sweep_rec
        for line in self._rec_vlines:
            line.set_visible(rec is not None)
            line.set_color(c["text"])
            if rec is not None:
                line.set_xdata([rec, rec])
        if rec is not None and rec in k:
            self._rec_marker.set_data([rec], recon[k == rec])
        else:
            self._rec_marker.set_data([], [])
        self._rec_marker.set_markerfacecolor(c["accent"])
        self._rec_marker.set_markeredgecolor(c["text"])
        ax_fit.set_title(f"Select K: recommended K = {rec}" if rec is not None else "Select K")
        for ax in (ax_fit, ax_count):
            ax.relim()
            ax.autoscale_view()
        if len(k):
            lo, hi = k.min(), k.max()
            if rec is not None:
                lo, hi = min(lo, rec), max(hi, rec)
            ax_count.set_xlim(lo - 0.5, hi + 0.5)
        self.sweep_canvas.restyle()
        self.sweep_canvas.draw_idle()

    def _on_theme(self, _event: Any = None) -> None:
        if self._alive:
            self.sweep_canvas.colors = theme_colors(self._viewer)
            self._draw_sweep()

    def sweep_plot(self) -> dict[str, Any]:
        """What the sweep plot shows: ``k``, ``recon_deg``, ``n_distinct`` and ``recommended``
        (the K marked on the plot, or None)."""
        k, recon = self._recon_line.get_data()
        _, distinct = self._distinct_line.get_data()
        marked = self._rec_vlines[0].get_visible()
        return {"k": np.asarray(k, dtype=int), "recon_deg": np.asarray(recon, dtype=float),
                "n_distinct": np.asarray(distinct, dtype=int),
                "recommended": int(self._rec_vlines[0].get_xdata()[0]) if marked else None}

