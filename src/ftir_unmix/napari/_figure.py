"""Figures: colour bars, scale bar, pixel size, canvas and plot export (no Qt here).

The Figure panel (:mod:`._figure_widget`) is a thin view over these functions.

- colour bars are napari's own overlays (``layer.colorbar``), one per map in
  the map's colour, tiled in a corner of the canvas;
- the scale bar (``viewer.scale_bar``) is in µm because the layers are scaled
  in µm when the file gives a pixel size; :func:`set_pixel_size` sets (or
  corrects) it for an image and every layer made from it;
- :func:`export_canvas` writes the canvas, fitted to the data, at a chosen
  width in pixels (overlays included), atomically;
- :func:`export_plot` writes a panel's matplotlib figure as PNG, SVG or PDF,
  atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..safe_write import atomic_file
from ._layers import DERIVED_KEY, RESULT_KEY, derived_info, is_abundance_layer

__all__ = [
    "CANVAS_SUFFIXES",
    "PLOT_SUFFIXES",
    "export_canvas",
    "export_plot",
    "natural_size",
    "set_colorbars",
    "set_pixel_size",
    "set_scale_bar",
]

#: File types of a canvas export.
CANVAS_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
#: File types of a plot export.
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
#: Largest width of a canvas export (pixels): an offscreen canvas of this size is drawn at once.
MAX_EXPORT_WIDTH = 8000


def colorbar_layers(viewer: Any) -> list[Any]:
    """The layers a colour bar makes sense for: abundance maps (2-D, one colormap)."""
    return [lay for lay in viewer.layers if is_abundance_layer(lay)]


def set_colorbars(viewer: Any, visible: bool, layers: list[Any] | None = None) -> int:
    """Show or hide the colour bars of ``layers`` (default: every abundance map); their number."""
    layers = colorbar_layers(viewer) if layers is None else layers
    for layer in layers:
        colorbar = getattr(layer, "colorbar", None)
        if colorbar is not None:
            colorbar.visible = bool(visible)
    return len(layers)


def scale_bar(viewer: Any) -> Any:
    """napari's scale bar overlay (``viewer.canvas.overlays.scale_bar`` from napari 0.9 on)."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    bar = getattr(overlays, "scale_bar", None) if overlays is not None else None
    return bar if bar is not None else viewer.scale_bar


def set_scale_bar(viewer: Any, visible: bool) -> str:
    """Show or hide napari's scale bar; the unit it will use (the layers' spatial unit)."""
    bar = scale_bar(viewer)
    bar.visible = bool(visible)
    bar.ticks = True
    bar.box = True
    units = [str(u) for lay in viewer.layers for u in tuple(lay.units)[-1:]]
    return units[-1] if units else "pixel"


def set_pixel_size(viewer: Any, cube_layer: Any, size_um: float) -> list[Any]:
    """Give an FTIR image a pixel size (µm), and with it every layer made from it.

    Maps, regions, composites and the registered photo follow, so everything
    stays aligned and the scale bar reads µm. Returns the layers changed.

    Raises
    ------
    ValueError
        ``size_um`` is not a positive finite number.
    """
    size = float(size_um)
    if not np.isfinite(size) or size <= 0:
        raise ValueError(f"the pixel size must be a positive number of µm; got {size_um}")
    old = float(cube_layer.scale[-1])
    ratio = size / old if old > 0 else 1.0
    cube_layer.scale = (*tuple(cube_layer.scale)[:-2], size, size)
    cube_layer.translate = (*tuple(cube_layer.translate)[:-2],
                            *(float(t) * ratio for t in tuple(cube_layer.translate)[-2:]))
    cube_layer.units = (*tuple(str(u) for u in cube_layer.units)[:-2], "µm", "µm")
    cube_layer.metadata["pixel_size"] = size
    changed = [cube_layer]
    cube_id = getattr(cube_layer, "unique_id", None)
    spatial = (tuple(cube_layer.scale[-2:]), tuple(cube_layer.translate[-2:]))
    for layer in list(viewer.layers):
        if layer is cube_layer:
            continue
        info = layer.metadata.get(RESULT_KEY) if is_abundance_layer(layer) else derived_info(layer)
        if not isinstance(info, dict) or info.get("source_id") != cube_id:
            continue
        role = info.get("role", "abundance")
        if role in ("photo", "photo_points"):
            from ._photo import update_photo_affine

            update_photo_affine(layer, cube_layer, ratio)
        else:
            layer.scale = spatial[0]
            layer.translate = spatial[1]
            layer.units = ("µm", "µm")
        changed.append(layer)
    return changed


