"""The "Unmix" panel (the view): controls, plots, and the wiring to its controller.

Drive it by control name (scripts and tests do)::

    w = UnmixWidget(viewer)
    w.layer.value = viewer.layers["synthetic cross-section"]
    w.method.value = "cnn"   # or nmf, vca-fcls, any registered method
    w.k.value = 4
    w.epochs.value = 200
    w.run.clicked()          # starts training in a worker thread
    w.cancel.clicked()       # stops within a fraction of a second, keeps the best result
    w.k_min.value, w.k_max.value = 3, 8
    w.select_k.clicked()     # one unmixing per K (same settings as Run), recommends a K
    w.sweep.recommend()      # .k, .rule, .reasons; w.k is set to .k when the sweep completes
    w.output_dir.value = "results/"
    w.export.clicked()       # abundances.tif, endmembers.csv, band_weights.csv, run.json

What happens on Run, Select K, Cancel and Export lives in the Qt-free
:class:`~ftir_unmix.napari._unmix_controller.UnmixController`; this module only
builds the controls and the plots and shows what the controller reports.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
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

from .. import methods
from ..config import DEVICES, PROTOCOLS, UnmixConfig, parameter_rule
from ..errors import DataError
from ..io import Y_UNITS
from ..known_spectra import KnownSpectra, load_known
from ..preprocess import BASELINES
from ..result import UnmixResult
from ..select_k import KSweep, SweepProgress
from . import _widgets_common as _common
from ._layers import forced_ranges_of
from ._plot import ThemedCanvas, _disconnect, theme_colors
from ._session import get_session
from ._unmix_controller import UnmixController, checked_layer
from ._widgets_common import (
    bind_weight_controls,
    follow_new_cube,
    image_layer_choices,
    make_weight_controls,
    show_wavenumber_overlay,
)

__all__ = ["UnmixWidget"]

_DEFAULTS = UnmixConfig()
#: The config groups whose controls a method without them greys out.
_GROUP_CONTROLS = {"cnn": ("loss", "softmax_scale", "restarts", "spare_when_needed"),
                   "protocol": ("protocol", "epochs", "lr"), "background": ("baseline", "atmosphere"),
                   "known": ("known", "known_weight")}
_BASELINE_LABELS = {"quadratic": "quadratic (ATR)"}


def _start_worker(body: Any, *args: Any, on_yield: Any, on_return: Any, on_error: Any,
                  on_finish: Any) -> Any:
    """Run the generator ``body(*args)`` in a napari thread worker (the controller's ``start_worker``)."""
    from napari.qt.threading import create_worker

    worker = create_worker(body, *args, _start_thread=False, _ignore_errors=True)
    for signal, slot in ((worker.yielded, on_yield), (worker.returned, on_return),
                         (worker.errored, on_error), (worker.finished, on_finish)):
        if slot is not None:
            signal.connect(slot)
    worker.start()
    return worker


def _preload(method: str) -> Generator[None, None, None]:
    """Worker body: import the method's code (torch, for the CNN) before the first Run."""
    try:
        methods.get(method).function()
    except Exception:  # noqa: BLE001 (a missing dependency is reported when the method runs)
        pass
    return
    yield  # a generator, like every worker body here


def _spin(cls: type, name: str, label: str, tooltip: str, **kwargs: Any) -> Any:
    """A spin box for a config field: its default, and bounds within the field's rule."""
    rule = parameter_rule(name)
    low = rule.low
    return cls(name=name, label=label, value=getattr(_DEFAULTS.resolved(), name),
               min=max(low, kwargs.pop("min", low)), max=min(rule.high, kwargs.pop("max", rule.high)),
               tooltip=tooltip, **kwargs)


class UnmixWidget(Container):
    """Dock widget that unmixes an FTIR image layer into abundance maps and spectra.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer (napari passes it when the panel is opened from the menu).

    Notes
    -----
    Controls, by name: ``layer``, ``units``, ``reopen``, ``method``, ``k``,
    ``loss``, ``protocol``, ``baseline``, ``atmosphere``, ``epochs``, ``lr``,
    ``softmax_scale``, ``restarts``, ``spare_when_needed``, ``known``, ``known_weight``, ``seed``,
    ``device``, ``gamma_rough``, ``gamma_flat``,
    ``tau``, ``sharpness``, ``w_min``, ``k_min``, ``k_max``, buttons ``run``,
    ``select_k``, ``cancel``, ``export`` and the folder ``output_dir``. The
    band-weight parameters are shared with the Band weights panel; wavenumber
    ranges forced there (stored on the image layer) are used by the next run.
    The method choice lists :func:`ftir_unmix.methods.available`; controls a
    method does not use are greyed out.

    ``select_k`` unmixes once per K from ``k_min`` to ``k_max`` with the
    other settings of the panel (:func:`ftir_unmix.select_k.iter_sweep_k`),
    plots the sweep, keeps it as :attr:`sweep` and sets ``k`` to the
    recommended K. Run and Select K never run at the same time; ``cancel``
    stops either.
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(name="ftir_unmix_panel", labels=False)
        self._viewer = napari_viewer
        self._session = get_session(napari_viewer)
        self.controller = UnmixController(napari_viewer, _start_worker)
        # Importing torch creates so many objects that Python's garbage collector runs
        # full collections (0.2–0.3 s each, with the GIL) during the import: done at the
        # first Run, they stalled the viewer; done now, they pass while napari starts.
        _start_worker(_preload, _DEFAULTS.method, on_yield=None, on_return=None, on_error=None,
                      on_finish=None)
        self._layer_timer = QTimer()
        self._layer_timer.setSingleShot(True)
        self._layer_timer.setInterval(0)
        self._layer_timer.timeout.connect(self._next_layer_step)
        self._build_controls()
        self._build_plots()
        self._connect()
        choices = [c for c in self.layer.choices if c is not None]
        if self.layer.value is None and choices:
            self.layer.value = choices[0]
        self._on_method()
        self._update_forced_info()
        self._update_units_info()
        show_wavenumber_overlay(napari_viewer)

    # ------------------------------------------------------------------ building
    def _build_controls(self) -> None:
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
        self.method = ComboBox(
            name="method", label="method", value=_DEFAULTS.method, choices=self._method_choices,
            tooltip="cnn: the FTIR-unmixer autoencoder (default). nmf, vca-fcls: classical "
                    "methods, seconds per run, for comparison or a first look.",
        )
        self.k = _spin(SpinBox, "k", "materials (K)", max=64,
                       tooltip="How many materials (endmembers) to look for: pigments, binders, "
                               "varnish, degradation products, embedding resin… Try a few values.")
        self.loss = ComboBox(
            name="loss", label="loss", value=_DEFAULTS.loss,
            choices=[(loss.summary, name) for name, loss in methods.LOSSES.items()],
            tooltip="WSAD down-weights unreliable bands (CO₂, water vapour, spikes) as shown "
                    "in the Band weights panel; SAD treats every band alike.",
        )
        self.protocol = ComboBox(
            name="protocol", label="protocol", value=_DEFAULTS.protocol,
            choices=[({"fast": "fast (whole image, stops when settled)",
                       "paper": "paper (random 5×5 patches)"}.get(p, p), p) for p in PROTOCOLS],
            tooltip="fast: trains on the whole image and stops when the loss settles (seconds "
                    "to minutes). paper: the published protocol (20 000 patches per epoch; slow "
                    "on a CPU).",
        )
        self.baseline = ComboBox(
            name="baseline", label="baseline", value=_DEFAULTS.baseline,
            choices=[(_BASELINE_LABELS.get(b, b), b) for b in sorted(BASELINES, key=lambda b: -(
                BASELINES[b] if BASELINES[b] is not None else -1))],
            tooltip="A smooth baseline per pixel (contact, scattering, drift) fitted along with "
                    "the materials, so it does not end up in their spectra. Keep quadratic for "
                    "ATR-FTIR; choose none for data already baseline-corrected.",
        )
        self.atmosphere = CheckBox(
            name="atmosphere", label="fit vapour, CO₂", value=_DEFAULTS.atmosphere,
            tooltip="with a baseline: water vapour and CO₂ that drift across the image are estimated "
                    "from it and fitted in every pixel with the baseline, so no endmember is spent "
                    "on them. Only what the image shows clearly is used; the run's notes say what.")
        self.epochs = _spin(SpinBox, "epochs", "max. steps / epochs",
                            tooltip="fast protocol: the most steps in all, refinement included; "
                                    "paper protocol: epochs (500 in the paper).")
        self.lr = _spin(FloatSpinBox, "lr", "learning rate", min=1e-4, step=0.0005,
                        tooltip="Step size of the optimiser (paper: 0.005; the authors' code: 0.001). "
                                "Lower is slower but steadier.")
        self.softmax_scale = _spin(FloatSpinBox, "softmax_scale", "map sharpness", min=0.1, max=50.0,
                                   step=0.1,
                                   tooltip="Higher values push each pixel towards a single material "
                                           "(crisper maps); lower values allow more mixing. Paper: 3.5.")
        self.restarts = _spin(SpinBox, "restarts", "restarts",
                              tooltip="fast protocol: starting points trained to the end; the one whose "
                                      "spectra explain the image best is kept, and how far they disagree "
                                      "is shown per endmember. Each costs about one training: 1 is the "
                                      "quickest, 3 the most reliable on images without pure pixels.")
        self.spare_when_needed = CheckBox(
            name="spare_when_needed", label="spare if needed", value=_DEFAULTS.spare_when_needed,
            tooltip="fast protocol, with a baseline: when an endmember comes out as a difference of "
                    "spectra (below its own baseline) or as water vapour lines, a material lost for it, "
                    "train again with one spare endmember and drop the one the image needs least. "
                    "That run takes about twice as long.")
        self.known = FileEdit(
            name="known", label="known spectra", mode="rm", nullable=True,
            tooltip="Optional: reference spectra (CSV, JCAMP-DX…) of materials you know are in "
                    "the sample, at most K. The first endmembers are held near them and named "
                    "after them: this helps most where a material never occurs pure.",
        )
        self.known_weight = _spin(FloatSpinBox, "known_weight", "hold known", max=100.0, step=0.5,
                                  tooltip="How strongly each known spectrum holds its endmember (in units "
                                          "of the image's unavoidable misfit); 0: only a starting point.")
        self.seed = _spin(SpinBox, "seed", "seed", max=2**31 - 1,
                          tooltip="Same seed, same data, same device → same result.")
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
        self.k_min = SpinBox(name="k_min", label="Select K from", value=4, min=2, max=64,
                             tooltip="Smallest K of the sweep run by Select K….")
        self.k_max = SpinBox(name="k_max", label="to", value=12, min=2, max=64,
                             tooltip="Largest K of the sweep run by Select K….")
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
                self.method, self.k, self.loss, self.protocol, self.baseline, self.atmosphere, self.epochs, self.lr,
                self.softmax_scale, self.restarts, self.spare_when_needed, self.known, self.known_weight,
                self.seed, self.device]),
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

    def _build_plots(self) -> None:
        layout = self.native.layout()
        self.loss_canvas = ThemedCanvas(self._viewer, height=120, name="Unmix: loss")
        self._setup_loss_plot()
        layout.addWidget(self.loss_canvas)
        # The K sweep's plot and verdict: hidden until the first Select K….
        self.sweep_canvas = ThemedCanvas(self._viewer, height=170, name="Unmix: Select K")
        self._setup_sweep_plot()
        self.sweep_canvas.setVisible(False)
        self.sweep_canvas.setToolTip(
            "Select K: top, the mean weighted spectral angle between each pixel and its "
            "reconstruction (lower fits better); bottom, the number of distinct, used maps "
            "(solid) against K itself (dotted). Dashed line and star: the recommended K.")
        layout.addWidget(self.sweep_canvas)
        self.sweep_info = Label(name="sweep_info", value="")
        self.sweep_info.native.setWordWrap(True)
        # Full width, and never shorter than the wrapped text.
        self.sweep_info.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.sweep_info.visible = False
        layout.addWidget(self.sweep_info.native)
        # Export controls go below the plot.
        self._tail = Container(name="export_box", widgets=[self.output_dir, self.export], labels=True)
        layout.addWidget(self._tail.native)
        self.output_dir.line_edit.native.setPlaceholderText("folder for the result files")
        # Text that changes during a run must not re-layout the window (a relayout can
        # resize napari's canvas, which is expensive with software OpenGL).
        for label in (self.status, self.forced_info, self.units_info):
            label.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            label.native.setWordWrap(False)
        self.progress.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def _connect(self) -> None:
        c, viewer = self.controller, self._viewer
        self.run.clicked.connect(self._on_run)
        self.select_k.clicked.connect(self._on_select_k)
        self.cancel.clicked.connect(self._on_cancel)
        self.export.clicked.connect(self._on_export)
        self.reopen.clicked.connect(lambda *_: c.reopen(self.layer.value, self.units.value))
        self.method.changed.connect(self._on_method)
        self.layer.changed.connect(self._update_forced_info)
        self.layer.changed.connect(self._update_units_info)
        c.status.connect(self._set_status)
        c.progress.connect(self._set_progress)
        c.curve_changed.connect(self._update_loss_plot)
        c.sweep_changed.connect(self._draw_sweep)
        c.verdict.connect(self._show_verdict)
        c.busy_changed.connect(self._on_busy)
        c.k_recommended.connect(lambda k: setattr(self.k, "value", k))
        c.layers_queued.connect(lambda: self._layer_timer.start())
        c.cube_replaced.connect(lambda _layer: self._update_units_info())
        layers_events = viewer.layers.events
        for ev in (layers_events.inserted, layers_events.removed, layers_events.moved):
            ev.connect(self._on_layers_changed)
        self.native.destroyed.connect(lambda *_: self.controller.close())
        self._session.forced_ranges_changed.connect(self._update_forced_info)
        self.native.destroyed.connect(
            lambda *_: self._session.forced_ranges_changed.disconnect(self._update_forced_info))
        viewer.events.theme.connect(self._on_theme)
        self.native.destroyed.connect(lambda *_: _disconnect(viewer.events.theme, self._on_theme))

    # ------------------------------------------------------------------ what tests and scripts read
    @property
    def result(self) -> UnmixResult | None:
        """The latest run's result."""
        return self.controller.result

    @property
    def sweep(self) -> KSweep | None:
        """The latest completed (or cancelled) K sweep of "Select K…"."""
        return self.controller.sweep

    @property
    def last_progress(self) -> Any:
        """The latest progress event of a run."""
        return self.controller.last_progress

    @property
    def last_sweep_progress(self) -> SweepProgress | None:
        """The latest progress event of a sweep."""
        return self.controller.last_sweep_progress

    @property
    def running(self) -> bool:
        """True while a training run or a K sweep is in progress."""
        return self.controller.running

    @property
    def busy(self) -> bool:
        """True while training runs or result layers are still being added."""
        return self.controller.busy

    def result_layers(self) -> list[Any]:
        """The abundance layers of the latest run, in endmember order."""
        return self.controller.result_layers()

    # ------------------------------------------------------------------ layers and choices
    def _layer_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return image_layer_choices(self._viewer)

    def _method_choices(self, _widget: Any = None) -> list[tuple[str, str]]:
        return [(name, name) for name in methods.available()]

    def _on_layers_changed(self, event: Any = None) -> None:
        if not self.controller.alive:
            return
        if follow_new_cube(self.layer, event):
            self._update_forced_info()

    def _on_method(self, *_: Any) -> None:
        """Grey out the controls of the configuration groups the chosen method does not read."""
        try:
            method = methods.get(self.method.value)
        except KeyError:
            return
        self.method.tooltip = method.summary
        for group, names in _GROUP_CONTROLS.items():
            for name in names:
                getattr(self, name).enabled = group in method.uses

    def _update_forced_info(self, *_: Any) -> None:
        if not self.controller.alive:
            return
        layer = self.layer.value
        ranges = forced_ranges_of(layer.metadata) if layer is not None else ()
        txt = ", ".join(f"{lo:.0f}–{hi:.0f}" for lo, hi in ranges)
        self.forced_info.value = f"forced to w_min: {txt} cm⁻¹" if ranges else ""

    def _update_units_info(self, *_: Any) -> None:
        if not self.controller.alive:
            return
        layer = self.layer.value
        source = dict(layer.metadata.get("source_metadata") or {}) if layer is not None else {}
        if not source:
            self.units_info.value = ""
            return
        units, origin = source.get("units", "unknown (taken as absorbance)"), source.get("units_source", "")
        converted = [r for r in source.get("repairs", []) if "absorbance" in r and "convert" in r]
        text = f"values: {units}" + (f" ({origin})" if origin else "")
        self.units_info.value = text
        self.units_info.tooltip = "\n".join([text, *converted])

    # ------------------------------------------------------------------ actions
    def config(self) -> UnmixConfig:
        """The :class:`~ftir_unmix.UnmixConfig` the panel's controls describe.

        Raises
        ------
        ValueError, TypeError
            A parameter the engine refuses.
        """
        layer = self.layer.value
        forced = forced_ranges_of(layer.metadata) if layer is not None else ()
        return UnmixConfig(
            method=self.method.value, k=int(self.k.value), loss=self.loss.value,
            protocol=self.protocol.value, baseline=self.baseline.value, atmosphere=bool(self.atmosphere.value),
            epochs=int(self.epochs.value),
            lr=float(self.lr.value), softmax_scale=float(self.softmax_scale.value),
            restarts=int(self.restarts.value), spare_when_needed=bool(self.spare_when_needed.value),
            seed=int(self.seed.value), device=self.device.value,
            known_weight=float(self.known_weight.value), forced_ranges=forced,
            **self._session.weight_params.as_dict(),
        )

    def _checked_input(self, what: str) -> tuple[Any, np.ndarray, UnmixConfig] | None:
        """The layer, its wavenumbers and the config, or None after telling the user why not."""
        if self.controller.refuse_if_busy():
            return None
        checked = checked_layer(self.layer.value, what)
        if isinstance(checked, str):
            return self.controller.refuse(what, checked)
        try:
            config = self.config()
        except (ValueError, TypeError) as exc:
            return self.controller.refuse(what, str(exc))
        return (*checked, config)

    def known_spectra(self) -> KnownSpectra | None:
        """The spectra of the files chosen under "known spectra" (None when none are chosen).

        Raises
        ------
        DataError
            A file that cannot be used (the message names it and the reason).
        """
        paths = [p for p in (self.known.value or ()) if str(p) not in ("", ".")]
        return load_known(paths) if paths else None

    def _on_run(self, *_: Any) -> None:
        checked = self._checked_input("Unmix")
        if checked is None:
            return
        try:
            known = self.known_spectra()
        except DataError as exc:
            self.controller.refuse("Unmix", str(exc))
            return
        self.controller.run(*checked, known=known)

    def _on_select_k(self, *_: Any) -> None:
        k_min, k_max = int(self.k_min.value), int(self.k_max.value)
        if self.controller.refuse_if_busy():
            return
        if k_max < k_min:
            self.controller.refuse("Select K", f"K max ({k_max}) is smaller than K min ({k_min}).")
            return
        checked = self._checked_input("Select K")
        if checked is None:
            return
        self.sweep_canvas.setVisible(True)
        self.controller.select_k(*checked, list(range(k_min, k_max + 1)))

    def _on_cancel(self, *_: Any) -> None:
        if self.controller.running:
            self.cancel.enabled = False
            self.controller.cancel()

    def _on_export(self, *_: Any) -> None:
        self.controller.export(self.output_dir.value, lambda question: _common.ask_yes_no(
            self.native, "Replace the earlier result?", question))

    def _next_layer_step(self) -> None:
        if self.controller.next_layer_step():
            self._layer_timer.start()

    # ------------------------------------------------------------------ showing what the controller says
    def _set_status(self, text: str) -> None:
        if self.controller.alive:
            self.status.value = text
            self.status.tooltip = text

    def _set_progress(self, value: int, maximum: int) -> None:
        if self.controller.alive:
            self.progress.max = maximum
            self.progress.value = min(value, maximum)

    def _on_busy(self, busy: bool) -> None:
        self.run.enabled = not busy
        self.select_k.enabled = not busy
        self.cancel.enabled = busy

    def _show_verdict(self, text: str, tooltip: str) -> None:
        self.sweep_info.value = text
        self.sweep_info.tooltip = tooltip
        self.sweep_info.visible = bool(text)

    # ------------------------------------------------------------------ loss plot
    def _setup_loss_plot(self) -> None:
        fig = self.loss_canvas.figure
        ax = fig.add_subplot(111)
        ax.set_xlabel("step")
        ax.set_ylabel("loss (rad)")
        c = self.loss_canvas.colors
        (self._loss_line,) = ax.plot([], [], color=c["accent"], lw=1.2, alpha=0.9, label="loss")
        (self._best_line,) = ax.plot([], [], color=c["text"], lw=1.0, ls="--", label="best so far")
        self._loss_legend = ax.legend(loc="upper right", fontsize=7)
        self._loss_ax = ax
        self.loss_canvas.restyle()

    def _update_loss_plot(self) -> None:
        if not self.controller.alive:
            return
        history = self.controller.history
        x, y = np.asarray(history, dtype=float).reshape(-1, 2).T
        c = self.loss_canvas.colors
        self._loss_line.set_data(x, y)
        self._loss_line.set_color(c["accent"])
        self._best_line.set_data(x, np.minimum.accumulate(y) if len(y) else y)
        self._best_line.set_color(c["text"])
        self._loss_ax.relim()
        self._loss_ax.autoscale_view()
        self.loss_canvas.draw_idle()

    def loss_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """The plotted loss curve ``(steps, loss)``."""
        x, y = self._loss_line.get_data()
        return np.asarray(x), np.asarray(y)

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
        self._rec_vlines = [ax.axvline(0.0, ls="--", lw=0.9, visible=False) for ax in (ax_fit, ax_count)]
        self._sweep_axes = (ax_fit, ax_count)
        self._draw_sweep()

    def _draw_sweep(self) -> None:
        """Draw the sweep's points (and the recommended K) in the theme's colours."""
        if not self.controller.alive:
            return
        c = self.sweep_canvas.colors
        ax_fit, ax_count = self._sweep_axes
        pts = np.asarray(self.controller.sweep_points, dtype=float).reshape(-1, 3)
        k, recon, distinct = pts.T
        self._recon_line.set_data(k, recon)
        self._distinct_line.set_data(k, distinct)
        self._k_ref_line.set_data(k, k)
        self._recon_line.set_color(c["accent"])
        self._distinct_line.set_color(c["accent"])
        self._k_ref_line.set_color(c["text"])
        rec = self.controller.sweep_recommended
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
        if self.controller.alive:
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
