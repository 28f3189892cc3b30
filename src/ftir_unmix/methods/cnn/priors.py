"""Priors the fast protocol may add to its loss: minimum volume, abundance sparsity, transparency,
known spectra.

All are off by default (``minvol=0``, ``sparsity=0``, ``transparency=0``); on the
held-out scene family none lowered the error (docs/benchmarks.md §0). The first
two are the standard remedies of the unmixing literature for images without pure
pixels; the third is against a flaw of the baseline term (:func:`below_baseline`).
A user can try them. The fourth is there only when the user gives known spectra
(:mod:`.known`).

Their weights are in units of the image's **unavoidable misfit**: the mean
angle between each (band-weighted, background-free) pixel and its projection
on the K dominant directions of the data, which no K-endmember linear model
can beat. ``minvol=0.3`` therefore asks for the same trade-off on a clean
and on a noisy image; in raw radians a clean image would need a weight ten
times smaller than a noisy one.
"""

from __future__ import annotations

import math

import torch

from ...preprocess.background import TRANSPARENT_QUANTILE
from .known import known_angles

__all__ = ["Priors", "abundance_sparsity", "below_baseline", "dispersion", "misfit_floor"]

#: The misfit floor used as the unit is at least this (radians): a noise-free image
#: would otherwise make any prior weight infinite.
_MIN_FLOOR = math.radians(0.5)


def misfit_floor(c: torch.Tensor, xnorm: torch.Tensor, k: int) -> float:
    """Mean angle (radians) between the pixels and their best rank-``k`` approximation.

    Parameters
    ----------
    c : Tensor (r, N)
        Pixel coordinates in an orthonormal band subspace (``VᵀDx``).
    xnorm : Tensor (N,)
        The pixels' norms on all bands (``‖Dx‖``), so the part outside the
        subspace counts as misfit too.
    k : int
        Number of endmembers.
    """
    u = torch.linalg.svd(c @ c.T).U[:, :k]
    fit = torch.linalg.vector_norm(u.T @ c, dim=0) / xnorm.clamp_min(1e-30)
    return float(torch.arccos(fit.clamp(0, 1)).mean())


def dispersion(m: torch.Tensor) -> torch.Tensor:
    """Spread of the endmember directions: ``mean_k ‖m̂_k − m̄‖² = 1 − ‖m̄‖²``.

    ``m`` (B, K) holds the endmembers as the loss sees them (weighted, background
    removed); each column is scaled to unit length because the loss is blind to
    an endmember's scale. 0 when all point the same way; it grows as the simplex
    of endmembers grows (the dispersion form of min-vol NMF, MiSiCNet).
    """
    u = m / torch.linalg.vector_norm(m, dim=0, keepdim=True).clamp_min(1e-30)
    return 1.0 - u.mean(1).square().sum()


def abundance_sparsity(a: torch.Tensor) -> torch.Tensor:
    """Normalised L1/2 norm of abundances (K, N) that sum to 1 per pixel.

    0 when every pixel is pure, 1 when every pixel is an equal mixture of all K.
    """
    k = a.shape[0]
    return ((a.clamp_min(0) + 1e-6).sqrt().sum(0).mean() - 1.0) / (math.sqrt(k) - 1.0)


def below_baseline(y: torch.Tensor, basis: torch.Tensor | None, quantile: float = TRANSPARENT_QUANTILE,
                   iterations: int = 8) -> torch.Tensor:
    """Summed over the spectra, the share of each one's mass that lies below its baseline.

    The differentiable counterpart of
    :func:`~ftir_unmix.preprocess.background.below_baseline_share` (why a spectrum that
    dips below its own baseline is not a material is said there): the quantile
    regression is done by reweighted least squares, and the fit itself carries no
    gradient. It reads 0.01–0.02 for the true spectra of a held-out scene and 0.24–0.35
    for a plateau with dips, where the exact measure reads 0.003–0.006 and 0.10–0.22.

    Parameters
    ----------
    y : Tensor (B, K)
        Endmembers as the loss sees them (band-weighted).
    basis : Tensor (B, r) or None
        Orthonormal (weighted) background basis; None: no background, the baseline is 0.
    """
    if basis is None:
        return y.new_zeros(())
    with torch.no_grad():
        coef = basis.T @ y  # least squares to start
        floor = 1e-3 * y.abs().amax(0).clamp_min(1e-30)
        for _ in range(iterations):
            r = y - basis @ coef
            w = torch.where(r > 0, quantile, 1.0 - quantile) / torch.maximum(r.abs(), floor)
            gram = torch.einsum("br,bk,bs->krs", basis, w, basis)
            coef = torch.linalg.solve(gram, (basis.T @ (w * y)).T.unsqueeze(-1))[..., 0].T
    r = y - basis @ coef
    # The share's denominator carries no gradient either: otherwise inflating the bands
    # above the baseline would lower it as well as lifting the dips below.
    return (r.clamp_max(0).abs().sum(0) / r.detach().abs().sum(0).clamp_min(1e-30)).sum()


class Priors:
    """The weighted priors of one run: ``floor · (minvol · dispersion + sparsity · L½ +
    transparency · below-baseline share + known_weight · Σ angles to the known spectra)``.

    Parameters
    ----------
    minvol, sparsity, transparency : float
        The weights in units of the misfit floor (0: off).
    floor : float
        The image's misfit floor (radians, :func:`misfit_floor`).
    background : Tensor (B, r) or None
        The weighted background basis the loss projects out (:func:`below_baseline`).
    known : Tensor (B, R) or None
        Known spectra as the loss sees them, held near by the first R endmembers
        (:func:`~.known.known_angles`).
    known_weight : float
        Their weight in units of the misfit floor.
    """

    def __init__(self, minvol: float, sparsity: float, floor: float, transparency: float = 0.0,
                 background: torch.Tensor | None = None, known: torch.Tensor | None = None,
                 known_weight: float = 0.0) -> None:
        unit = max(floor, _MIN_FLOOR)
        self.lam, self.mu, self.nu = minvol * unit, sparsity * unit, transparency * unit
        self.background = background
        self.known = known
        self.kappa = known_weight * unit if known is not None else 0.0

    def __bool__(self) -> bool:
        return bool(self.lam or self.mu or self.nu or self.kappa)

    def penalty(self, m: torch.Tensor, a: torch.Tensor) -> torch.Tensor | float:
        """The priors' part of the loss for endmembers ``m`` (B, K; as the loss sees them) and
        abundances ``a`` (K, N)."""
        out: torch.Tensor | float = 0.0
        if self.lam:
            out = out + self.lam * dispersion(m)
        if self.mu:
            out = out + self.mu * abundance_sparsity(a)
        if self.nu:
            out = out + self.nu * below_baseline(m, self.background)
        if self.kappa:
            out = out + self.kappa * known_angles(m, self.known).sum()
        return out
