"""Scaling of the pixel spectra before a method sees them (recorded in the run record)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SCALINGS", "Scaled", "scale_pixels"]

#: Choices of the ``scaling`` option.
SCALINGS = ("global", "none", "minmax")


@dataclass(frozen=True)
class Scaled:
    """Scaled pixels, the per-band factor that maps spectra back, and what was done (in words)."""

    pixels: np.ndarray
    factor: np.ndarray
    note: str


def scale_pixels(pixels: np.ndarray, how: str) -> Scaled:
    """Scale pixel spectra (N, B).

    ``"global"`` divides by one robust scale (the 99th percentile of ``|x|``),
    which keeps spectral shapes; ``"minmax"`` maps every band to [0, 1] as the
    authors' code does (this changes shapes; endmembers are mapped back by the
    band ranges only, without the offsets); ``"none"`` keeps the data.
    Endmembers estimated on the scaled data times ``factor[:, None]`` are in
    the cube's units.
    """
    n_bands = pixels.shape[1]
    if how == "none":
        return Scaled(pixels, np.ones(n_bands, np.float32), "none")
    if how == "minmax":
        lo, hi = pixels.min(0), pixels.max(0)
        rng = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
        return Scaled((pixels - lo) / rng, rng, "per-band min-max to [0, 1] (authors' code)")
    if how != "global":
        raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}; got {how!r}")
    s = float(np.percentile(np.abs(pixels), 99.0))
    s = s if s > 0 else 1.0
    return Scaled(pixels / np.float32(s), np.full(n_bands, s, np.float32),
                  f"divided by 99th percentile of |data| = {s:.6g}")
