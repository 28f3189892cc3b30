"""The "Band weights" panel: which bands the method trusts, and hand edits.

Shows the median spectrum and the band-reliability weights against
wavenumber (x axis from high to low cm⁻¹, as FTIR users read spectra).
The diagnostics are computed once per image (in a worker thread, on a pixel
subsample for big images); changing γ_rough, γ_flat, τ, the correlation floor, sharpness or
w_min only recombines the cached deficits, so the plot follows at once.

Drag on the plot to force a wavenumber range to w_min (or, with
``drag_mode`` = "back to automatic", to undo that); the CO₂ and water-vapour
presets force the usual atmospheric regions. The forced ranges are stored on
the image layer (``metadata["ftir_unmix_forced_ranges"]``) and the next run
of the Unmix panel uses them (they end up in the run record as
``forced_ranges``).

Drive it by control name::

    w = BandWeightsWidget(viewer)
    w.tau.value = 2.5        # shared with the Unmix panel
    w.co2.clicked()          # force 2280–2400 cm⁻¹ to w_min
    w.water.clicked()        # force 1300–2000 and 3500–3900 cm⁻¹
    w.reset.clicked()        # back to the automatic weights
    w.force_range(1500, 1520)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, Container, Label, PushButton
from matplotlib.widgets import SpanSelector
from qtpy.QtWidgets import QSizePolicy

from ..preprocess import BandDiagnostics, band_diagnostics, force_ranges
from ._layers import FORCED_RANGES_KEY, forced_ranges_of
from ._plot import ThemedCanvas, style_legend
from ._session import get_session
from ._widgets_common import (
    bind_weight_controls,
    cube_layer_choices,
    follow_new_cube,
    make_weight_controls,
    show_wavenumber_overlay,
)

__all__ = ["BandWeightsWidget", "CO2_RANGE", "WATER_RANGES"]

#: Atmospheric CO₂ (antisymmetric stretch doublet), cm⁻¹.
CO2_RANGE: tuple[float, float] = (2280.0, 2400.0)
#: Water-vapour rotation–vibration lines (bending and stretching regions), cm⁻¹.
WATER_RANGES: tuple[tuple[float, float], ...] = ((1300.0, 2000.0), (3500.0, 3900.0))
#: Images with more pixels than this get their diagnostics from a random subsample.
MAX_DIAGNOSTIC_PIXELS = 20_000


def _diagnostics(data: Any, max_pixels: int, seed: int = 0) -> BandDiagnostics:
    """Diagnostics of a ``(B, H, W)`` layer array, on a pixel subsample if it is big."""
    arr = np.asarray(data)
    n_bands = arr.shape[0]
    pixels = np.moveaxis(arr, 0, -1).reshape(-1, n_bands)
    if pixels.shape[0] > max_pixels:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(pixels.shape[0], max_pixels, replace=False))
        pixels = pixels[idx]
    return band_diagnostics(np.asarray(pixels, dtype=np.float64))


def _add_range(ranges: list[tuple[float, float]], lo: float, hi: float) -> list[tuple[float, float]]:
    """Union of sorted intervals with [lo, hi]."""
    out: list[tuple[float, float]] = []
    for a, b in sorted([*ranges, (lo, hi)]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _remove_range(ranges: list[tuple[float, float]], lo: float, hi: float) -> list[tuple[float, float]]:
    """Intervals minus [lo, hi]."""
    out = []
    for a, b in ranges:
        if b < lo or a > hi:
            out.append((a, b))
            continue
        if a < lo:
            out.append((a, lo))
        if b > hi:
            out.append((hi, b))
    return out


class BandWeightsWidget(Container):
    """Dock widget showing and editing the band-reliability weights of an FTIR image.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer

    Notes
    -----
    Controls, by name: ``layer``, ``gamma_rough``, ``gamma_flat``, ``tau``,
    ``corr_floor``, ``corr_model``, ``sharpness``, ``w_min`` (shared with the Unmix panel), ``drag_mode``,
    buttons ``co2``, ``water``, ``reset``.
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=False)
        self._viewer = napari_viewer
        self._session = get_session(napari_viewer)
        self._alive = True
        self._cache: dict[Any, BandDiagnostics] = {}
        self._pending: Any = None
        self.diagnostics: BandDiagnostics | None = None
        self.weights: np.ndarray | None = None

        self.layer = ComboBox(
            name="layer", label="FTIR image", choices=self._layer_choices, nullable=True,
            tooltip="The image whose band weights to show and edit.",
        )
        self._controls = make_weight_controls(self._session.weight_params)
        bind_weight_controls(self._controls, self._session.weight_params)
        for name, control in self._controls.items():
            setattr(self, name, control)
        self.drag_mode = ComboBox(
            name="drag_mode", label="drag on plot to",
            choices=[("force to w_min", "force"), ("back to automatic", "auto")], value="force",
            tooltip="Drag across the plot to mark a wavenumber range: either force its weights "
                    "to the floor w_min (e.g. an artefact the automatic weights missed), or undo "
                    "a forced range.",
        )
        self.co2 = PushButton(name="co2", text="CO₂ 2280–2400",
                              tooltip="Force the atmospheric CO₂ region (2280–2400 cm⁻¹) to w_min.")
        self.water = PushButton(name="water", text="H₂O vapour",
                                tooltip="Force the water-vapour regions (1300–2000 and "
                                        "3500–3900 cm⁻¹) to w_min. Note: this also mutes the "
                                        "amide and carbonyl bands of the sample in that range.")
        self.reset = PushButton(name="reset", text="Reset",
                                tooltip="Remove every forced range: back to the automatic weights.")
        self.info = Label(name="info", value="")
        c = self._controls
        self.extend([
            Container(name="source", labels=True, widgets=[self.layer]),
            Container(name="parameters", layout="horizontal", labels=False, widgets=[
                Container(name="scores", labels=True,
                          widgets=[c["gamma_rough"], c["gamma_flat"], c["tau"], c["corr_floor"],
                                   c["corr_model"]]),
                Container(name="mapping", labels=True,
                          widgets=[c["sharpness"], c["w_min"], self.drag_mode]),
            ]),
            Container(name="presets", widgets=[self.co2, self.water, self.reset],
                      layout="horizontal", labels=False),
        ])
        self.canvas = ThemedCanvas(napari_viewer, toolbar=True, height=160, name="Band weights")
        self._setup_plot()
        self.native.layout().addWidget(self.canvas)
        self.append(self.info)
        self.info.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

        self.layer.changed.connect(self._on_layer)
        self.co2.clicked.connect(lambda *_: self.force_range(*CO2_RANGE))
        self.water.clicked.connect(lambda *_: self._force_many(WATER_RANGES))
        self.reset.clicked.connect(self._on_reset)
        params = self._session.weight_params
        params.events.connect(self._on_params)
        ev = napari_viewer.layers.events
        for e in (ev.inserted, ev.removed):
            e.connect(self._on_layers_changed)
        self.native.destroyed.connect(lambda *_: self._on_destroyed())
        choices = [c for c in self.layer.choices if c is not None]
        if self.layer.value is None and choices:
            self.layer.value = choices[0]
        else:
            self._on_layer()
        show_wavenumber_overlay(napari_viewer)

    # ------------------------------------------------------------------ plumbing
    def _layer_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return cube_layer_choices(self._viewer)

    def _on_destroyed(self) -> None:
        self._alive = False
        try:
            self._session.weight_params.events.disconnect(self._on_params)
        except Exception:
            pass

    def _on_layers_changed(self, event: Any = None) -> None:
        if not self._alive:
            return
        if not follow_new_cube(self.layer, event):
            return
        for key in [k for k in self._cache if all(k != id(lay) for lay in self._viewer.layers)]:
            del self._cache[key]

    def _on_layer(self, *_: Any) -> None:
        if not self._alive:
            return
        layer = self.layer.value
        self.diagnostics = None
        self.weights = None
        if layer is None:
            self.info.value = "Open an FTIR image to see its band weights."
            self._clear_plot()
            return
        cached = self._cache.get(id(layer))
        if cached is not None:
            self._set_diagnostics(layer, cached)
            return
        self.info.value = "computing band diagnostics…"
        from napari.qt.threading import create_worker

        worker = create_worker(_diagnostics, layer.data, MAX_DIAGNOSTIC_PIXELS,
                               _start_thread=False, _ignore_errors=True)
        self._pending = layer
        worker.returned.connect(lambda diag, lay=layer: self._on_diag_ready(lay, diag))
        worker.errored.connect(lambda exc: self._alive and setattr(
            self.info, "value", f"band diagnostics failed: {exc}"))
        worker.start()

    def _on_diag_ready(self, layer: Any, diag: BandDiagnostics) -> None:
        if not self._alive:
            return
        self._cache[id(layer)] = diag
        if self.layer.value is layer:
            self._set_diagnostics(layer, diag)

    def _set_diagnostics(self, layer: Any, diag: BandDiagnostics) -> None:
        self.diagnostics = diag
        wn = np.asarray(layer.metadata["wavenumbers"], dtype=np.float64)
        self._wn = wn
        self._median_line.set_data(wn, diag.median_spectrum)
        self._spec_ax.set_xlim(wn.max(), wn.min())
        lo, hi = np.percentile(diag.median_spectrum, [0.0, 100.0])
        pad = 0.05 * (hi - lo if hi > lo else 1.0)
        self._spec_ax.set_ylim(lo - pad, hi + pad)
        self.redraw()

    # ------------------------------------------------------------------ editing
    def forced_ranges(self) -> list[tuple[float, float]]:
        """The forced ranges of the current layer (cm⁻¹)."""
        layer = self.layer.value
        return list(forced_ranges_of(layer.metadata)) if layer is not None else []

    def _store(self, ranges: list[tuple[float, float]]) -> None:
        layer = self.layer.value
        if layer is None:
            return
        layer.metadata[FORCED_RANGES_KEY] = [[float(a), float(b)] for a, b in ranges]
        self._session.forced_ranges_changed.emit(layer)
        self.redraw()

    def force_range(self, lo: float, hi: float) -> None:
        """Force the weights of the bands in [lo, hi] cm⁻¹ to w_min."""
        lo, hi = sorted((float(lo), float(hi)))
        self._store(_add_range(self.forced_ranges(), lo, hi))

    def unforce_range(self, lo: float, hi: float) -> None:
        """Give the bands in [lo, hi] cm⁻¹ their automatic weights back."""
        lo, hi = sorted((float(lo), float(hi)))
        self._store(_remove_range(self.forced_ranges(), lo, hi))

    def _force_many(self, ranges: tuple[tuple[float, float], ...]) -> None:
        current = self.forced_ranges()
        for lo, hi in ranges:
            current = _add_range(current, lo, hi)
        self._store(current)

    def _on_reset(self, *_: Any) -> None:
        self._store([])

    def _on_span(self, vmin: float, vmax: float) -> None:
        if self.layer.value is None or not np.isfinite(vmin) or vmax - vmin <= 0:
            return
        if self.drag_mode.value == "force":
            self.force_range(vmin, vmax)
        else:
            self.unforce_range(vmin, vmax)

    def _on_params(self, *_: Any) -> None:
        if self._alive:
            self.redraw()

    # ------------------------------------------------------------------ plot
    def _setup_plot(self) -> None:
        fig = self.canvas.figure
        ax = fig.add_subplot(111)
        ax.set_xlabel("wavenumber (cm⁻¹)")
        ax.set_ylabel("median absorbance")
        ax2 = ax.twinx()
        ax2.set_ylabel("band weight")
        ax2.set_ylim(-0.03, 1.05)
        c = self.canvas.colors
        (self._median_line,) = ax.plot([], [], color=c["text"], lw=0.9, alpha=0.8,
                                       label="median spectrum")
        (self._weight_line,) = ax2.plot([], [], color=c["accent"], lw=1.4, label="band weight")
        (self._auto_line,) = ax2.plot([], [], color=c["accent"], lw=0.8, ls=":", alpha=0.8,
                                      label="automatic weight")
        self._spans: list[Any] = []
        self._spec_ax, self._weight_ax = ax, ax2
        self._selector = SpanSelector(
            ax2, self._on_span, "horizontal", useblit=True, minspan=0.5,
            props={"alpha": 0.25, "facecolor": "#d55e00"}, interactive=False,
        )
        self._legend = ax2.legend(handles=[self._median_line, self._weight_line, self._auto_line],
                                  loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3,
                                  fontsize=7, frameon=False, borderaxespad=0.2)
        self.canvas.restyle()
        style_legend(self._legend, c)

    def _clear_plot(self) -> None:
        for line in (self._median_line, self._weight_line, self._auto_line):
            line.set_data([], [])
        for span in self._spans:
            span.remove()
        self._spans = []
        self.canvas.draw_idle()

    def redraw(self, sync: bool = False) -> None:
        """Recompute the weights from the cached diagnostics and redraw (now with ``sync``)."""
        diag, layer = self.diagnostics, self.layer.value
        if diag is None or layer is None:
            return
        params = self._session.weight_params.as_dict()
        auto = diag.reweighted(**params).weights
        ranges = forced_ranges_of(layer.metadata)
        weights = force_ranges(auto, self._wn, ranges, params["w_min"]) if ranges else auto
        self.weights = weights
        self._weight_line.set_data(self._wn, weights)
        self._auto_line.set_data(self._wn, auto)
        self._auto_line.set_visible(bool(ranges))
        for span in self._spans:
            span.remove()
        self._spans = [self._weight_ax.axvspan(lo, hi, color="#d55e00", alpha=0.18, lw=0)
                       for lo, hi in ranges]
        n_low = int(np.sum(weights < 0.5))
        txt = f"{n_low} of {weights.size} bands weighted below 0.5"
        if ranges:
            txt += "; forced: " + ", ".join(f"{a:.0f}–{b:.0f}" for a, b in ranges) + " cm⁻¹"
        n_pix = int(np.prod(layer.data.shape[1:]))
        if n_pix > MAX_DIAGNOSTIC_PIXELS:
            txt += f" (preview from {MAX_DIAGNOSTIC_PIXELS} of {n_pix} pixels)"
        self.info.value = txt
        if sync:
            self.canvas.draw()
        else:
            self.canvas.draw_idle()
