"""How well a reference (or a mixture of two) fits an endmember.

All scores compare the two spectra *after* their baselines were removed
(:func:`~ftir_unmix.identify._spectra.remove_baseline`) and weight every band by the
band-reliability weight ``w`` the way the WSAD loss does: each spectrum is multiplied by
``w`` before it is compared, so a band of weight 0.05 (a CO₂ line, a spike) contributes
0.25 % of what a trusted band does.

- ``hqi``: hit quality index, ``100 r²`` with ``r`` the weighted Pearson correlation (the
  "match value" of commercial library search and of Open Specy); 0 when ``r ≤ 0``.
- ``hqi_derivative``: the same on the Savitzky–Golay first derivatives (weights: the
  smallest weight in the derivative's window). Derivatives ignore offsets and broad
  baseline residues and look at band positions and shapes.
- ``sad_deg``: the weighted spectral angle (degrees) between the two baseline-free spectra.
- ``score`` (in [0, 1]): ``max(r, 0) · max(r′, 0)``, the geometric mean of the two HQIs on
  the 0–1 scale. Both the band pattern and the band shapes must agree; a broad-band
  coincidence (every organic has CH stretches) lifts ``r`` but not ``r′``.

:data:`LIBRARY_THRESHOLD` is the score below which a library candidate is not a confident
match (docs/identification.md, "Scores and threshold").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..preprocess.background import polynomial_basis, weighted_nuisance_basis
from ._spectra import derivative, derivative_weights

__all__ = [
    "LIBRARY_THRESHOLD",
    "MIN_OVERLAP_CM",
    "MIXTURE_MIN_FRACTION",
    "MIXTURE_MIN_GAIN",
    "MIXTURE_MIN_REDUCTION",
    "PairFit",
    "Scores",
    "combined_score",
    "compare",
    "fit_pair",
    "hit_quality_index",
    "spectral_angle_deg",
    "weighted_correlation",
]

#: Score below which a library (or mixture) candidate is "no confident match".
LIBRARY_THRESHOLD = 0.6
#: The smallest common range (cm⁻¹) on which an endmember and a reference are compared.
MIN_OVERLAP_CM = 400.0
#: A mixture is reported as a confident answer only if each reference carries at least this
#: fraction of the fit ...
MIXTURE_MIN_FRACTION = 0.1
#: ... its score beats the best single reference by at least this much ...
MIXTURE_MIN_GAIN = 0.03
#: ... and it removes at least this fraction of the best single reference's misfit
#: ``1 − score`` (a second reference always fits a little better: instrument differences
#: between a reference and the sample are not a mixture).
MIXTURE_MIN_REDUCTION = 0.5


def weighted_correlation(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """Pearson correlation of ``w·x`` and ``w·y`` about their ``w²``-weighted means.

    Parameters
    ----------
    x, y : ndarray, shape (B,)
    w : ndarray, shape (B,), optional
        Band weights (None: all 1). Bands of weight 0 do not count at all.

    Returns
    -------
    float
        In [-1, 1]; 0 when either spectrum is constant on the weighted bands.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 0.0, 2.0])
    >>> round(weighted_correlation(x, 3 * x + 1), 6)
    1.0
    >>> round(weighted_correlation(x, np.array([0.0, 1.0, 0.0, 9.0]), np.array([1, 1, 1, 0.0])), 6)
    1.0
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    u = np.ones_like(x) if w is None else np.asarray(w, dtype=np.float64) ** 2
    total = u.sum()
    if not total > 0:
        return 0.0
    mx = (u * x).sum() / total
    my = (u * y).sum() / total
    dx, dy = x - mx, y - my
    sxx, syy = (u * dx * dx).sum(), (u * dy * dy).sum()
    if not (sxx > 0 and syy > 0):
        return 0.0
    return float(np.clip((u * dx * dy).sum() / math.sqrt(sxx * syy), -1.0, 1.0))


def hit_quality_index(r: float) -> float:
    """The 0–100 hit quality index of a correlation: ``100 r²`` for ``r > 0``, else 0."""
    return 100.0 * r * r if r > 0 else 0.0


