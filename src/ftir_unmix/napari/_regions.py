"""Regions of interest: masks, statistics and their CSV export (no Qt here).

A *region* is a drawn shape (a rectangle, polygon or ellipse of a napari
Shapes layer) or a painted label (each label value of a Labels layer). The
Spectra panel (:mod:`._spectra_widget`) shows, for each region of the chosen
layer, the mean spectrum of the FTIR image with a ±1 s.d. band, the mean
abundances of the latest result and the pixel count, in the region's colour
(the colour it has on the canvas).

Shapes are rasterised in the pixel grid of the FTIR image: a pixel belongs to
a region when its centre lies inside the shape (boundary included); lines and
paths have no area and are ignored. Coordinates go through the world (µm), so
a Shapes layer with another scale or an affine still lands on the right pixels.
"""

from __future__ import annotations

import csv
import dataclasses
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..safe_write import atomic_files
from ._layers import DERIVED_KEY, derived_info, spatial_transform

__all__ = [
    "REGION_PALETTE",
    "Region",
    "RegionStats",
    "add_regions_layer",
    "watch_regions_layer",
    "new_regions_kwargs",
    "region_color",
    "regions_of",
    "region_stats",
    "is_regions_layer",
    "next_region_name",
    "write_regions_csv",
]

#: Colours of regions 1, 2, … (saturated, unlike the endmember palette), hex.
REGION_PALETTE = (
    "#ff3b30", "#00c7ff", "#7cff3b", "#ffd60a", "#bf5af2", "#ff9f0a", "#2f6bff", "#ff2d92",
    "#30d5a8", "#c8ff00", "#a2845e", "#ffffff",
)
#: Most label values a painted-regions layer gives its own palette colour.
_MAX_LABEL_COLORS = 64


def region_color(i: int, alpha: float = 1.0) -> np.ndarray:
    """RGBA colour of region ``i`` (0-based, cycling)."""
    h = REGION_PALETTE[i % len(REGION_PALETTE)].lstrip("#")
    return np.array([int(h[j:j + 2], 16) / 255.0 for j in (0, 2, 4)] + [alpha])


def next_region_name(names: Sequence[str], prefix: str = "R") -> str:
    """The first ``R<n>`` not among ``names``."""
    taken = set(names)
    n = 1
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


@dataclasses.dataclass
class Region:
    """One region: its name, colour (RGBA) and boolean mask (H, W) in the image's pixels."""

    name: str
    color: np.ndarray
    mask: np.ndarray


@dataclasses.dataclass
class RegionStats:
    """What the Spectra panel shows of a region.

    Attributes
    ----------
    name : str
    color : ndarray (4,)
        RGBA, the region's colour on the canvas.
    n_pixels : int
    mean, sd : ndarray (B,) or None
        Mean spectrum and its standard deviation (ddof 0) over the region's
        pixels; None when the region is empty.
    abundances : ndarray (K,) or None
        Mean abundance of each endmember over the region (None without a result).
    """

    name: str
    color: np.ndarray
    n_pixels: int
    mean: np.ndarray | None
    sd: np.ndarray | None
    abundances: np.ndarray | None


def is_regions_layer(layer: Any) -> bool:
    """True for Shapes and Labels layers (anything that can hold regions)."""
    from napari.layers import Labels, Shapes

    return isinstance(layer, (Shapes, Labels))


