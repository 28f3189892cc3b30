"""The "Photo" panel: open a visible-light photo and register it onto the FTIR image.

The registration itself is in :mod:`._photo` (no Qt). Drive it by name::

    w = PhotoWidget(viewer)
    w.open_photo.clicked()        # a file dialog (or set w.photo to an image layer)
    w.pick_points.clicked()       # adds "photo points" and "FTIR points"
    # click a feature on the photo, then the same feature on the FTIR image or a map; ≥ 3 pairs
    w.register.clicked()          # the photo moves under the maps; w.registration has the residuals
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import ComboBox, Container, Label, PushButton
from qtpy.QtWidgets import QSizePolicy

from . import _widgets_common as _common
from ._layers import derived_info, is_abundance_layer, is_cube_layer
from ._photo import (
    PHOTO_SUFFIXES,
    Registration,
    add_photo,
    point_pair_layers,
    register_photo,
    start_point_pairs,
)
from ._widgets_common import cube_layer_choices, follow_new_cube, notify_error, notify_info

__all__ = ["PhotoWidget"]


class PhotoWidget(Container):
    """Dock widget placing a photograph of the cross-section under the maps.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer

    Notes
    -----
    Controls, by name: ``layer`` (the FTIR image), ``photo`` (an image
    layer), buttons ``open_photo``, ``pick_points``, ``register``, and the
    text ``info``. The latest registration is :attr:`registration`.
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=False)
        self._viewer = napari_viewer
        self._alive = True
        self._watched: list[Any] = []
        self.registration: Registration | None = None
        self.layer = ComboBox(name="layer", label="FTIR image", choices=self._cube_choices, nullable=True,
                              tooltip="The image the photo is registered onto.")
        self.photo = ComboBox(name="photo", label="photo", choices=self._photo_choices, nullable=True,
                              tooltip="The photograph (any 2-D or RGB image layer).")
        self.open_photo = PushButton(name="open_photo", text="Open photo…",
                                     tooltip="Read a photo (PNG, JPEG, TIFF…) and place it beside the image.")
        self.pick_points = PushButton(
            name="pick_points", text="Pick point pairs",
            tooltip="Add two point layers: click a feature on the photo (yellow), then the same "
                    "feature on the FTIR image or a map (cyan); pair i is the i-th point of each. "
                    "At least three pairs, spread out.")
        self.register = PushButton(name="register", text="Register",
                                   tooltip="Estimate the affine transform from the pairs and lay the "
                                           "photo under the maps.")
        self.info = Label(name="info", value="Open a photo of the cross-section.")
        self.extend([
            Container(name="choices", widgets=[self.layer, self.photo], labels=True),
            Container(name="buttons", widgets=[self.open_photo, self.pick_points, self.register],
                      layout="horizontal", labels=False),
            self.info,
        ])
        self.info.native.setWordWrap(True)
        self.info.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.open_photo.clicked.connect(self._on_open)
        self.pick_points.clicked.connect(self._on_pick)
        self.register.clicked.connect(self._on_register)
        self.photo.changed.connect(self._show_pairs)
        ev = napari_viewer.layers.events
        for e in (ev.inserted, ev.removed):
            e.connect(self._on_layers_changed)
        self.native.destroyed.connect(lambda *_: setattr(self, "_alive", False))
        self._on_layers_changed()

    # ------------------------------------------------------------------ choices
    def _cube_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return cube_layer_choices(self._viewer)

    def _photo_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        from napari.layers import Image

        try:
            layers = list(self._viewer.layers)
        except Exception:
            return []
        return [(lay.name, lay) for lay in layers if isinstance(lay, Image) and not is_cube_layer(lay)
                and not is_abundance_layer(lay) and derived_info(lay).get("role") in (None, "photo")]

    def _on_layers_changed(self, event: Any = None) -> None:
        if not self._alive:
            return
        if not follow_new_cube(self.layer, event):
            self._alive = False
            return
        if self.layer.value is None:
            cubes = [c for c in self.layer.choices if c is not None]
            if cubes:
                self.layer.value = cubes[0]
        previous = self.photo.value
        self.photo.reset_choices()
        new = getattr(event, "value", None)
        if getattr(event, "type", "") == "inserted" and derived_info(new).get("role") == "photo":
            self.photo.value = new
        elif previous is None:
            photos = [p for p in self.photo.choices if p is not None]
            if photos:
                self.photo.value = photos[-1]
        self._show_pairs()

    # ------------------------------------------------------------------ actions
    def _on_open(self, *_: Any) -> Any:
        cube = self.layer.value
        if cube is None:
            notify_error("Photo: open the FTIR image first; the photo is placed beside it.")
            return None
        path = _common.ask_open_path(self.native, "Open a photo of the cross-section",
                                     "Images (" + " ".join(f"*{s}" for s in PHOTO_SUFFIXES) + ")")
        if not path:
            return None
        try:
            layer = add_photo(self._viewer, path, cube)
        except (OSError, ValueError) as exc:
            notify_error(f"Photo: {exc}")
            return None
        self.photo.value = layer
        self.info.value = "Press 'Pick point pairs' and click matching points (photo, then image)."
        return layer

    def _on_pick(self, *_: Any) -> Any:
        cube, photo = self.layer.value, self.photo.value
        if cube is None or photo is None:
            notify_error("Photo: choose the FTIR image and the photo first.")
            return None
        photo_pts, ftir_pts = start_point_pairs(self._viewer, photo, cube)
        for layer in (photo_pts, ftir_pts):
            if layer not in self._watched:
                layer.events.data.connect(self._on_point)
                self._watched.append(layer)
        self._viewer.layers.selection.active = photo_pts
        photo_pts.mode = "add"
        self._show_pairs()
        return photo_pts, ftir_pts

    def _on_point(self, event: Any = None) -> None:
        """After a point on one side, switch to the other side (pair by pair)."""
        if not self._alive or not str(getattr(event, "action", "")).endswith("added"):
            return
        pairs = point_pair_layers(self._viewer, self.photo.value) if self.photo.value is not None else None
        if pairs is not None:
            photo_pts, ftir_pts = pairs
            nxt = ftir_pts if len(photo_pts.data) > len(ftir_pts.data) else photo_pts
            self._viewer.layers.selection.active = nxt
            nxt.mode = "add"
        self._show_pairs()

    def _show_pairs(self, *_: Any) -> None:
        if not self._alive:
            return
        photo = self.photo.value
        if photo is None:
            return
        pairs = point_pair_layers(self._viewer, photo)
        info = derived_info(photo)
        text = ""
        if pairs is not None:
            n_p, n_f = len(pairs[0].data), len(pairs[1].data)
            text = f"{min(n_p, n_f)} pairs ({n_p} on the photo, {n_f} on the image)"
            if min(n_p, n_f) < 3:
                text += "; at least 3 are needed"
        if info.get("matrix_px") is not None:
            text += (" · registered from " if text else "registered from ") + \
                f"{info.get('n_pairs', '?')} pairs, RMS residual {info.get('rms_px', float('nan')):.2f} px"
        self.info.value = text or "Press 'Pick point pairs'."

    def _on_register(self, *_: Any) -> Registration | None:
        cube, photo = self.layer.value, self.photo.value
        if cube is None or photo is None:
            notify_error("Photo: choose the FTIR image and the photo first.")
            return None
        try:
            reg = register_photo(self._viewer, photo, cube)
        except ValueError as exc:
            notify_error(f"Photo: {exc}")
            return None
        self.registration = reg
        pairs = point_pair_layers(self._viewer, photo)
        if pairs is not None:
            for layer in pairs:
                layer.visible = False
            pairs[1].mode = "pan_zoom"
        self._show_pairs()
        notify_info(f"Photo: registered from {reg.n_pairs} pairs; RMS residual {reg.rms_px:.2f} px "
                    f"({reg.rms_um:.2f} µm).")
        return reg
