"""The "Spectra" panel: endmember spectra linked to the abundance maps, and pixel spectra.

- Top: the endmember spectra of the latest result, each in the colour of its
  abundance map. Selecting a map in the layer list highlights its spectrum;
  clicking a spectrum (or its legend entry) selects its map.
- Bottom: click a pixel of the FTIR image or of an abundance map to see its
  observed spectrum, the model's reconstruction (scaled to the observation, plus the
  fitted baseline when the run had one)
  and its abundances (bars). Shift-click, or the ``pin`` button, keeps a
  pixel for comparison.
- ``export``: the plotted spectra to CSV, or the figure to PNG/SVG/PDF,
  depending on the suffix of ``export_path``.
- Names (below the plot): the candidate names of each endmember, from the
  built-in marker bands and, after ``load_library`` (a folder of reference
  spectra), the user's references; identification runs in a worker thread
  whenever a library is loaded or a new result arrives. Choosing a candidate
  overlays its reference (dashed, scaled to the endmember) and shades its
  marker bands (found: green, missing: red); ``name_layers`` names the maps
  after the chosen candidates. The endmember list shows each endmember's
  restart spread and share of the image, and ``doubts_info`` the doubts
  (:mod:`ftir_unmix.trust`).
- Regions (third row, when the chosen ``regions`` layer has any): each drawn
  shape or painted label's mean spectrum with a ±1 s.d. band, its mean
  abundances (one stacked bar per region, in the maps' colours) and its
  pixel count, in the region's own colour. ``draw_regions`` and
  ``paint_regions`` add a Shapes or Labels layer on the image;
  ``export_regions`` writes ``regions_path`` (a summary) and
  ``<name>_spectra.csv`` (mean and s.d. spectra).

Drive it by name::

    w = SpectraWidget(viewer)
    w.show_pixel(10, 20)         # what a click does
    w.pin.clicked()
    w.export_path.value = "spectra.csv"; w.export.clicked()
    w.draw_regions.clicked()     # a "regions" Shapes layer; draw rectangles or polygons on it
    w.regions.value.add_rectangles([[2, 3], [10, 12]])   # what drawing does (data coordinates)
    w.region_stats               # RegionStats: name, color, n_pixels, mean, sd, abundances
    w.regions_path.value = "regions.csv"; w.export_regions.clicked()
    w.load_references("my_refs/")   # what Reference library… does after its folder dialog
    w.endmember_choice.value = 1; w.candidates.value = [0]   # choose a name for EM2
    w.name_layers.clicked()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, Label, PushButton, Select
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QAbstractItemView, QSizePolicy

from ..errors import OutputError
from ..export import write_spectra_csv
from ..identify import Candidate, Library, best_match
from ..result import UnmixResult, scale_to
from ..safe_write import atomic_file
from . import _widgets_common as _common
from ._identify_panel import (
    CandidateRow,
    accepted_names,
    candidate_rows,
    doubt_text,
    identify_endmembers,
    library_summary,
    marker_spans,
    reference_overlay,
    rename_result_layers,
    trust_labels,
)
from ._layers import (
    RESULT_KEY,
    derived_info,
    endmember_name_from_layer,
    find_layer,
    is_abundance_layer,
    is_cube_layer,
)
from ._plot import ThemedCanvas, style_axes, style_legend
from ._regions import (
    RegionStats,
    add_regions_layer,
    is_regions_layer,
    region_stats,
    regions_of,
    write_regions_csv,
)
from ._widgets_common import notify_error, notify_info, notify_warning, show_wavenumber_overlay

__all__ = ["SpectraWidget"]

#: Quiet time (ms) after the last layer-list change before the panel replots.
REFRESH_DELAY_MS = 120

_PIN_COLORS = ("#ffffff", "#bbbbbb", "#ff8080", "#80ff80", "#8080ff", "#ffd080", "#d080ff")


class SpectraWidget(Container):
    """Dock widget plotting endmember and pixel spectra, linked to the layers.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer

    Notes
    -----
    Controls, by name: buttons ``pin``, ``clear_pins``, ``export`` and the
    file ``export_path``; names: buttons ``load_library`` and ``name_layers``,
    the choice ``endmember_choice``, the list ``candidates`` and the labels
    ``library_info`` and ``doubts_info``; regions: the layer choice
    ``regions``, buttons ``draw_regions``, ``paint_regions``,
    ``export_regions`` and the file ``regions_path``. Methods
    :meth:`show_pixel`, :meth:`select`, :meth:`load_references` and
    :meth:`refresh_regions`; the regions shown are :attr:`region_stats`, the
    candidates :attr:`identification` (per endmember) and :attr:`accepted`.
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=False)
        self._viewer = napari_viewer
        self._alive = True
        self._hooked: list[Any] = []
        self._named: list[Any] = []
        self.result: UnmixResult | None = None
        self.result_layers: list[Any] = []
        self.selected: int | None = None
        self.current: dict[str, Any] | None = None
        self.pinned: list[dict[str, Any]] = []
        self.region_stats: list[RegionStats] = []
        self.region_lines: list[Any] = []
        self._regions_hooked: Any = None
        self._region_rows = False
        # names (issue 13): candidates per endmember and the one accepted for each
        self.library: Library | None = None
        self.identification: list[list[Candidate]] | None = None
        self.accepted: list[Candidate | None] = []
        self.identifying = False
        self.overlay_line: Any = None
        self.marker_artists: list[Any] = []
        self._identify_run = 0  # a worker's answer counts only if no later one was started
        self._pending_library: Any = None
        self._rows: list[CandidateRow] = []
        self._endmember_labels: list[str] = []
        self._syncing = False

        self.pixel_info = Label(name="pixel_info", value="Click a pixel of the image or of a map.")
        self.pin = PushButton(name="pin", text="Pin pixel",
                              tooltip="Keep the current pixel's spectrum for comparison "
                                      "(or Shift-click a pixel).")
        self.clear_pins = PushButton(name="clear_pins", text="Clear pins")
        self.export_path = FileEdit(name="export_path", mode="w", nullable=True,
                                    filter="*.csv *.png *.svg *.pdf",
                                    tooltip="A .csv file gets the plotted spectra; .png, .svg or "
                                            ".pdf the figure.")
        self.export = PushButton(name="export", text="Export",
                                 tooltip="Write the plotted spectra (.csv) or the figure "
                                         "(.png/.svg/.pdf) to the file above.")
        self.regions = ComboBox(
            name="regions", label="regions", choices=self._regions_choices, nullable=True,
            tooltip="A Shapes layer (each rectangle, polygon or ellipse is a region) or a Labels "
                    "layer (each painted label is a region) on the FTIR image or a map.")
        self.draw_regions = PushButton(
            name="draw_regions", text="Draw regions",
            tooltip="Add a 'regions' Shapes layer on the image and start drawing rectangles "
                    "(the layer controls switch to polygons or ellipses).")
        self.paint_regions = PushButton(
            name="paint_regions", text="Paint regions",
            tooltip="Add a 'painted regions' Labels layer on the image and start painting; "
                    "each label (1, 2, …) is a region.")
        self.regions_info = Label(name="regions_info", value="")
        self.regions_path = FileEdit(name="regions_path", mode="w", nullable=True, filter="*.csv",
                                     tooltip="regions.csv gets one row per region (pixels, mean "
                                             "abundances); regions_spectra.csv the mean and s.d. "
                                             "spectra.")
        self.export_regions = PushButton(name="export_regions", text="Export regions",
                                         tooltip="Write every region of the chosen layer to the "
                                                 "CSV file above (and <name>_spectra.csv).")
        self.load_library = PushButton(
            name="load_library", text="Reference library…",
            tooltip="Choose a folder of your reference spectra (JCAMP-DX, CSV/TXT/DPT, SPA, OPUS, "
                    "endmembers.csv of past runs) to name the endmembers against.")
        self.name_layers = PushButton(
            name="name_layers", text="Name layers",
            tooltip="Rename the maps, the legend and the result after the chosen candidates "
                    "(an endmember without a confident match keeps its name).")
        self.library_info = Label(name="library_info", value=library_summary(None))
        self.endmember_choice = ComboBox(
            name="endmember_choice", label="endmember", choices=self._endmember_choices,
            tooltip="The endmember whose candidate names are listed below, with its restart "
                    "spread (how much it changed between restarts), how pure its purest pixels "
                    "are and its share of the image.")
        self.candidates = Select(
            name="candidates", label="candidates", choices=self._candidate_choices,
            tooltip="Candidate names, best first (✓: confident). Choosing one overlays its "
                    "reference (dashed) and shades its marker bands; Name layers uses it.")
        self.candidates.native.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.candidates.native.setMaximumHeight(96)
        self.doubts_info = Label(name="doubts_info", value="")
        self.doubts_info.native.setWordWrap(True)
        self.doubts_info.native.setStyleSheet("color: #ffb000;")
        self.doubts_info.visible = False
        for label in (self.library_info, self.doubts_info):
            label.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.library_info.native.setWordWrap(True)
        self.canvas = ThemedCanvas(napari_viewer, toolbar=True, height=220, name="Spectra")
        self._setup_plot()
        self.native.layout().addWidget(self.canvas)
        self.extend([
            self.pixel_info,
            Container(name="pins", widgets=[self.pin, self.clear_pins], layout="horizontal",
                      labels=False),
            Container(name="export_row", widgets=[self.export_path, self.export],
                      layout="horizontal", labels=False),
            Container(name="names_row", widgets=[self.load_library, self.name_layers],
                      layout="horizontal", labels=False),
            self.library_info,
            Container(name="names_box", widgets=[self.endmember_choice, self.candidates],
                      labels=True),
            self.doubts_info,
            Container(name="regions_row", widgets=[self.regions, self.draw_regions,
                                                   self.paint_regions],
                      layout="horizontal", labels=True),
            self.regions_info,
            Container(name="regions_export_row", widgets=[self.regions_path, self.export_regions],
                      layout="horizontal", labels=False),
        ])
        self.regions_path.line_edit.native.setPlaceholderText("regions.csv")
        self.regions_info.native.setSizePolicy(QSizePolicy.Policy.Ignored,
                                               QSizePolicy.Policy.Fixed)
        self._regions_timer = QTimer()
        self._regions_timer.setSingleShot(True)
        self._regions_timer.setInterval(150)
        self._regions_timer.timeout.connect(self.refresh_regions)

        self.export_path.line_edit.native.setPlaceholderText("spectra.csv, figure.png or .svg")
        self.pixel_info.native.setSizePolicy(QSizePolicy.Policy.Ignored,
                                             QSizePolicy.Policy.Fixed)
        # Layer-list changes come in bursts (K maps added one per event-loop turn): replot
        # once, a moment after the last one, not once per map.
        self._refresh_timer = QTimer()
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self._refresh)

        self.pin.clicked.connect(self._on_pin)
        self.clear_pins.clicked.connect(self._on_clear_pins)
        self.export.clicked.connect(self._on_export)
        self.regions.changed.connect(self._on_regions_layer)
        self.draw_regions.clicked.connect(lambda *_: self._new_regions("shapes"))
        self.paint_regions.clicked.connect(lambda *_: self._new_regions("labels"))
        self.export_regions.clicked.connect(self._on_export_regions)
        self.load_library.clicked.connect(self._on_load_library)
        self.name_layers.clicked.connect(self._on_name_layers)
        self.endmember_choice.changed.connect(self._on_endmember_choice)
        self.candidates.changed.connect(self._on_candidate)
        ev = napari_viewer.layers.events
        for e in (ev.inserted, ev.removed, ev.moved):
            e.connect(self._schedule_refresh)
        napari_viewer.layers.selection.events.active.connect(self._on_active)
        self.canvas.canvas.mpl_connect("pick_event", self._on_pick)
        self.native.destroyed.connect(lambda *_: self._on_destroyed())
        show_wavenumber_overlay(napari_viewer)
        self._refresh()
        self._on_regions_layer()

    # ------------------------------------------------------------------ lifecycle
    def _on_destroyed(self) -> None:
        self._alive = False
        self._unhook()
        self._unhook_regions()
        for timer in (self._refresh_timer, self._regions_timer):
            try:
                timer.stop()
            except RuntimeError:
                pass

    def _unhook(self) -> None:
        for layer in self._hooked:
            if self._on_mouse in layer.mouse_drag_callbacks:
                layer.mouse_drag_callbacks.remove(self._on_mouse)
        self._hooked = []
        for layer in self._named:
            for emitter in (layer.events.name, layer.events.data):
                try:
                    emitter.disconnect(self._schedule_refresh)
                except Exception:
                    pass
        self._named = []

    def _schedule_refresh(self, *_: Any) -> None:
        """Coalesce layer-list changes (adding K maps) into one refresh."""
        if self._alive:
            self._refresh_timer.start()

    def flush(self) -> None:
        """Do a replot that is still waiting for the layer list to settle, now.

        Actions that read the result (a click, an export) call it first.
        """
        if self._alive and self._refresh_timer.isActive():
            self._refresh_timer.stop()
            self._refresh()

    def _refresh(self) -> None:
        """Find the latest result among the layers, hook mouse callbacks, replot."""
        if not self._alive:
            return
        self._unhook()
        layers = list(self._viewer.layers)
        for layer in layers:
            if is_cube_layer(layer) or is_abundance_layer(layer):
                layer.mouse_drag_callbacks.append(self._on_mouse)
                self._hooked.append(layer)
            if is_abundance_layer(layer):
                # a new run reuses the previous run's map layers: their data change
                layer.events.name.connect(self._schedule_refresh)
                layer.events.data.connect(self._schedule_refresh)
                self._named.append(layer)
        # The latest result: the run whose maps sit highest in the layer list.
        maps = [lay for lay in layers if is_abundance_layer(lay)]
        result, group = None, []
        if maps:
            top = maps[-1].metadata[RESULT_KEY]
            group = [lay for lay in maps if lay.metadata[RESULT_KEY]["run_id"] == top["run_id"]]
            group.sort(key=lambda lay: lay.metadata[RESULT_KEY]["index"])
            result = top["result"]
        new_result = result is not self.result
        if new_result:
            self.selected = None
            self.current = None
            self.pinned = []
            self.identification = None
            self.accepted = []
        self.result, self.result_layers = result, group
        self._follow_regions_layers()
        self.region_stats = self._compute_regions()
        self._update_regions_info()
        self._layout_rows(bool(self.region_stats))
        self._plot_endmembers()
        self._plot_pixels()
        self._plot_regions()
        self._update_names_rows()
        self.canvas.draw_idle()
        if new_result and result is not None:
            self._start_identify()

    # ------------------------------------------------------------------ names & colours
    def names(self) -> list[str]:
        """Endmember names as shown (they follow the abundance layers' names)."""
        if self.result is None:
            return []
        by_index = {lay.metadata[RESULT_KEY]["index"]: endmember_name_from_layer(lay.name)
                    for lay in self.result_layers}
        return [by_index.get(i, n) for i, n in enumerate(self.result.names)]

    def _colors(self) -> list[tuple[float, ...]]:
        from ._layers import endmember_colors

        if self.result is None:
            return []
        colors = [tuple(c) for c in endmember_colors(self.result.k)]
        for lay in self.result_layers:
            info = lay.metadata[RESULT_KEY]
            colors[info["index"]] = tuple(info["color"])
        return colors

    # ------------------------------------------------------------------ plotting
    def _setup_plot(self, regions: bool = False) -> None:
        """(Re)build the axes: two rows, or three with the regions row."""
        fig = self.canvas.figure
        fig.clear()
        rows = 3 if regions else 2
        gs = fig.add_gridspec(rows, 2, width_ratios=(4, 1), height_ratios=(1,) * rows)
        self.ax_em = fig.add_subplot(gs[0, :])
        self.ax_px = fig.add_subplot(gs[1, 0], sharex=self.ax_em)
        self.ax_ab = fig.add_subplot(gs[1, 1])
        self.ax_rg = fig.add_subplot(gs[2, 0], sharex=self.ax_em) if regions else None
        self.ax_rga = fig.add_subplot(gs[2, 1]) if regions else None
        self._region_rows = regions
        self.em_lines: list[Any] = []
        self.pixel_lines: list[Any] = []
        self.region_lines = []
        self._legend_map: dict[Any, int] = {}
        self._label_axes()

    def _layout_rows(self, regions: bool) -> None:
        if regions != self._region_rows:
            self._setup_plot(regions)
            if self.canvas.canvas.minimumHeight() < (320 if regions else 220):
                self.canvas.canvas.setMinimumHeight(320 if regions else 220)

    def _label_axes(self) -> None:
        self.ax_em.set_title("endmember spectra")
        self.ax_em.set_ylabel("absorbance")
        self.ax_px.set_title("pixel spectra")
        self.ax_px.set_xlabel("wavenumber (cm⁻¹)")
        self.ax_px.set_ylabel("absorbance")
        self.ax_ab.set_title("abundances")
        self.ax_ab.set_xlim(0, 1)
        if self.ax_rg is not None:
            self.ax_rg.set_title("regions: mean ± 1 s.d.")
            self.ax_rg.set_xlabel("wavenumber (cm⁻¹)")
            self.ax_rg.set_ylabel("absorbance")
            self.ax_px.set_xlabel("")
            self.ax_rga.set_title("region abundances")
            self.ax_rga.set_xlim(0, 1)
        self.canvas.restyle()

    def _plot_endmembers(self) -> None:
        ax = self.ax_em
        ax.clear()
        self.em_lines = []
        self._legend_map = {}
        result = self.result
        if result is not None:
            wn = result.wavenumbers
            for i, (name, color) in enumerate(zip(self.names(), self._colors(), strict=True)):
                (line,) = ax.plot(wn, result.endmembers[:, i], color=color, lw=1.2, label=name,
                                  picker=True, pickradius=5)
                self.em_lines.append(line)
            ax.set_xlim(float(np.max(wn)), float(np.min(wn)))
            legend = ax.legend(loc="upper left", fontsize=7, ncols=2 if result.k > 4 else 1)
            entries = zip(legend.get_lines(), legend.get_texts(), range(result.k), strict=True)
            for handle, text, i in entries:
                handle.set_picker(True)
                handle.set_pickradius(5)
                text.set_picker(True)
                self._legend_map[handle] = i
                self._legend_map[text] = i
            self._legend_map.update({line: i for i, line in enumerate(self.em_lines)})
        else:
            ax.text(0.5, 0.5, "no unmixing result yet", ha="center",
                    va="center", transform=ax.transAxes, fontsize=8,
                    color=self.canvas.colors["text"])
        self._label_axes()
        style_axes(ax, self.canvas.colors)
        self._apply_highlight()
        self._plot_overlay()

    def _apply_highlight(self) -> None:
        for i, line in enumerate(self.em_lines):
            if self.selected is None:
                line.set_linewidth(1.2)
                line.set_alpha(1.0)
            elif i == self.selected:
                line.set_linewidth(2.6)
                line.set_alpha(1.0)
                line.set_zorder(3)
            else:
                line.set_linewidth(1.0)
                line.set_alpha(0.3)
                line.set_zorder(2)

    def _pixel_entries(self) -> list[tuple[str, dict[str, Any], Any]]:
        entries = []
        if self.current is not None:
            entries.append(("current", self.current, self.canvas.colors["text"]))
        for j, pin in enumerate(self.pinned):
            entries.append(("pinned", pin, _PIN_COLORS[(j + 1) % len(_PIN_COLORS)]))
        return entries

    def _plot_pixels(self) -> None:
        ax, axb = self.ax_px, self.ax_ab
        ax.clear()
        axb.clear()
        self.pixel_lines = []
        for _kind, entry, color in self._pixel_entries():
            label = f"({entry['row']}, {entry['col']})"
            if entry.get("observed") is not None:
                (line,) = ax.plot(entry["wavenumbers"], entry["observed"], color=color, lw=1.0,
                                  label=f"{label} observed")
                self.pixel_lines.append(line)
            if entry.get("reconstructed") is not None:
                (line,) = ax.plot(entry["wavenumbers"], entry["reconstructed"], color=color,
                                  lw=1.0, ls="--", label=f"{label} model")
                self.pixel_lines.append(line)
        if self.pixel_lines:
            wn = self._pixel_entries()[0][1]["wavenumbers"]
            ax.set_xlim(float(np.max(wn)), float(np.min(wn)))
            legend = ax.legend(loc="upper left", fontsize=7)
            style_legend(legend, self.canvas.colors)
        if self.current is not None and self.current.get("abundances") is not None:
            a = self.current["abundances"]
            names = self.names()
            y = np.arange(len(a))
            axb.barh(y, a, color=self._colors())
            axb.set_yticks(y, names, fontsize=7)
            axb.invert_yaxis()
        self._label_axes()
        style_axes(ax, self.canvas.colors)
        style_axes(axb, self.canvas.colors)

    # ------------------------------------------------------------------ linking
    def select(self, index: int | None) -> None:
        """Highlight endmember ``index`` (None: no highlight) and select its map."""
        self.flush()
        self.selected = index
        self._apply_highlight()
        self.canvas.draw_idle()
        if index is None:
            return
        self._show_endmember(index)
        for layer in self.result_layers:
            if layer.metadata[RESULT_KEY]["index"] == index:
                if self._viewer.layers.selection.active is not layer:
                    self._viewer.layers.selection.active = layer
                break

    def _on_pick(self, event: Any) -> None:
        index = self._legend_map.get(event.artist)
        if index is not None:
            self.select(None if index == self.selected else index)

    def _on_active(self, event: Any = None) -> None:
        if not self._alive:
            return
        layer = self._viewer.layers.selection.active
        if layer is not None and layer in self.result_layers:
            index = layer.metadata[RESULT_KEY]["index"]
            if index != self.selected:
                self.selected = index
                self._apply_highlight()
                self._show_endmember(index)
                self.canvas.draw_idle()

    # ------------------------------------------------------------------ names
    def load_references(self, paths: Any) -> None:
        """Load reference spectra (a folder, a file or several) and identify the endmembers again.

        The library is read in a worker thread, like the identification itself;
        :attr:`identifying` is true until both are done.
        """
        self._pending_library = paths
        self._start_identify()

    def _on_load_library(self, *_: Any) -> None:
        path = _common.ask_open_path(self.native, "Choose a folder of reference spectra", directory=True)
        if path:
            self.load_references(path)

    def _start_identify(self) -> None:
        """Identify the current result's endmembers (and load a chosen library) in a worker."""
        from napari.qt.threading import create_worker

        self._identify_run += 1
        run, result = self._identify_run, self.result
        library = self._pending_library if self._pending_library is not None else self.library
        if result is None and self._pending_library is None:
            return
        args = (None, None, None) if result is None else (result.endmembers, result.wavenumbers,
                                                            result.weights)
        self.identifying = True
        self._update_library_info()
        worker = create_worker(identify_endmembers, *args, library, _start_thread=False,
                               _ignore_errors=True)
        worker.returned.connect(lambda out, r=run, res=result: self._on_identified(r, res, out))
        worker.errored.connect(lambda exc, r=run: self._on_identify_failed(r, exc))
        worker.start()

    def _on_identified(self, run: int, result: UnmixResult | None, out: Any) -> None:
        if not self._alive or run != self._identify_run:
            return  # a later identification (new result, new library) supersedes this one
        library, candidates = out
        self.identifying = False
        if self._pending_library is not None:
            self._pending_library = None
            self.library = library
            if library is not None and library.problems:
                shown = "; ".join(str(p) for p in library.problems[:3])
                more = f" (and {len(library.problems) - 3} more)" if len(library.problems) > 3 else ""
                notify_warning(f"Spectra: {len(library.problems)} reference file(s) skipped: {shown}{more}")
            if library is not None and not len(library):
                notify_warning("Spectra: no reference spectrum could be read there.")
        if result is self.result and candidates is not None:
            self.identification = candidates
            self.accepted = [best_match(c) for c in candidates]
        self._update_library_info()
        self._update_names_rows()
        self._plot_overlay()
        self.canvas.draw_idle()

    def _on_identify_failed(self, run: int, exc: BaseException) -> None:
        if not self._alive or run != self._identify_run:
            return
        self.identifying = False
        self._pending_library = None
        self._update_library_info()
        notify_error(f"Spectra: identification failed: {exc}")

    def _update_library_info(self) -> None:
        self.library_info.value = library_summary(self.library, busy=self.identifying)
        self.library_info.tooltip = "\n".join(str(p) for p in self.library.problems) \
            if self.library is not None and self.library.problems else self.library_info.value

    # Choices come from callables returning what the panel last listed: napari resets the
    # choices of docked widgets on layer events, and a fixed list would be reset to empty.
    def _endmember_choices(self, _widget: Any = None) -> list[tuple[str, int]]:
        return [(label, i) for i, label in enumerate(self._endmember_labels)]

    def _candidate_choices(self, _widget: Any = None) -> list[tuple[str, int]]:
        return [(row.label, j) for j, row in enumerate(self._rows)]

    def current_endmember(self) -> int | None:
        """The endmember whose candidates are listed (None without a result)."""
        value = self.endmember_choice.value
        return value if isinstance(value, int) and self.result is not None and value < self.result.k else None

    def _update_names_rows(self) -> None:
        """Endmember list (names, spread, share), doubts, and the candidates of the listed endmember."""
        keep = self.current_endmember()
        labels = trust_labels(self.result, self.names()) if self.result is not None else []
        self._endmember_labels = labels
        self._syncing = True
        try:
            # new labels (renamed maps) would move the list back to the first endmember
            self.endmember_choice.reset_choices()
            if labels:
                target = keep if keep is not None else (self.selected or 0)
                target = target if target < len(labels) else 0
                if self.endmember_choice.value != target:
                    self.endmember_choice.value = target
        finally:
            self._syncing = False
        self.endmember_choice.tooltip = "\n".join(labels) or "no unmixing result yet"
        doubt = doubt_text(self.result, self.names()) if self.result is not None else ""
        self.doubts_info.value = doubt
        self.doubts_info.tooltip = doubt
        self.doubts_info.visible = bool(doubt)
        self._update_library_info()
        self._fill_candidates()

    def _fill_candidates(self) -> None:
        """List the candidates of the listed endmember, the accepted one selected."""
        index = self.current_endmember()
        rows: list[CandidateRow] = []
        if index is not None and self.identification is not None and index < len(self.identification):
            rows = candidate_rows(self.identification[index])
        self._rows = rows
        self._syncing = True
        try:
            self.candidates.reset_choices()
            accepted = self.accepted[index] if index is not None and index < len(self.accepted) else None
            chosen = next((j for j, row in enumerate(rows) if row.candidate is accepted), None)
            self.candidates.value = [] if chosen is None else [chosen]
        finally:
            self._syncing = False

    def _show_endmember(self, index: int) -> None:
        """List endmember ``index``'s candidates (the plot or the layer list selected it)."""
        if self.current_endmember() == index or self.result is None or index >= self.result.k:
            return
        self._syncing = True
        try:
            self.endmember_choice.value = index
        finally:
            self._syncing = False
        self._fill_candidates()
        self._plot_overlay()

    def _on_endmember_choice(self, *_: Any) -> None:
        if self._syncing or not self._alive:
            return
        self._fill_candidates()
        index = self.current_endmember()
        if index is not None and index != self.selected:
            self.select(index)  # highlights the spectrum and selects its map
        self._plot_overlay()
        self.canvas.draw_idle()

    def _on_candidate(self, *_: Any) -> None:
        if self._syncing or not self._alive:
            return
        index = self.current_endmember()
        chosen = self.candidates.value
        if index is None or not chosen or index >= len(self.accepted):
            return
        self.accepted[index] = self._rows[chosen[0]].candidate
        self._plot_overlay()
        self.canvas.draw_idle()

    def _plot_overlay(self) -> None:
        """The accepted candidate of the listed endmember: its reference (dashed) and marker bands."""
        for artist in [self.overlay_line, *self.marker_artists]:
            try:
                artist.remove()
            except (AttributeError, ValueError, NotImplementedError):
                pass  # None, or already gone with a cleared axes
        self.overlay_line, self.marker_artists = None, []
        index = self.current_endmember()
        if index is None or self.result is None or index >= len(self.accepted):
            return
        candidate = self.accepted[index]
        ax = self.ax_em
        xlim = ax.get_xlim()
        for low, high, matched in marker_spans(candidate):
            self.marker_artists.append(ax.axvspan(low, high, color="#4caf50" if matched else "#e05050",
                                                  alpha=0.35 if matched else 0.25, lw=0, zorder=0))
        overlay = reference_overlay(candidate, self.library, self.result.wavenumbers,
                                    self.result.endmembers[:, index])
        if overlay is not None:
            # in the text colour: a good match lies right on the endmember's own line
            (self.overlay_line,) = ax.plot(overlay[0], overlay[1], ls="--", lw=1.0,
                                           color=self.canvas.colors["text"], zorder=4)
        ax.set_xlim(xlim)  # spans outside the data must not widen the axis

    def _on_name_layers(self, *_: Any) -> None:
        self.flush()
        if self.result is None or not self.result_layers:
            notify_info("Spectra: no unmixing result to name yet.")
            return
        if self.identification is None:
            notify_info("Spectra: the endmembers are still being identified; try again in a moment.")
            return
        names = accepted_names(self.names(), self.accepted)
        rename_result_layers(self.result_layers, self.result, names)
        notify_info("Spectra: maps named " + ", ".join(names))

    # ------------------------------------------------------------------ pixels
    def _on_mouse(self, layer: Any, event: Any) -> Any:
        """Layer mouse-drag callback: a click (press and release without moving) picks a pixel."""
        if not self._alive or getattr(event, "button", 1) not in (1, None):
            return
        dragged = False
        yield
        while event.type == "mouse_move":
            dragged = True
            yield
        if dragged:
            return
        pos = layer.world_to_data(event.position)
        row, col = int(round(float(pos[-2]))), int(round(float(pos[-1])))
        pin = "Shift" in {str(m) for m in (getattr(event, "modifiers", None) or ())}
        self.show_pixel(row, col, layer=layer, pin=pin)

    def _cube_for(self, layer: Any) -> Any:
        """The cube layer to read observed spectra from, given the clicked layer."""
        if layer is not None and is_cube_layer(layer):
            return layer
        source_id = None
        if layer is not None and is_abundance_layer(layer):
            source_id = layer.metadata[RESULT_KEY].get("source_id")
        elif self.result_layers:
            source_id = self.result_layers[0].metadata[RESULT_KEY].get("source_id")
        for lay in self._viewer.layers:
            if is_cube_layer(lay) and getattr(lay, "unique_id", None) == source_id:
                return lay
        return None

    def show_pixel(self, row: int, col: int, *, layer: Any = None, pin: bool = False) -> bool:
        """Show pixel (row, col): observed spectrum, reconstruction, abundances.

        Parameters
        ----------
        row, col : int
            Pixel position in the image.
        layer : napari layer, optional
            The layer clicked (an FTIR image or an abundance map).
        pin : bool
            Also pin the pixel.

        Returns
        -------
        bool
            False when the position is outside the image.
        """
        self.flush()
        cube = self._cube_for(layer)
        result = self.result
        if layer is not None and is_abundance_layer(layer):
            result = layer.metadata[RESULT_KEY]["result"]
            if result is not self.result:  # an older run's map: show it against its own result
                result = self.result if self.result is not None else result
        entry: dict[str, Any] = {"row": row, "col": col, "observed": None, "reconstructed": None,
                                 "abundances": None, "wavenumbers": None}
        shape = None
        if cube is not None:
            shape = tuple(cube.data.shape[1:])
        elif result is not None:
            shape = tuple(result.abundances.shape[1:])
        if shape is None or not (0 <= row < shape[0] and 0 <= col < shape[1]):
            return False
        if cube is not None:
            entry["observed"] = np.asarray(cube.data[:, row, col], dtype=np.float64)
            entry["wavenumbers"] = np.asarray(cube.metadata["wavenumbers"], dtype=np.float64)
        if result is not None and tuple(result.abundances.shape[1:]) == shape:
            recon = np.asarray(result.reconstruct(row, col), dtype=np.float64)
            if entry["observed"] is not None and entry["observed"].shape == recon.shape:
                recon = scale_to(entry["observed"], recon, result.baseline_basis())
            entry["reconstructed"] = recon
            entry["abundances"] = np.asarray(result.abundances[:, row, col], dtype=np.float64)
            if entry["wavenumbers"] is None:
                entry["wavenumbers"] = np.asarray(result.wavenumbers, dtype=np.float64)
        self.current = entry
        if pin:
            self._pin_current()
        self._update_pixel_info()
        self._plot_pixels()
        self.canvas.draw_idle()
        return True

    def _update_pixel_info(self) -> None:
        entry = self.current
        if entry is None:
            self.pixel_info.value = "Click a pixel of the image or of a map."
            return
        txt = f"pixel (row {entry['row']}, column {entry['col']})"
        if entry["abundances"] is not None:
            parts = sorted(zip(entry["abundances"], self.names(), strict=True), reverse=True)
            txt += ": " + ", ".join(f"{n} {a:.2f}" for a, n in parts if a >= 0.01)
        if self.pinned:
            txt += f" · {len(self.pinned)} pinned"
        self.pixel_info.value = txt
        self.pixel_info.tooltip = txt

    def _pin_current(self) -> None:
        if self.current is None:
            return
        key = (self.current["row"], self.current["col"])
        if all((p["row"], p["col"]) != key for p in self.pinned):
            self.pinned.append(dict(self.current))

    def _on_pin(self, *_: Any) -> None:
        if self.current is None:
            notify_info("Spectra: click a pixel first, then pin it.")
            return
        self._pin_current()
        self._update_pixel_info()
        self._plot_pixels()
        self.canvas.draw_idle()

    def _on_clear_pins(self, *_: Any) -> None:
        self.pinned = []
        self._update_pixel_info()
        self._plot_pixels()
        self.canvas.draw_idle()

    # ------------------------------------------------------------------ regions
    def _regions_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        try:
            layers = list(self._viewer.layers)
        except Exception:
            return []
        return [(lay.name, lay) for lay in layers if is_regions_layer(lay)]

    def _follow_regions_layers(self) -> None:
        """Refresh the regions choice; a newly made regions layer becomes the choice."""
        previous = self.regions.value
        try:
            self.regions.reset_choices()
        except RuntimeError:
            return
        ours = [lay for _n, lay in self._regions_choices() if derived_info(lay).get("role") == "regions"]
        if (previous is None or previous not in self._viewer.layers) and ours:
            self.regions.value = ours[-1]

    def _new_regions(self, kind: str) -> Any:
        cube = self._regions_cube(None)
        if cube is None:
            notify_error("Spectra: open an FTIR image first (regions are drawn on its pixels).")
            return None
        layer = add_regions_layer(self._viewer, cube, kind)
        self._viewer.layers.selection.active = layer
        layer.mode = "add_rectangle" if kind == "shapes" else "paint"
        if kind == "labels":
            layer.selected_label = 1
        self.regions.reset_choices()
        self.regions.value = layer
        return layer

    def _unhook_regions(self) -> None:
        layer = self._regions_hooked
        self._regions_hooked = None
        if layer is None:
            return
        for name in ("data", "paint", "colormap", "features", "edge_color", "name"):
            emitter = getattr(layer.events, name, None)
            if emitter is not None:
                try:
                    emitter.disconnect(self._on_regions_event)
                except Exception:
                    pass

    def _on_regions_layer(self, *_: Any) -> None:
        if not self._alive:
            return
        self._unhook_regions()
        layer = self.regions.value
        if layer is not None:
            for name in ("data", "paint", "colormap", "features", "edge_color", "name"):
                emitter = getattr(layer.events, name, None)
                if emitter is not None:
                    emitter.connect(self._on_regions_event)
            self._regions_hooked = layer
        self.refresh_regions()

    def _on_regions_event(self, event: Any = None) -> None:
        action = str(getattr(event, "action", ""))
        if action.endswith("adding") or action.endswith("changing") or action.endswith("removing"):
            return  # a shape being drawn or dragged: wait until it is done
        if self._alive:
            self._regions_timer.start()

    def _regions_cube(self, layer: Any) -> Any:
        """The FTIR layer the regions of ``layer`` are measured on."""
        cube = find_layer(self._viewer, derived_info(layer).get("source_id")) if layer is not None else None
        if cube is not None and is_cube_layer(cube):
            return cube
        cube = self._cube_for(None)
        if cube is not None:
            return cube
        return next((lay for lay in self._viewer.layers if is_cube_layer(lay)), None)

    def _compute_regions(self) -> list[RegionStats]:
        layer = self.regions.value
        if layer is None or layer not in self._viewer.layers:
            return []
        cube = self._regions_cube(layer)
        if cube is None:
            return []
        try:
            regions = regions_of(layer, cube)
        except ValueError as exc:
            self.regions_info.value = str(exc)
            return []
        abundances = None
        if self.result is not None and self.result_layers:
            source = self.result_layers[0].metadata[RESULT_KEY].get("source_id")
            if source == getattr(cube, "unique_id", None) and \
                    tuple(self.result.abundances.shape[1:]) == tuple(cube.data.shape[1:]):
                abundances = self.result.abundances
        self._regions_wn = np.asarray(cube.metadata["wavenumbers"], dtype=np.float64)
        return region_stats(cube.data, regions, abundances)

    def refresh_regions(self) -> None:
        """Recompute the regions of the chosen layer and replot (a change of the layer does this)."""
        if not self._alive:
            return
        self.region_stats = self._compute_regions()
        self._update_regions_info()
        if bool(self.region_stats) != self._region_rows:
            self._layout_rows(bool(self.region_stats))
            self._plot_endmembers()
            self._plot_pixels()
        self._plot_regions()
        self.canvas.draw_idle()

    def _update_regions_info(self) -> None:
        layer = self.regions.value
        if layer is None:
            self.regions_info.value = "Regions: Draw regions (rectangles, polygons) or Paint regions."
        elif not self.region_stats:
            if not str(self.regions_info.value).startswith("labels layer"):
                self.regions_info.value = f"{layer.name}: no regions yet — draw or paint on it."
        else:
            parts = [f"{st.name} {st.n_pixels} px" for st in self.region_stats]
            self.regions_info.value = f"{len(self.region_stats)} regions: " + ", ".join(parts)
        self.regions_info.tooltip = self.regions_info.value

    def _plot_regions(self) -> None:
        ax, axb = self.ax_rg, self.ax_rga
        self.region_lines = []
        if ax is None or axb is None:
            return
        ax.clear()
        axb.clear()
        stats = [st for st in self.region_stats if st.mean is not None]
        wn = getattr(self, "_regions_wn", None)
        for st in stats:
            color = tuple(np.asarray(st.color, dtype=float)[:3])
            ax.fill_between(wn, st.mean - st.sd, st.mean + st.sd, color=color, alpha=0.25, lw=0)
            (line,) = ax.plot(wn, st.mean, color=color, lw=1.2, label=f"{st.name} (n = {st.n_pixels})")
            self.region_lines.append(line)
        if stats:
            ax.set_xlim(float(np.max(wn)), float(np.min(wn)))
            legend = ax.legend(loc="upper left", fontsize=7, ncols=2 if len(stats) > 3 else 1)
            style_legend(legend, self.canvas.colors)
        with_ab = [st for st in stats if st.abundances is not None]
        if with_ab:
            colors = self._colors()
            names = self.names()
            y = np.arange(len(with_ab))
            left = np.zeros(len(with_ab))
            for k in range(len(names)):
                vals = np.array([st.abundances[k] for st in with_ab])
                axb.barh(y, vals, left=left, color=colors[k], height=0.7,
                         label=names[k] if len(with_ab) else None)
                left += vals
            axb.set_yticks(y, [st.name for st in with_ab], fontsize=7)
            for tick, st in zip(axb.get_yticklabels(), with_ab):
                tick.set_color(tuple(np.asarray(st.color, dtype=float)[:3]))
            axb.invert_yaxis()
        self._label_axes()
        style_axes(ax, self.canvas.colors)
        style_axes(axb, self.canvas.colors)
        if with_ab:
            for tick, st in zip(axb.get_yticklabels(), with_ab):
                tick.set_color(tuple(np.asarray(st.color, dtype=float)[:3]))

    def _on_export_regions(self, *_: Any) -> None:
        self.flush()
        path = self.regions_path.value
        if path is None or str(path).strip() in ("", "."):
            notify_error("Spectra: choose a .csv file to export the regions to.")
            return
        if not self.region_stats:
            notify_error("Spectra: no regions to export; draw or paint regions first.")
            return
        path = Path(path)
        if path.suffix.lower() != ".csv":
            path = path.with_name(path.name + ".csv")
        spectra_path = path.with_name(f"{path.stem}_spectra.csv")
        existing = [p for p in (path, spectra_path) if p.exists()]
        if existing and not _common.ask_yes_no(
                self.native, "Replace the files?",
                f"{', '.join(str(p) for p in existing)} exist{'s' if len(existing) == 1 else ''}. Replace?"):
            return
        names = self.names() if any(st.abundances is not None for st in self.region_stats) else []
        try:
            written = write_regions_csv(path, self.region_stats, self._regions_wn, names,
                                        overwrite=bool(existing))
        except (OSError, ValueError, OutputError) as exc:
            notify_error(f"Spectra: region export failed: {exc}")
            return
        notify_info(f"Spectra: wrote {written[0].name} and {written[1].name}")

    # ------------------------------------------------------------------ export
    def plotted_table(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(wavenumbers, table (B, n), column names)`` of every plotted spectrum."""
        wn, columns, names = None, [], []
        if self.result is not None:
            wn = np.asarray(self.result.wavenumbers, dtype=np.float64)
            for i, name in enumerate(self.names()):
                columns.append(self.result.endmembers[:, i])
                names.append(f"endmember {name}")
        for kind, entry, _color in self._pixel_entries():
            w = entry["wavenumbers"]
            if wn is None:
                wn = w
            if w is None or w.shape != wn.shape:
                continue
            tag = f"{'pinned ' if kind == 'pinned' else ''}pixel ({entry['row']}, {entry['col']})"
            if entry["observed"] is not None:
                columns.append(entry["observed"])
                names.append(f"{tag} observed")
            if entry["reconstructed"] is not None:
                columns.append(entry["reconstructed"])
                names.append(f"{tag} model")
        if wn is None or not columns:
            return np.zeros(0), np.zeros((0, 0)), []
        return wn, np.column_stack(columns), names

    def _on_export(self, *_: Any) -> None:
        self.flush()
        path = self.export_path.value
        if path is None or str(path).strip() in ("", "."):
            notify_error("Spectra: choose a file to export to (.csv, .png, .svg or .pdf).")
            return
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".png", ".svg", ".pdf"):
            notify_error(f"Spectra: cannot export to {path.name}; use .csv, .png, .svg or .pdf.")
            return
        wn, table, names = self.plotted_table()
        if suffix == ".csv" and not names:
            notify_error("Spectra: nothing is plotted yet.")
            return
        overwrite = path.exists()
        if overwrite and not _common.ask_yes_no(self.native, "Replace the file?",
                                                f"{path} exists. Replace it?"):
            return
        try:
            if suffix == ".csv":
                write_spectra_csv(path, wn, table, names, overwrite=overwrite)
            else:
                fig = self.canvas.figure
                with atomic_file(path, overwrite=overwrite) as tmp:
                    fig.savefig(tmp, facecolor=fig.get_facecolor(), dpi=200)
        except (OSError, ValueError) as exc:
            notify_error(f"Spectra: export failed: {exc}")
            return
        notify_info(f"Spectra: wrote {path}")
