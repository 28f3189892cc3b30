"""Composites of abundance maps (no Qt here; the panel is :mod:`._composites_widget`).

- a **false-colour RGB** image of any three maps (red, green, blue), each
  channel from 0 to 1 or stretched to its 99.5th percentile, with a legend
  saying which colour is which material;
- a **dominant material** Labels layer: each pixel gets the number of the
  material with the largest abundance (1 … K), or 0 where no material reaches
  ``min_abundance``. Its colours are the maps' (and the endmember plot's)
  colours, its ``features`` name each label, and it can be painted to
  correct it like any Labels layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._layers import DERIVED_KEY, RESULT_KEY, endmember_name_from_layer, spatial_transform

__all__ = [
    "CHANNELS",
    "dominant_labels",
    "dominant_layer_tuple",
    "false_colour",
    "label_names",
    "legend_text",
    "rgb_layer_tuple",
]

#: The channel names of the false-colour image, in order.
CHANNELS = ("red", "green", "blue")
_TRANSPARENT = [0.0, 0.0, 0.0, 0.0]


def false_colour(maps: Sequence[np.ndarray], *, stretch: bool = False, percentile: float = 99.5) -> np.ndarray:
    """Three maps as one RGB image ``(H, W, 3)`` float32 in [0, 1].

    Parameters
    ----------
    maps : three arrays (H, W)
        Abundances (red, green, blue).
    stretch : bool
        Scale each channel so that its ``percentile`` is 1 (faint materials
        become visible; the colours then no longer compare across channels).
        Without it, 0 → black and 1 → full colour.

    Examples
    --------
    >>> a = np.array([[0.0, 1.0]]); b = np.array([[0.5, 0.0]]); c = np.zeros((1, 2))
    >>> false_colour([a, b, c])[0, 0].tolist()
    [0.0, 0.5, 0.0]
    """
    if len(maps) != 3:
        raise ValueError(f"a false-colour image needs three maps; got {len(maps)}")
    shapes = {np.shape(m) for m in maps}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"the three maps must be 2-D and of one shape; got {sorted(shapes)}")
    rgb = np.stack([np.asarray(m, dtype=np.float32) for m in maps], axis=-1)
    rgb = np.nan_to_num(rgb, nan=0.0, posinf=1.0, neginf=0.0)
    if stretch:
        top = np.percentile(rgb.reshape(-1, 3), percentile, axis=0)
        rgb = rgb / np.where(top > 0, top, 1.0).astype(np.float32)
    return np.clip(rgb, 0.0, 1.0)


def legend_text(names: Sequence[str]) -> str:
    """``"red: A · green: B · blue: C"``."""
    return " · ".join(f"{c}: {n}" for c, n in zip(CHANNELS, names, strict=True))


def _info(layer: Any) -> dict[str, Any]:
    info = (getattr(layer, "metadata", None) or {}).get(RESULT_KEY)
    return info if isinstance(info, dict) else {}


def rgb_layer_tuple(layers: Sequence[Any], *, stretch: bool = False) -> tuple[np.ndarray, dict[str, Any], str]:
    """A napari ``LayerDataTuple`` of the false-colour image of three map layers (red, green, blue)."""
    if len(layers) != 3 or any(lay is None for lay in layers):
        raise ValueError("choose three maps (red, green, blue)")
    names = [endmember_name_from_layer(lay.name) for lay in layers]
    rgb = false_colour([np.asarray(lay.data) for lay in layers], stretch=stretch)
    scale, translate, units = spatial_transform(layers[0])
    first = _info(layers[0])
    meta = {DERIVED_KEY: {"role": "rgb", "channels": names, "stretch": bool(stretch),
                          "legend": legend_text(names), "source_id": first.get("source_id"),
                          "run_id": first.get("run_id")}}
    kwargs = {"name": f"RGB {' / '.join(names)}", "rgb": True, "contrast_limits": (0.0, 1.0),
              "scale": scale, "translate": translate, "units": units, "metadata": meta,
              "blending": "translucent_no_depth"}
    return rgb, kwargs, "image"


def dominant_labels(abundances: np.ndarray, min_abundance: float = 0.0) -> np.ndarray:
    """The dominant material of each pixel: ``argmax + 1``, or 0 where the largest abundance is below
    ``min_abundance``.

    Parameters
    ----------
    abundances : ndarray (K, H, W)
    min_abundance : float in [0, 1]

    Returns
    -------
    ndarray (H, W) int32

    Examples
    --------
    >>> a = np.array([[[0.7, 0.4]], [[0.3, 0.35]], [[0.0, 0.25]]])
    >>> dominant_labels(a, 0.5).tolist()
    [[1, 0]]
    """
    a = np.asarray(abundances, dtype=np.float64)
    if a.ndim != 3 or a.shape[0] < 1:
        raise ValueError(f"abundances must be (K, H, W); got shape {a.shape}")
    if not 0.0 <= float(min_abundance) <= 1.0:
        raise ValueError(f"min_abundance must lie in [0, 1]; got {min_abundance}")
    a = np.nan_to_num(a, nan=-np.inf)
    labels = np.argmax(a, axis=0).astype(np.int32) + 1
    labels[np.max(a, axis=0) < float(min_abundance)] = 0
    return labels


def dominant_layer_tuple(layers: Sequence[Any], min_abundance: float = 0.3,
                         ) -> tuple[np.ndarray, dict[str, Any], str]:
    """A ``LayerDataTuple`` (labels) of the dominant material among map layers (one run, in order).

    Label ``i + 1`` is the material of ``layers[i]`` in that map's colour; 0
    (transparent) is "no material above ``min_abundance``".
    """
    if not layers:
        raise ValueError("no maps: run an unmixing first")
    stack = np.stack([np.asarray(lay.data, dtype=np.float32) for lay in layers])
    labels = dominant_labels(stack, min_abundance)
    names = [endmember_name_from_layer(lay.name) for lay in layers]
    colors: dict[Any, Any] = {None: _TRANSPARENT, 0: _TRANSPARENT}
    for i, lay in enumerate(layers):
        color = _info(lay).get("color")
        if color is None:
            color = np.asarray(lay.colormap.colors[-1], dtype=float)
        colors[i + 1] = [float(c) for c in np.asarray(color, dtype=float)[:3]] + [1.0]
    from napari.utils.colormaps import DirectLabelColormap

    scale, translate, units = spatial_transform(layers[0])
    first = _info(layers[0])
    meta = {DERIVED_KEY: {"role": "dominant", "materials": names, "min_abundance": float(min_abundance),
                          "source_id": first.get("source_id"), "run_id": first.get("run_id"),
                          "edited": False}}
    kwargs = {"name": "dominant material", "colormap": DirectLabelColormap(color_dict=colors),
              "features": {"index": np.arange(len(names) + 1), "material": ["none", *names]},
              "scale": scale, "translate": translate, "units": units, "metadata": meta, "opacity": 0.8}
    return labels, kwargs, "labels"


def label_names(layer: Any) -> dict[int, str]:
    """Label value → name from a Labels layer's ``features`` (columns ``index`` and ``material``)."""
    feats = getattr(layer, "features", None)
    if feats is None or "index" not in feats or "material" not in feats:
        return {}
    return {int(i): str(m) for i, m in zip(feats["index"], feats["material"])}