def new_regions_kwargs(cube_layer: Any, kind: str = "shapes") -> dict[str, Any]:
    """Keyword arguments of a new regions layer lying on ``cube_layer``'s pixels.

    Parameters
    ----------
    cube_layer : napari Image layer (B, H, W)
    kind : {"shapes", "labels"}
        Drawn (rectangles, polygons, ellipses) or painted regions.
    """
    scale, translate, units = spatial_transform(cube_layer)
    info = {"role": "regions", "source_id": getattr(cube_layer, "unique_id", None)}
    kwargs: dict[str, Any] = {"scale": scale, "translate": translate, "units": units,
                              "metadata": {DERIVED_KEY: info}}
    if kind == "shapes":
        kwargs.update(
            name="regions", ndim=2, edge_width=max(scale) * 0.6,
            features={"region": np.array([], dtype=object)}, feature_defaults={"region": "R1"},
            text={"string": "{region}", "size": 9, "color": "white", "anchor": "upper_left"},
            edge_color=[region_color(0)], face_color=[region_color(0, 0.15)],
        )
    elif kind == "labels":
        from napari.utils.colormaps import DirectLabelColormap

        colors: dict[Any, Any] = {None: [0.0, 0.0, 0.0, 0.0], 0: [0.0, 0.0, 0.0, 0.0]}
        colors.update({i + 1: region_color(i) for i in range(_MAX_LABEL_COLORS)})
        kwargs.update(name="painted regions", colormap=DirectLabelColormap(color_dict=colors),
                      opacity=0.5)
    else:
        raise ValueError(f"kind must be 'shapes' or 'labels'; got {kind!r}")
    return kwargs


def add_regions_layer(viewer: Any, cube_layer: Any, kind: str = "shapes") -> Any:
    """Add an empty regions layer on ``cube_layer`` (see :func:`new_regions_kwargs`), watched so that
    every new shape gets its own name and colour (:func:`watch_regions_layer`)."""
    kwargs = new_regions_kwargs(cube_layer, kind)
    if kind == "shapes":
        layer = viewer.add_shapes(**kwargs)
    else:
        h, w = (int(n) for n in cube_layer.data.shape[-2:])
        layer = viewer.add_labels(np.zeros((h, w), dtype=np.int32), **kwargs)
    watch_regions_layer(layer)
    return layer


#: Layers whose shapes are named and coloured (a layer, not a private attribute on it: napari
#: warns about private attributes set by plugins).
_WATCHED: weakref.WeakSet[Any] = weakref.WeakSet()


def watch_regions_layer(layer: Any) -> None:
    """Name and colour each shape added to a regions Shapes layer: ``R1``, ``R2``, … in the region
    palette (a deleted region's name and colour are not reused while later ones exist).

    Idempotent; a Labels layer needs nothing (its colours are its colormap's).
    """
    from napari.layers import Shapes

    if not isinstance(layer, Shapes) or layer in _WATCHED:
        return
    state = {"n": len(layer.data)}

    def on_data(event: Any) -> None:
        action = str(getattr(event, "action", ""))
        if action.endswith("removed"):
            state["n"] = len(layer.data)
            return
        if not action.endswith("added"):
            return
        n = len(layer.data)
        first, state["n"] = state["n"], n
        if n <= first:
            return
        names = _shape_names(layer)
        # several shapes added at once all get the default name: number them on
        seen, renamed = set(names[:first]), False
        for i in range(first, n):
            if names[i] in seen:
                names[i] = f"R{_max_number(names) + 1}"
                renamed = True
            seen.add(names[i])
        feats = getattr(layer, "features", None)
        if renamed and feats is not None and "region" in feats and len(feats) == n:
            feats = feats.copy()
            feats["region"] = np.asarray(names, dtype=object)
            layer.features = feats
        edge = np.asarray(layer.edge_color, dtype=float).reshape(-1, 4).copy()
        face = np.asarray(layer.face_color, dtype=float).reshape(-1, 4).copy()
        for i in range(first, min(n, len(edge), len(face))):
            k = _palette_index(names[i], i)
            edge[i], face[i] = region_color(k), region_color(k, 0.15)
        layer.edge_color = edge
        layer.face_color = face
        nxt = f"R{_max_number(names) + 1}"
        if "region" in getattr(layer, "features", {}):
            layer.feature_defaults = {"region": nxt}
        if not len(layer.selected_data):  # current_* also recolours selected shapes
            k = _palette_index(nxt, n)
            layer.current_edge_color = region_color(k)
            layer.current_face_color = region_color(k, 0.15)

    layer.events.data.connect(on_data)
    _WATCHED.add(layer)


