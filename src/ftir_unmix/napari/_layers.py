"""Conversions between the engine's objects and napari layers (no Qt here).

A cube becomes an image layer with the bands on the first axis, ``(B, H, W)``,
so that napari's slider scrolls through wavenumbers. Where the wavenumber grid
is uniform the first axis is scaled to cm⁻¹ (world coordinate = wavenumber), so
napari's status bar and "current slice" overlay show the wavenumber.

Layer metadata keys
-------------------
Cube layers carry ``metadata["wavenumbers"]`` (B,), ``metadata["pixel_size"]``
(µm or None), ``metadata["source_metadata"]`` (the reader's metadata) and
``metadata[FORCED_RANGES_KEY]`` (hand-forced wavenumber ranges, edited by the
Band weights panel and used by the next run of the Unmix panel).

Abundance layers carry ``metadata[RESULT_KEY]``: a dict with ``kind``
(``"abundance"``), ``index``, ``name``, ``names``, ``endmembers`` (B, K),
``wavenumbers``, ``weights``, ``record`` (the run record), ``run_id``,
``source_id`` (``unique_id`` of the cube layer), ``color`` (RGBA) and
``result`` (the :class:`~ftir_unmix.UnmixResult`).

Layers the study tools make from a cube (regions, composites, the registered
photo and its point pairs) carry ``metadata[DERIVED_KEY]``: a dict with
``role`` (``"regions"``, ``"rgb"``, ``"dominant"``, ``"photo"``,
``"photo_points"``, ``"ftir_points"``) and ``source_id`` (``unique_id`` of the
cube layer), plus what the role needs.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from ..cube import Cube, make_cube
from ..result import UnmixResult

__all__ = [
    "DERIVED_KEY",
    "FORCED_RANGES_KEY",
    "RESULT_KEY",
    "abundance_layer_tuples",
    "cube_layer_tuple",
    "cube_from_layer_arrays",
    "derived_info",
    "find_layer",
    "endmember_colors",
    "endmember_name_from_layer",
    "forced_ranges_of",
    "is_abundance_layer",
    "is_cube_layer",
    "layer_wavenumbers",
    "saved_maps_layer_tuples",
    "spatial_transform",
]

#: metadata key holding the result record on abundance layers
RESULT_KEY = "ftir_unmix"
#: metadata key holding hand-forced wavenumber ranges on cube layers
FORCED_RANGES_KEY = "ftir_unmix_forced_ranges"
#: metadata key on layers made from a cube by the study tools (regions, composites, photo)
DERIVED_KEY = "ftir_unmix_derived"

#: Colours of endmembers 1..K (Okabe–Ito, colour-blind safe, then tab10), RGBA.
_PALETTE = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
    "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f",
)


def endmember_colors(k: int) -> np.ndarray:
    """``k`` distinct RGBA colours (cycling after 12), shape ``(k, 4)``."""
    out = np.ones((k, 4))
    for i in range(k):
        h = _PALETTE[i % len(_PALETTE)].lstrip("#")
        out[i, :3] = [int(h[j:j + 2], 16) / 255.0 for j in (0, 2, 4)]
    return out


def _uniform_step(wn: np.ndarray) -> float | None:
    """The step of a uniform grid (within 0.1 % of a step), else None."""
    if wn.size < 2:
        return None
    step = (wn[-1] - wn[0]) / (wn.size - 1)
    if step <= 0:
        return None
    grid = wn[0] + step * np.arange(wn.size)
    return float(step) if np.max(np.abs(wn - grid)) <= 1e-3 * step else None


def _contrast_limits(data: np.ndarray) -> tuple[float, float]:
    """Robust display range (0.5–99.5 %) from at most ~200k values of the cube."""
    flat = data.reshape(-1)
    stride = max(1, flat.size // 200_000)
    sample = np.asarray(flat[::stride], dtype=np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(sample, [0.5, 99.5])
    if not hi > lo:
        lo, hi = float(sample.min()), float(sample.max())
        if not hi > lo:
            hi = lo + 1.0
    return float(lo), float(hi)


def cube_layer_tuple(cube: Cube, name: str | None = None) -> tuple[np.ndarray, dict[str, Any], str]:
    """A napari ``LayerDataTuple`` for a cube: bands first, wavenumbers in metadata.

    Parameters
    ----------
    cube : Cube
        The cube.
    name : str, optional
        Layer name (default: the file name, or ``"FTIR cube"``).

    Returns
    -------
    tuple
        ``(data (B, H, W) view, layer kwargs, "image")``. The data is a
        transposed *view* of ``cube.data`` (no copy).
    """
    wn = np.asarray(cube.wavenumbers, dtype=np.float64)
    if name is None:
        path = cube.metadata.get("path")
        name = str(path).replace("\\", "/").rsplit("/", 1)[-1] if path else "FTIR cube"
    ps = cube.pixel_size if cube.pixel_size and cube.pixel_size > 0 else None
    step = _uniform_step(wn)
    if step is not None:
        scale0, translate0, label0, unit0 = step, float(wn[0]), "wavenumber (cm⁻¹)", "1/cm"
    else:
        scale0, translate0, label0, unit0 = 1.0, 0.0, "band", "pixel"
    unit_xy = "µm" if ps else "pixel"
    kwargs: dict[str, Any] = {
        "name": name,
        "metadata": {
            "wavenumbers": wn,
            "pixel_size": ps,
            "source_metadata": dict(cube.metadata),
            FORCED_RANGES_KEY: [],
        },
        "scale": (scale0, ps or 1.0, ps or 1.0),
        "translate": (translate0, 0.0, 0.0),
        "axis_labels": (label0, "y", "x"),
        "units": (unit0, unit_xy, unit_xy),
        "colormap": "gray",
        "contrast_limits": _contrast_limits(cube.data),
    }
    return np.moveaxis(cube.data, -1, 0), kwargs, "image"


def layer_wavenumbers(data_shape: tuple[int, ...], metadata: dict[str, Any]) -> np.ndarray | None:
    """The wavenumbers of a ``(B, H, W)`` layer from its metadata, or None.

    None when the layer is not 3-D or holds no matching ``wavenumbers``.
    """
    if len(data_shape) != 3:
        return None
    wn = metadata.get("wavenumbers")
    if wn is None:
        return None
    wn = np.asarray(wn, dtype=np.float64).ravel()
    return wn if wn.shape[0] == data_shape[0] else None


def is_cube_layer(layer: Any) -> bool:
    """True for a 3-D, non-RGB image layer whose metadata has matching wavenumbers."""
    from napari.layers import Image

    if not isinstance(layer, Image) or layer.rgb:
        return False
    return layer_wavenumbers(tuple(layer.data.shape), layer.metadata) is not None


def is_abundance_layer(layer: Any) -> bool:
    """True for an abundance map made by this plugin."""
    meta = getattr(layer, "metadata", None) or {}
    rec = meta.get(RESULT_KEY)
    return isinstance(rec, dict) and rec.get("kind") == "abundance"


def forced_ranges_of(metadata: dict[str, Any]) -> tuple[tuple[float, float], ...]:
    """Hand-forced wavenumber ranges stored on a cube layer, as sorted tuples."""
    out = []
    for r in metadata.get(FORCED_RANGES_KEY) or ():
        lo, hi = float(r[0]), float(r[1])
        out.append((min(lo, hi), max(lo, hi)))
    return tuple(sorted(out))


def cube_from_layer_arrays(data: Any, wavenumbers: np.ndarray, pixel_size: float | None,
                           metadata: dict[str, Any]) -> Cube:
    """Rebuild a :class:`Cube` from a ``(B, H, W)`` layer array (zero-copy for reader layers).

    Slow for big cubes (the data are validated): call it in a worker thread.
    """
    arr = np.moveaxis(np.asarray(data), 0, -1)
    return make_cube(arr, wavenumbers, pixel_size=pixel_size, metadata=dict(metadata))


def abundance_layer_tuples(
    result: UnmixResult,
    *,
    source_id: Any = None,
    source_name: str = "",
    scale: tuple[float, float] = (1.0, 1.0),
    translate: tuple[float, float] = (0.0, 0.0),
    units: tuple[str, str] | None = None,
) -> list[tuple[np.ndarray, dict[str, Any], str]]:
    """One 2-D image ``LayerDataTuple`` per endmember, each with its own colour.

    The maps use a black-to-colour colormap with the same colour as the
    endmember's spectrum in the Spectra panel, contrast 0–1. The first map is
    opaque and the others are added on top (additive blending), so with all
    maps visible each pixel shows the abundance-weighted mix of the colours.
    """
    colors = endmember_colors(result.k)
    run_id = uuid.uuid4().hex
    record = result.run_record()
    out = []
    for i, name in enumerate(result.names):
        cmap = _endmember_colormap(i, name, colors)
        meta = {
            RESULT_KEY: {
                "kind": "abundance", "index": i, "name": name, "names": list(result.names),
                "endmembers": result.endmembers, "wavenumbers": result.wavenumbers,
                "weights": result.weights, "record": record, "run_id": run_id,
                "source_id": source_id, "source_name": source_name,
                "color": tuple(float(c) for c in colors[i]), "result": result,
            }
        }
        kwargs: dict[str, Any] = {
            "name": f"{name} abundance",
            "metadata": meta,
            "colormap": cmap,
            "contrast_limits": (0.0, 1.0),
            "blending": "translucent_no_depth" if i == 0 else "additive",
            "scale": scale,
            "translate": translate,
        }
        if units is not None:
            kwargs["units"] = units
        out.append((result.abundances[i], kwargs, "image"))
    return out


def saved_maps_layer_tuples(levels: list[Any], names: list[str], pixel_size: float | None,
                            record: dict[str, Any]) -> list[tuple[list[Any], dict[str, Any], str]]:
    """Abundance maps read back from an OME-Zarr store: one lazy multiscale image layer per
    endmember (``levels`` finest first, each ``(K, h, w)``), coloured as after a run, in µm when
    the pixel size is known; ``metadata["run_record"]`` holds the run record."""
    colors = endmember_colors(len(names))
    scale = (pixel_size, pixel_size) if pixel_size else (1.0, 1.0)
    return [([level[i] for level in levels],
             {"name": f"{name} abundance", "multiscale": True, "scale": scale,
              "colormap": _endmember_colormap(i, name, colors), "contrast_limits": (0.0, 1.0),
              "blending": "translucent_no_depth" if i == 0 else "additive",
              "metadata": {"run_record": record}}, "image")
            for i, name in enumerate(names)]


def _endmember_colormap(i: int, name: str, colors: np.ndarray) -> Any:
    """Black to the endmember's colour (the same colour as its spectrum in the Spectra panel)."""
    from napari.utils.colormaps import Colormap

    return Colormap(colors=[[0.0, 0.0, 0.0, 1.0], list(colors[i])],
                    name=f"ftir_unmix_{_PALETTE[i % len(_PALETTE)].lstrip('#')}",
                    display_name=f"{name} colour")


