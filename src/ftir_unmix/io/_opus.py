"""Bruker OPUS binary files (``.0``, ``.1``, ...) through ``brukeropus``: single spectra."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..cube import Cube
from ..errors import CubeReadError
from ._common import PathLike, check_file, finish_cube, reading
from ._units import DeclaredUnits

__all__ = ["OPUS_BLOCK_UNITS", "OPUS_PREFERENCE", "read_opus"]

#: OPUS data blocks tried in this order (brukeropus keys): absorbance first,
#: then other processed spectra, then single channels.  Interferograms and
#: phase blocks are never used.
OPUS_PREFERENCE = ("a", "t", "r", "km", "ab", "e", "ra", "pw", "sm", "rf")

_OPUS_MAGIC = b"\x0a\x0a\xfe\xfe"

#: Y units of an OPUS data block, by its ``brukeropus`` key (the block type
#: OPUS writes in the block's directory entry).  Transmittance and
#: reflectance blocks do not say whether they hold a fraction or percent:
#: the values decide.
OPUS_BLOCK_UNITS: dict[str, tuple[str, bool]] = {
    "a": ("absorbance", True),
    "atr": ("absorbance", True),
    "t": ("transmittance", False),
    "r": ("reflectance", False),
    "km": ("kubelka-munk", True),
    "e": ("emission", True),
    "ra": ("raman", True),
    "pw": ("power", True),
    "sm": ("single-beam", True),
    "rf": ("single-beam", True),
    "pas": ("photoacoustic", True),
}


def sniff_opus(head: bytes) -> bool:
    """True for the OPUS magic number."""
    return head.startswith(_OPUS_MAGIC)


def _param(obj: Any, key: str) -> Any:
    try:
        return obj[key] if key in obj.keys() else None
    except Exception:
        return None


def read_opus(
    path: PathLike, *, block: str | None = None, nonfinite: str = "raise", units: str = "auto"
) -> Cube:
    """Read one spectrum from a Bruker OPUS file as a 1×1 cube.

    The y units follow from the block read (:data:`OPUS_BLOCK_UNITS`):
    ``"a"`` is absorbance, ``"t"``/``"r"`` are converted to absorbance,
    single channels (``"sm"``, ``"rf"``) and other kinds are taken as they
    are with a note.

    Parameters
    ----------
    path : path-like
        An OPUS file (numeric suffix ``.0``, ``.1``, ...).
    block : str, optional
        The ``brukeropus`` data key to use (``"a"`` absorbance, ``"t"``
        transmittance, ``"sm"`` sample single channel, ...).  Default: the
        first present of :data:`OPUS_PREFERENCE`.
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.
    units : str
        One of :data:`~ftir_unmix.io.Y_UNITS` (see :func:`~ftir_unmix.io.load_cube`).

    Returns
    -------
    Cube
        Shape ``(1, 1, B)``; ``metadata["opus_block"]`` names the block used.

    Raises
    ------
    CubeReadError
        Not an OPUS file, no spectral block, or a series (map) file, which
        this reader does not handle.
    """
    from brukeropus import read_opus as _read

    p = check_file(path)
    with open(p, "rb") as fh:
        head = fh.read(4)
    if not sniff_opus(head):
        raise CubeReadError(p, "not a Bruker OPUS file (no OPUS magic number)")
    with reading(p, "Bruker OPUS file"):
        f = _read(str(p))
        if not getattr(f, "is_opus", False):
            raise CubeReadError(p, "not a readable Bruker OPUS file")
        keys = list(getattr(f, "data_keys", []) or [])
        series = list(getattr(f, "series_keys", []) or [])
        if block is not None:
            if block not in keys:
                raise CubeReadError(
                    p, f"OPUS block {block!r} not in file (has: {', '.join(keys) or 'none'})"
                )
            key = block
        else:
            usable = [k for k in OPUS_PREFERENCE if k in keys]
            if not usable:
                what = (
                    f"a series (3-D/map) file with blocks {', '.join(series)}: not supported"
                    if series
                    else f"no spectrum block (has: {', '.join(keys) or 'none'})"
                )
                raise CubeReadError(p, f"OPUS file has {what}")
            key = usable[0]
        d = getattr(f, key)
        x = np.asarray(d.x, dtype=np.float64)
        y = np.asarray(d.y)
        if y.ndim != 1:
            raise CubeReadError(p, f"OPUS block {key!r} is not a single spectrum (shape {y.shape})")
        if x.shape != y.shape:
            raise CubeReadError(p, f"OPUS block {key!r}: {x.size} x values for {y.size} y values")
        unit = str(_param(d.params, "dxu") or "")
        if unit and unit.upper() not in ("WN", "MI", ""):
            raise CubeReadError(p, f"OPUS block {key!r} has x units {unit!r}, not wavenumbers")
        meta: dict[str, Any] = {
            "opus_block": key,
            "opus_label": str(getattr(d, "label", "")),
            "opus_blocks": keys,
            "sample_name": str(_param(f.params, "snm") or ""),
            "resolution": _param(f.params, "res"),
            "x_units": unit,
        }
        repairs: list[str] = []
        if unit.upper() == "MI":
            repairs.append("x axis in micrometres converted to cm-1")
            x = 1e4 / x
        y_units = _param(d.params, "dyu")
        if y_units:
            meta["y_units_param"] = str(y_units)
        label = meta["opus_label"] or key
        if key in OPUS_BLOCK_UNITS:
            kind, exact = OPUS_BLOCK_UNITS[key]
            declared = DeclaredUnits(
                kind, f"the OPUS data block read ({key!r}, {label})", scale_known=exact
            )
        else:
            declared = DeclaredUnits(
                "unknown", f"the OPUS data block read ({key!r}, {label}) has no known y units"
            )
    return finish_cube(
        p,
        "opus",
        y.astype(np.float32)[None, None, :],
        x,
        metadata=meta,
        repairs=repairs,
        nonfinite=nonfinite,
        declared_units=declared,
        units=units,
    )
