"""The hyperspectral cube every reader returns and every algorithm takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._mapped import row_blocks
from .errors import CubeError

__all__ = ["Cube", "as_pixels", "make_cube"]


@dataclass(frozen=True)
class Cube:
    """An FTIR image: absorbance per pixel and band.

    Build cubes with :func:`make_cube`, which validates and repairs explicitly;
    the constructor only checks what is cheap.

    Attributes
    ----------
    data : ndarray, shape (H, W, B), float32
        Absorbance, one spectrum per pixel: the readers convert transmittance
        and reflectance; :attr:`units` says what the values are.
    wavenumbers : ndarray, shape (B,), float64
        Band centres in cm⁻¹, strictly ascending.
    pixel_size : float or None
        Pixel pitch in micrometres where the file states it.
    metadata : dict
        Source metadata: ``format``, ``path``, ``units``, ``units_source`` and
        whatever the reader found.  ``metadata["repairs"]`` lists every change
        made while loading (a unit conversion included).
    """

    data: np.ndarray
    wavenumbers: np.ndarray
    pixel_size: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.data.ndim != 3:
            raise CubeError(f"cube data must be (H, W, B), got shape {self.data.shape}")
        if self.wavenumbers.shape != (self.data.shape[2],):
            raise CubeError(
                f"{self.wavenumbers.shape[0]} wavenumbers for {self.data.shape[2]} bands"
            )

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, B)``."""
        return self.data.shape  # type: ignore[return-value]

    @property
    def height(self) -> int:
        return self.data.shape[0]

    @property
    def width(self) -> int:
        return self.data.shape[1]

    @property
    def n_bands(self) -> int:
        return self.data.shape[2]

    @property
    def pixels(self) -> np.ndarray:
        """The data as an ``(H·W, B)`` matrix (a view, row-major pixel order)."""
        return self.data.reshape(-1, self.n_bands)

    @property
    def units(self) -> str:
        """The units of :attr:`data`: ``"absorbance"``, or e.g. ``"unknown (taken as absorbance)"``.

        Set by the readers (``metadata["units"]``); a cube built from arrays
        has ``"unknown (taken as absorbance)"`` unless its metadata says more.
        """
        return str(self.metadata.get("units", "unknown (taken as absorbance)"))

    def info(self) -> dict[str, Any]:
        """A JSON-ready summary: size, spectral range, format, y units, repairs.

        ``units`` is what the values are after reading (normally
        ``"absorbance"``; transmittance and reflectance are converted on
        reading, see ``repairs``), ``units_source`` where that comes from
        (the file header, the value range, the ``units=`` option...).
        """
        return {
            "height": int(self.height),
            "width": int(self.width),
            "bands": int(self.n_bands),
            "wavenumber_min": float(self.wavenumbers[0]),
            "wavenumber_max": float(self.wavenumbers[-1]),
            "pixel_size_um": self.pixel_size,
            "format": self.metadata.get("format", "unknown"),
            "path": self.metadata.get("path"),
            "units": self.units,
            "units_source": str(self.metadata.get("units_source", "not recorded")),
            "repairs": [str(r) for r in self.metadata.get("repairs", [])],
        }