def _max_number(names: Sequence[str]) -> int:
    nums = [int(n[1:]) for n in names if n[:1] == "R" and n[1:].isdigit()]
    return max(nums, default=0)


def _palette_index(name: str, fallback: int) -> int:
    return int(name[1:]) - 1 if name[:1] == "R" and name[1:].isdigit() else fallback


# ---------------------------------------------------------------------------------- masks
def _shape_polygon(vertices: np.ndarray, shape_type: str) -> np.ndarray | None:
    """The outline (N, 2) of a shape in (row, col) pixel coordinates, or None (no area)."""
    if shape_type in ("rectangle", "polygon"):
        return vertices
    if shape_type == "ellipse":  # napari stores an ellipse as the four corners of its box
        centre = vertices.mean(axis=0)
        u = (vertices[1] - vertices[0]) / 2.0
        w = (vertices[3] - vertices[0]) / 2.0
        t = np.linspace(0.0, 2.0 * np.pi, 97)[:-1]
        return centre + np.outer(np.cos(t), u) + np.outer(np.sin(t), w)
    return None  # line, path


def _world_to_pixels(points_world: np.ndarray, cube_layer: Any) -> np.ndarray:
    scale, translate, _ = spatial_transform(cube_layer)
    return (points_world - np.asarray(translate)) / np.asarray(scale)


def regions_of(layer: Any, cube_layer: Any) -> list[Region]:
    """The regions of a Shapes or Labels layer, as masks in ``cube_layer``'s pixel grid.

    Shapes are named by their ``region`` feature (else ``R1``, ``R2``, … in
    drawing order) and coloured by their edge colour; label values ``n > 0``
    are named ``L<n>`` (or by the layer's ``material`` feature, as on a
    "dominant material" layer) and coloured as the layer shows them.

    Raises
    ------
    ValueError
        A Labels layer whose shape is not the image's (rows, columns).
    """
    from napari.layers import Labels, Shapes

    h, w = (int(n) for n in cube_layer.data.shape[-2:])
    out: list[Region] = []
    if isinstance(layer, Shapes):
        from skimage.draw import polygon2mask

        names = _shape_names(layer)
        edge = np.asarray(layer.edge_color, dtype=float).reshape(-1, 4)
        for i, (vertices, shape_type) in enumerate(zip(layer.data, layer.shape_type)):
            world = np.array([layer.data_to_world(v) for v in np.asarray(vertices, dtype=float)])
            outline = _shape_polygon(_world_to_pixels(world[:, -2:], cube_layer), str(shape_type))
            if outline is None:
                continue
            mask = polygon2mask((h, w), outline)
            color = edge[i] if i < len(edge) else region_color(i)
            out.append(Region(names[i], np.asarray(color, dtype=float), mask))
    elif isinstance(layer, Labels):
        data = np.asarray(layer.data)
        if data.shape[-2:] != (h, w) or data.ndim != 2:
            raise ValueError(f"labels layer {layer.name!r} has shape {data.shape}; the image has "
                             f"{h} × {w} pixels (paint on a layer made with 'Paint regions')")
        from ._composites import label_names

        names = label_names(layer)  # e.g. the materials of a "dominant material" layer
        for value in np.unique(data):
            if value <= 0:
                continue
            color = np.asarray(layer.get_color(int(value)), dtype=float).reshape(4)
            out.append(Region(names.get(int(value), f"L{int(value)}"), color, data == value))
    return out


def _shape_names(layer: Any) -> list[str]:
    n = len(layer.data)
    feats = getattr(layer, "features", None)
    if feats is not None and "region" in feats and len(feats) == n:
        names = [str(v) if v is not None and str(v) not in ("", "nan") else "" for v in feats["region"]]
    else:
        names = [""] * n
    return [name or f"R{i + 1}" for i, name in enumerate(names)]


