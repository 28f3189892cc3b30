"""Band-reliability weights (FTIR-unmixer, Pande et al. 2026, Sec. II-E).

Bands whose neighbours do not correlate with them across pixels (spikes,
narrow water-vapour lines), whose median spectrum is rough (sharp
atmospheric lines), or whose values hardly vary (no information) get a high
robust score ``s`` and a weight near ``w_min``; smooth, informative bands get
a weight near 1. The weights are fixed during training and enter the
weighted spectral-angle loss (:mod:`ftir_unmix.methods.cnn.losses`).

The scores are relative: a band is distrusted when its deficit is far above
the typical band's, measured in MADs. On a clean image the MAD of the
correlation deficit is tiny (0.01), so bands whose neighbours still
correlate at 0.95 score above ``tau``. ``corr_floor`` (ours, not the paper's)
is the smallest spread that deficit is measured in, so only bands that are
poorly correlated in absolute terms are distrusted (docs/benchmarks.md §3).

``corr_model`` (ours) says how that deficit is measured. The paper's
``"pairs"`` takes a band's worse correlation with an adjacent band. Where a
narrow band shifts by a few cm⁻¹ from pixel to pixel, the bands on its flanks
move in opposite directions and that correlation falls to 0.65–0.8, so the
paper cuts bands that hold much of what tells two materials apart.
``"neighbours"`` measures the share of a band's variation that the two bands
on each side do not predict (1 − R² of a linear fit over the pixels): a shift
is a combination of the neighbours, a spike or noise is not. Nor, though, is
it blind to a residue of the atmosphere whose lines vary together from pixel
to pixel: that is predicted by the neighbours too, and no longer cut
(``tests/core/test_recovery.py``), so the paper's ``"pairs"`` stays the default.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from .._mapped import take_rows
from ..cube import as_pixels
from ..parameters import PAPER_WEIGHT_DEFAULTS, check_weight_params

__all__ = [
    "DEFAULT_GAMMA_FLAT",
    "BandDiagnostics",
    "band_diagnostics",
    "band_weights",
    "force_ranges",
    "robust_z",
]

#: Default weight of the flatness diagnostic. The paper gives no value and the
#: authors' code leaves the term out; 0 reproduces that (see docs/method.md).
DEFAULT_GAMMA_FLAT = PAPER_WEIGHT_DEFAULTS["gamma_flat"]
_PAPER = PAPER_WEIGHT_DEFAULTS  # the defaults of the functions below (the paper's)


@dataclass(frozen=True)
class BandDiagnostics:
    """Every intermediate quantity of the band-weight computation, per band.

    Attributes
    ----------
    weights : ndarray (B,)
        The band weights ``w`` in ``[w_min, 1]``.
    score : ndarray (B,)
        The combined robust score ``s``.
    d_corr, d_rough, d_flat : ndarray (B,)
        Neighbour-correlation deficit (of the ``corr_model`` in ``params``),
        roughness of the median spectrum, flatness (``-log`` variance).
    z_corr, z_rough, z_flat : ndarray (B,)
        Their robust z-scores (before clipping at 0).
    median_spectrum : ndarray (B,)
        Median over pixels of the data.
    params : dict
        The parameters used.
    pixels_used : int
        How many pixels the statistics were measured on (a sample of a large image).
    corr_deficits : dict
        The neighbour-correlation deficit of every ``corr_model``, so that
        :meth:`reweighted` can switch between them.
    """

    weights: np.ndarray
    score: np.ndarray
    d_corr: np.ndarray
    d_rough: np.ndarray
    d_flat: np.ndarray
    z_corr: np.ndarray
    z_rough: np.ndarray
    z_flat: np.ndarray
    median_spectrum: np.ndarray
    params: dict = field(default_factory=dict)
    pixels_used: int = 0
    corr_deficits: dict = field(default_factory=dict)

    #: names of the per-band columns written next to the weights
    COLUMNS = ("weight", "score", "d_corr", "d_rough", "d_flat", "z_corr", "z_rough", "z_flat")

    def reweighted(self, **params: float) -> BandDiagnostics:
        """The same diagnostics with the weights recomputed for new parameters.

        The deficits do not depend on the parameters, so only the robust
        z-scores, the score and the sigmoid are redone: microseconds instead
        of a pass over the cube.
        """
        unknown = set(params) - set(self.params)
        if unknown:
            raise TypeError(f"unknown band-weight parameter(s): {', '.join(sorted(unknown))}")
        new = {**self.params, **check_weight_params(**params)}
        d_corr = self.corr_deficits.get(new["corr_model"], self.d_corr)
        z_corr = robust_z(d_corr, new["eps"], min_spread=new["corr_floor"])
        score, weights = _score_and_weights(z_corr, self.z_rough, self.z_flat, **new)
        return replace(self, weights=weights, score=score, d_corr=d_corr, z_corr=z_corr, params=new)

    def columns(self) -> dict[str, np.ndarray]:
        """The per-band arrays by column name (weight first)."""
        return {
            "weight": self.weights,
            **{name: getattr(self, name) for name in self.COLUMNS[1:]},
        }


def robust_z(u: np.ndarray, eps: float = 1e-8, *, min_spread: float = 0.0) -> np.ndarray:
    """Robust z-score ``(u - median(u)) / (max(MAD(u), min_spread) + eps)``, without the 1.4826 factor."""
    u = np.asarray(u, dtype=np.float64)
    med = np.median(u)
    mad = np.median(np.abs(u - med))
    return (u - med) / (max(mad, min_spread) + eps)


#: Pixels (at most) the diagnostics are measured on; larger images are sampled.
MAX_PIXELS = 65_536
#: float64 values (bands × pixels) standardised at a time by :func:`band_diagnostics`.
_BLOCK_VALUES = 1 << 21
#: Bands on each side that predict a band in the ``"neighbours"`` correlation model.
PREDICTORS = 2
#: Ridge (in correlation units) of that prediction: neighbours of a smooth
#: spectrum correlate at 0.999, so their covariance is nearly singular.
_RIDGE = 1e-3


def band_diagnostics(
    data: np.ndarray,
    *,
    gamma_rough: float = _PAPER["gamma_rough"],
    gamma_flat: float = _PAPER["gamma_flat"],
    tau: float = _PAPER["tau"],
    sharpness: float = _PAPER["sharpness"],
    w_min: float = _PAPER["w_min"],
    corr_floor: float = _PAPER["corr_floor"],
    corr_model: str = _PAPER["corr_model"],
    eps: float = _PAPER["eps"],
    max_pixels: int | None = MAX_PIXELS,
    seed: int = 0,
) -> BandDiagnostics:
    """Compute band-reliability weights and all their diagnostics.

    Parameters
    ----------
    data : ndarray, shape (H, W, B) or (N, B)
        The cube, bands in the cube's order (neighbours are adjacent bands).
    gamma_rough : float
        Weight of the roughness score.
    gamma_flat : float
        Weight of the flatness score.
    tau : float
        Score at which the weight is halfway between ``w_min`` and 1.
    sharpness : float
        Slope of the sigmoid mapping scores to weights.
    w_min : float
        Floor of the weights.
    corr_floor : float
        Smallest spread (MAD) the neighbour-correlation deficit is scored in;
        0 (the paper) lets a clean image's tiny spread flag well-correlated
        bands.
    corr_model : {"pairs", "neighbours"}
        How the neighbour-correlation deficit is measured: 1 − the worse
        correlation with an adjacent band (the paper), or 1 − R² of the band
        predicted from ``PREDICTORS`` bands on each side (module docstring).
    eps : float
        Guard against division by zero and ``log(0)``.
    max_pixels : int or None
        Images with more pixels are measured on a seeded random sample of
        this many pixels (the statistics are per band, and 65 536 pixels pin
        a median or a correlation far below the differences that decide a
        weight); None uses every pixel. Recorded as ``pixels_used``.
    seed : int
        Seed of that sample.

    Returns
    -------
    BandDiagnostics
    """
    params = check_weight_params(gamma_rough=gamma_rough, gamma_flat=gamma_flat, tau=tau,
                                 sharpness=sharpness, w_min=w_min, corr_floor=corr_floor,
                                 corr_model=corr_model, eps=eps)
    y = as_pixels(data, "data", min_bands=3, min_pixels=2, finite=False)
    if max_pixels is not None and y.shape[0] > max_pixels:
        y = take_rows(y, np.sort(np.random.default_rng(seed).choice(y.shape[0], max_pixels, replace=False)))
    as_pixels(y, "data")  # finite: checked on what is used (a sample of a large image)
    n_pix, n_bands = y.shape
    med, mad, var = np.empty(n_bands), np.empty(n_bands), np.empty(n_bands)
    lags = 2 * PREDICTORS
    # cov[b, l] = mean_p(Z_{p,b} Z_{p,b+l}) of the standardised bands Z.
    cov = np.zeros((n_bands, lags + 1))
    # Every statistic is per band or per band and its near neighbours, so the
    # bands are processed in blocks: a 512×512×1504 cube would otherwise need
    # several float64 copies of itself (12 GB).
    block = max(lags, _BLOCK_VALUES // n_pix)
    tail = np.empty((n_pix, 0))  # the standardised last bands of the previous block
    for b0 in range(0, n_bands, block):
        b1 = min(n_bands, b0 + block)
        yb = y[:, b0:b1].astype(np.float64)
        # Robust standardisation per band, then mean-centring and unit variance.
        med[b0:b1] = np.median(yb, axis=0)
        var[b0:b1] = yb.var(axis=0)
        yb -= med[b0:b1]
        mad[b0:b1] = np.median(np.abs(yb), axis=0)
        yb /= mad[b0:b1] + eps
        yb -= yb.mean(axis=0)
        yb /= yb.std(axis=0) + eps
        for lag in range(min(lags, b1 - b0 - 1) + 1):  # pairs (b, b + lag) inside the block
            cov[b0:b1 - lag, lag] = np.einsum("pb,pb->b", yb[:, :yb.shape[1] - lag], yb[:, lag:]) / n_pix
        for i in range(tail.shape[1]):  # pairs from the previous block's last bands into this one
            band = b0 - tail.shape[1] + i
            for j in range(b0, min(b1, band + lags + 1)):
                cov[band, j - band] = float(tail[:, i] @ yb[:, j - b0]) / n_pix
        tail = yb[:, -lags:].copy()  # a few bands: no second copy of the block is kept

    corr_deficits = {"pairs": _pair_deficit(cov[:-1, 1]), "neighbours": _prediction_deficit(cov)}
    d_corr = corr_deficits[corr_model]

    # Roughness of the median spectrum (second difference; edges copy neighbours).
    d_rough = np.empty(n_bands)
    d_rough[1:-1] = np.abs(med[2:] - 2.0 * med[1:-1] + med[:-2])
    d_rough[0] = d_rough[1]
    d_rough[-1] = d_rough[-2]

    d_flat = -np.log(var + eps)

    z_corr = robust_z(d_corr, eps, min_spread=corr_floor)
    z_rough = robust_z(d_rough, eps)
    z_flat = robust_z(d_flat, eps)
    score, weights = _score_and_weights(z_corr, z_rough, z_flat, **params)
    return BandDiagnostics(
        weights=weights, score=score, d_corr=d_corr, d_rough=d_rough, d_flat=d_flat,
        z_corr=z_corr, z_rough=z_rough, z_flat=z_flat, median_spectrum=med, params=params,
        pixels_used=n_pix, corr_deficits=corr_deficits,
    )


def _pair_deficit(rho: np.ndarray) -> np.ndarray:
    """The paper's deficit ``1 - c``: a band is as reliable as its worse link ``rho`` (B - 1,)."""
    c = np.empty(rho.size + 1)
    c[0] = rho[0]
    c[-1] = rho[-1]
    c[1:-1] = np.minimum(rho[:-1], rho[1:])
    return 1.0 - c


