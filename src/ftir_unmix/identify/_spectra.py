"""Spectrum helpers shared by the scores and the marker bands: resampling, baseline, derivatives.

Every function takes ascending wavenumbers (cm⁻¹) and float64 values; nothing here knows
about libraries, markers or files.
"""

from __future__ import annotations

import numpy as np

from ..preprocess.background import lower_envelope, polynomial_basis
from ..preprocess.noise import difference_noise

__all__ = [
    "CO2_REGION",
    "BASELINE_DEGREE",
    "LOW_WEIGHT",
    "band_mask",
    "derivative",
    "derivative_weights",
    "effective_weights",
    "noise_sigma",
    "remove_baseline",
    "resample",
    "sg_window",
    "smooth",
]

#: Atmospheric CO₂ antisymmetric-stretch doublet (cm⁻¹): never counted for or against a match
#: unless ``exclude_co2=False``.
CO2_REGION: tuple[float, float] = (2280.0, 2400.0)
#: Degree of the polynomial baseline removed from every spectrum before it is compared.
BASELINE_DEGREE = 2
#: Bands whose weight is below this are "distrusted": no peak there counts, no marker there is missing.
LOW_WEIGHT = 0.3
#: Width (cm⁻¹) of the Savitzky–Golay window used for smoothing and derivatives.
SG_WIDTH_CM = 17.0


def resample(wn_src: np.ndarray, y_src: np.ndarray, wn_dst: np.ndarray) -> np.ndarray:
    """Values of a spectrum at other band positions (NaN outside its range).

    Where the source is sampled much more finely than the target (more than 1.5 source
    points per target band), the source is first averaged over each target band's width
    (integral of the linear interpolant), so that noise and narrow lines are not aliased.

    Parameters
    ----------
    wn_src, y_src : ndarray, shape (M,)
        The spectrum, ascending wavenumbers.
    wn_dst : ndarray, shape (B,)
        Target positions, ascending.

    Returns
    -------
    ndarray, shape (B,)
    """
    xs = np.asarray(wn_src, dtype=np.float64)
    ys = np.asarray(y_src, dtype=np.float64)
    xd = np.asarray(wn_dst, dtype=np.float64)
    out = np.full(xd.shape, np.nan)
    inside = (xd >= xs[0]) & (xd <= xs[-1])
    if not inside.any():
        return out
    step_src = float(np.median(np.diff(xs))) if xs.size > 1 else np.inf
    step_dst = float(np.median(np.diff(xd))) if xd.size > 1 else np.inf
    if step_dst > 1.5 * step_src:
        # box average over [x - h/2, x + h/2] through the cumulative trapezoid integral
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (ys[1:] + ys[:-1]) * np.diff(xs))])
        edges = np.empty(xd.size + 1)
        edges[1:-1] = 0.5 * (xd[1:] + xd[:-1])
        edges[0] = xd[0] - 0.5 * (xd[1] - xd[0])
        edges[-1] = xd[-1] + 0.5 * (xd[-1] - xd[-2])
        edges = np.clip(edges, xs[0], xs[-1])

        def integral(x: np.ndarray) -> np.ndarray:
            i = np.clip(np.searchsorted(xs, x) - 1, 0, xs.size - 2)
            t = x - xs[i]
            slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
            return cum[i] + ys[i] * t + 0.5 * slope * t * t

        area = np.diff(integral(edges))
        width = np.diff(edges)
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = np.where(width > 0, area / np.where(width > 0, width, 1.0), np.interp(xd, xs, ys))
        out[inside] = avg[inside]
    else:
        out[inside] = np.interp(xd[inside], xs, ys)
    return out


def remove_baseline(wavenumbers: np.ndarray, values: np.ndarray, *, degree: int = BASELINE_DEGREE) -> np.ndarray:
    """Subtract the polynomial that runs along the lowest 10 % of the bands; clip at zero.

    The convention of the project's endmembers
    (:func:`ftir_unmix.preprocess.background.lower_envelope`): a spectrum that is zero where
    the material is transparent.  ``values`` may be (B,) or (B, K).
    """
    y = np.asarray(values, dtype=np.float64)
    cols = y[:, None] if y.ndim == 1 else y
    corrected, _ = lower_envelope(cols, polynomial_basis(np.asarray(wavenumbers, np.float64), degree))
    return corrected[:, 0] if y.ndim == 1 else corrected