def spectral_angle_deg(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """Weighted spectral angle (degrees) between ``w·x`` and ``w·y`` (90 when one is zero)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
        x, y = w * x, w * y
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if not (nx > 0 and ny > 0):
        return 90.0
    return float(np.degrees(np.arccos(np.clip(x @ y / (nx * ny), -1.0, 1.0))))


def combined_score(r: float, r_derivative: float) -> float:
    """The one score in [0, 1]: ``max(r, 0) · max(r_derivative, 0)``."""
    return max(r, 0.0) * max(r_derivative, 0.0)


@dataclass(frozen=True)
class Scores:
    """The scores of one comparison (see the module's description)."""

    r: float
    r_derivative: float
    hqi: float
    hqi_derivative: float
    sad_deg: float
    score: float


def compare(wavenumbers: np.ndarray, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Scores:
    """Score a baseline-free spectrum ``y`` against a baseline-free endmember ``x``.

    Parameters
    ----------
    wavenumbers : ndarray, shape (B,)
        The common band positions (ascending).
    x, y : ndarray, shape (B,)
        Endmember and reference (or fitted mixture), baseline removed.
    w : ndarray, shape (B,)
        Band weights.

    Returns
    -------
    Scores
    """
    r = weighted_correlation(x, y, w)
    rd = weighted_correlation(derivative(wavenumbers, x), derivative(wavenumbers, y),
                              derivative_weights(wavenumbers, w))
    return Scores(r=r, r_derivative=rd, hqi=hit_quality_index(r), hqi_derivative=hit_quality_index(rd),
                  sad_deg=spectral_angle_deg(x, y, w), score=combined_score(r, rd))


@dataclass(frozen=True)
class PairFit:
    """The best nonnegative fit of an endmember by two references.

    Attributes
    ----------
    indices : (int, int)
        Positions of the two references in the list given to :func:`fit_pair`.
    coefficients : (float, float)
        Nonnegative multipliers of the two references (in their own intensity scale).
    fractions : (float, float)
        The coefficients divided by their sum: the proportions of the two references as
        stored in the library (equal to the true proportions when the endmember is
        ``a·R1 + b·R2`` of those very spectra).
    fitted : ndarray, shape (B,)
        ``c1·R1 + c2·R2``.
    """

    indices: tuple[int, int]
    coefficients: tuple[float, float]
    fractions: tuple[float, float]
    fitted: np.ndarray


def fit_pair(
    wavenumbers: np.ndarray,
    x: np.ndarray,
    refs: np.ndarray,
    w: np.ndarray,
    *,
    degree: int = 1,
    first: Sequence[int] | None = None,
) -> PairFit | None:
    """Best two-reference nonnegative least-squares fit of ``x`` (all pairs tried).

    Minimises ``‖Π W (x − R c)‖`` over ``c ≥ 0`` for every pair of columns ``R`` of
    ``refs`` (``scipy.optimize.nnls``), with ``W = diag(w)`` and ``Π`` the projection that
    removes a polynomial of ``degree`` (in the weighted space: what is left of a baseline
    after the baseline removal does not bias the proportions). The pair with the smallest
    residual wins.

    Parameters
    ----------
    wavenumbers : ndarray, shape (B,)
    x : ndarray, shape (B,)
        The baseline-free endmember.
    refs : ndarray, shape (B, R)
        Baseline-free references on the same bands; NaN where a reference has no data
        (those bands are left out of that pair's fit).
    w : ndarray, shape (B,)
        Band weights.
    degree : int
        Degree of the polynomial projected out.
    first : sequence of int, optional
        Only pairs with at least one reference among these columns are tried (a large
        library: the best single matches); None: all pairs.

    Returns
    -------
    PairFit or None
        None with fewer than two references, or when no pair has a nonzero fit.
    """
    from scipy.optimize import nnls

    n_refs = refs.shape[1]
    if n_refs < 2:
        return None
    has = np.isfinite(refs)
    best: tuple[float, int, int, np.ndarray] | None = None
    basis = polynomial_basis(wavenumbers, degree)
    cache: dict[bytes, np.ndarray] = {}
    leading = set(range(n_refs)) if first is None else {int(i) for i in first}
    for i in range(n_refs):
        for j in range(i + 1, n_refs):
            if i not in leading and j not in leading:
                continue
            m = has[:, i] & has[:, j] & (w > 0)
            if not m.any() or np.ptp(wavenumbers[m]) < MIN_OVERLAP_CM:
                continue
            key = np.packbits(m).tobytes()
            q = cache.get(key)
            if q is None:
                q = weighted_nuisance_basis(basis[m], w[m])
                cache[key] = q
            a = w[m, None] * refs[m][:, [i, j]]
            b = w[m] * x[m]
            a = a - q @ (q.T @ a)
            b = b - q @ (q.T @ b)
            coef, res = nnls(a, b)
            # compare pairs by the residual relative to the endmember's energy on their bands
            rel = res / max(float(np.linalg.norm(b)), 1e-300)
            if coef.sum() > 0 and (best is None or rel < best[0]):
                best = (rel, i, j, coef)
    if best is None:
        return None
    _, i, j, coef = best
    fitted = coef[0] * np.nan_to_num(refs[:, i]) + coef[1] * np.nan_to_num(refs[:, j])
    total = float(coef.sum())
    return PairFit(indices=(i, j), coefficients=(float(coef[0]), float(coef[1])),
                   fractions=(float(coef[0]) / total, float(coef[1]) / total), fitted=fitted)
