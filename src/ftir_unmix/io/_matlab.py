"""MATLAB ``.mat`` files: v5/v7 by our own parser (``_mat5``), v7.3 (HDF5) via ``h5py``.

MAT v4 files are refused (``scipy.io.loadmat`` can crash the interpreter on
damaged files, so it is not used).

Key discovery: the data is the one array with at least two non-singleton
dimensions (a 3-D cube, or a 2-D pixels×bands / bands×pixels matrix); the
wavenumbers are the one vector whose length matches a data axis (names such as
``wavenumbers``, ``wn``, ``x`` win a tie).  Anything ambiguous is an error
naming the candidates; ``data=``/``wavenumbers=`` pick them by name.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from ..cube import Cube
from ..errors import CubeReadError
from ._common import (
    WAVENUMBERS_HINT,
    PathLike,
    check_file,
    finish_cube,
    parse_int_option,
    reading,
    reshape_pixels,
    wavenumbers_option,
)
from ._mat5 import read_mat5

__all__ = ["load_mat_arrays", "read_mat"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_WN_NAMES = re.compile(
    r"^(wavenumbers?|wn|wns|wavenum\w*|wave\w*|wl|x|xaxis|x_axis|freq\w*|"
    r"lambda|bands?|w|nu|energy|axis)$",
    re.IGNORECASE,
)
_H_NAMES = ("height", "lines", "rows", "nrows", "n_rows", "ny", "h")
_W_NAMES = ("width", "cols", "columns", "ncols", "n_cols", "samples", "nx", "w")


def sniff_mat(head: bytes) -> bool:
    """True for a MATLAB MAT-file text header."""
    return head.startswith(b"MATLAB") and b"MAT-file" in head[:128]


def load_mat_arrays(path: PathLike) -> tuple[dict[str, np.ndarray], str]:
    """Load the numeric arrays of a MAT-file.

    Returns
    -------
    arrays : dict
        Variable name → array in MATLAB's shape (v7.3 datasets are transposed
        back from HDF5's order).  Non-numeric variables are left out.
    version : str
        ``"v5"`` (v5 to v7, with the skipped non-numeric variables) or ``"v7.3"``.
    """
    p = check_file(path)
    with open(p, "rb") as fh:
        head = fh.read(520)
    out: dict[str, np.ndarray] = {}
    if head[512:520] == _HDF5_MAGIC or head.startswith(_HDF5_MAGIC):
        import h5py

        with reading(p, "MATLAB v7.3 file"), h5py.File(p, "r") as f:
            for name, obj in f.items():
                if name.startswith("#") or not isinstance(obj, h5py.Dataset):
                    continue
                arr = np.asarray(obj[()])
                if _numeric(arr):
                    out[name] = arr.T
        return out, "v7.3"
    if not head.startswith(b"MATLAB") or head[126:128] not in (b"IM", b"MI"):
        raise CubeReadError(
            p, "not a MATLAB v5/v7/v7.3 MAT-file (MAT v4 and other files are not supported)"
        )
    arrays, skipped = read_mat5(p, p.read_bytes())
    for name, arr in arrays.items():
        if _numeric(arr):
            out[name] = arr
    return out, "v5" if not skipped else f"v5 (skipped: {', '.join(skipped[:5])})"


def _numeric(arr: np.ndarray) -> bool:
    return (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) and not np.issubdtype(
        arr.dtype, np.complexfloating
    )


def _big(arr: np.ndarray) -> bool:
    return sum(1 for s in arr.shape if s > 1) >= 2


def _vector(arr: np.ndarray) -> bool:
    return arr.size >= 2 and sum(1 for s in arr.shape if s > 1) == 1


def _scalar_int(arrays: dict[str, np.ndarray], names: tuple[str, ...]) -> int | None:
    lower = {k.lower(): k for k in arrays}
    for n in names:
        if n in lower:
            a = arrays[lower[n]]
            if a.size == 1:
                v = float(a.ravel()[0])
                if v.is_integer() and v > 0:
                    return int(v)
    return None


def _describe(arrays: dict[str, np.ndarray]) -> str:
    return ", ".join(f"{k} {'x'.join(map(str, v.shape))}" for k, v in arrays.items()) or "none"


def read_mat(
    path: PathLike,
    *,
    data: str | None = None,
    wavenumbers: Any = None,
    height: int | None = None,
    width: int | None = None,
    order: str = "F",
    nonfinite: str = "raise",
    units: str = "auto",
) -> Cube:
    """Read a cube from a MATLAB ``.mat`` file.

    A MAT-file states no y units: ``units="auto"`` judges them by the value
    range (see :func:`~ftir_unmix.io.range_suggests_transmittance`).

    Parameters
    ----------
    path : path-like
        The ``.mat`` file (v4 to v7.3).
    data : str, optional
        Name of the data variable (default: discovered).
    wavenumbers : str, path-like or array_like, optional
        Name of the wavenumber variable, the values, or a file holding them
        (one number per line, a CSV column, ``.npy``; a string that names a
        variable of the MAT-file is taken as the variable) (default: discovered).
    height, width : int, optional
        Image size for a pixels×bands matrix (default: scalar variables named
        ``height``/``lines``/``rows`` and ``width``/``cols``/``samples``; one
        pixel needs neither).
    order : {"F", "C"}
        Pixel order of a matrix: ``"F"`` column-major (MATLAB's ``reshape``,
        the default), ``"C"`` row-major.
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.
    units : str
        One of :data:`~ftir_unmix.io.Y_UNITS` (see :func:`~ftir_unmix.io.load_cube`).

    Returns
    -------
    Cube
        ``metadata["mat_variables"]`` names the variables used.

    Raises
    ------
    CubeReadError
        No or several candidate data arrays / wavenumber vectors, size
        mismatch, unknown image size.
    """
    p = check_file(path)
    if order not in ("C", "F"):
        raise CubeReadError(p, f"option order={order!r} must be 'C' or 'F'")
    h_opt = parse_int_option(p, "height", height)
    w_opt = parse_int_option(p, "width", width)
    arrays, version = load_mat_arrays(p)
    if not arrays:
        raise CubeReadError(p, "MATLAB file holds no numeric variables")
    # -- data
    if data is not None:
        if data not in arrays:
            raise CubeReadError(p, f"no variable {data!r} (variables: {_describe(arrays)})")
        data_key = data
    else:
        big = [k for k, v in arrays.items() if _big(v)]
        if len(big) != 1:
            raise CubeReadError(
                p,
                f"{'no' if not big else 'several'} candidate data arrays "
                f"(variables: {_describe(arrays)}); pass data='name'",
            )
        data_key = big[0]
    arr = arrays[data_key]
    if arr.ndim > 3 or (arr.ndim == 2 and 1 in arr.shape):
        arr = arr.reshape([s for s in arr.shape if s > 1] or [1])
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim not in (2, 3):
        raise CubeReadError(
            p,
            f"variable {data_key!r} has shape {arrays[data_key].shape}: "
            "need (H, W, B) or a pixels x bands matrix",
        )
    # -- wavenumbers
    repairs: list[str] = []
    meta_wn_file: str | None = None
    if isinstance(wavenumbers, str) and wavenumbers in arrays:
        wn_key: str | None = wavenumbers
        wn = arrays[wavenumbers].astype(np.float64).ravel()
    elif isinstance(wavenumbers, (str, os.PathLike)):
        if not os.path.lexists(wavenumbers):
            raise CubeReadError(
                p,
                f"wavenumbers={os.fspath(wavenumbers)!r} is neither a variable of the file "
                f"(variables: {_describe(arrays)}) nor an existing file",
            )
        wn_key = None
        wn = wavenumbers_option(p, wavenumbers, tuple(arr.shape))
        meta_wn_file = os.fspath(wavenumbers)
    elif wavenumbers is not None:
        wn_key = None
        wn = wavenumbers_option(p, wavenumbers).ravel()
    else:
        vecs = {
            k: v for k, v in arrays.items() if k != data_key and _vector(v) and v.size in arr.shape
        }
        named = {k: v for k, v in vecs.items() if _WN_NAMES.match(k)}
        pick = named if len(named) == 1 else vecs
        if len(pick) != 1:
            raise CubeReadError(
                p,
                f"{'no' if not pick else 'several'} wavenumber vectors matching the size of "
                f"{data_key!r} {'x'.join(map(str, arr.shape))} (variables: {_describe(arrays)}): "
                f"{WAVENUMBERS_HINT}",
            )
        wn_key = next(iter(pick))
        wn = pick[wn_key].astype(np.float64).ravel()
    n_b = wn.size
    # -- orientation
    axes = [i for i, s in enumerate(arr.shape) if s == n_b]
    if not axes:
        raise CubeReadError(
            p, f"{n_b} wavenumbers match no axis of {data_key!r} {'x'.join(map(str, arr.shape))}"
        )
    band_axis = axes[-1]
    if len(axes) > 1:
        repairs.append(
            f"several axes of {data_key!r} have {n_b} elements: axis {band_axis} taken as bands"
        )
    cube_arr = np.moveaxis(arr, band_axis, -1)
    meta: dict[str, Any] = {
        "mat_version": version,
        "mat_variables": {"data": data_key, "wavenumbers": wn_key},
    }
    if meta_wn_file is not None:
        meta["wavenumbers_file"] = meta_wn_file
    if cube_arr.ndim == 2:
        if h_opt is None and w_opt is None:
            h_opt = _scalar_int(arrays, _H_NAMES)
            w_opt = _scalar_int(arrays, _W_NAMES)
            if h_opt is not None or w_opt is not None:
                meta["size_from"] = "variables in the file"
        cube_arr = reshape_pixels(
            p,
            cube_arr,
            height=h_opt,
            width=w_opt,
            order=order,
            hint="(a pixels x bands matrix does not say the image shape)",
        )
        meta["pixel_order"] = order
    elif h_opt is not None or w_opt is not None:
        if (h_opt or cube_arr.shape[0]) != cube_arr.shape[0] or (
            w_opt or cube_arr.shape[1]
        ) != cube_arr.shape[1]:
            raise CubeReadError(
                p, f"height/width options disagree with the cube shape {cube_arr.shape}"
            )
    return finish_cube(
        p,
        "matlab",
        cube_arr,
        wn,
        metadata=meta,
        repairs=repairs,
        nonfinite=nonfinite,
        units=units,
    )
