"""Checks made before any work: argument types, band weights, and data that cannot be unmixed.

Everything here runs before training, so a run that cannot give a meaningful
answer is refused in a fraction of a second with the reason, instead of
ending at π/2 with all-zero endmembers or failing deep inside a library
("SVD did not converge").
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._mapped import row_blocks, take_rows
from .cube import Cube
from .errors import DataError, FTIRUnmixWarning, ParameterError

__all__ = ["require_cube", "checked_weights", "check_forced_ranges", "check_unmixable", "independent_components"]

#: A singular value below this fraction of the largest counts as zero (float32 data).
_RANK_TOL = 1e-5
#: Pixels (at most) of the sketch that measures the data's rank.
_RANK_PIXELS = 65_536


def require_cube(cube: Any, name: str = "cube") -> Cube:
    """``cube`` if it is a :class:`~ftir_unmix.Cube`, else a :class:`TypeError` saying how to make one."""
    if not isinstance(cube, Cube):
        raise TypeError(
            f"{name} must be an ftir_unmix.Cube (from ftir_unmix.load_cube(path) or "
            f"ftir_unmix.make_cube(data, wavenumbers)); got {type(cube).__name__}"
        )
    return cube


def checked_weights(weights: Any, n_bands: int) -> np.ndarray:
    """Band weights given by the caller as a float64 array (B,), or an error naming ``weights``."""
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"weights must be an array of {n_bands} numbers; got {type(weights).__name__}") from None
    if w.shape != (n_bands,):
        raise ParameterError("weights", f"must have shape ({n_bands},), one per band; got {w.shape}")
    bad = ~np.isfinite(w)
    if bad.any():
        raise ParameterError("weights", f"must be finite; {int(bad.sum())} of {n_bands} are NaN or infinite")
    if (w < 0).any():
        raise ParameterError("weights", f"must be ≥ 0; {int((w < 0).sum())} are negative (min {w.min():g})")
    if not (w > 0).any():
        raise ParameterError("weights", "are all zero: no band is left to fit")
    return w


def independent_components(pixels: np.ndarray, weights: np.ndarray | None = None,
                           nuisance: np.ndarray | None = None, *, at_most: int, seed: int = 0) -> int:
    """How many linearly independent spectra the data hold (capped at ``at_most``).

    Measured on a random sketch ``Y Ω`` of the pixels (N, B) with ``at_most``
    Gaussian directions: with probability one it has the rank of ``Y`` when
    that rank is below ``at_most``. With ``weights`` (B,) and ``nuisance``
    (B, r, orthonormal) the rank is the one the loss sees: of the band-weighted
    spectra once their component in span ``nuisance`` is removed.
    """
    rng = np.random.default_rng(seed)
    y = pixels
    if y.shape[0] > _RANK_PIXELS:
        y = take_rows(y, np.sort(rng.choice(y.shape[0], _RANK_PIXELS, replace=False)))
    # zᵀΩ with z = (I − QQᵀ) D y equals yᵀ D (I − QQᵀ) Ω: transform the directions, not the data.
    raw = rng.standard_normal((y.shape[1], at_most))
    omega = raw.copy()
    if nuisance is not None:
        omega -= nuisance @ (nuisance.T @ omega)
    if weights is not None:
        omega *= np.asarray(weights, np.float64)[:, None]
    sketch = np.empty((y.shape[0], 2 * at_most))
    for r0 in range(0, y.shape[0], 8192):  # float64 in row blocks: float32 round-off is near the tolerance
        sketch[r0:r0 + 8192] = y[r0:r0 + 8192].astype(np.float64) @ np.hstack([omega, raw])
    # The scale of "zero" is the data's own (unweighted, unprojected) size: a projection that
    # removes everything leaves round-off, which must not count as components.
    scale = np.linalg.norm(sketch[:, at_most:], 2) * (1.0 if weights is None else float(np.max(weights)))
    s = np.linalg.svd(sketch[:, :at_most], compute_uv=False)
    if scale <= 0:
        return 0
    return int((s > _RANK_TOL * scale).sum())


def check_unmixable(cube: Cube, k: int, *, weights: np.ndarray, nuisance: np.ndarray | None = None,
                    baseline: str = "none", seed: int = 0) -> list[str]:
    """Refuse data that cannot be unmixed into ``k`` endmembers; return warnings about the rest.

    Parameters
    ----------
    cube : Cube
    k : int
        Number of endmembers asked for.
    weights : ndarray (B,)
        The band weights the loss uses.
    nuisance : ndarray (B, r), optional
        Orthonormal basis of what the loss ignores (the weighted baseline polynomial).
    baseline : str
        Name of the baseline term, for the messages.
    seed : int
        Seed of the rank sketch.

    Returns
    -------
    list of str
        Warnings, each one sentence; also issued as :class:`FTIRUnmixWarning`.

    Raises
    ------
    DataError
        Every value zero, or the same; every value ≤ 0; fewer than two
        independent spectra left for the loss to fit.
    ValueError
        ``k`` larger than the number of pixels or bands.
    """
    h, w_img, n_bands = cube.shape
    if k > n_bands:
        raise ParameterError("k", f"must be at most the number of bands ({n_bands}); got {k}")
    if k > h * w_img:
        raise ParameterError("k", f"must be at most the number of pixels ({h * w_img}); got {k}")
    pixels = cube.pixels
    # One pass by row blocks (a mosaic may be memory-mapped and larger than memory).
    lo, hi, zero, negative = np.inf, -np.inf, 0, 0
    for block in row_blocks(pixels):
        lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
        zero += int((~block.any(axis=1)).sum())
        negative += int(np.count_nonzero(block < 0))
    if lo == hi == 0:
        raise DataError("every value of the cube is zero: nothing to unmix")
    if lo == hi:
        raise DataError(f"every value of the cube is the same ({lo:g}): nothing to unmix")
    if hi <= 0:
        raise DataError(f"every value of the cube is ≤ 0 (max {hi:g}); absorbance spectra are mostly "
                        "positive: check the y units (--units) or the sign of the data")
    found: list[str] = []
    if zero:
        found.append(f"{zero} of {h * w_img} pixels have an all-zero spectrum (outside the sample?); "
                     "their abundances mean nothing")
    negative /= pixels.size
    if negative > 0.5:
        found.append(f"{100 * negative:.0f} % of the values are negative: not typical of absorbance "
                     "(check the units or a baseline correction done before)")
    rank = independent_components(pixels, weights, nuisance, at_most=min(k + 2, n_bands), seed=seed)
    if rank < 2:
        if nuisance is not None and independent_components(pixels, weights, at_most=2, seed=seed) >= 2:
            raise DataError(
                f"once the {baseline} baseline of each pixel is removed, the {n_bands} bands leave "
                f"{'nothing' if rank == 0 else 'one spectrum'} to unmix: use a lower baseline degree "
                "(baseline 'offset', 'linear' or 'none') or more bands")
        weighted = independent_components(pixels, at_most=2, seed=seed) >= 2
        raise DataError("every pixel's spectrum is a multiple of one spectrum"
                        f"{' once the band weights are applied' if weighted else ''}: nothing to unmix")
    if rank < k:
        found.append(f"the data hold only {rank} linearly independent spectra "
                     f"(after band weighting{' and baseline removal' if nuisance is not None else ''}): "
                     f"with k = {k}, {k - rank} endmember(s) cannot be told apart")
    for message in found:
        warnings.warn(message, FTIRUnmixWarning, stacklevel=3)
    return found


def check_forced_ranges(ranges: tuple[tuple[float, float], ...], wavenumbers: np.ndarray) -> None:
    """Refuse a forced range that holds no band of the spectrum (a typo would otherwise do nothing)."""
    wn = np.asarray(wavenumbers)
    for lo, hi in ranges:
        if not ((wn >= lo) & (wn <= hi)).any():
            raise ParameterError(
                "forced_ranges", f"{lo:g}:{hi:g} cm-1 holds no band of the spectrum "
                f"({wn.min():g}–{wn.max():g} cm-1)")
