"""The "Composites" panel: a false-colour RGB of three maps and the dominant-material map.

The computations are in :mod:`._composites` (no Qt); this module builds the
controls and adds the layers. Drive it by control name::

    w = CompositesWidget(viewer)
    w.red.value, w.green.value, w.blue.value = map_a, map_b, map_c   # abundance layers
    w.stretch.value = True       # each channel to its 99.5th percentile
    w.make_rgb.clicked()         # adds "RGB a / b / c" (legend on the canvas and in the panel)
    w.min_abundance.value = 0.4
    w.make_dominant.clicked()    # adds "dominant material" (a Labels layer: paint to correct it)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, PushButton
from qtpy.QtWidgets import QSizePolicy

from . import _widgets_common as _common
from ._composites import CHANNELS, dominant_layer_tuple, label_names, rgb_layer_tuple
from ._layers import DERIVED_KEY, RESULT_KEY, derived_info, is_abundance_layer
from ._widgets_common import notify_error

__all__ = ["CompositesWidget", "watch_dominant_layer"]

_SWATCH = {"red": "#ff3030", "green": "#30ff30", "blue": "#3080ff"}


def watch_dominant_layer(layer: Any) -> None:
    """Mark a dominant-material layer as edited (``metadata[DERIVED_KEY]["edited"]``) once painted."""
    info = derived_info(layer)
    if info.get("role") != "dominant":
        return

    def on_paint(*_: Any) -> None:
        info["edited"] = True

    layer.events.paint.connect(on_paint)


def _hex(color: Any) -> str:
    r, g, b = (int(round(float(c) * 255)) for c in np.asarray(color, dtype=float)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


class CompositesWidget(Container):
    """Dock widget making composites of the abundance maps.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer

    Notes
    -----
    Controls, by name: ``red``, ``green``, ``blue`` (abundance layers),
    ``stretch``, ``make_rgb``, ``rgb_legend``; ``min_abundance``,
    ``make_dominant``, ``dominant_legend``.
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=False)
        self._viewer = napari_viewer
        self._alive = True
        tips = {c: f"The map shown in {c}." for c in CHANNELS}
        self.red, self.green, self.blue = (
            ComboBox(name=c, label=c, choices=self._map_choices, nullable=True, tooltip=tips[c])
            for c in CHANNELS)
        self.stretch = CheckBox(name="stretch", text="stretch each channel", value=False,
                                tooltip="Scale each channel so that its 99.5th percentile is full "
                                        "brightness: faint materials show, but brightness no longer "
                                        "compares across channels. Off: 0 = black, 1 = full colour.")
        self.make_rgb = PushButton(name="make_rgb", text="False-colour RGB",
                                   tooltip="Add an RGB image of the three maps (replaces an earlier "
                                           "one of the same maps).")
        self.rgb_legend = Label(name="rgb_legend", value="")
        self.min_abundance = FloatSpinBox(
            name="min_abundance", label="min. abundance", value=0.3, min=0.0, max=1.0, step=0.05,
            tooltip="A pixel gets no material (transparent) when its largest abundance is below this.")
        self.make_dominant = PushButton(
            name="make_dominant", text="Dominant material",
            tooltip="Add a Labels layer: each pixel in the colour of its most abundant material "
                    "(the colours of the maps and spectra). Paint on it to correct it.")
        self.dominant_legend = Label(name="dominant_legend", value="")
        self.extend([
            Label(name="rgb_title", value="<b>False-colour image</b> of three maps"),
            Container(name="channels", widgets=[self.red, self.green, self.blue], labels=True),
            Container(name="rgb_row", widgets=[self.stretch, self.make_rgb], layout="horizontal",
                      labels=False),
            self.rgb_legend,
            Label(name="dominant_title", value="<b>Dominant material</b> (arg-max of the maps)"),
            Container(name="dominant_row", widgets=[self.min_abundance, self.make_dominant],
                      layout="horizontal", labels=True),
            self.dominant_legend,
        ])
        for label in (self.rgb_legend, self.dominant_legend):
            label.native.setWordWrap(True)
            label.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.make_rgb.clicked.connect(self._on_rgb)
        self.make_dominant.clicked.connect(self._on_dominant)
        ev = napari_viewer.layers.events
        for e in (ev.inserted, ev.removed, ev.moved):
            e.connect(self._on_layers_changed)
        self.native.destroyed.connect(lambda *_: setattr(self, "_alive", False))
        self._on_layers_changed()

    # ------------------------------------------------------------------ choices
    def _map_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        try:
            layers = list(self._viewer.layers)
        except Exception:
            return []
        return [(lay.name, lay) for lay in layers if is_abundance_layer(lay)]

    def latest_maps(self) -> list[Any]:
        """The maps of the run highest in the layer list, in endmember order."""
        maps = [lay for _n, lay in self._map_choices()]
        if not maps:
            return []
        run = maps[-1].metadata[RESULT_KEY]["run_id"]
        group = [m for m in maps if m.metadata[RESULT_KEY]["run_id"] == run]
        return sorted(group, key=lambda m: m.metadata[RESULT_KEY]["index"])

    def _on_layers_changed(self, *_: Any) -> None:
        if not self._alive:
            return
        combos = (self.red, self.green, self.blue)
        try:
            for combo in combos:
                combo.reset_choices()
        except RuntimeError:
            self._alive = False
            return
        latest = self.latest_maps()
        if latest and any(c.value is None for c in combos):
            for combo, layer in zip(combos, latest[:3]):
                if combo.value is None:
                    combo.value = layer

    # ------------------------------------------------------------------ actions
    def _on_rgb(self, *_: Any) -> Any:
        layers = [self.red.value, self.green.value, self.blue.value]
        try:
            data, kwargs, _kind = rgb_layer_tuple(layers, stretch=bool(self.stretch.value))
        except ValueError as exc:
            notify_error(f"Composites: {exc}")
            return None
        old = [lay for lay in self._viewer.layers
               if derived_info(lay).get("role") == "rgb" and lay.name == kwargs["name"]]
        index = list(self._viewer.layers).index(old[0]) if old else None
        for lay in old:
            self._viewer.layers.remove(lay)
        layer = self._viewer.add_image(data, **kwargs)
        if index is not None:
            self._viewer.layers.move(list(self._viewer.layers).index(layer), index)
        info = kwargs["metadata"][DERIVED_KEY]
        self.rgb_legend.value = " · ".join(
            f"<span style='color:{_SWATCH[c]}'>■</span> {c}: {n}" for c, n in zip(CHANNELS, info["channels"]))
        show_legend_overlay(self._viewer, layer)
        return layer

    def _on_dominant(self, *_: Any) -> Any:
        maps = self._run_maps()
        try:
            data, kwargs, _kind = dominant_layer_tuple(maps, float(self.min_abundance.value))
        except ValueError as exc:
            notify_error(f"Composites: {exc}")
            return None
        run = kwargs["metadata"][DERIVED_KEY]["run_id"]
        old = [lay for lay in self._viewer.layers
               if derived_info(lay).get("role") == "dominant" and derived_info(lay).get("run_id") == run]
        if any(derived_info(lay).get("edited") for lay in old) and not _common.ask_yes_no(
                self.native, "Replace the painted map?",
                "The dominant-material map of this run was painted by hand. Replace it (the "
                "corrections are lost)?"):
            return None
        index = list(self._viewer.layers).index(old[0]) if old else None
        for lay in old:
            self._viewer.layers.remove(lay)
        layer = self._viewer.add_labels(data, **kwargs)
        if index is not None:
            self._viewer.layers.move(list(self._viewer.layers).index(layer), index)
        watch_dominant_layer(layer)
        self._show_dominant_legend(layer)
        return layer

    def _run_maps(self) -> list[Any]:
        """The maps of the run of the red channel's map (else of the latest run), in order."""
        chosen = self.red.value
        if chosen is None or chosen not in self._viewer.layers:
            return self.latest_maps()
        run = chosen.metadata[RESULT_KEY]["run_id"]
        group = [lay for _n, lay in self._map_choices() if lay.metadata[RESULT_KEY]["run_id"] == run]
        return sorted(group, key=lambda m: m.metadata[RESULT_KEY]["index"])

    def _show_dominant_legend(self, layer: Any) -> None:
        data = np.asarray(layer.data)
        counts = np.bincount(data.ravel(), minlength=len(label_names(layer)))
        total = max(1, data.size)
        parts = []
        for value, name in label_names(layer).items():
            if value == 0:
                continue
            parts.append(f"<span style='color:{_hex(layer.get_color(value))}'>■</span> {name} "
                         f"{100.0 * counts[value] / total:.0f} %")
        parts.append(f"none (below {derived_info(layer).get('min_abundance', 0):.2f}) "
                     f"{100.0 * counts[0] / total:.0f} %")
        self.dominant_legend.value = " · ".join(parts)


def text_overlay(viewer: Any) -> Any:
    """napari's canvas text overlay (``viewer.canvas.overlays.text`` from napari 0.9 on)."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    text = getattr(overlays, "text", None) if overlays is not None else None
    return text if text is not None else viewer.text_overlay


def show_legend_overlay(viewer: Any, layer: Any) -> None:
    """Write an RGB layer's legend in the canvas's text overlay (so exported figures carry it), and
    hide it when the layer is hidden or removed."""
    text = derived_info(layer).get("legend", "")
    overlay = text_overlay(viewer)
    overlay.text = text
    overlay.position = "top_left"
    overlay.font_size = 11
    overlay.visible = bool(text) and layer.visible

    def on_visible(event: Any = None) -> None:
        if overlay.text == text:
            overlay.visible = bool(layer.visible)

    def on_removed(event: Any = None) -> None:
        # compare ids: napari hands plugins proxies of the layers, so `is` does not hold
        removed = getattr(getattr(event, "value", None), "unique_id", None)
        if removed == layer.unique_id and overlay.text == text:
            overlay.visible = False

    layer.events.visible.connect(on_visible)
    viewer.layers.events.removed.connect(on_removed)
