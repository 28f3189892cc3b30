"""A smooth per-pixel baseline as a nuisance term of the mixing model.

ATR spectra carry an additive, smooth, pixel-dependent baseline (contact,
scattering, detector drift): ``x = E a + b``, ``b = P c`` with ``P`` (B, d+1)
a low-degree polynomial basis in wavenumber and ``c`` free per pixel. Under
the sum-to-one constraint a baseline cannot be told apart from a change of
every endmember (``E a + P c = (E + P c 1ᵀ) a``), so a band-weighted angle
computed on the raw data charges the baseline to the endmembers.

With ``baseline != "none"`` the loss compares the two spectra *after removing
their best-fitting polynomial* (in the band-weighted space): the angle between
``Π D x`` and ``Π D x̂`` with ``Π = I − Q Qᵀ`` and ``Q`` an orthonormal basis
of ``D P`` (``D = diag(w)``). That is the spectral angle left once each pixel
has been given its own least-squares baseline; it is exactly invariant to any
polynomial added to a pixel or to an endmember. The loss therefore fixes the
endmembers only up to a polynomial each; :func:`lower_envelope` picks the
representative that is nonnegative and touches zero (the material is
transparent somewhere), the usual convention of a baseline-corrected
absorbance spectrum.
"""

from __future__ import annotations

import numpy as np

from .noise import difference_noise

__all__ = ["BASELINES", "BELOW_NOISE_SIGMAS", "as_seen", "baseline_degree", "polynomial_basis",
           "weighted_nuisance_basis", "below_baseline_share", "lower_envelope", "quantile_baseline",
           "quantile_subtraction"]

#: Choices of the ``baseline`` option and their polynomial degrees.
BASELINES = {"none": None, "offset": 0, "linear": 1, "quadratic": 2}
#: Fraction of an endmember's bands that may lie below its fitted baseline.
LOWER_QUANTILE = 0.1
#: The quantile of a spectrum's bands its baseline runs along in :func:`below_baseline_share`:
#: a pure material absorbs in fewer than 70 % of the bands.
TRANSPARENT_QUANTILE = 0.3
#: The doubt told of a spectrum (:mod:`ftir_unmix.trust`, stop 73) and the spare's trigger (stop 74)
#: count its mass below its baseline only this many of its own noise's standard deviations deep
#: (:func:`below_baseline_share`'s ``noise_sigmas``). A measured spectrum (the blind scenes' embedding
#: resin) dips below its baseline by its noise, 6–8 % of its mass; a difference spectrum's dips are
#: other materials' bands, far deeper (docs/benchmarks.md, stops 73 and 74).
BELOW_NOISE_SIGMAS = 3.0


def baseline_degree(name: str) -> int | None:
    """Polynomial degree of a ``baseline`` choice (``None`` for ``"none"``)."""
    try:
        return BASELINES[name]
    except KeyError:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}; got {name!r}") from None


def polynomial_basis(wavenumbers: np.ndarray, degree: int) -> np.ndarray:
    """Legendre polynomials of degree 0 … ``degree`` on the band axis, shape (B, degree + 1).

    The wavenumbers are mapped to [-1, 1] so the columns are well conditioned.
    """
    wn = np.asarray(wavenumbers, dtype=np.float64)
    span = wn[-1] - wn[0]
    t = 2.0 * (wn - wn[0]) / span - 1.0 if span > 0 else np.zeros_like(wn)
    return np.polynomial.legendre.legvander(t, degree)