def natural_size(viewer: Any) -> tuple[int, int]:
    """``(height, width)`` in pixels of a canvas export at scale 1: one pixel per smallest data pixel
    over the displayed extent of every layer (napari's ``export_figure``)."""
    extent = viewer.layers.extent
    displayed = list(viewer.dims.displayed)[-2:]
    world = np.asarray(extent.world, dtype=float)[:, displayed]
    step = float(np.min(np.asarray(extent.step, dtype=float)[displayed]))
    size = (world[1] - world[0]) / step + 1.0
    return int(round(size[0])), int(round(size[1]))


def export_canvas(viewer: Any, path: str | Path, *, width: int | None = None,
                  overwrite: bool = False) -> tuple[Path, tuple[int, int]]:
    """Write the canvas, fitted to the data, to ``path`` (``.png``, ``.tif``, ``.jpg``) atomically.

    Parameters
    ----------
    viewer : napari.Viewer
    path : path-like
    width : int, optional
        Width of the image in pixels (the height follows the data's aspect);
        default: one pixel per data pixel. Overlays (scale bar, colour bars,
        legend) keep their size in screen pixels, so a wide export makes them
        relatively small.
    overwrite : bool
        Replace an existing file (ask the user first).

    Returns
    -------
    (Path, (height, width))
    """
    path = Path(path)
    if path.suffix.lower() not in CANVAS_SUFFIXES:
        raise ValueError(f"{path.name}: save the canvas as {', '.join(CANVAS_SUFFIXES)}")
    nat_h, nat_w = natural_size(viewer)
    if width is None:
        width = nat_w
    width = int(width)
    if not 16 <= width <= MAX_EXPORT_WIDTH:
        raise ValueError(f"width must be between 16 and {MAX_EXPORT_WIDTH} pixels; got {width}")
    height = max(1, int(round(width * nat_h / nat_w)))
    img = np.asarray(viewer.export_figure(scale_factor=width / nat_w, flash=False))
    if img.shape[:2] != (height, width):  # ±1 pixel of rounding in napari: resample to the asked size
        from skimage.transform import resize

        img = resize(img, (height, width, img.shape[2]), order=1, preserve_range=True,
                     anti_aliasing=True).round().astype(np.uint8)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        img = img[..., :3]
    import imageio.v3 as iio

    with atomic_file(path, overwrite=overwrite) as tmp:
        iio.imwrite(tmp, img)
    return path, (height, width)


def export_plot(figure: Any, path: str | Path, *, dpi: int = 200, overwrite: bool = False) -> Path:
    """Write a matplotlib figure (a panel's plot) to ``.png``, ``.svg`` or ``.pdf``, atomically."""
    path = Path(path)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"{path.name}: save a plot as {', '.join(PLOT_SUFFIXES)}")
    with atomic_file(path, overwrite=overwrite) as tmp:
        figure.savefig(tmp, facecolor=figure.get_facecolor(), dpi=int(dpi))
    return path


def cube_of(viewer: Any, layer: Any) -> Any:
    """The FTIR layer a map or derived layer was made from (the layer itself for a cube), or None."""
    from ._layers import find_layer, is_cube_layer

    if layer is None:
        return None
    if is_cube_layer(layer):
        return layer
    info = layer.metadata.get(RESULT_KEY) if is_abundance_layer(layer) else layer.metadata.get(DERIVED_KEY)
    if isinstance(info, dict):
        return find_layer(viewer, info.get("source_id"))
    return None
