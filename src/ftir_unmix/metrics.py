"""Quality of an unmixing against known truth.

Spectral angles in degrees, Hungarian matching of estimated to true
endmembers (on the angle), abundance RMSE after matching, reconstruction
error. Conventions: endmembers are columns ``(B, K)``; abundances are
``(K, H, W)`` or ``(K, N)``; pixel data are ``(N, B)`` or ``(H, W, B)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from .cube import as_pixels

__all__ = [
    "WeightedPixels",
    "abundance_rmse",
    "cone_angles",
    "log_volume",
    "map_peaks",
    "reconstruction_angles",
    "endmember_sad",
    "evaluate",
    "match_endmembers",
    "mean_sad",
    "reconstruction_error",
    "spectral_angles",
]


def _columns(e: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(e, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{what} must be (B, K), got shape {arr.shape}")
    return arr


def _weighted_columns(endmembers: np.ndarray, weights: np.ndarray, nuisance: np.ndarray | None) -> np.ndarray:
    """Spectra (B, K) times the band weights, the span of ``nuisance`` (orthonormal columns) removed."""
    ew = np.asarray(endmembers, dtype=np.float64) * np.asarray(weights, dtype=np.float64)[:, None]
    if nuisance is not None:
        ew -= nuisance @ (nuisance.T @ ew)
    return ew


def log_volume(endmembers: np.ndarray, weights: np.ndarray | None = None, *,
               nuisance: np.ndarray | None = None) -> float:
    """How distinct a set of spectra is: the log-determinant of the Gram matrix of the unit
    spectra (band-weighted, the ``nuisance`` span removed, as the loss sees them).

    It is the log of the squared volume of the parallelotope the unit spectra span: 0 for
    orthogonal spectra, falling towards −∞ as one spectrum nears a combination of the others
    (two endmembers spent on variants of one material). N-FINDR's largest simplex is the same
    idea on the data's pixels.

    Parameters
    ----------
    endmembers : ndarray (B, K)
    weights : ndarray (B,), optional
        Band weights (ones if omitted).
    nuisance : ndarray (B, r), optional
        Orthonormal columns removed from the weighted spectra first.

    Returns
    -------
    float
        ``-inf`` where the spectra are linearly dependent (or one is zero).

    Examples
    --------
    >>> import numpy as np
    >>> round(log_volume(np.eye(3)), 6)
    0.0
    >>> log_volume(np.array([[1.0, 1.0], [0.0, 0.1]])) < log_volume(np.array([[1.0, 0.0], [0.0, 1.0]]))
    True
    """
    e = _columns(endmembers, "endmembers")
    w = np.ones(e.shape[0]) if weights is None else weights
    unit = _unit(_weighted_columns(e, w, nuisance))
    sign, logdet = np.linalg.slogdet(unit.T @ unit)
    return float(logdet) if sign > 0 else float("-inf")


def _unit(cols: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(cols, axis=0, keepdims=True)
    # A zero spectrum has no direction: it ends up at 90° from everything.
    return np.divide(cols, norm, out=np.zeros_like(cols), where=norm > 0)


def spectral_angles(e_true: np.ndarray, e_est: np.ndarray) -> np.ndarray:
    """Spectral angle between every true and every estimated endmember.

    Parameters
    ----------
    e_true : array_like, shape (B, K)
    e_est : array_like, shape (B, K')

    Returns
    -------
    ndarray, shape (K, K')
        Angles in degrees, in [0, 180]; 90 where either spectrum is zero.

    Examples
    --------
    >>> spectral_angles(np.eye(2), np.array([[1.0], [1.0]])).round(6)
    array([[45.],
           [45.]])
    """
    t, s = _columns(e_true, "e_true"), _columns(e_est, "e_est")
    if t.shape[0] != s.shape[0]:
        raise ValueError(f"band counts differ: {t.shape[0]} true vs {s.shape[0]} estimated")
    cos = np.clip(_unit(t).T @ _unit(s), -1.0, 1.0)
    return np.degrees(np.arccos(cos))


def match_endmembers(e_true: np.ndarray, e_est: np.ndarray) -> np.ndarray:
    """Assign one estimated endmember to each true one, minimising total angle.

    Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`) on the
    spectral-angle matrix.

    Parameters
    ----------
    e_true : array_like, shape (B, K)
    e_est : array_like, shape (B, K'), K' ≥ K
        Surplus estimated endmembers are left unmatched.

    Returns
    -------
    ndarray of int, shape (K,)
        ``perm[i]`` is the column of ``e_est`` matched to true endmember ``i``,
        so ``e_est[:, perm]`` lines up with ``e_true``.
    """
    angles = spectral_angles(e_true, e_est)
    k, k_est = angles.shape
    if k_est < k:
        raise ValueError(f"cannot match {k} true endmembers with only {k_est} estimated")
    rows, cols = linear_sum_assignment(angles)
    perm = np.empty(k, dtype=np.intp)
    perm[rows] = cols
    return perm


def endmember_sad(e_true: np.ndarray, e_est: np.ndarray, *, match: bool = True) -> np.ndarray:
    """Spectral angle (degrees) of each true endmember to its estimate.

    Parameters
    ----------
    e_true : array_like, shape (B, K)
    e_est : array_like, shape (B, K')
    match : bool
        Match by :func:`match_endmembers` first; otherwise compare column
        ``i`` with column ``i`` (needs K' ≥ K).

    Returns
    -------
    ndarray, shape (K,)
    """
    angles = spectral_angles(e_true, e_est)
    k = angles.shape[0]
    if match:
        perm = match_endmembers(e_true, e_est)
    else:
        if angles.shape[1] < k:
            raise ValueError(f"{angles.shape[1]} estimated endmembers for {k} true ones")
        perm = np.arange(k)
    return angles[np.arange(k), perm]


def mean_sad(e_true: np.ndarray, e_est: np.ndarray, *, match: bool = True) -> float:
    """Mean spectral angle (degrees) between true and estimated endmembers.

    See :func:`endmember_sad` for the per-endmember values and the parameters.

    Examples
    --------
    >>> e = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> mean_sad(e, 3.0 * e[:, ::-1])
    0.0
    """
    return float(endmember_sad(e_true, e_est, match=match).mean())


def _maps(a: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr.reshape(arr.shape[0], -1)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be (K, H, W) or (K, N), got shape {arr.shape}")
    return arr


def abundance_rmse(
    a_true: np.ndarray, a_est: np.ndarray, *, perm: np.ndarray | None = None
) -> float:
    """Root-mean-square abundance error over all materials and pixels.

    Parameters
    ----------
    a_true : array_like, shape (K, H, W) or (K, N)
    a_est : array_like, shape (K', H, W) or (K', N)
        Same pixel count as ``a_true``.
    perm : array_like of int, shape (K,), optional
        Estimated map matched to each true one (from
        :func:`match_endmembers`); default the first K in order.

    Returns
    -------
    float
    """
    t, s = _maps(a_true, "a_true"), _maps(a_est, "a_est")
    if t.shape[1] != s.shape[1]:
        raise ValueError(f"pixel counts differ: {t.shape[1]} true vs {s.shape[1]} estimated")
    idx = np.arange(t.shape[0]) if perm is None else np.asarray(perm, dtype=np.intp)
    if idx.shape != (t.shape[0],) or idx.max(initial=-1) >= s.shape[0]:
        raise ValueError(f"perm must give one of {s.shape[0]} estimated maps for each of {t.shape[0]}")
    return float(np.sqrt(np.mean((t - s[idx]) ** 2)))


def reconstruction_error(y: np.ndarray, y_hat: np.ndarray) -> dict[str, float]:
    """How well a reconstruction matches the data.

    Parameters
    ----------
    y, y_hat : array_like, shape (N, B) or (H, W, B)

    Returns
    -------
    dict
        ``rmse`` over all values, and ``mean_sad_deg``: the spectral angle
        between each observed and reconstructed pixel, averaged over pixels.
    """
    obs = as_pixels(y, "y", finite=False, dtype=np.float64)
    rec = as_pixels(y_hat, "y_hat", finite=False, dtype=np.float64)
    if obs.shape != rec.shape:
        raise ValueError(f"shapes differ: {obs.shape} vs {rec.shape}")
    num = np.einsum("nb,nb->n", obs, rec)
    den = np.linalg.norm(obs, axis=1) * np.linalg.norm(rec, axis=1)
    cos = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return {
        "rmse": float(np.sqrt(np.mean((obs - rec) ** 2))),
        "mean_sad_deg": float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).mean()),
    }


def map_peaks(abundances: np.ndarray, *, fraction: float = 0.001, min_pixels: int = 3) -> np.ndarray:
    """Peak of each abundance map: the value reached by its top ``max(min_pixels, fraction·N)`` pixels.

    Robust to a few outlier pixels; a map whose peak stays low is nowhere the
    main component. ``abundances``: (K, N) or (K, H, W); returns (K,).
    """
    a = np.asarray(abundances).reshape(len(abundances), -1)
    n = a.shape[1]
    m = min(n, max(int(min_pixels), math.ceil(fraction * n)))
    return -np.partition(-a, m - 1, axis=1)[:, m - 1]  # m-th largest value per map


def reconstruction_angles(
    pixels: np.ndarray, endmembers: np.ndarray, abundances: np.ndarray,
    weights: np.ndarray | None = None, *, nuisance: np.ndarray | None = None, chunk: int | None = None,
) -> np.ndarray:
    """Band-weighted spectral angle (radians) between each pixel and its reconstruction ``Ê a``.

    Parameters
    ----------
    pixels : ndarray (N, B)
    endmembers : ndarray (B, K)
    abundances : ndarray (K, N) or (K, H, W)
    weights : ndarray (B,), optional
        Band weights (ones if omitted).
    nuisance : ndarray (B, r), optional
        Orthonormal columns removed from the weighted spectra first, as the
        loss of a run with a baseline term does
        (:func:`ftir_unmix.preprocess.weighted_nuisance_basis`).
    chunk : int, optional
        Pixels per block (bounds the float64 temporaries; default: about 2²¹ values).

    Returns
    -------
    ndarray (N,)
        The angle of each pixel; 90° where either spectrum is zero.
    """
    return WeightedPixels(pixels, weights, nuisance=nuisance, chunk=chunk).reconstruction_angles(
        endmembers, abundances)


def cone_angles(
    pixels: np.ndarray, endmembers: np.ndarray, weights: np.ndarray | None = None, *,
    nuisance: np.ndarray | None = None, chunk: int | None = None,
) -> np.ndarray:
    """Band-weighted angle (radians) between each pixel and the closest nonnegative
    combination of the endmembers: how well the spectra themselves can explain it.

    Unlike :func:`reconstruction_angles` this needs no abundances: each pixel gets
    its best nonnegative ones (no sum-to-one: the angle ignores scale), so two sets
    of endmembers are compared without the error of whatever estimated the maps.
    To compare many sets on the same pixels, prepare them once with :class:`WeightedPixels`.

    Parameters
    ----------
    pixels : ndarray (N, B)
    endmembers : ndarray (B, K)
    weights : ndarray (B,), optional
        Band weights (ones if omitted).
    nuisance : ndarray (B, r), optional
        Orthonormal columns removed from the weighted spectra first (as in
        :func:`reconstruction_angles`).
    chunk : int, optional
        Pixels per block.

    Returns
    -------
    ndarray (N,)
        The angle of each pixel; 90° for a pixel that is zero.
    """
    return WeightedPixels(pixels, weights, nuisance=nuisance, chunk=chunk).cone_angles(endmembers)


class WeightedPixels:
    """Pixels prepared for angles to many sets of endmembers: the cone fit
    (:func:`cone_angles`) and the reconstruction angle (:func:`reconstruction_angles`).

    The weighting, the background removal and each pixel's norm are computed once.
    Each call then reads the pixels once more for one product with the K weighted
    endmembers, ``c = Eᵀp̂`` per unit pixel ``p̂``: the background-free pixel against an
    endmember with the background removed is the raw pixel against the weighted one,
    for the latter is orthogonal to the background. With ``G = EᵀE`` the reconstruction
    ``E a`` is at ``cos = cᵀa / √(aᵀGa)``, and the best nonnegative ``a`` (all pixels'
    K×K problems solved together) leaves ``‖p̂ − E a‖² = 1 − 2cᵀa + aᵀGa``. Only the
    norms are kept: the pixels are read a block of rows at a time (a lazy,
    memory-mapped cube stays on disk).

    Parameters
    ----------
    pixels : ndarray (N, B)
    weights : ndarray (B,), optional
        Band weights (ones if omitted).
    nuisance : ndarray (B, r), optional
        Orthonormal columns removed from the weighted spectra first.
    rows : ndarray of int, optional
        Use only these rows (sorted), e.g. a fixed sample of a big image.
    chunk : int, optional
        Pixels per block (default: about 2²¹ values).
    """

    def __init__(self, pixels: np.ndarray, weights: np.ndarray | None = None, *,
                 nuisance: np.ndarray | None = None, rows: np.ndarray | None = None,
                 chunk: int | None = None) -> None:
        self.pixels = pixels if hasattr(pixels, "shape") else np.asarray(pixels)
        b = self.pixels.shape[1]
        self.rows = rows
        self.size = self.pixels.shape[0] if rows is None else len(rows)
        self.chunk = chunk or max(256, (1 << 21) // b)
        self.weights = np.ones(b) if weights is None else np.asarray(weights, dtype=np.float64)
        self.nuisance = nuisance
        self.norms = np.empty(self.size)
        for part, x in self._blocks():
            xw = x * self.weights
            if nuisance is not None:
                xw -= (xw @ nuisance) @ nuisance.T
            self.norms[part] = np.linalg.norm(xw, axis=1)

    def sample(self, rows: np.ndarray) -> WeightedPixels:
        """These of the prepared rows (sorted indices into them), their norms taken from this set's."""
        part = copy.copy(self)
        part.rows = rows if self.rows is None else self.rows[rows]
        part.size = len(rows)
        part.norms = self.norms[rows]
        return part

    def _blocks(self) -> Iterator[tuple[slice, np.ndarray]]:
        """(part, rows as float64; a view where the pixels already are) block by block."""
        for s in range(0, self.size, self.chunk):
            part = slice(s, min(self.size, s + self.chunk))
            index = part if self.rows is None else self.rows[part]
            yield part, np.asarray(self.pixels[index], dtype=np.float64)

    def _weighted(self, endmembers: np.ndarray) -> np.ndarray:
        """The endmembers (B, K) weighted as the pixels are, the nuisance removed."""
        return _weighted_columns(endmembers, self.weights, self.nuisance)

    def column_norms(self, endmembers: np.ndarray) -> np.ndarray:
        """The weighted norm of each endmember (K,): times :meth:`cone_fit`'s coefficients, each
        column's part of a pixel's fitted spectrum."""
        return np.linalg.norm(self._weighted(endmembers), axis=0)

    def _against(self, endmembers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``c`` (n, K) of the pixels with a nonzero norm, their mask, and ``G`` (K, K)."""
        ew = self._weighted(endmembers)
        gram = ew.T @ ew
        project = ew * self.weights[:, None]
        c = np.empty((self.size, gram.shape[0]))
        for part, x in self._blocks():
            c[part] = x @ project
        ok = self.norms > 0
        return c[ok] / self.norms[ok, None], ok, gram

    def cone_fit(self, endmembers: np.ndarray, cost: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The cone angle (radians) of each prepared pixel for these endmembers (B, K), 90° for
        a pixel that is zero, and the nonnegative coefficients (N, K) of its closest point
        (for the pixel scaled to unit weighted norm; zero for a zero pixel).

        ``cost`` (K,), optional: a price per unit of each coefficient, as a share of its
        column's weighted norm: a column is used only where the pixel's residual along it
        exceeds that share of the pixel's norm (the angles are then those of this fit)."""
        from ._nnls import nnls_gram

        c, ok, gram = self._against(endmembers)
        price = 0.0 if cost is None else np.asarray(cost, np.float64) * np.sqrt(np.diag(gram))
        gram += 1e-14 * np.trace(gram) * np.eye(gram.shape[0])  # collinear spectra stay solvable
        a = nnls_gram(gram, c - price)  # all pixels at once: they share the K×K solves
        res2 = 1.0 - 2.0 * np.einsum("nk,nk->n", c, a) + np.einsum("nk,nk->n", a @ gram, a)
        angles = np.full(self.size, np.pi / 2)
        angles[ok] = np.arcsin(np.sqrt(np.clip(res2, 0.0, 1.0)))
        coefficients = np.zeros((self.size, gram.shape[0]))
        coefficients[ok] = a
        return angles, coefficients

    def cone_angles(self, endmembers: np.ndarray) -> np.ndarray:
        """The cone angle (radians) of each prepared pixel for these endmembers (B, K);
        90° for a pixel that is zero."""
        return self.cone_fit(endmembers)[0]

    def mean_cone_angle(self, endmembers: np.ndarray) -> float:
        """The mean cone angle (radians) of the prepared pixels."""
        return float(self.cone_angles(endmembers).mean())

    def reconstruction_angles(self, endmembers: np.ndarray, abundances: np.ndarray) -> np.ndarray:
        """The angle (radians) between each prepared pixel and ``E a``, abundances (K, n) or
        (K, H, W) of the prepared pixels; 90° where either is zero."""
        e = np.asarray(endmembers)
        a = np.asarray(abundances, dtype=np.float64).reshape(e.shape[1], -1)
        if a.shape[1] != self.size:
            raise ValueError(f"{a.shape[1]} abundance pixels for {self.size} spectra")
        c, ok, gram = self._against(e)
        a = a.T[ok]
        num = np.einsum("nk,nk->n", c, a)
        den = np.sqrt(np.clip(np.einsum("nk,nk->n", a @ gram, a), 0.0, None))
        cos = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        out = np.full(self.size, np.pi / 2)
        out[ok] = np.arccos(np.clip(cos, -1.0, 1.0))
        return out


def evaluate(
    truth_e: np.ndarray, truth_a: np.ndarray, est_e: np.ndarray, est_a: np.ndarray
) -> dict[str, Any]:
    """Compare an unmixing with the truth after matching endmembers.

    Parameters
    ----------
    truth_e : array_like, shape (B, K)
    truth_a : array_like, shape (K, H, W) or (K, N)
    est_e : array_like, shape (B, K'), K' ≥ K
    est_a : array_like, shape (K', H, W) or (K', N)

    Returns
    -------
    dict
        ``mean_sad_deg`` (float), ``per_endmember_sad_deg`` (list of K
        floats), ``abundance_rmse`` (float, over matched maps) and
        ``permutation`` (list of K ints: estimated index per true one).
        JSON-ready.
    """
    perm = match_endmembers(truth_e, est_e)
    sad = spectral_angles(truth_e, est_e)[np.arange(perm.size), perm]
    return {
        "mean_sad_deg": float(sad.mean()),
        "per_endmember_sad_deg": [float(v) for v in sad],
        "abundance_rmse": abundance_rmse(truth_a, est_a, perm=perm),
        "permutation": [int(p) for p in perm],
    }