def endmember_name_from_layer(layer_name: str) -> str:
    """The endmember name a (possibly renamed) abundance layer stands for."""
    suffix = " abundance"
    return layer_name[: -len(suffix)] if layer_name.endswith(suffix) else layer_name


def derived_info(layer: Any) -> dict[str, Any]:
    """``metadata[DERIVED_KEY]`` of a layer (an empty dict when it has none)."""
    meta = getattr(layer, "metadata", None) or {}
    info = meta.get(DERIVED_KEY)
    return info if isinstance(info, dict) else {}


def find_layer(viewer: Any, unique_id: Any) -> Any:
    """The layer of ``viewer`` with this ``unique_id``, or None."""
    if unique_id is None:
        return None
    for layer in list(viewer.layers):
        if getattr(layer, "unique_id", None) == unique_id:
            return layer
    return None


def spatial_transform(layer: Any) -> tuple[tuple[float, float], tuple[float, float], tuple[str, str]]:
    """``(scale, translate, units)`` of a layer's last two (row, column) axes.

    Layers made to lie on an FTIR image's pixels (maps, regions, composites)
    take these, so that they line up with it in µm.
    """
    scale = tuple(float(v) for v in layer.scale[-2:])
    translate = tuple(float(v) for v in layer.translate[-2:])
    units = tuple(str(u) for u in layer.units[-2:])
    return scale, translate, units  # type: ignore[return-value]
