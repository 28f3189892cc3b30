"""NumPy ``.npz`` cubes (the project's own exchange format) and bare ``.npy`` arrays."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..cube import Cube
from ..errors import CubeReadError
from ..jsonable import jsonable
from ._common import (
    WAVENUMBERS_HINT,
    PathLike,
    ascending_float32,
    check_file,
    finish_cube,
    reading,
    wavenumbers_option,
)
from ._units import Y_UNITS, DeclaredUnits, parse_units_label

__all__ = ["read_npy", "read_npz", "write_npz"]

_NPZ_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"


def sniff_npz(head: bytes) -> bool:
    """True for a zip archive (an ``.npz`` is one)."""
    return head.startswith(_NPZ_MAGIC) or head.startswith(b"PK\x05\x06")


def sniff_npy(head: bytes) -> bool:
    """True for a ``.npy`` file."""
    return head.startswith(_NPY_MAGIC)


def _declared_units(raw: Any, source: str, *, labels: bool = False) -> DeclaredUnits | None:
    """Units stored in an archive: one of ``Y_UNITS`` (or, with ``labels``, a label like ``"%T"``)."""
    text = str(raw).strip()
    if text.lower() in Y_UNITS[1:]:
        return DeclaredUnits(text.lower(), f"{source} {text!r}")
    if labels:
        found = parse_units_label(text)
        if found is not None:
            return DeclaredUnits(found[0], f"{source} {text!r}", scale_known=found[1])
    return None


def read_npz(
    path: PathLike,
    *,
    wavenumbers: Any = None,
    nonfinite: str = "raise",
    units: str = "auto",
) -> Cube:
    """Read an ``.npz`` archive holding ``cube`` (H, W, B) and ``wavenumbers`` (B,).

    Optional members: ``pixel_size`` (scalar, µm), ``units`` (a string, one
    of :data:`~ftir_unmix.io.Y_UNITS` but ``"auto"``) and ``metadata`` (a JSON
    string, whose ``"units"`` entry is used when there is no ``units``
    member), as written by :func:`write_npz`.

    Parameters
    ----------
    path : path-like
        The ``.npz`` file.
    wavenumbers : array_like or path-like, optional
        Band positions to use when the archive has no ``wavenumbers`` member,
        or a file holding them (one number per line, a CSV column, ``.npy``).
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.
    units : str
        One of :data:`~ftir_unmix.io.Y_UNITS` (see :func:`~ftir_unmix.io.load_cube`).

    Returns
    -------
    Cube

    Raises
    ------
    CubeReadError
        Not a zip archive, ``cube`` missing or not 3-D, wavenumbers missing,
        of the wrong length, not monotonic, or non-finite values.
    """
    p = check_file(path)
    meta: dict[str, Any] = {}
    pixel_size: float | None = None
    declared: DeclaredUnits | None = None
    with open(p, "rb") as fh:
        if not sniff_npz(fh.read(4)):  # np.load would take other bytes for a pickle
            raise CubeReadError(p, "not a readable NumPy .npz archive (no zip signature)")
    with reading(p, "NumPy .npz archive"):
        with np.load(p, allow_pickle=False) as z:
            keys = list(z.files)
            if "cube" not in keys:
                raise CubeReadError(
                    p, f"no array named 'cube' in the archive (found: {', '.join(keys) or 'none'})"
                )
            data = np.asarray(z["cube"])
            if data.ndim != 3:
                raise CubeReadError(p, f"'cube' must be 3-D (H, W, B), got shape {data.shape}")
            if "wavenumbers" in keys:
                wn = np.asarray(z["wavenumbers"], dtype=np.float64)
                if wn.ndim != 1:
                    raise CubeReadError(p, f"'wavenumbers' must be 1-D, got shape {wn.shape}")
            elif wavenumbers is not None:
                wn = wavenumbers_option(p, wavenumbers, data.shape[2])
            else:
                raise CubeReadError(
                    p, f"no array named 'wavenumbers' in the archive: {WAVENUMBERS_HINT}"
                )
            if "units" in keys:
                raw_units = np.asarray(z["units"])
                if raw_units.dtype.kind in "US" and raw_units.size == 1:
                    declared = _declared_units(
                        raw_units.ravel()[0], "the archive's 'units' member", labels=True
                    )
                    if declared is None:
                        declared = DeclaredUnits(
                            "unknown",
                            f"the archive's 'units' member {str(raw_units.ravel()[0])[:40]!r} "
                            "names no known y unit",
                        )
            if "pixel_size" in keys:
                ps = np.asarray(z["pixel_size"])
                if ps.size == 1 and np.issubdtype(ps.dtype, np.number):
                    pixel_size = float(ps.ravel()[0])
            if "metadata" in keys:
                raw = np.asarray(z["metadata"])
                if raw.dtype.kind in "US" and raw.size == 1:
                    try:
                        extra = json.loads(str(raw.ravel()[0]))
                    except json.JSONDecodeError:
                        extra = None
                    if isinstance(extra, dict):
                        extra.pop("format", None)
                        extra.pop("path", None)
                        extra.pop("repairs", None)
                        meta["source_metadata"] = extra
                        if declared is None and "units" in extra:
                            declared = _declared_units(
                                extra["units"], "the archive's metadata ('units')"
                            )
    return finish_cube(
        p,
        "npz",
        data,
        wn,
        pixel_size=pixel_size,
        metadata=meta,
        nonfinite=nonfinite,
        declared_units=declared,
        units=units,
    )


def read_npy(
    path: PathLike,
    *,
    wavenumbers: Any = None,
    mmap: bool = False,
    nonfinite: str = "raise",
    units: str = "auto",
) -> Cube:
    """Read a bare ``.npy`` array of shape (H, W, B); the wavenumbers must be given.

    A ``.npy`` file states no y units: ``units="auto"`` judges them by the
    value range (see :func:`~ftir_unmix.io.range_suggests_transmittance`).

    Parameters
    ----------
    path : path-like
        The ``.npy`` file.
    wavenumbers : array_like, shape (B,), or path-like
        Band positions in cm⁻¹ (a ``.npy`` file cannot carry them), or a file
        holding them (one number per line, a CSV column, ``.npy``).
    mmap : bool
        Memory-map the file instead of reading it (only kept when the array
        is already C-ordered float32 with ascending wavenumbers; otherwise
        a converted copy is made).
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.
    units : str
        One of :data:`~ftir_unmix.io.Y_UNITS` (see :func:`~ftir_unmix.io.load_cube`).

    Returns
    -------
    Cube
    """
    p = check_file(path)
    if wavenumbers is None:
        raise CubeReadError(
            p, f"a .npy array carries no wavenumbers: {WAVENUMBERS_HINT}, or save an .npz"
        )
    repairs: list[str] = []
    with reading(p, "NumPy .npy file"):
        data = np.load(p, allow_pickle=False, mmap_mode="r")
        if data.ndim != 3:
            raise CubeReadError(p, f"array must be 3-D (H, W, B), got shape {data.shape}")
        wn = wavenumbers_option(p, wavenumbers, data.shape[2])
        if not mmap and wn.shape == (data.shape[2],):
            data, wn = ascending_float32(data, wn, repairs)
    return finish_cube(
        p,
        "npy",
        data,
        wn,
        metadata={"mmap": bool(mmap)},
        repairs=repairs,
        nonfinite=nonfinite,
        units=units,
    )


def write_npz(
    path: PathLike,
    cube: Cube | np.ndarray,
    wavenumbers: Any = None,
    *,
    pixel_size: float | None = None,
    metadata: dict[str, Any] | None = None,
    compress: bool = False,
    units: str | None = None,
) -> Path:
    """Write a cube as ``.npz`` (``cube``, ``wavenumbers``, ``pixel_size``, ``units``, ``metadata``).

    Parameters
    ----------
    path : path-like
        Output file; ``.npz`` is appended if missing.
    cube : Cube or ndarray (H, W, B)
        The data. With an array, ``wavenumbers`` is required.
    wavenumbers : array_like, optional
        Band positions (ignored when ``cube`` is a :class:`Cube`).
    pixel_size : float, optional
        Pixel pitch in µm (defaults to the cube's).
    metadata : dict, optional
        Stored as a JSON string (defaults to the cube's metadata).
    compress : bool
        Use ``np.savez_compressed``.
    units : str, optional
        The y units of the values, one of :data:`~ftir_unmix.io.Y_UNITS` but
        ``"auto"``, stored as the ``units`` member (defaults to the cube's
        ``metadata["units"]`` when that is one of them).

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from ftir_unmix.cube import make_cube
    >>> cube = make_cube(np.ones((2, 3, 4)), [1000, 1100, 1200, 1300])
    >>> out = write_npz(os.path.join(tempfile.mkdtemp(), "c.npz"), cube)
    >>> read_npz(out).shape
    (2, 3, 4)
    """
    if isinstance(cube, Cube):
        data = cube.data
        wn = cube.wavenumbers
        if pixel_size is None:
            pixel_size = cube.pixel_size
        if metadata is None:
            metadata = cube.metadata
        if units is None and cube.metadata.get("units") in Y_UNITS[1:]:
            units = cube.metadata["units"]
    else:
        data = np.asarray(cube)
        if wavenumbers is None:
            raise ValueError("wavenumbers are required when writing a bare array")
        wn = np.asarray(wavenumbers, dtype=np.float64)
    if data.ndim != 3 or wn.shape != (data.shape[2],):
        raise ValueError(f"need data (H, W, B) and wavenumbers (B,), got {data.shape}, {wn.shape}")
    out = Path(os.fspath(path))
    if out.suffix.lower() != ".npz":
        out = out.with_name(out.name + ".npz")
    arrays: dict[str, Any] = {
        "cube": np.asarray(data, dtype=np.float32),
        "wavenumbers": np.asarray(wn, dtype=np.float64),
        "metadata": np.array(json.dumps(jsonable(metadata or {}, max_array=10000))),
    }
    if pixel_size is not None:
        arrays["pixel_size"] = np.array(float(pixel_size))
    if units is not None:
        if units not in Y_UNITS[1:]:
            raise ValueError(f"units={units!r} is not one of: {', '.join(Y_UNITS[1:])}")
        arrays["units"] = np.array(units)
    saver = np.savez_compressed if compress else np.savez
    with open(out, "wb") as fh:
        saver(fh, **arrays)
    return out