def make_cube(
    data: np.ndarray,
    wavenumbers: np.ndarray,
    *,
    pixel_size: float | None = None,
    metadata: dict[str, Any] | None = None,
    nonfinite: str = "raise",
) -> Cube:
    """Validate arrays and build a :class:`Cube`.

    A descending wavenumber axis is flipped (with the data) and the flip is
    recorded in ``metadata["repairs"]``; every other defect is refused.

    Parameters
    ----------
    data : array_like, shape (H, W, B) or (B,)
        Spectra. A single spectrum becomes a 1×1 image.
    wavenumbers : array_like, shape (B,)
        Band positions in cm⁻¹, strictly monotonic (either direction).
    pixel_size : float, optional
        Pixel pitch in micrometres.
    metadata : dict, optional
        Source metadata; copied.
    nonfinite : {"raise", "zero"}
        What to do with NaN/inf values: refuse (default) or set them to 0 and
        record how many were replaced.

    Returns
    -------
    Cube

    Raises
    ------
    CubeError
        Wrong shapes, fewer than two bands, a non-monotonic or duplicated
        wavenumber axis, non-finite values (with ``nonfinite="raise"``).

    Examples
    --------
    >>> import numpy as np
    >>> cube = make_cube(np.ones((2, 3, 4)), [1000, 1100, 1200, 1300])
    >>> cube.shape
    (2, 3, 4)
    """
    meta = dict(metadata or {})
    repairs: list[str] = list(meta.get("repairs", []))
    arr = np.asarray(data)
    if arr.ndim == 1:
        arr = arr[None, None, :]
    if arr.ndim != 3:
        raise CubeError(f"expected an (H, W, B) cube, got an array of shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise CubeError(f"cube data must be real numbers, got dtype {arr.dtype}")
    if min(arr.shape) == 0:
        raise CubeError(f"cube is empty (shape {arr.shape})")
    wn = np.asarray(wavenumbers, dtype=np.float64).ravel()
    if wn.shape[0] != arr.shape[2]:
        raise CubeError(f"{wn.shape[0]} wavenumbers for {arr.shape[2]} bands")
    if arr.shape[2] < 2:
        raise CubeError("a cube needs at least 2 bands")
    if not np.all(np.isfinite(wn)):
        raise CubeError("the wavenumber axis contains NaN or inf")
    step = np.diff(wn)
    if np.any(step == 0):
        i = int(np.flatnonzero(step == 0)[0])
        raise CubeError(f"duplicated wavenumber {wn[i]:g} cm-1 at bands {i} and {i + 1}")
    if np.all(step < 0):
        wn = wn[::-1]
        arr = arr[:, :, ::-1]
        repairs.append("wavenumber axis was descending: bands reversed to ascending order")
    elif not np.all(step > 0):
        i = int(np.flatnonzero(np.sign(step) != np.sign(step[0]))[0])
        raise CubeError(f"wavenumber axis is not monotonic (turns at band {i + 1}, {wn[i + 1]:g} cm-1)")
    out = np.ascontiguousarray(arr, dtype=np.float32)  # a float32 memory map stays one (no copy)
    n_bad = _count_nonfinite(out)
    if n_bad:
        if nonfinite != "zero":
            raise CubeError(f"cube contains {n_bad} NaN/inf values")
        out = out.copy() if not out.flags.writeable else out
        out[~np.isfinite(out)] = 0.0
        repairs.append(f"{n_bad} non-finite values set to 0")
    meta["repairs"] = repairs
    return Cube(
        data=out,
        wavenumbers=np.ascontiguousarray(wn),
        pixel_size=None if pixel_size is None else float(pixel_size),
        metadata=meta,
    )


def _count_nonfinite(data: np.ndarray) -> int:
    """NaN and infinities in ``data``, counted by blocks along the first axis (no image-sized
    temporary, and a memory-mapped file's pages let go after each block)."""
    return sum(int(np.count_nonzero(~np.isfinite(block))) for block in row_blocks(data))


def as_pixels(data: Any, what: str = "data", *, min_bands: int = 1, min_pixels: int = 1,
              finite: bool = True, dtype: Any = None) -> np.ndarray:
    """``(H, W, B)`` or ``(N, B)`` data as pixel spectra ``(N, B)`` (a view when it can be).

    Parameters
    ----------
    data : array_like
    what : str
        How the messages name the argument.
    min_bands, min_pixels : int
        The least the caller can work with.
    finite : bool
        Refuse NaN and infinities.
    dtype : dtype, optional
        Convert to it; by default floating data keep their type and others become float64.

    Raises
    ------
    TypeError
        Not real numbers.
    ValueError
        Wrong number of axes, too few bands or pixels, non-finite values.
    """
    arr = np.asarray(data)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{what} must be an array of real numbers; got dtype {arr.dtype}")
    if arr.ndim == 3:
        arr = arr.reshape(-1, arr.shape[-1])
    if arr.ndim != 2:
        raise ValueError(f"{what} must be (N, B) or (H, W, B); got shape {arr.shape}")
    if arr.shape[1] < min_bands:
        raise ValueError(f"{what} need at least {min_bands} bands; got {arr.shape[1]}")
    if arr.shape[0] < min_pixels:
        raise ValueError(f"{what} need at least {min_pixels} pixels; got {arr.shape[0]}")
    if dtype is not None or not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(dtype or np.float64, copy=False)
    if finite:
        n_bad = _count_nonfinite(arr)
        if n_bad:
            raise ValueError(f"{what} contain {n_bad} NaN or infinite values")
    return arr
