"""Pieces the three panels share: layer choices, parameter controls, notifications."""

from __future__ import annotations

from typing import Any

from magicgui.widgets import ComboBox, FloatSpinBox

from ..parameters import WEIGHT_RULES
from ._layers import is_cube_layer
from ._session import WEIGHT_PARAM_NAMES, WeightParams, typed_weight_param

__all__ = [
    "ask_open_path",
    "ask_save_path",
    "ask_yes_no",
    "bind_weight_controls",
    "cube_layer_choices",
    "image_layer_choices",
    "make_weight_controls",
    "notify_error",
    "notify_info",
    "notify_warning",
]

#: Tooltips in users' terms.
WEIGHT_TOOLTIPS = {
    "gamma_rough": "How much a jagged median spectrum (sharp atmospheric lines, noise) counts "
                   "against a band. 0 (default) ignores roughness; the paper's 0.75 also "
                   "distrusts genuinely sharp bands of the sample.",
    "gamma_flat": "How much a band that hardly varies across the image (no chemical "
                  "information) counts against it. 0 (default) reproduces the authors' code.",
    "tau": "Score at which a band's weight is halfway down. Lower values distrust more bands.",
    "sharpness": "How abruptly the weight drops from 1 to its floor around the threshold τ.",
    "w_min": "Weight given to the least reliable bands (and to ranges you force by hand). "
             "0 ignores them entirely.",
    "corr_floor": "Smallest spread the neighbour-correlation deficit is measured in. 0 (the paper) "
                  "lets a clean image distrust bands whose neighbours still correlate at 0.95; "
                  "the default 0.05 distrusts only bands that are poorly correlated.",
    "corr_model": "How a band's agreement with its neighbours is measured. pairs (default, the "
                  "paper): the worse correlation with an adjacent band. neighbours: what the two "
                  "bands on each side cannot predict, so a narrow band that shifts a little from "
                  "pixel to pixel keeps its weight, but a drifting atmospheric residue is kept too.",
}
_WEIGHT_LABELS = {
    "gamma_rough": "γ roughness", "gamma_flat": "γ flatness", "tau": "τ threshold",
    "sharpness": "sharpness", "w_min": "w_min (floor)", "corr_floor": "corr. floor",
    "corr_model": "corr. model",
}
#: Spin-box (step, upper end); the lower end and the hard upper bound come from the engine's rules.
_WEIGHT_STEPS = {
    "gamma_rough": (0.05, 10.0), "gamma_flat": (0.05, 10.0), "tau": (0.1, 50.0),
    "sharpness": (0.1, 50.0), "w_min": (0.01, 1.0), "corr_floor": (0.01, 1.0),
}


def _weight_range(name: str) -> tuple[float, float, float]:
    rule = WEIGHT_RULES[name]
    step, top = _WEIGHT_STEPS[name]
    return rule.low + (0.01 if rule.low_open else 0.0), min(top, rule.high), step


def _viewer_layers(viewer: Any) -> list[Any]:
    try:
        return list(viewer.layers)
    except Exception:  # viewer being torn down
        return []


def image_layer_choices(viewer: Any) -> list[tuple[str, Any]]:
    """``(name, layer)`` for every image layer, FTIR cubes first."""
    from napari.layers import Image

    layers = [layer for layer in _viewer_layers(viewer) if isinstance(layer, Image)]
    layers.sort(key=lambda layer: not is_cube_layer(layer))
    return [(layer.name, layer) for layer in layers]


def cube_layer_choices(viewer: Any) -> list[tuple[str, Any]]:
    """``(name, layer)`` for every FTIR cube layer."""
    return [(layer.name, layer) for layer in _viewer_layers(viewer) if is_cube_layer(layer)]