def sg_window(wavenumbers: np.ndarray, width_cm: float = SG_WIDTH_CM) -> int:
    """Odd Savitzky–Golay window (points) spanning about ``width_cm`` cm⁻¹ (at least 5)."""
    wn = np.asarray(wavenumbers, dtype=np.float64)
    step = float(np.median(np.diff(wn))) if wn.size > 1 else 1.0
    n = int(round(width_cm / max(step, 1e-9)))
    n = max(5, n | 1)
    return min(n, wn.size - (1 - wn.size % 2)) if wn.size >= 5 else wn.size | 1


def smooth(wavenumbers: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Savitzky–Golay smoothing (quadratic, window :func:`sg_window`)."""
    from scipy.signal import savgol_filter

    y = np.asarray(values, dtype=np.float64)
    win = sg_window(wavenumbers)
    if y.shape[0] < win or win < 3:
        return y.copy()
    return savgol_filter(y, win, 2, axis=0)


def derivative(wavenumbers: np.ndarray, values: np.ndarray, order: int = 1) -> np.ndarray:
    """Savitzky–Golay derivative (per band, quadratic/cubic fit, window :func:`sg_window`)."""
    from scipy.signal import savgol_filter

    y = np.asarray(values, dtype=np.float64)
    win = sg_window(wavenumbers)
    poly = 2 if order == 1 else 3
    if y.shape[0] < max(win, poly + 2):
        return np.gradient(y, axis=0) if order == 1 else np.gradient(np.gradient(y, axis=0), axis=0)
    return savgol_filter(y, win, poly, deriv=order, axis=0)


def noise_sigma(values: np.ndarray) -> float:
    """Robust standard deviation of white noise in one spectrum, from its first differences
    (:func:`ftir_unmix.preprocess.noise.difference_noise`)."""
    return float(difference_noise(np.asarray(values, dtype=np.float64), 1))


def band_mask(wavenumbers: np.ndarray, region: tuple[float, float]) -> np.ndarray:
    """True for the bands inside ``region`` (inclusive)."""
    wn = np.asarray(wavenumbers, dtype=np.float64)
    return (wn >= region[0]) & (wn <= region[1])


def effective_weights(
    wavenumbers: np.ndarray, weights: np.ndarray | None, *, exclude_co2: bool = True
) -> np.ndarray:
    """The band weights used by every score: ``weights`` (or 1), zero in the CO₂ region.

    Parameters
    ----------
    wavenumbers : ndarray, shape (B,)
    weights : ndarray, shape (B,) or None
        Band-reliability weights in [0, 1] (:func:`ftir_unmix.band_weights`); None: all 1.
    exclude_co2 : bool
        Set the weights of :data:`CO2_REGION` to zero.

    Returns
    -------
    ndarray, shape (B,), float64
    """
    wn = np.asarray(wavenumbers, dtype=np.float64)
    if weights is None:
        w = np.ones_like(wn)
    else:
        w = np.asarray(weights, dtype=np.float64).copy()
        if w.shape != wn.shape:
            raise ValueError(f"weights must have shape {wn.shape} (one per band), got {w.shape}")
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise ValueError("weights must be finite and nonnegative")
        w = _close_gaps(w)
    if exclude_co2:
        w[band_mask(wn, CO2_REGION)] = 0.0
    return w


#: A run of at most this many trusted bands between distrusted ones is distrusted too.
GAP_BANDS = 3


def _close_gaps(w: np.ndarray) -> np.ndarray:
    """Distrust short runs of trusted bands inside a distrusted region.

    Band-reliability weights mark most lines of an atmospheric band as distrusted but can
    leave single bands between them trusted (a band where the drifting lines cancel); such
    a band still carries the artefact. A run of at most :data:`GAP_BANDS` bands flanked by
    distrusted bands on both sides gets the smaller of the flanking weights.
    """
    low = w < LOW_WEIGHT
    if not low.any():
        return w
    out = w.copy()
    idx = np.flatnonzero(low)
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= GAP_BANDS + 1:
            out[a + 1 : b] = min(w[a], w[b])
    return out


def derivative_weights(wavenumbers: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weights for a derivative: the smallest weight within the Savitzky–Golay window.

    A derivative at band b mixes the bands of its window, so a distrusted band (a spike, a
    CO₂ line) spoils the derivative of its neighbours too.
    """
    from scipy.ndimage import minimum_filter1d

    return minimum_filter1d(np.asarray(w, dtype=np.float64), size=sg_window(wavenumbers), mode="nearest")
