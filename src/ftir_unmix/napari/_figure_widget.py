"""The "Figure" panel: colour bars, scale bar, pixel size, and export of the canvas and the plots.

What it does lives in :mod:`._figure` (no Qt); drive it by control name::

    w = FigureWidget(viewer)
    w.colorbars.value = True          # a colour bar per abundance map (in the map's colour)
    w.scale_bar.value = True          # in µm when the image has a pixel size
    w.pixel_size.value = 6.25; w.apply_pixel_size.clicked()   # set it when the file did not
    w.export_width.value = 2400
    w.canvas_path.value = "figure.png"; w.export_canvas.clicked()
    w.plot.value = "Spectra"; w.dpi.value = 300
    w.plot_path.value = "spectra.svg"; w.export_plot.clicked()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, FloatSpinBox, Label, PushButton, SpinBox
from qtpy.QtWidgets import QSizePolicy

from ..errors import OutputError
from . import _widgets_common as _common
from ._figure import (
    CANVAS_SUFFIXES,
    MAX_EXPORT_WIDTH,
    PLOT_SUFFIXES,
    export_canvas,
    export_plot,
    natural_size,
    scale_bar,
    set_colorbars,
    set_pixel_size,
    set_scale_bar,
)
from ._plot import canvases_of
from ._widgets_common import cube_layer_choices, follow_new_cube, notify_error, notify_info

__all__ = ["FigureWidget"]


class FigureWidget(Container):
    """Dock widget for publication figures.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer

    Notes
    -----
    Controls, by name: ``colorbars``, ``scale_bar``, ``layer`` (the FTIR
    image), ``pixel_size``, ``apply_pixel_size``, ``export_width``, ``canvas_path``,
    ``export_canvas``, ``plot``, ``dpi``, ``plot_path``, ``export_plot``.
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=False)
        self._viewer = napari_viewer
        self._alive = True
        self.colorbars = CheckBox(name="colorbars", text="colour bars on the maps", value=False,
                                  tooltip="A colour bar (0–1) for every abundance map, in its colour.")
        self.scale_bar = CheckBox(name="scale_bar", text="scale bar", value=bool(scale_bar(napari_viewer).visible),
                                  tooltip="napari's scale bar; in µm when the image has a pixel size.")
        self.layer = ComboBox(name="layer", label="FTIR image", choices=self._cube_choices, nullable=True,
                              tooltip="The image whose pixel size to show or set.")
        self.pixel_size = FloatSpinBox(name="pixel_size", label="pixel size (µm)", value=0.0, min=0.0,
                                       max=10_000.0, step=0.05,
                                       tooltip="The image's pixel size in µm (0: unknown). Set it when "
                                               "the file does not say; maps, regions and the photo follow.")
        self.apply_pixel_size = PushButton(name="apply_pixel_size", text="Set",
                                           tooltip="Give the image (and everything made from it) this "
                                                   "pixel size.")
        self.export_width = SpinBox(name="export_width", label="width (px)", value=1600, min=16, max=MAX_EXPORT_WIDTH,
                             step=100, tooltip="Width of the exported canvas image; the height follows "
                                               "the data's aspect.")
        self.size_info = Label(name="size_info", value="")
        self.canvas_path = FileEdit(name="canvas_path", mode="w", nullable=True,
                                    filter=" ".join(f"*{s}" for s in CANVAS_SUFFIXES),
                                    tooltip="figure.png (or .tif, .jpg)")
        self.export_canvas = PushButton(name="export_canvas", text="Export figure",
                                        tooltip="Write the canvas, fitted to the data, at the width above "
                                                "(scale bar, colour bars and legend included).")
        self.plot = ComboBox(name="plot", label="plot", choices=self._plot_choices, nullable=True,
                             tooltip="A panel's plot to export.")
        self.dpi = SpinBox(name="dpi", label="dpi", value=300, min=50, max=1200, step=50)
        self.plot_path = FileEdit(name="plot_path", mode="w", nullable=True,
                                  filter=" ".join(f"*{s}" for s in PLOT_SUFFIXES),
                                  tooltip="plot.png, .svg or .pdf")
        self.export_plot = PushButton(name="export_plot", text="Export plot",
                                      tooltip="Write the chosen panel's plot (PNG, SVG or PDF).")
        self.extend([
            Label(name="overlays_title", value="<b>On the canvas</b>"),
            Container(name="overlays", widgets=[self.colorbars, self.scale_bar], layout="horizontal",
                      labels=False),
            Container(name="pixel_row", widgets=[self.layer, self.pixel_size, self.apply_pixel_size],
                      labels=True),
            Label(name="canvas_title", value="<b>Export the canvas</b>"),
            Container(name="canvas_row", widgets=[self.export_width], labels=True),
            self.size_info,
            Container(name="canvas_export_row", widgets=[self.canvas_path, self.export_canvas],
                      layout="horizontal", labels=False),
            Label(name="plot_title", value="<b>Export a plot</b>"),
            Container(name="plot_row", widgets=[self.plot, self.dpi], labels=True),
            Container(name="plot_export_row", widgets=[self.plot_path, self.export_plot],
                      layout="horizontal", labels=False),
        ])
        self.canvas_path.line_edit.native.setPlaceholderText("figure.png")
        self.plot_path.line_edit.native.setPlaceholderText("spectra.svg")
        self.size_info.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.colorbars.changed.connect(lambda v: set_colorbars(self._viewer, bool(v)))
        self.scale_bar.changed.connect(self._on_scale_bar)
        self.layer.changed.connect(self._show_pixel_size)
        self.apply_pixel_size.clicked.connect(self._on_pixel_size)
        self.export_width.changed.connect(self._show_size)
        self.export_canvas.clicked.connect(self._on_export_canvas)
        self.export_plot.clicked.connect(self._on_export_plot)
        ev = napari_viewer.layers.events
        for e in (ev.inserted, ev.removed):
            e.connect(self._on_layers_changed)
        self.native.destroyed.connect(lambda *_: setattr(self, "_alive", False))
        choices = [c for c in self.layer.choices if c is not None]
        if self.layer.value is None and choices:
            self.layer.value = choices[0]
        self._show_pixel_size()
        self._show_size()

    # ------------------------------------------------------------------ choices
    def _cube_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return cube_layer_choices(self._viewer)

    def _plot_choices(self, _widget: Any = None) -> list[str]:
        return list(canvases_of(self._viewer))

    def _on_layers_changed(self, event: Any = None) -> None:
        if not self._alive:
            return
        if not follow_new_cube(self.layer, event):
            self._alive = False
            return
        self.plot.reset_choices()
        if self.colorbars.value and getattr(event, "type", "") == "inserted":
            set_colorbars(self._viewer, True)  # new maps get theirs too
        self._show_size()

    # ------------------------------------------------------------------ overlays
    def _on_scale_bar(self, value: bool) -> None:
        unit = set_scale_bar(self._viewer, bool(value))
        if value and unit in ("pixel", "px"):
            notify_info("Figure: the image has no pixel size, so the scale bar counts pixels; set the "
                        "pixel size (µm) below.")

    def _show_pixel_size(self, *_: Any) -> None:
        layer = self.layer.value
        size = layer.metadata.get("pixel_size") if layer is not None else None
        self.pixel_size.value = float(size) if size else 0.0

    def _on_pixel_size(self, *_: Any) -> None:
        layer = self.layer.value
        if layer is None:
            notify_error("Figure: choose an FTIR image first.")
            return
        try:
            changed = set_pixel_size(self._viewer, layer, float(self.pixel_size.value))
        except ValueError as exc:
            notify_error(f"Figure: {exc}")
            return
        notify_info(f"Figure: {layer.name} has {self.pixel_size.value:g} µm pixels "
                    f"({len(changed)} layers updated).")
        self._show_size()

    # ------------------------------------------------------------------ export
    def _show_size(self, *_: Any) -> None:
        if not self._alive:
            return
        try:
            h, w = natural_size(self._viewer)
        except Exception:  # no layers
            self.size_info.value = ""
            return
        width = int(self.export_width.value)
        self.size_info.value = f"{width} × {max(1, round(width * h / w))} px (data: {w} × {h} px)"

    def _target(self, edit: FileEdit, suffixes: tuple[str, ...], what: str) -> tuple[Path, bool] | None:
        path = edit.value
        if path is None or str(path).strip() in ("", "."):
            chosen = _common.ask_save_path(self.native, f"Export the {what}",
                                           " ".join(f"*{s}" for s in suffixes))
            if not chosen:
                return None
            path = chosen
            edit.value = path
        path = Path(path)
        if path.suffix.lower() not in suffixes:
            notify_error(f"Figure: save the {what} as {', '.join(suffixes)} (got {path.name}).")
            return None
        overwrite = path.exists()
        if overwrite and not _common.ask_yes_no(self.native, "Replace the file?", f"{path} exists. Replace it?"):
            return None
        return path, overwrite

    def _on_export_canvas(self, *_: Any) -> None:
        target = self._target(self.canvas_path, CANVAS_SUFFIXES, "figure")
        if target is None:
            return
        try:
            path, (h, w) = export_canvas(self._viewer, target[0], width=int(self.export_width.value),
                                         overwrite=target[1])
        except (OSError, ValueError, OutputError) as exc:
            notify_error(f"Figure: export failed: {exc}")
            return
        notify_info(f"Figure: wrote {path} ({w} × {h} px)")

    def _on_export_plot(self, *_: Any) -> None:
        canvases = canvases_of(self._viewer)
        canvas = canvases.get(self.plot.value) if self.plot.value else None
        if canvas is None:
            notify_error("Figure: choose a plot (open the panel that shows it first).")
            return
        target = self._target(self.plot_path, PLOT_SUFFIXES, "plot")
        if target is None:
            return
        try:
            path = export_plot(canvas.figure, target[0], dpi=int(self.dpi.value), overwrite=target[1])
        except (OSError, ValueError, OutputError) as exc:
            notify_error(f"Figure: export failed: {exc}")
            return
        notify_info(f"Figure: wrote {path}")