# ---------------------------------------------------------------------------------- statistics
def region_stats(cube_data: Any, regions: Sequence[Region],
                 abundances: np.ndarray | None = None, *, chunk: int = 256) -> list[RegionStats]:
    """Mean and s.d. spectrum, mean abundances and pixel count of each region.

    Parameters
    ----------
    cube_data : array (B, H, W)
        The FTIR layer's data (bands first); read in blocks of ``chunk`` bands.
    regions : sequence of Region
    abundances : ndarray (K, H, W), optional
        The maps of a result on the same pixels.

    Examples
    --------
    >>> data = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    >>> mask = np.zeros((3, 4), bool); mask[1, 1:3] = True
    >>> st = region_stats(data, [Region("R1", np.ones(4), mask)])[0]
    >>> st.n_pixels, st.mean.tolist()
    (2, [5.5, 17.5])
    """
    n_bands = int(cube_data.shape[0])
    out = []
    for region in regions:
        idx = np.flatnonzero(region.mask.ravel())
        n = int(idx.size)
        if n == 0:
            out.append(RegionStats(region.name, region.color, 0, None, None, None))
            continue
        mean = np.empty(n_bands)
        sd = np.empty(n_bands)
        for b0 in range(0, n_bands, chunk):
            block = np.asarray(cube_data[b0:b0 + chunk], dtype=np.float64)
            px = block.reshape(block.shape[0], -1)[:, idx]
            mean[b0:b0 + chunk] = px.mean(axis=1)
            sd[b0:b0 + chunk] = px.std(axis=1)
        ab = None
        if abundances is not None and tuple(abundances.shape[1:]) == region.mask.shape:
            ab = np.asarray(abundances, dtype=np.float64).reshape(abundances.shape[0], -1)[:, idx].mean(axis=1)
        out.append(RegionStats(region.name, region.color, n, mean, sd, ab))
    return out


def _hex(color: np.ndarray) -> str:
    r, g, b = (int(round(float(c) * 255)) for c in np.asarray(color)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def write_regions_csv(path: str | Path, stats: Sequence[RegionStats], wavenumbers: np.ndarray,
                      endmember_names: Sequence[str] = (), *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write every region to two CSV files, atomically and together.

    - ``PATH`` (e.g. ``regions.csv``): one row per region — ``region``,
      ``color``, ``pixels``, then ``abundance <name>`` per endmember (mean
      over the region; empty without a result);
    - ``PATH_spectra.csv``: ``wavenumber`` (ascending) and, per region,
      ``<region> mean`` and ``<region> sd``.

    Raises
    ------
    OutputError
        A file exists and ``overwrite`` is false, or cannot be written.
    ValueError
        No regions.
    """
    if not stats:
        raise ValueError("no regions to export")
    path = Path(path)
    if path.suffix.lower() != ".csv":
        path = path.with_name(path.name + ".csv")
    spectra_path = path.with_name(f"{path.stem}_spectra.csv")
    wn = np.asarray(wavenumbers, dtype=np.float64)
    order = np.argsort(wn)
    names = list(endmember_names)
    with atomic_files([path, spectra_path], overwrite=overwrite) as (tmp_summary, tmp_spectra):
        with open(tmp_summary, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["region", "color", "pixels", *[f"abundance {n}" for n in names]])
            for st in stats:
                ab = [] if st.abundances is None else [f"{a:.6g}" for a in st.abundances]
                writer.writerow([st.name, _hex(st.color), st.n_pixels, *(ab + [""] * (len(names) - len(ab)))])
        with open(tmp_spectra, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["wavenumber", *[f"{st.name} {what}" for st in stats for what in ("mean", "sd")]])
            for j in order:
                row = [f"{wn[j]:.6f}"]
                for st in stats:
                    if st.mean is None:
                        row += ["", ""]
                    else:
                        row += [f"{st.mean[j]:.8g}", f"{st.sd[j]:.8g}"]
                writer.writerow(row)
    return path, spectra_path


def regions_source_id(layer: Any) -> Any:
    """The ``unique_id`` of the FTIR layer a regions layer was made on (None if unknown)."""
    return derived_info(layer).get("source_id")
