"""Scaling of the pixel spectra before a method sees them (recorded in the run record).

The scaling is computed once (:func:`scale_pixels`) and applied lazily by
:class:`ScaledPixels`, block by block: a method reads the rows it needs, and a
cube larger than memory (a memory-mapped file) is never copied whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._mapped import file_mapping, release_pages, take_rows

__all__ = ["SCALINGS", "Scaling", "ScaledPixels", "file_mapping", "release_pages", "scale_pixels"]

#: Choices of the ``scaling`` option.
SCALINGS = ("global", "none", "minmax")
#: Pixels, and values, (at most) from which the global scale (a percentile) is estimated.
MAX_PIXELS = 65_536
MAX_VALUES = 1 << 25
#: Rows per block when the scaling or a statistic streams over the whole image.
BLOCK_ROWS = 8192


@dataclass(frozen=True)
class Scaling:
    """``scaled = (x − offset) / factor`` per band, and what was done (in words).

    Attributes
    ----------
    factor : ndarray (B,) float32
        Endmembers estimated on the scaled data times ``factor[:, None]`` are in
        the cube's units.
    offset : ndarray (B,) float32 or None
        Per-band offsets (``"minmax"`` only).
    note : str
    """

    factor: np.ndarray
    offset: np.ndarray | None
    note: str

    @property
    def identity(self) -> bool:
        """True when the data are used as they are."""
        return self.offset is None and bool(np.all(self.factor == 1))

    def apply(self, block: np.ndarray) -> np.ndarray:
        """The scaled rows (float32; the same arithmetic whatever the block)."""
        if self.identity:
            return np.asarray(block)
        if self.offset is None:
            return np.asarray(block) / self.factor[0]
        return (np.asarray(block) - self.offset) / self.factor


class ScaledPixels:
    """Pixel spectra (N, B) seen through a :class:`Scaling`, computed on access.

    Supports what the methods need of an array: ``shape``, ``dtype``, ``len``,
    row indexing (an int, a slice, an index array: ``x[rows]``), :meth:`blocks`
    and ``np.asarray(x)`` (the whole scaled array, for methods that need it in
    memory).
    """

    def __init__(self, pixels: np.ndarray, scaling: Scaling) -> None:
        self.raw = pixels
        self.scaling = scaling
        self._mapping = file_mapping(pixels)
        self.shape: tuple[int, int] = tuple(pixels.shape)  # type: ignore[assignment]
        self.dtype = np.dtype(np.float32)
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Any) -> np.ndarray:
        if isinstance(rows, tuple):
            raise TypeError("index the rows only (x[rows]); bands are always whole")
        if isinstance(rows, np.ndarray) and rows.ndim == 1 and self._mapping is not None:
            raw = take_rows(self.raw, rows)  # a scattered sample: read in blocks, pages let go
        else:
            raw = self.raw[rows]
        out = self.scaling.apply(raw)
        if self._mapping is not None:  # the rows are copied: let the file's pages go again
            release_pages(self._mapping)
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.scaling.apply(self.raw)
        return out if dtype is None else out.astype(dtype, copy=False)

    def blocks(self, rows: int = BLOCK_ROWS) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, scaled block)`` for consecutive blocks of ``rows`` pixels."""
        for start in range(0, self.shape[0], rows):
            yield start, self[start:start + rows]


def scale_pixels(pixels: np.ndarray, how: str, *, max_pixels: int = MAX_PIXELS) -> Scaling:
    """The scaling of pixel spectra (N, B) for the option ``scaling``.

    ``"global"`` divides by one robust scale (the 99th percentile of ``|x|``,
    measured on a seeded sample of pixels for images of more than ``max_pixels``
    pixels or 2²⁵ values),
    which keeps spectral shapes; ``"minmax"`` maps every band to [0, 1] as the
    authors' code does (this changes shapes; endmembers are mapped back by the
    band ranges only, without the offsets); ``"none"`` keeps the data.
    """
    n_pix, n_bands = pixels.shape
    if how == "none":
        return Scaling(np.ones(n_bands, np.float32), None, "none")
    if how == "minmax":
        lo = np.full(n_bands, np.inf, np.float32)
        hi = np.full(n_bands, -np.inf, np.float32)
        for start in range(0, n_pix, BLOCK_ROWS):
            block = np.asarray(pixels[start:start + BLOCK_ROWS])
            lo, hi = np.minimum(lo, block.min(0)), np.maximum(hi, block.max(0))
        rng = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
        return Scaling(rng, lo.astype(np.float32), "per-band min-max to [0, 1] (authors' code)")
    if how != "global":
        raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}; got {how!r}")
    sample, note = pixels, ""
    rows = min(max_pixels, max(1, MAX_VALUES // n_bands))
    if n_pix > rows:
        sample = take_rows(pixels, np.sort(np.random.default_rng(0).choice(n_pix, rows, replace=False)))
        note = f" (from {rows} of {n_pix} pixels)"
    # |x| in place on the sample's own copy: one array of at most MAX_VALUES values
    values = np.abs(sample, out=sample) if sample is not pixels else np.abs(np.asarray(pixels))
    s = float(np.percentile(values, 99.0, overwrite_input=True))  # values is ours: no second copy
    s = s if s > 0 else 1.0
    return Scaling(np.full(n_bands, s, np.float32), None,
                   f"divided by 99th percentile of |data| = {s:.6g}{note}")
