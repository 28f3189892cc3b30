"""Agilent (Cary / Resolutions Pro) FPA images: single tiles and mosaics.

Reading is delegated to the ``agilent-format`` package (``agilentImage`` for
``.seq``/``.dat``/``.bsp``, ``agilentMosaic`` for ``.dmt``/``.dms``/``.dmd``).
Arrays are asked for in image coordinates (``MAT=True``: row 0 at the top, as
the instrument software shows them); the ENVI ``.hdr``/``.dat`` pair that the
instrument writes beside a tile holds the same numbers upside down.

Y units: the files have no units field (neither ``agilent-format`` nor the
ENVI headers written beside them state one).  The image data
(``.seq`` tile, ``.dmd`` mosaic tiles) are what Resolutions Pro saves after
ratioing against the background, i.e. absorbance, and the sample files
(0.12-1.38) look like it.  The cube is therefore absorbance by the format's
convention (``units_source`` says so), unless the value range clearly shows
percent transmittance (which then wins, with a note).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..cube import Cube
from ..errors import CubeReadError
from ._common import PathLike, check_file, find_sibling, finish_cube, reading
from ._units import DeclaredUnits

__all__ = ["read_agilent_image", "read_agilent_mosaic"]

_TILE_RE = re.compile(r"^(?P<base>.+)_(?P<x>\d{4})_(?P<y>\d{4})$")

_AGILENT_UNITS = DeclaredUnits(
    "absorbance",
    "the format's convention (Agilent FPA images are saved as absorbance, ratioed "
    "against the background; the files have no units field)",
    assumed=True,
)


def _clean_info(info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in info.items():
        if k == "wavenumbers":
            continue
        if isinstance(v, dict):
            out[str(k)] = {str(kk): str(vv) for kk, vv in v.items()}
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[str(k)] = v
        else:
            out[str(k)] = str(v)
    return out


def _pixel_size(info: dict[str, Any], repairs: list[str]) -> float | None:
    fpa = info.get("FPA Pixel Size")
    try:
        fpa_f = float(fpa) if fpa is not None else None
    except (TypeError, ValueError):
        return None
    if fpa_f is None:
        return None
    agg = info.get("PixelAggregationSize", 1)
    try:
        agg_i = int(agg) if agg else 1
    except (TypeError, ValueError):
        agg_i = 1
    return fpa_f * max(agg_i, 1)


def read_agilent_image(path: PathLike, *, nonfinite: str = "raise", units: str = "auto") -> Cube:
    """Read an Agilent single-tile FPA image.

    Parameters
    ----------
    path : path-like
        The ``.seq``, ``.dat``, ``.bsp`` or ``.hdr`` file of the tile (the
        ``.dat`` and ``.bsp`` must both be present).
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.
    units : str
        One of :data:`~ftir_unmix.io.Y_UNITS` (see :func:`~ftir_unmix.io.load_cube`).

    Returns
    -------
    Cube
        Pixel size = ``FPA Pixel Size`` × ``PixelAggregationSize`` (µm).
    """
    from agilent_format import agilentImage

    p = check_file(path)
    dat = p if p.suffix.lower() == ".dat" else find_sibling(p, (".dat",))
    if dat is None:
        raise CubeReadError(p, "Agilent tile: no .dat data file beside it")
    if find_sibling(dat, (".bsp",)) is None:
        raise CubeReadError(p, "Agilent tile: no .bsp file beside it")
    with reading(p, "Agilent FPA tile"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        img = agilentImage(str(dat), MAT=True)
        data = np.asarray(img.data)
        wn = np.asarray(img.wavenumbers, dtype=np.float64)
        info = dict(img.info)
    repairs: list[str] = []
    meta = {
        "agilent": _clean_info(info),
        "orientation": "image coordinates (agilent-format MAT=True)",
        "acquired": str(info.get("Time Stamp", "")),
    }
    return finish_cube(
        p,
        "agilent",
        data,
        wn,
        pixel_size=_pixel_size(info, repairs),
        metadata=meta,
        repairs=repairs,
        nonfinite=nonfinite,
        declared_units=_AGILENT_UNITS,
        units=units,
    )


def _find_dmt(p: Path) -> Path:
    if p.suffix.lower() == ".dmt":
        return p
    stem = p.stem
    m = _TILE_RE.match(stem)
    if m:
        stem = m.group("base")
    dmt = find_sibling(p, (".dmt",), stem=stem)
    if dmt is None:
        raise CubeReadError(p, f"Agilent mosaic: no {stem}.dmt beside it")
    return dmt


def read_agilent_mosaic(path: PathLike, *, nonfinite: str = "raise", units: str = "auto") -> Cube:
    """Read an Agilent FPA mosaic (``.dmt`` + ``_XXXX_YYYY.dmd`` tiles).

    Parameters
    ----------
    path : path-like
        The ``.dmt``, ``.dms``, any ``.dmd`` tile, or the mosaic's ``.hdr``/``.dat``.
    nonfinite : {"raise", "zero"}
        Missing tiles come back as NaN from ``agilent-format``: refuse them
        (default, naming the missing tile) or fill them with 0.
    units : str
        One of :data:`~ftir_unmix.io.Y_UNITS` (see :func:`~ftir_unmix.io.load_cube`).

    Returns
    -------
    Cube
        The whole mosaic in memory (``agilent-format`` allocates it at once).
    """
    from agilent_format import agilentMosaic

    p = check_file(path)
    dmt = _find_dmt(p)
    with reading(p, "Agilent FPA mosaic"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mosaic = agilentMosaic(str(dmt), MAT=True)
        tiles = getattr(mosaic, "tiles", None)
        n_tiles = int(np.size(tiles)) if tiles is not None else 0
        if n_tiles == 0:
            raise CubeReadError(p, "Agilent mosaic: no .dmd tiles found")
        data = np.asarray(mosaic.data)
        wn = np.asarray(mosaic.wavenumbers, dtype=np.float64)
        info = dict(mosaic.info)
    repairs: list[str] = []
    fpa = int(info.get("fpasize", 0) or 0)
    if nonfinite == "raise" and fpa > 0 and not np.isfinite(data).all():
        missing = [
            f"({r},{c})"
            for r in range(data.shape[0] // fpa)
            for c in range(data.shape[1] // fpa)
            if np.isnan(data[r * fpa : (r + 1) * fpa, c * fpa : (c + 1) * fpa]).all()
        ]
        if missing:
            raise CubeReadError(
                p,
                f"Agilent mosaic: {len(missing)} tile(s) missing at (row,col) "
                f"{', '.join(missing[:4])}; pass nonfinite='zero' to fill them with 0",
            )
    meta = {
        "agilent": _clean_info(info),
        "orientation": "image coordinates (agilent-format MAT=True)",
        "tiles": list(tiles.shape),  # type: ignore[union-attr]
        "acquired": str(info.get("Time Stamp", "")),
    }
    return finish_cube(
        p,
        "agilent_mosaic",
        data,
        wn,
        pixel_size=_pixel_size(info, repairs),
        metadata=meta,
        repairs=repairs,
        nonfinite=nonfinite,
        declared_units=_AGILENT_UNITS,
        units=units,
    )