def make_weight_controls(params: WeightParams) -> dict[str, FloatSpinBox | ComboBox]:
    """One spin box (a drop-down for a choice) per band-weight parameter, named like the parameter."""
    out: dict[str, FloatSpinBox | ComboBox] = {}
    for name in WEIGHT_PARAM_NAMES:
        if WEIGHT_RULES[name].kind == "choice":
            out[name] = ComboBox(name=name, label=_WEIGHT_LABELS[name], value=getattr(params, name),
                                 choices=list(WEIGHT_RULES[name].options), tooltip=WEIGHT_TOOLTIPS[name])
            continue
        lo, hi, step = _weight_range(name)
        out[name] = FloatSpinBox(
            name=name, label=_WEIGHT_LABELS[name], value=getattr(params, name),
            min=lo, max=hi, step=step, tooltip=WEIGHT_TOOLTIPS[name],
        )
    return out


def bind_weight_controls(controls: dict[str, FloatSpinBox | ComboBox], params: WeightParams) -> None:
    """Two-way link between the controls and the shared parameters."""
    for name, widget in controls.items():
        widget.changed.connect(lambda value, n=name: setattr(params, n, typed_weight_param(n, value)))
        signal = getattr(params.events, name)
        pull = _make_pull(widget)
        signal.connect(pull)
        widget.native.destroyed.connect(lambda *_, s=signal, f=pull: s.disconnect(f))


def _make_pull(widget: FloatSpinBox | ComboBox) -> Any:
    def _pull(value: float | str) -> None:
        try:
            if widget.value != value:
                widget.value = value
        except RuntimeError:  # the Qt widget is gone
            pass

    return _pull


def follow_new_cube(combo: ComboBox, event: Any = None) -> bool:
    """Refresh a layer choice after the layer list changed.

    A newly inserted FTIR cube becomes the choice when none (or a plain
    image) was chosen. Returns False when the widget is being deleted.
    """
    previous = combo.value
    try:
        combo.reset_choices()
    except RuntimeError:  # the Qt widget is already gone
        return False
    new = getattr(event, "value", None)
    if (getattr(event, "type", "") == "inserted" and is_cube_layer(new)
            and (previous is None or not is_cube_layer(previous))):
        combo.value = new
    return True


def notify_error(message: str) -> None:
    """Show an error notification in napari (and nothing else: no exception)."""
    from napari.utils.notifications import show_error

    show_error(message)


def notify_info(message: str) -> None:
    """Show an information notification in napari."""
    from napari.utils.notifications import show_info

    show_info(message)


def notify_warning(message: str) -> None:
    """Show a warning notification in napari."""
    from napari.utils.notifications import show_warning

    show_warning(message)


def ask_yes_no(parent: Any, title: str, question: str) -> bool:
    """A modal Yes/No question (default No); True for Yes.

    Tests replace it (``monkeypatch.setattr(module, "ask_yes_no", …)``):
    a modal dialog would wait for a click that never comes.
    """
    from qtpy.QtWidgets import QMessageBox

    answer = QMessageBox.question(parent, title, question, QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


def ask_open_path(parent: Any, title: str, filter: str = "", start: str = "", *,
                  directory: bool = False) -> str | None:
    """A modal "open" file (or folder) dialog; the chosen path, or None when cancelled.

    Tests replace it (``monkeypatch.setattr(_widgets_common, "ask_open_path", …)``), like
    :func:`ask_yes_no`.
    """
    from qtpy.QtWidgets import QFileDialog

    if directory:
        path = QFileDialog.getExistingDirectory(parent, title, start)
    else:
        path, _ = QFileDialog.getOpenFileName(parent, title, start, filter)
    return str(path) if path else None


def ask_save_path(parent: Any, title: str, filter: str = "", start: str = "") -> str | None:
    """A modal "save as" dialog (it does not ask about replacing: the caller does); the path or None.

    Tests replace it, like :func:`ask_yes_no`.
    """
    from qtpy.QtWidgets import QFileDialog

    path, _ = QFileDialog.getSaveFileName(parent, title, start, filter,
                                          options=QFileDialog.Option.DontConfirmOverwrite)
    return str(path) if path else None


def show_wavenumber_overlay(viewer: Any) -> None:
    """Show napari's "current slice" overlay (the wavenumber of the displayed band)."""
    try:
        viewer.canvas.overlays.current_slice.visible = True
    except AttributeError:  # an older napari without canvas overlays
        pass