def _prediction_deficit(cov: np.ndarray) -> np.ndarray:
    """``1 - R²`` of each standardised band fitted by ``PREDICTORS`` bands on each side.

    ``cov`` is (B, 2 * PREDICTORS + 1): the covariances of each band with the
    bands ``0 … 2 * PREDICTORS`` above it. Missing neighbours at the ends of
    the axis get zero covariances, so they predict nothing.
    """
    n_bands, k = cov.shape[0], PREDICTORS
    offsets = np.r_[-k:0, 1:k + 1]
    nb = np.arange(n_bands)[:, None] + offsets  # (B, 2k) neighbour indices
    ok = (nb >= 0) & (nb < n_bands)

    def c(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        lo, gap = np.minimum(i, j), np.abs(i - j)
        return cov[np.clip(lo, 0, n_bands - 1), gap]

    g = np.where(ok, c(np.arange(n_bands)[:, None], nb), 0.0)
    both = ok[:, :, None] & ok[:, None, :]
    gram = np.where(both, c(nb[:, :, None], nb[:, None, :]), 0.0) + np.eye(2 * k) * (
        _RIDGE + ~ok[:, :, None])  # a missing neighbour: identity row, no covariance
    fit = np.einsum("bi,bi->b", g, np.linalg.solve(gram, g[:, :, None])[:, :, 0])
    return 1.0 - fit


def _score_and_weights(z_corr: np.ndarray, z_rough: np.ndarray, z_flat: np.ndarray, *,
                       gamma_rough: float, gamma_flat: float, tau: float, sharpness: float,
                       w_min: float, corr_floor: float = 0.0, corr_model: str = "pairs",
                       eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Combined score ``s`` and weights ``w`` from the robust z-scores."""
    score = (
        np.maximum(z_corr, 0.0)
        + gamma_rough * np.maximum(z_rough, 0.0)
        + gamma_flat * np.maximum(z_flat, 0.0)
    )
    weights = w_min + (1.0 - w_min) / (1.0 + np.exp(np.clip(sharpness * (score - tau), -700, 700)))
    return score, weights


def band_weights(
    data: np.ndarray,
    *,
    gamma_rough: float = _PAPER["gamma_rough"],
    gamma_flat: float = _PAPER["gamma_flat"],
    tau: float = _PAPER["tau"],
    sharpness: float = _PAPER["sharpness"],
    w_min: float = _PAPER["w_min"],
    corr_floor: float = _PAPER["corr_floor"],
    corr_model: str = _PAPER["corr_model"],
    eps: float = _PAPER["eps"],
) -> np.ndarray:
    """Band-reliability weights ``w`` (B,) of a cube.

    ``w = w_min + (1 - w_min) * sigmoid(-sharpness * (s - tau))`` with ``s``
    the robust score of :func:`band_diagnostics`, which documents the
    parameters.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> w = band_weights(rng.random((50, 20)))
    >>> w.shape, bool((w >= 0.05).all() and (w <= 1).all())
    ((20,), True)
    """
    return band_diagnostics(
        data, gamma_rough=gamma_rough, gamma_flat=gamma_flat, tau=tau,
        sharpness=sharpness, w_min=w_min, corr_floor=corr_floor, corr_model=corr_model, eps=eps,
    ).weights


def force_ranges(
    weights: np.ndarray,
    wavenumbers: np.ndarray,
    ranges: Iterable[tuple[float, float]],
    value: float,
) -> np.ndarray:
    """Return a copy of ``weights`` with every band inside the given ranges set to ``value``.

    Used for manual edits (e.g. forcing the CO₂ region 2280–2400 cm⁻¹ to ``w_min``).
    Range ends may be given in either order.
    """
    out = np.array(weights, dtype=np.float64, copy=True)
    wn = np.asarray(wavenumbers)
    for lo, hi in ranges:
        lo, hi = min(lo, hi), max(lo, hi)
        out[(wn >= lo) & (wn <= hi)] = value
    return out