def weighted_nuisance_basis(basis: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Orthonormal basis (B, r) of ``diag(weights) @ basis``: what the weighted loss projects out."""
    q, _ = np.linalg.qr(np.asarray(weights, np.float64)[:, None] * basis)
    return q


def as_seen(spectra: np.ndarray, weights: np.ndarray | None, nuisance: np.ndarray | None) -> np.ndarray:
    """Spectra in columns (B, n) as the loss sees them: band-weighted (``weights`` None: all 1), the
    weighted background (``nuisance``, orthonormal, from :func:`weighted_nuisance_basis`) removed."""
    m = np.asarray(spectra, np.float64)
    if weights is not None:
        m = m * np.asarray(weights, np.float64)[:, None]
    return m if nuisance is None else m - nuisance @ (nuisance.T @ m)


def lower_envelope(endmembers: np.ndarray, basis: np.ndarray, *,
                   quantile: float = LOWER_QUANTILE) -> tuple[np.ndarray, np.ndarray]:
    """Subtract from each spectrum the polynomial that runs along its lowest bands.

    For each column ``e`` of ``endmembers`` (B, K), fits ``p = basis @ c`` by
    quantile regression at ``quantile`` (a fraction ``quantile`` of the bands
    lies below ``p``; a small linear programme) and returns
    ``(clip(e − p, 0), e − clip(e − p, 0))``: spectra that are zero where the
    material is transparent, and what was removed from them.

    Why a low quantile and not the strict envelope (``p ≤ e`` everywhere): the
    learnt spectra carry small negative dips (residues of drifting atmospheric
    lines, noise), and a strict envelope hangs from the deepest dip, leaving
    every other band too high. On synthetic cross-sections with known truth
    the strict envelope left a mean SAD of 5.7–6.6°, quantiles 0.05–0.3 gave
    3.3–3.8° (0.1: 3.3–3.6°); on the true spectra themselves the convention
    costs 0.2–0.8° (docs/benchmarks.md).
    """
    e = np.asarray(endmembers, dtype=np.float64)
    removed = quantile_baseline(e, basis, quantile=quantile)
    corrected = np.clip(e - removed, 0.0, None)
    return corrected, e - corrected


def below_baseline_share(spectra: np.ndarray, basis: np.ndarray, *,
                         quantile: float = TRANSPARENT_QUANTILE,
                         noise_sigmas: float = 0.0) -> np.ndarray:
    """Per spectrum, the share of its mass that lies below its own baseline.

    The loss cannot see an endmember's polynomial part, so nonnegativity does not keep
    it physical: a flat plateau with dips where the other materials absorb
    (``c·1 − others``) is nonnegative too, and lets one endmember subtract the others
    (docs/benchmarks.md §0, "At the held-out cross-section's size"). A material is
    transparent at most wavenumbers, so its spectrum lies on its baseline there and
    rises above it in its bands. With ``r`` the spectrum minus the polynomial under a
    fraction ``quantile`` of its bands (:func:`quantile_baseline`), the share is
    ``Σ max(−r − n σ, 0) / Σ |r|``, with ``σ`` the spectrum's own white noise
    (:func:`~ftir_unmix.preprocess.noise.difference_noise` of ``r``) and ``n`` =
    ``noise_sigmas``: only what lies deeper below the baseline than the noise reaches
    counts. Without the noise term (``noise_sigmas=0``, what the polish guard reads) the
    share is 0.003–0.006 for the noise-free true spectra of a held-out scene, 0.10–0.22 for
    such a difference spectrum (nopure-k6 at 64×256, tuning seeds 0–1), and 0.06–0.08 for the
    blind scenes' measured embedding resin found within 2–5° (its noise); with
    :data:`BELOW_NOISE_SIGMAS` (what the doubt and the spare's trigger read) the resin reads 0.02–0.04 and those
    runs' difference spectra 0.055–0.13.
    Blind to any polynomial added to a spectrum. The run record keeps it per endmember
    (:mod:`ftir_unmix.trust`); the training's ``transparency`` prior is a differentiable
    approximation of it (:func:`ftir_unmix.methods.cnn.priors.below_baseline`).

    Parameters
    ----------
    spectra : ndarray (B, K)
        Spectra in columns, as the loss sees them (band-weighted).
    basis : ndarray (B, r)
        The (weighted) background basis.
    quantile : float
        The share of the bands the baseline runs above.
    noise_sigmas : float
        How many of the spectrum's noise standard deviations below its baseline mass
        starts to count (0, the default: all of it).
    """
    e = np.asarray(spectra, dtype=np.float64)
    r = e - quantile_baseline(e, basis, quantile=quantile)
    depth = noise_sigmas * difference_noise(r, 1, axis=0) if noise_sigmas else 0.0
    return np.clip(-r - depth, 0.0, None).sum(axis=0) / np.maximum(np.abs(r).sum(axis=0), 1e-30)


def quantile_baseline(spectra: np.ndarray, basis: np.ndarray, *, quantile: float = LOWER_QUANTILE) -> np.ndarray:
    """The polynomial ``basis @ c`` under each column of ``spectra`` (B, K) by quantile regression.

    A fraction ``quantile`` of the bands lies below it (a small linear programme per
    column). Returns the polynomials (B, K); :func:`lower_envelope` subtracts them.
    """
    e = np.asarray(spectra, dtype=np.float64)
    removed = np.empty_like(e)
    for k in range(e.shape[1]):
        coef = _quantile_fit(e[:, k], basis, None, quantile)
        removed[:, k] = basis @ coef if coef is not None else np.quantile(e[:, k], quantile)
    return removed


def quantile_subtraction(spectrum: np.ndarray, others: np.ndarray, basis: np.ndarray | None, *,
                         quantile: float, gain: np.ndarray | None = None) -> np.ndarray:
    """How much of each of ``others`` (B, m) can be taken off ``spectrum`` (B,) above its baseline.

    Spectral subtraction by quantile regression: the nonnegative multiples ``d``
    (and a free polynomial ``basis @ c``, if a basis is given) that minimise
    ``Σ q·max(r, 0) + (1 − q)·max(−r, 0)`` for ``r = spectrum − basis c − others d``.
    Taking off another material lowers every band it shares with the spectrum
    and pushes below the baseline the bands it has alone; with a small ``quantile``
    a band pushed below costs ``(1 − q)/q`` times what a band lowered gains, so
    the subtraction stops where the others' own bands would turn negative.

    ``gain`` (B,), between 0 and 1, scales what lowering each band gains (``q·gain·max(r, 0)``);
    a band pushed below the baseline costs the same everywhere. With 0 on the spectrum's
    own strong bands, a material whose bands lie under them is not taken off for that.

    Returns
    -------
    ndarray (m,)
        The multiples ``d`` (zeros if the programme fails).
    """
    free = np.zeros((len(spectrum), 0)) if basis is None else basis
    coef = _quantile_fit(np.asarray(spectrum, np.float64), free, np.asarray(others, np.float64), quantile, gain)
    return np.zeros(others.shape[1]) if coef is None else coef[free.shape[1]:]


def _quantile_fit(y: np.ndarray, free: np.ndarray, nonneg: np.ndarray | None, quantile: float,
                  gain: np.ndarray | None = None) -> np.ndarray | None:
    """Quantile regression of ``y`` (B,) on ``free`` (B, p) and nonnegative ``nonneg`` (B, m)
    columns: the coefficients (p + m,), or None if the linear programme fails. ``gain``
    (B,) scales each band's weight for a positive residual (:func:`quantile_subtraction`).

    Solved as its dual, ``max y·d`` over ``q − 1 ≤ d ≤ q·gain`` with ``freeᵀ d = 0`` and
    ``nonnegᵀ d ≤ 0``: B bounded variables and p + m constraints instead of the primal's
    2B + p + m variables and B constraints, 4-6× faster at 1504 bands for the same
    coefficients (the constraints' multipliers; they agreed to 1e-12 where compared).
    """
    from scipy.optimize import linprog  # imported here: scipy.optimize costs 0.3 s at start-up

    n_free = free.shape[1]
    constraints: dict[str, np.ndarray] = {}
    if n_free:
        constraints.update(A_eq=free.T, b_eq=np.zeros(n_free))
    if nonneg is not None and nonneg.shape[1]:
        constraints.update(A_ub=nonneg.T, b_ub=np.zeros(nonneg.shape[1]))
    bounds = (quantile - 1.0, quantile) if gain is None else \
        np.stack([np.full(len(y), quantile - 1.0), quantile * np.asarray(gain, np.float64)], axis=1)
    res = linprog(-np.asarray(y, np.float64), bounds=bounds, method="highs", **constraints)
    if not res.success:
        return None
    # The primal's coefficients are minus the multipliers of the dual's constraints.
    coef = [-res.eqlin.marginals] if n_free else []
    if "A_ub" in constraints:
        coef.append(-res.ineqlin.marginals)
    return np.concatenate(coef) if coef else np.zeros(0)
