"""White noise read from spectra: the robust spread of their differences along the axis.

A band's shape changes little from one band to the next (over 2–3 bands at 4 cm⁻¹ sampling),
white noise does not, so the ``order``-th differences of a spectrum are mostly noise. Their
median absolute deviation, scaled to a standard deviation (1.4826) and divided by the factor
the differences multiply white noise's spread by (√2 for first, √6 for second differences),
estimates the noise per band. It reads low on smoothed or interpolated bands (correlated
noise) and high where lines are narrower than a few bands.
"""

from __future__ import annotations

from math import comb, sqrt

import numpy as np

__all__ = ["MAD_TO_SD", "difference_noise"]

#: A normal distribution's standard deviation per median absolute deviation.
MAD_TO_SD = 1.4826


def difference_noise(values: np.ndarray, order: int = 1, *, weights: np.ndarray | None = None,
                     axis: int = -1) -> np.ndarray | float:
    """Robust standard deviation of white noise along ``axis`` from the ``order``-th differences.

    Parameters
    ----------
    values : ndarray
        Spectra, bands along ``axis``.
    order : int
        1 or 2 (any order ≥ 1 works): first differences also carry a band's slope, which
        inflates them where the noise is small against it; second differences cancel it.
    weights : ndarray (B,), optional
        Per-band weights multiplied into the differences (after differencing, so weights
        that jump from band to band do not read as noise); each difference takes the weight
        of its middle band (of the left one for first differences).
    axis : int
        The spectral axis.

    Returns
    -------
    float or ndarray
        The noise per band, one value per spectrum (the other axes); 0 for fewer than
        ``order + 1`` bands. float32 stays float32; any other type is computed in float64.
    """
    x = np.moveaxis(np.asarray(values), axis, -1)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    if x.shape[-1] <= order:
        return 0.0 if x.ndim == 1 else np.zeros(x.shape[:-1], x.dtype)
    d = np.diff(x, order, axis=-1)
    if weights is not None:
        w = np.asarray(weights, x.dtype)
        d = d * w[order // 2:order // 2 + d.shape[-1]]
    mad = np.median(np.abs(d - np.median(d, axis=-1, keepdims=True)), axis=-1)
    spread = MAD_TO_SD * mad / sqrt(comb(2 * order, order))
    return float(spread) if spread.ndim == 0 else spread
